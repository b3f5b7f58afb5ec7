"""``Study.trials_dataframe``: the trials as a pandas DataFrame, with Optuna's column names."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunewise.study import Study


def trials_dataframe(study: Study) -> Any:
    """See :meth:`tunewise.study.Study.trials_dataframe`."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(
            "trials_dataframe() needs pandas: pip install 'tunewise[dashboard]'"
        ) from exc
    trials = study.trials
    metrics = sorted({name for t in trials for name in t.metrics})
    attrs = sorted({key for t in trials for key in t.user_attrs})
    names = study.space.names  # (read once: it is the stored space, as edited)
    # A parameter an edit removed (now fixed) keeps the values the earlier trials ran.
    names += list(dict.fromkeys(n for t in trials for n in t.params if n not in names))
    rows = [
        {
            "number": t.number,
            "state": str(t.state),
            "value": t.value,
            "datetime_start": t.started_at,
            "datetime_complete": t.finished_at,
            "duration": t.finished_at - t.started_at if t.started_at and t.finished_at else None,
            # an inactive (conditional) parameter is NaN, as pandas marks what is missing
            **{f"params_{p}": t.params.get(p, math.nan) for p in names},
            **{f"metrics_{m}": t.metrics.get(m) for m in metrics},
            **{f"user_attrs_{a}": t.user_attrs.get(a) for a in attrs},
            "attempt": t.attempt,
            "failure_kind": str(t.failure_kind) if t.failure_kind else None,
            "error": t.error,
        }
        for t in trials
    ]
    columns = [
        "number", "state", "value", "datetime_start", "datetime_complete", "duration",
        *(f"params_{p}" for p in names), *(f"metrics_{m}" for m in metrics),
        *(f"user_attrs_{a}" for a in attrs), "attempt", "failure_kind", "error",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    from tunewise.front import study_flags

    flags = study_flags(study, trials)
    if flags is not None:  # several objectives or constraints (issue 23)
        if study.spec.multi_objective:  # Optuna's values_0, values_1, ... after value
            for i, objective in enumerate(study.spec.objectives):
                values = [t.metrics.get(objective.metric) for t in trials]
                frame.insert(3 + i, f"values_{i}", values)
        frame["feasible"] = [flags[t.number]["feasible"] for t in trials]
        frame["on_front"] = [flags[t.number]["on_front"] for t in trials]
    frame["duration"] = pd.to_timedelta(frame["duration"])
    return frame
