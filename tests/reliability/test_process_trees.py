"""R2: SIGKILL a command trial's runner, and separately the driver: no process of the trial's
tree (the runner, the command, its child and grandchild — all of them ignoring SIGTERM) is
alive 5 s later (zombies ignored); with the driver alive, the trial is recorded (crashed, then
retried by the default policy and completed)."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
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
    study_id,
    wait_until,
    write_spec,
)
from tunewise.trial import FailureKind, TrialState

pytestmark = pytest.mark.timeout(60)

ORPHAN_LIMIT = 5.0

#: The command: on its first attempt it starts a child that starts a grandchild (``sleep``),
#: every one of them ignoring SIGTERM, writes their pids, and sleeps; later attempts finish.
TREE = """\
import os, signal, subprocess, sys, time

if os.environ["TUNEWISE_ATTEMPT"] != "1":
    print("score=0.5")
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child and grandchild
pids = os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "pids.txt")
CHILD = (
    "import os, subprocess, sys\\n"
    "sleeper = subprocess.Popen(['sleep', '60'])\\n"
    "open(sys.argv[1], 'a').write(f'{os.getpid()} {sleeper.pid} ')\\n"
    "sleeper.wait()\\n"
)
subprocess.Popen([sys.executable, "-c", CHILD, pids])
while len(open(pids).read().split()) < 2 if os.path.exists(pids) else True:
    time.sleep(0.01)
open(pids, "a").write(f"{os.getpid()}\\n")
time.sleep(60)
"""


def _start(tmp_path: Path, launcher: Launcher, name: str) -> tuple[Proc, list[psutil.Process]]:
    """Start ``tunewise run`` on the tree command; returns the driver and the trial's tree
    (runner first, then command, child, grandchild) once all of them run."""
    (tmp_path / "tree.py").write_text(TREE)
    spec = write_spec(
        tmp_path,
        name,
        trial={
            "command": [sys.executable, "tree.py"],
            "metrics": [{"name": "score", "regex": r"score=([0-9.]+)"}],
        },
        max_trials=1,
    )
    driver = launcher.cli("run", spec, "--storage", sqlite_url(tmp_path / "r2.db"), cwd=tmp_path)
    pids_glob = f"tunewise-runs/{name}-*/00000/pids.txt"  # the study's folder: NAME-ID
    wait_until(
        lambda: sum(len(read_pids(f)) for f in tmp_path.glob(pids_glob)) == 3,
        30,
        "the trial's tree did not start",
        running=[driver],
    )
    child, grandchild, command = read_pids(next(tmp_path.glob(pids_glob)))
    tree = processes_of([command, child, grandchild], tmp_path)
    assert len(tree) == 3, "a process of the tree ended early"
    runner = tree[0].parent()
    assert runner is not None and runner.ppid() == driver.pid  # the forked trial process
    tree.insert(0, runner)
    launcher.watch(tree)
    return driver, tree


def test_r2_killing_the_runner_ends_the_command_tree(tmp_path: Path, launcher: Launcher) -> None:
    driver, tree = _start(tmp_path, launcher, "r2-runner")
    tree[0].kill()
    gone = wait_until(
        lambda: not living(tree), ORPHAN_LIMIT, "a process of the trial's tree outlived its runner"
    )
    figure("R2 runner", f"tree of 4 gone {gone:.2f}s after kill -9 of the runner; 0 orphans")
    assert driver.wait(timeout=30) == 0, driver.stderr
    with opened(sqlite_url(tmp_path / "r2.db")) as store:
        sid = study_id(store, "r2-runner")
        trial = store.get_trial(sid, 0)
        assert (trial.state, trial.attempt) == (TrialState.COMPLETED, 2)
        attempts = store.get_attempts(sid, 0)
        assert [a.failure_kind for a in attempts] == [FailureKind.CRASHED]
        assert store.count_trials(sid)[TrialState.RUNNING] == 0


def test_r2_killing_the_driver_ends_the_command_tree(tmp_path: Path, launcher: Launcher) -> None:
    driver, tree = _start(tmp_path, launcher, "r2-driver")
    driver.kill()
    gone = wait_until(
        lambda: not living(tree), ORPHAN_LIMIT, "a process of the trial's tree outlived the driver"
    )
    figure("R2 driver", f"tree of 4 gone {gone:.2f}s after kill -9 of the driver; 0 orphans")
