"""Tables and documents the CLI prints or writes: one flattening of trials for every format."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tunewise.study import Study
from tunewise.trial import StudyRecord, StudyState, Trial, TrialState


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
    return data


def best_document(trial: Trial) -> dict[str, Any]:
    """The ``tunewise best --format json`` document."""
    return {
        "trial": trial.number,
        "params": dict(trial.params),
        "value": json_number(trial.value),
        "metrics": {k: json_number(v) for k, v in trial.metrics.items()},
    }


def trials_table(study: Study, trials: Sequence[Trial]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: number, state, value, each param, each metric, failure, timing."""
    params = study.space.names
    metrics = sorted({name for t in trials for name in t.metrics})
    header = [
        "trial",
        "state",
        "value",
        *params,
        *(f"metric:{m}" for m in metrics),
        "attempt",
        "steps",
        "started_at",
        "duration_s",
        "failure_kind",
        "reason",
    ]
    rows = []
    for t in trials:
        error = (t.error or "").strip().splitlines()
        rows.append(
            [
                t.number,
                str(t.state),
                t.value,
                *(t.params.get(p) for p in params),
                *(t.metrics.get(m) for m in metrics),
                t.attempt,
                t.last_step,
                t.started_at.isoformat(timespec="seconds") if t.started_at else "",
                None if t.duration is None else round(t.duration, 3),
                str(t.failure_kind) if t.failure_kind else "",
                error[-1] if error else "",
            ]
        )
    return header, rows


def format_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render_table(header: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 48) -> str:
    cells = [[format_cell(c)[:max_width] for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def render_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if c is None else c for c in row] for row in rows])
    return out.getvalue()


def export_document(study: Study) -> dict[str, Any]:
    """Everything stored about a study, reports included, as one JSON document."""
    record = study.store.get_study(study.name)
    trials = []
    for trial in study.trials:
        data = trial_document(trial)
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
        "trials": trials,
    }


def stale_leases(trials: Sequence[Trial], now: datetime | None = None) -> list[Trial]:
    """RUNNING trials whose lease deadline passed, or whose owner is a dead local process:
    nobody is running them any more (the next driver or ``ask()`` requeues them)."""
    from tunewise.tuner import dead_owners

    moment = now or datetime.now(UTC)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    dead = set(dead_owners(t.lease_owner for t in running))
    return [
        t
        for t in running
        if t.lease_owner in dead or (t.lease_deadline is not None and t.lease_deadline < moment)
    ]


def shown_state(record: StudyRecord, trials: Sequence[Trial]) -> str:
    """The stored state, except that a "running" study whose running trials are all stale has
    lost its driver: it is shown as interrupted (``tunewise resume`` continues it)."""
    running = [t for t in trials if t.state == TrialState.RUNNING]
    if record.state == StudyState.RUNNING and running and len(stale_leases(trials)) == len(running):
        return str(StudyState.INTERRUPTED)
    return str(record.state)


def study_summary(record: StudyRecord, trials: Sequence[Trial], best: Trial | None) -> list[Any]:
    """One row of ``tunewise status``."""
    counts = dict.fromkeys(TrialState, 0)
    for t in trials:
        counts[t.state] += 1
    return [
        record.name,
        shown_state(record, trials),
        record.definition.get("strategy"),
        counts[TrialState.COMPLETED],
        counts[TrialState.STOPPED],
        counts[TrialState.FAILED],
        counts[TrialState.RUNNING],
        counts[TrialState.QUEUED],
        sum(t.attempt - 1 for t in trials),
        len(stale_leases(trials)),
        None if best is None else best.value,
        record.reason or "",
    ]


STATUS_HEADER = [
    "study",
    "state",
    "strategy",
    "completed",
    "stopped",
    "failed",
    "running",
    "queued",
    "retries",
    "stale_leases",
    "best",
    "reason",
]


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False)
