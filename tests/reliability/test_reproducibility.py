"""Reproducibility: the same seed and spec with ``max_parallel: 1`` give the same suggestions in
the same order — across two separate ``tunewise run`` processes, and across a crash (SIGKILL of
the driver after about 5 of 12 trials) followed by ``tunewise resume``."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import (
    Launcher,
    figure,
    has_study,
    opened,
    run_cli,
    sqlite_url,
    study_id,
    wait_until,
    write_spec,
)
from tunewise.trial import TrialState

pytestmark = pytest.mark.timeout(120)

MAX_TRIALS = 12
SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "scale": "log"},
    "layers": {"type": "int", "low": 1, "high": 8},
    "act": {"type": "categorical", "values": ["relu", "tanh", "gelu"]},
}

TRAIN = """\
import time


def train(params):
    time.sleep(0.1)
    return params["lr"] * params["layers"]
"""


def _folder(root: Path, name: str) -> tuple[Path, Path, str]:
    folder = root / name
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN)
    spec = write_spec(
        folder,
        "repro",
        trial={"python": "train:train"},
        max_trials=MAX_TRIALS,
        max_parallel=1,
        space=SPACE,
        seed=20261127,
    )
    return folder, spec, sqlite_url(folder / "repro.db")


def _params(url: str) -> list[dict[str, Any]]:
    with opened(url) as store:
        sid = study_id(store, "repro")
        trials = store.get_trials(sid)
        assert [t.number for t in trials] == list(range(MAX_TRIALS))
        assert store.count_trials(sid)[TrialState.COMPLETED] == MAX_TRIALS
        return [dict(t.params) for t in trials]


def test_same_seed_same_suggestions_across_processes_and_a_crash(
    tmp_path: Path, launcher: Launcher
) -> None:
    runs = [_folder(tmp_path, name) for name in ("first", "second", "crashed")]
    # The two clean runs and the one to crash run at the same time, each its own process.
    drivers = [launcher.cli("run", spec, "--storage", url, cwd=cwd) for cwd, spec, url in runs]
    crash_cwd, _, crash_url = runs[2]
    with opened(crash_url) as store:
        wait_until(
            lambda: has_study(store, "repro"),
            30,
            "the driver did not create the study",
            running=drivers,
        )
        sid = study_id(store, "repro")
        wait_until(
            lambda: store.count_trials(sid)[TrialState.COMPLETED] >= 5,
            60,
            "the driver to crash did not complete 5 trials",
            interval=0.01,
            running=drivers[2:],
        )
        drivers[2].kill(signal.SIGKILL)
        drivers[2].wait(timeout=10)
        before = store.count_trials(sid)
    assert before[TrialState.COMPLETED] < MAX_TRIALS
    for driver in drivers[:2]:
        assert driver.wait(timeout=60) == 0, driver.stderr
    started = time.monotonic()
    done = run_cli("resume", "repro", "--storage", crash_url, cwd=crash_cwd)
    assert done.returncode == 0, done.stderr

    first, second, resumed = (_params(url) for _, _, url in runs)
    assert first == second
    assert resumed == first
    assert len({tuple(sorted(p.items())) for p in first}) == MAX_TRIALS  # really 12 points
    figure(
        "Reproducibility",
        f"12/12 params equal across 2 processes and across kill -9 after "
        f"{before[TrialState.COMPLETED]} completed + resume ({time.monotonic() - started:.1f}s)",
    )
