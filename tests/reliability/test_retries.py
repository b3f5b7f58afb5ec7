"""R10: which failures are retried. With ``retries: {max_attempts: 3, on: [crashed]}``: a
Python exception is the user's (FAILED user_error, no retry, no earlier attempt); a process
that calls ``os._exit(1)`` or dies of SIGSEGV crashed and is retried, FAILED after exactly 3
attempts with the 2 earlier ``crashed`` attempts kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.conftest import figure, opened, run_cli, sqlite_url, study_id, write_spec
from tunewise.trial import FailureKind, TrialState

pytestmark = pytest.mark.timeout(60)

FAULTY = """\
import os
import signal


def train(params):
    case = params["case"]
    if case == "raise":
        raise ValueError("bad hyperparameters")
    if case == "exit1":
        os._exit(1)
    if case == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    return 1.0
"""

MAX_ATTEMPTS = 3


def test_r10_exceptions_are_not_retried_crashes_are_up_to_max_attempts(tmp_path: Path) -> None:
    (tmp_path / "faulty.py").write_text(FAULTY)
    cases = ["raise", "exit1", "segv", "fine"]
    spec = write_spec(
        tmp_path,
        "r10",
        trial={"python": "faulty:train"},
        strategy="grid",
        space={"case": {"type": "categorical", "values": cases}},
        max_trials=len(cases),
        max_parallel=2,
        retries={"max_attempts": MAX_ATTEMPTS, "on": ["crashed"]},
        max_consecutive_failures=20,
    )
    url = sqlite_url(tmp_path / "r10.db")
    done = run_cli("run", spec, "--storage", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with opened(url) as store:
        sid = study_id(store, "r10")
        trials = {t.params["case"]: t for t in store.get_trials(sid)}
        attempts = {case: store.get_attempts(sid, t.number) for case, t in trials.items()}
        assert store.count_trials(sid)[TrialState.RUNNING] == 0

    raised = trials["raise"]
    assert (raised.state, raised.failure_kind, raised.attempt) == (
        TrialState.FAILED,
        FailureKind.USER_ERROR,
        1,
    )
    assert "ValueError: bad hyperparameters" in (raised.error or "")
    assert attempts["raise"] == []

    for case, signature in (("exit1", "exited with code 1"), ("segv", "SIGSEGV")):
        trial = trials[case]
        assert (trial.state, trial.failure_kind, trial.attempt) == (
            TrialState.FAILED,
            FailureKind.CRASHED,
            MAX_ATTEMPTS,
        ), case
        assert signature in (trial.error or ""), (case, trial.error)
        earlier = attempts[case]
        assert [(a.attempt, a.failure_kind) for a in earlier] == [
            (1, FailureKind.CRASHED),
            (2, FailureKind.CRASHED),
        ], case
        assert all(signature in (a.error or "") for a in earlier), case

    assert trials["fine"].state == TrialState.COMPLETED and attempts["fine"] == []
    figure(
        "R10",
        "exception -> FAILED(user_error) after 1 attempt, 0 retries; os._exit(1) and SIGSEGV -> "
        f"FAILED(crashed) after exactly {MAX_ATTEMPTS} attempts (2 crashed attempts kept)",
    )
