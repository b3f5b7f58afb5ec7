"""The Ray executor on a real two-node cluster (head + one worker node, one CPU each, loopback).

- A study of 12 command trials, run by ``tunewise run SPEC --executor ray``, completes and
  its trials ran on both nodes (each trial finds the raylet above it).
- A study of Python trials whose spec says ``address: ray://127.0.0.1:10001`` runs through the
  head's Ray Client server: every trial ends, its learning curve is stored, and the median
  rule stops the bad ones after their first report (a stop from the driver reaches the trial).
- R11: SIGKILL the worker node's raylet while a trial runs there: that attempt is FAILED with
  kind ``lost`` within 5 s of Ray reporting the node dead, the retry policy runs it again (on
  the head), the trial's processes on the dead node are gone, and the study completes with
  each trial number completed exactly once and nothing RUNNING.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.ray.conftest import ADDRESS, CLIENT_ADDRESS, RayCluster, figure, gone
from tests.reliability.conftest import ENTRY_POINT, opened, sqlite_url, wait_until
from tunewise.trial import FailureKind, TrialState

pytestmark = pytest.mark.timeout(300)

TRIAL = Path(__file__).with_name("_trial.py")
LOST_WITHIN = 5.0  # seconds after Ray reports the node dead


def write_spec(
    folder: Path, study: str, trials: int, steps: int, pause: float, executor_type: str
) -> Path:
    spec = {
        "study": study,
        "objective": {"metric": "score", "direction": "maximize"},
        "strategy": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "trial": {
            "command": [
                sys.executable,
                str(TRIAL),
                "{x}",
                str(steps),
                str(pause),
                str(folder / "completed.log"),
            ],
        },
        "limits": {"max_trials": trials, "max_parallel": 2},
        "seed": 3,
        "lease": {"heartbeat": "1s", "grace": "5s"},
        "runs_dir": str(folder / "runs"),
        "executor": {
            "type": executor_type,
            **(
                {"address": ADDRESS, "resources_per_trial": {"cpu": 1, "gpu": 0}}
                if executor_type == "ray"
                else {}
            ),
        },
    }
    path = folder / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def where(folder: Path, study: str, number: int, attempt: int) -> dict[str, Any]:
    (study_folder,) = (folder / "runs").glob(f"{study}-*")  # runs/NAME-<uuid8>/
    path = study_folder / f"{number:05d}" / f"where.{attempt}.json"
    return json.loads(path.read_text())


def completed_numbers(folder: Path) -> list[int]:
    log = folder / "completed.log"
    return sorted(int(line) for line in log.read_text().split()) if log.exists() else []


def test_a_study_runs_on_both_nodes(cluster: RayCluster, tmp_path: Path) -> None:
    # No executor in the spec: --executor ray with the default address, auto, which finds the
    # cluster through RAY_ADDRESS (as after `ray start` on a cluster's machine).
    spec = write_spec(tmp_path, "both", trials=12, steps=2, pause=0.2, executor_type="local")
    url = sqlite_url(tmp_path / "both.db")
    started = time.monotonic()
    driver = cluster.start(
        ENTRY_POINT, "run", spec, "--storage", url, "--executor", "ray", cwd=tmp_path,
        env={"RAY_ADDRESS": ADDRESS},
    )  # fmt: skip
    code = driver.wait(timeout=240)
    assert code == 0, driver.stderr[-3000:]
    figure("ray 12 trials", f"2 nodes, 12 trials in {time.monotonic() - started:.1f}s")
    with opened(url) as store:
        sid = store.get_study("both").id
        trials = store.get_trials(sid)
        reports = store.get_study_reports(sid)
    assert [t.state for t in trials] == [TrialState.COMPLETED] * 12
    assert all([r.step for r in reports[t.number]] == [1, 2] for t in trials)
    raylets = {where(tmp_path, "both", t.number, 1)["raylet"] for t in trials}
    assert raylets == {cluster.head_raylet.pid, cluster.worker_raylet.pid}
    assert completed_numbers(tmp_path) == list(range(12))


def test_a_study_runs_through_ray_client(cluster: RayCluster, tmp_path: Path) -> None:
    # x = 0.7, 0.8 run first, then 0.9: none can be stopped (fewer than 2 trials completed, or
    # the best); 0.1 and 0.2 start after two of them completed and are below their median.
    spec = {
        "study": "client",
        "objective": {"metric": "score", "direction": "maximize"},
        "strategy": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "trial": {"python": "tests.ray._curve:curve"},
        "limits": {"max_trials": 5, "max_parallel": 2},
        "enqueue": [{"x": x} for x in (0.7, 0.8, 0.9, 0.1, 0.2)],
        "early_stopping": {"rule": "median", "min_trials": 2},
        "lease": {"heartbeat": "1s", "grace": "5s"},
        "runs_dir": str(tmp_path / "runs"),
        "executor": {
            "type": "ray",
            "address": CLIENT_ADDRESS,
            "resources_per_trial": {"cpu": 1, "gpu": 0},
        },
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    url = sqlite_url(tmp_path / "client.db")
    logs = cluster.temp / "session_latest" / "logs"
    served_before = set(logs.glob("ray_client_server_*.err"))
    started = time.monotonic()
    driver = cluster.start(ENTRY_POINT, "run", path, "--storage", url, cwd=tmp_path)
    code = driver.wait(timeout=120)
    assert code == 0, driver.stderr[-3000:]
    figure("ray client", f"5 trials through Ray Client in {time.monotonic() - started:.1f}s")
    # The head's Ray Client proxy started a server of its own for this driver.
    assert set(logs.glob("ray_client_server_*.err")) - served_before
    with opened(url) as store:
        sid = store.get_study("client").id
        trials = store.get_trials(sid)
        reports = store.get_study_reports(sid)
    assert [(t.params["x"], t.state) for t in trials] == [
        (0.7, TrialState.COMPLETED),
        (0.8, TrialState.COMPLETED),
        (0.9, TrialState.COMPLETED),
        (0.1, TrialState.STOPPED),
        (0.2, TrialState.STOPPED),
    ]
    assert [t.value for t in trials] == pytest.approx([2.1, 2.4, 2.7, 0.1, 0.2])
    steps = {t.number: [r.step for r in reports[t.number]] for t in trials}
    assert steps == {0: [1, 2, 3], 1: [1, 2, 3], 2: [1, 2, 3], 3: [1], 4: [1]}


def test_r11_killed_raylet_loses_its_trials_which_run_again(
    cluster: RayCluster, tmp_path: Path
) -> None:
    study, trials = "r11", 5
    spec = write_spec(tmp_path, study, trials=trials, steps=6, pause=0.4, executor_type="ray")
    url = sqlite_url(tmp_path / "r11.db")
    watcher = cluster.start(sys.executable, "-m", "tests.ray._watch_nodes", ADDRESS, cwd=tmp_path)
    nodes = watcher.wait_fact("alive", timeout=60)["alive"]
    assert len(nodes) == 2
    driver = cluster.start(ENTRY_POINT, "run", spec, "--storage", url, cwd=tmp_path)
    worker_raylet = cluster.worker_raylet.pid

    def on_worker_and_reporting() -> list[int]:
        """Numbers of running trials on the worker node that reported at least once."""
        found = []
        with opened(url) as store:
            try:
                sid = store.get_study(study).id
            except Exception:
                return []
            for trial in store.get_trials(sid, [TrialState.RUNNING]):
                try:
                    place = where(tmp_path, study, trial.number, trial.attempt)
                except (OSError, ValueError):
                    continue
                if place["raylet"] == worker_raylet and store.get_reports(sid, trial.number):
                    found.append(trial.number)
        return found

    wait_until(on_worker_and_reporting, 120, "a trial runs on the worker node", running=[driver])
    victims = on_worker_and_reporting()
    processes = [psutil.Process(where(tmp_path, study, n, 1)["pid"]) for n in victims]
    cluster.worker_raylet.send_signal(signal.SIGKILL)
    killed_at = time.time()

    dead = watcher.wait_fact("dead", timeout=60)
    assert dead["dead"] not in [None, ""] and dead["dead"] in nodes
    code = driver.wait(timeout=180)
    assert code == 0, driver.stderr[-3000:]
    wait_until(lambda: gone(processes), 10, "the lost trials' processes are gone")

    with opened(url) as store:
        sid = store.get_study(study).id
        final = store.get_trials(sid)
        attempts = {t.number: store.get_attempts(sid, t.number) for t in final}
        counts = store.count_trials(sid)
    assert [t.state for t in final] == [TrialState.COMPLETED] * trials
    assert counts.get(TrialState.RUNNING, 0) == 0
    assert completed_numbers(tmp_path) == list(range(trials))
    for number in victims:
        (first,) = attempts[number]
        assert first.failure_kind == FailureKind.LOST, first
        assert "died" in (first.error or "")
        assert first.finished_at is not None
        lag = first.finished_at.timestamp() - dead["at"]
        figure(
            "R11 raylet killed",
            f"trial {number}: node dead {dead['at'] - killed_at:.1f}s after the kill, "
            f"trial lost {first.finished_at.timestamp() - killed_at:.1f}s after it "
            f"({lag:+.1f}s from the node's death; limit +{LOST_WITHIN:g}s)",
        )
        assert lag <= LOST_WITHIN
        again = next(t for t in final if t.number == number)
        assert again.attempt == 2
        assert where(tmp_path, study, number, 2)["raylet"] == cluster.head_raylet.pid
    other_lost = [n for n, a in attempts.items() if a and n not in victims]
    assert all(a.failure_kind == FailureKind.LOST for n in other_lost for a in attempts[n])
