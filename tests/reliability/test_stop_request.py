"""A person's stop (dashboard or REST: the study's stored state set to stopped, as
``server/control.py`` does) ends ``tunewise run`` at once: no trial is created after the stop
is stored, and the running trials — even ones that never look at ``should_stop`` — end within
about a second (issue 20 §5, issue 21 #13). And SIGTERM to ``tunewise run`` is treated like
Ctrl-C: the running trials are requeued, none is left RUNNING (issue 21 #25)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    Launcher,
    Proc,
    figure,
    living,
    opened,
    processes_of,
    read_pids,
    sqlite_url,
    wait_until,
    write_spec,
)
from tunewise.trial import StudyState, TrialState

pytestmark = pytest.mark.timeout(90)

#: Trials 0-3 take 0.1 s; later ones report once, then sleep 60 s without looking at
#: should_stop (only a kill ends them). Each writes its pid to pids.txt.
TRAIN = """\
import os, time
import tunewise


def train(params, trial):
    with open("pids.txt", "a") as f:
        f.write(f"{os.getpid()}\\n")
    tunewise.report(step=1, score=params["x"])
    time.sleep(0.1 if trial.number < 4 else 60)
    return params["x"]
"""


def _start(tmp_path: Path, launcher: Launcher, name: str) -> tuple[str, Proc]:
    (tmp_path / "stoptrain.py").write_text(TRAIN)
    spec = write_spec(
        tmp_path, name, trial={"python": "stoptrain:train"}, max_trials=200, max_parallel=2
    )
    url = sqlite_url(tmp_path / "t.db")
    driver = launcher.cli("run", spec, "--storage", url, cwd=tmp_path)
    # Trials 4 and 5 run (and never end by themselves).
    wait_until(lambda: len(read_pids(tmp_path / "pids.txt")) >= 6, 60, "six trials started")
    return url, driver


def test_a_stored_stop_starts_no_trial_and_ends_the_running_ones_within_a_second(
    tmp_path: Path, launcher: Launcher
) -> None:
    url, driver = _start(tmp_path, launcher, "stop-me")
    trial_processes = processes_of(read_pids(tmp_path / "pids.txt"), tmp_path)
    launcher.watch(trial_processes)
    with opened(url) as store:
        record = store.get_study("stop-me")
        store.set_study_state(record.id, StudyState.STOPPED, "stopped from the dashboard")
        stored_at = datetime.now(UTC)
        started = time.monotonic()
        code = driver.wait(timeout=30)
        took = time.monotonic() - started
        trials = store.get_trials(record.id)
        state = store.get_study("stop-me").state
    ended = max((t.finished_at for t in trials if t.finished_at), default=stored_at)
    figure(
        "stop",
        f"the running trials were recorded ended {(ended - stored_at).total_seconds():.2f} s "
        f"and tunewise run exited {took:.2f} s after the stop was stored",
    )
    assert code == 0, driver.stderr
    # The driver's last look at the state and its insert are a few ms apart, no more.
    cutoff = stored_at + timedelta(seconds=0.05)
    late = [t.number for t in trials if t.created_at and t.created_at > cutoff]
    assert late == []
    assert took < 3.0  # measured about 0.6 s: the stop is read within 0.2 s, kills after 0.5 s
    assert state == StudyState.STOPPED
    assert all(t.state != TrialState.RUNNING for t in trials)
    assert {t.state for t in trials if t.number in (4, 5)} == {TrialState.STOPPED}
    assert living(trial_processes) == []


def test_sigterm_requeues_the_running_trials_as_ctrl_c_does(
    tmp_path: Path, launcher: Launcher
) -> None:
    url, driver = _start(tmp_path, launcher, "terminate-me")
    trial_processes = processes_of(read_pids(tmp_path / "pids.txt"), tmp_path)
    launcher.watch(trial_processes)
    driver.popen.send_signal(signal.SIGTERM)
    code = driver.wait(timeout=30)
    assert code == 130, driver.stderr  # as Ctrl-C: interrupted, trials requeued
    with opened(url) as store:
        record = store.get_study("terminate-me")
        trials = store.get_trials(record.id)
    assert record.state == StudyState.INTERRUPTED
    assert [t.number for t in trials if t.state == TrialState.RUNNING] == []
    assert {t.state for t in trials if t.number in (4, 5)} == {TrialState.QUEUED}
    time.sleep(0.5)
    assert living(trial_processes) == []
