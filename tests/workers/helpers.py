"""What the worker tests share: a study folder (spec file and training module), the lines a
worker or driver may print, and readers of what the store holds."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.reliability.conftest import Proc, opened, study_id
from tunewise.trial import Attempt, Trial

#: A fast Python trial: marks that it ran (one file per process that ran trial N) and returns
#: its parameter, so the stored value shows it ran with the stored parameters. The environment
#: of the worker or driver tunes it: TW_TEST_SLEEP (seconds), TW_TEST_STEPS (reports of x, one a
#: step), TW_TEST_CRASH_EVERY (trials numbered a multiple of it crash on their first attempt).
TRAIN = """\
import os
import time
from pathlib import Path

import tunewise

MARKERS = Path(__file__).resolve().parent / "markers"


def train(params, trial):
    ran_before = any(MARKERS.glob(f"{trial.number}.*"))
    (MARKERS / f"{trial.number}.{os.getpid()}").touch()
    crash_every = int(os.environ.get("TW_TEST_CRASH_EVERY", "0"))
    if crash_every and trial.number % crash_every == 0 and not ran_before:
        os._exit(3)  # a crash on the first attempt only
    sleep = float(os.environ.get("TW_TEST_SLEEP", "0.02"))
    steps = int(os.environ.get("TW_TEST_STEPS", "0"))
    for step in range(1, steps + 1):
        trial.report(params["x"], step)
        if trial.should_stop():
            raise tunewise.TrialStopped()
        time.sleep(sleep)
    if not steps:
        time.sleep(sleep)
    return params["x"]
"""

#: What a worker or a driver prints on stderr when all goes well (anything else fails a test).
NORMAL_STDERR = re.compile(
    r"(serving study \S+: .*|leaving study \S+: .*|study \S+ (completed|stopped|failed): .*"
    r"|study \S+: .*"  # a driver's first line; a worker's "another process ended the study"
    r"|no running study has work for this worker; (exiting|waiting for some)"
    r"|study \S+ is (not created yet|\S+): (nothing to do|waiting until it runs)"
    r"|trials \d+/\d+ .*|)"
)
#: Words that must never reach a user: the store retries what it can, silently.
TROUBLE = ("traceback", "deadlock", "serializ", "storage error", "database is locked", "error")


def study_folder(
    folder: Path,
    name: str,
    *,
    max_trials: int,
    max_parallel: int = 1,
    lease: Mapping[str, str] | None = None,
    retries: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """A folder with ``train.py`` and a spec of a random search over ``x`` in [0, 1];
    returns the spec's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(TRAIN)
    (folder / "markers").mkdir(exist_ok=True)
    spec: dict[str, Any] = {
        "study": name,
        "objective": {"metric": "score", "direction": "maximize"},
        "strategy": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "trial": {"python": "train:train"},
        "limits": {"max_trials": max_trials, "max_parallel": max_parallel},
        "lease": dict(lease or {"heartbeat": "1s", "grace": "3s"}),
        "seed": 5,
        **dict(extra or {}),
    }
    if retries is not None:
        spec["retries"] = dict(retries)
    path = folder / "spec.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


def unexpected_stderr(proc: Proc) -> list[str]:
    """The lines of a process's stderr that are neither normal nor empty."""
    return [
        line
        for line in proc.stderr.splitlines()
        if not NORMAL_STDERR.fullmatch(line.strip())
        or any(word in line.lower() for word in TROUBLE if not line.startswith("trials "))
    ]


def stored(url: str, name: str) -> tuple[list[Trial], dict[int, list[Attempt]]]:
    """Every trial of the study, and the earlier attempts of those that have some."""
    with opened(url) as store:
        sid = study_id(store, name)
        trials = store.get_trials(sid)
        attempts = {t.number: store.get_attempts(sid, t.number) for t in trials if t.attempt > 1}
    return trials, attempts


def markers(folder: Path) -> dict[int, int]:
    """How many processes ran each trial number."""
    counts: dict[int, int] = {}
    for path in (folder / "markers").iterdir():
        number = int(path.name.split(".")[0])
        counts[number] = counts.get(number, 0) + 1
    return counts


#: (test id, figure) pairs the tests measured, printed at the end of the run (conftest.py).
FIGURES: list[tuple[str, str]] = []


def figure(rid: str, text: str) -> None:
    FIGURES.append((rid, text))
