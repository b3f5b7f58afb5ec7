"""Tables the CLI prints or writes: one flattening of trials for every format.

The JSON documents (a trial, the best trial, an export) are shared with the REST API and live
in :mod:`tunewise.documents`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunewise.documents import json_number
from tunewise.liveness import effective_state, stale_leases
from tunewise.study import Study
from tunewise.trial import StudyRecord, Trial, TrialState


def trials_table(study: Study, trials: Sequence[Trial]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: number, state, value, each param, each metric, failure, timing."""
    from tunewise.front import study_flags

    params = study.space.names
    # A parameter an edit removed (now fixed) still shows the values the earlier trials ran.
    params += list(dict.fromkeys(n for t in trials for n in t.params if n not in params))
    # The space version each trial was suggested under, once the space was edited.
    versions = ["version"] if any(t.space_version > 1 for t in trials) else []
    metrics = sorted({name for t in trials for name in t.metrics})
    # Several objectives or constraints: whether each trial is feasible, on the Pareto front.
    flags = study_flags(study, trials)
    flag_names = ["feasible", "front"] if flags is not None else []
    # The GPUs each trial was given (resources_per_trial.gpu), when any was.
    devices = any("devices" in t.user_attrs for t in trials)
    header = [
        "trial",
        "state",
        "value",
        *flag_names,
        *versions,
        *params,
        *(f"metric:{m}" for m in metrics),
        "attempt",
        *(["devices"] if devices else []),
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
                *([] if flags is None else _flag_cells(flags[t.number])),
                *([t.space_version] if versions else []),
                *(t.params.get(p) for p in params),
                *(t.metrics.get(m) for m in metrics),
                t.attempt,
                *([_devices(t)] if devices else []),
                t.last_step,
                t.started_at.isoformat(timespec="seconds") if t.started_at else "",
                None if t.duration is None else round(t.duration, 3),
                str(t.failure_kind) if t.failure_kind else "",
                error[-1] if error else "",
            ]
        )
    return header, rows


def _flag_cells(flags: dict[str, Any]) -> list[str]:
    """``yes``/``no`` (blank: nothing to judge yet) and ``*`` for a trial on the front."""
    feasible = flags["feasible"]
    shown = "" if feasible is None else ("yes" if feasible else "no")
    return [shown, "*" if flags["on_front"] else ""]


def _devices(trial: Trial) -> str:
    """A trial's GPUs as ``CUDA_VISIBLE_DEVICES`` gave them: ``0`` or ``0,1``."""
    given = trial.user_attrs.get("devices")
    return ",".join(map(str, given)) if isinstance(given, list) else ""


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


def trial_folder(study: Study, trial: Trial) -> Path:
    """Where ``trial`` keeps its logs and ``hyperparameters.json``."""
    return study.runs_dir / f"{trial.number:05d}"


def shown_state(record: StudyRecord, trials: Sequence[Trial]) -> str:
    """The state ``tunewise status`` shows: the stored one, or ``interrupted`` for a running
    study that lost its driver (the same word as ``Study.state``; see :mod:`tunewise.liveness`)."""
    return str(effective_state(record.state, trials))


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


def status_document(row: Sequence[Any]) -> dict[str, Any]:
    """One study of ``tunewise status --format json``: the table's columns as keys."""
    document = dict(zip(STATUS_HEADER, row, strict=True))
    document["best"] = json_number(document["best"])
    document["reason"] = document["reason"] or None
    return document
