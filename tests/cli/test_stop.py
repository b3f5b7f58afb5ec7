"""A study stopped from outside (the dashboard's --allow-control stop writes the state): its
driver ends the running trials, leaves it stopped, and a later run continues it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tunewise as tw
from tunewise.store import open_store
from tunewise.trial import StudyState, TrialState

pytestmark = pytest.mark.timeout(90)
ENTRY_POINT = Path(sys.executable).with_name("tunewise")

SPEC = """\
study: stoppable
objective: {metric: score, direction: maximize}
space: {x: {type: float, low: 0.0, high: 1.0}}
trial: {python: "slowtrain:train"}
limits: {max_trials: 40, max_parallel: 2}
lease: {heartbeat: 1s, grace: 3s}
seed: 1
"""


def test_a_stored_stop_ends_the_run_and_the_study_stays_stopped(tmp_path: Path) -> None:
    (tmp_path / "slowtrain.py").write_text(
        "import time\n\ndef train(params):\n    time.sleep(0.4)\n    return params['x']\n"
    )
    (tmp_path / "spec.yaml").write_text(SPEC)
    url = f"sqlite:///{tmp_path / 't.db'}"
    argv = [str(ENTRY_POINT), "run", "spec.yaml", "--storage", url]
    env = {**os.environ, "TUNEWISE_STORAGE": ""}
    process = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        store = open_store(url)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                record = store.get_study("stoppable")
                if store.count_trials(record.id)[TrialState.COMPLETED] >= 2:
                    break
            except tw.StudyNotFound:
                pass
            time.sleep(0.1)
        store.set_study_state(record.id, StudyState.STOPPED, "stopped from the dashboard")
        stopped_at = time.monotonic()
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert time.monotonic() - stopped_at < 5
        study = tw.load_study("stoppable", storage=url)
        assert study.state == StudyState.STOPPED
        assert study.reason == "stopped from the dashboard"
        assert study.counts()[TrialState.RUNNING] == 0
        assert len(study.trials) < 40
        study.close()
        store.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
