"""The JSON documents tunewise shows of a study and its trials, shared by every face.

The command line (``tunewise trials/best/export --format json``) and the REST API print the
same trial document; it lives here, below both, so that neither face imports the other
(DESIGN.md: faces never import each other).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunewise.study import Study
    from tunewise.trial import Trial

__all__ = ["best_document", "dumps", "export_document", "json_number", "trial_document"]


def json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: write those as strings."""
    if value is None or math.isfinite(value):
        return value
    return str(value)


def trial_document(trial: Trial, curve: list[tuple[int, float]] | None = None) -> dict[str, Any]:
    """A trial as JSON; ``error`` is the failure, or why it stopped early; ``curve`` its
    learning curve of the objective as ``[step, value]`` pairs."""
    data = trial.to_dict()
    if curve is not None:
        data["curve"] = [[step, json_number(value)] for step, value in curve]
    data["value"] = json_number(trial.value)
    data["metrics"] = {k: json_number(v) for k, v in trial.metrics.items()}
    data["space_version"] = trial.space_version  # 1 until the study's space was edited
    return data


def best_document(trial: Trial) -> dict[str, Any]:
    """The ``tunewise best --format json`` document."""
    return {
        "trial": trial.number,
        "params": dict(trial.params),
        "value": json_number(trial.value),
        "metrics": {k: json_number(v) for k, v in trial.metrics.items()},
    }


def export_document(study: Study) -> dict[str, Any]:
    """Everything stored about a study, reports included, as one JSON document."""
    from tunewise.front import study_flags

    record = study.store.get_study(study.name)
    trials = []
    every = study.trials
    flags = study_flags(study, every)  # several objectives or constraints: feasible, on_front
    for trial in every:
        data = trial_document(trial)
        if flags is not None:
            data.update(flags[trial.number])
        data["reports"] = [
            {"step": r.step, "values": {k: json_number(v) for k, v in r.values.items()}}
            for r in study.reports(trial.number)
        ]
        trials.append(data)
    return {
        "study": study.name,
        "state": str(record.state),
        "reason": record.reason,
        "definition": study.spec.to_dict(),
        # every version of its space (one until `tunewise edit`): the trials name theirs
        "space_versions": [
            {
                "version": v.version,
                "began": v.created_at.isoformat() if v.created_at else None,
                "definition": dict(v.definition),
                "note": dict(v.note),
            }
            for v in study.space_versions
        ],
        "trials": trials,
    }


def dumps(data: Any) -> str:
    """Indented JSON that refuses NaN (write non-finite numbers with :func:`json_number`)."""
    return json.dumps(data, indent=2, allow_nan=False)
