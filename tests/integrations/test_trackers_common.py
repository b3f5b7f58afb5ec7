"""What every tracker shares (tunewise.tracking): a worker logs the trials it runs with the
tracking its study keeps in the store; a tracker that cannot log is a warning and the study goes
on; a missing library is one error naming the extra; importing tunewise loads no tracker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integrations.trackers import CMD_VALUES, command_study
from tunewise.cli.main import main as cli_main
from tunewise.errors import SpecError
from tunewise.trial import TrialState

TRACKER_LIBRARIES = ("mlflow", "wandb", "tensorboard")


def test_a_worker_logs_with_the_tracking_stored_with_the_study(tmp_path: Path) -> None:
    log_dir = tmp_path / "tb"
    study = command_study(tmp_path, {"tensorboard": {"log_dir": str(log_dir)}}, workers_only=True)
    assert study.spec.tracking == {"tensorboard": {"log_dir": str(log_dir)}}
    folders = sorted(p.name for p in (log_dir / f"cmd-{study.uuid[:8]}").iterdir())
    assert folders == [f"{n:05d}" for n in range(len(CMD_VALUES))]


def test_a_tracker_that_cannot_log_is_a_warning_and_the_study_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where TensorBoard wants its folder")
    study = command_study(tmp_path, {"tensorboard": {"log_dir": str(blocked)}})
    assert study.counts()[TrialState.COMPLETED] == len(CMD_VALUES)
    err = capsys.readouterr().err  # the tunewise logger's line on stderr
    warnings = [line for line in err.splitlines() if "TensorBoardTracker" in line]
    assert [w.split(":")[0] for w in warnings] == [
        f"[tunewise] tracker TensorBoardTracker could not log trial {n}"
        for n in range(len(CMD_VALUES))
    ]


@pytest.mark.parametrize("library", TRACKER_LIBRARIES)
def test_a_missing_library_names_the_extra(
    library: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tunewise.tracking import build_tracker

    for name in list(sys.modules):
        if name == library or name.startswith(library + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, library, None)  # what an uninstalled package imports as
    options = {"log_dir": "tb"} if library == "tensorboard" else {}
    with pytest.raises(ImportError, match=rf"pip install 'tunewise\[{library}\]'"):
        build_tracker(library, options)
    # tunewise run says it in one line (exit 2), before any trial runs
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "study": "s",
                "objective": {"metric": "loss", "direction": "minimize"},
                "space": {"x": {"type": "float", "low": 0, "high": 1}},
                "trial": {"command": ["true"]},  # never runs
                "limits": {"max_trials": 1},
                "storage": f"sqlite:///{tmp_path / 's.db'}",
                "runs_dir": str(tmp_path / "runs"),
                "tracking": {library: options},
            }
        )
    )
    assert cli_main(["run", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    needs = f"needs {library}: pip install 'tunewise[{library}]'"
    assert err[-1] == f"tunewise: tracking.{library}: {needs}"


def test_importing_tunewise_and_a_spec_with_tracking_loads_no_tracker_library() -> None:
    code = (
        "import sys, tunewise\n"
        "from tunewise.spec import StudySpec\n"
        "StudySpec.from_dict({'study': 's', 'objective': {'metric': 'l', 'direction': 'minimize'},"
        " 'space': {'x': {'type': 'float', 'low': 0, 'high': 1}},"
        " 'tracking': {'mlflow': {}, 'wandb': {}, 'tensorboard': {'log_dir': 'tb'}}})\n"
        f"print([m for m in {TRACKER_LIBRARIES!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_trials_run_on_ray_are_logged_by_the_driver(tmp_path: Path) -> None:
    """``executor: {type: ray, address: local}``: the trials run in Ray's workers, and the
    driver (a ``tunewise run`` process of its own, so Ray never starts inside the tests) logs
    each one when it finishes."""
    import json
    import shutil
    import tempfile

    import tunewise as tw
    from tests.integrations.trackers import SCRIPT

    (tmp_path / "train_cmd.py").write_text(SCRIPT)
    log_dir = tmp_path / "tb"
    storage = f"sqlite:///{tmp_path / 'ray.db'}"
    spec = {
        "study": "onray",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 10.0}},
        "enqueue": [{"x": x} for x in CMD_VALUES],
        "trial": {"command": [sys.executable, str(tmp_path / "train_cmd.py"), "{x}"]},
        "limits": {"max_trials": len(CMD_VALUES)},
        "executor": {"type": "ray", "address": "local"},
        "storage": storage,
        "runs_dir": str(tmp_path / "runs"),
        "tracking": {"tensorboard": {"log_dir": str(log_dir)}},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    temp = Path(tempfile.mkdtemp(prefix="tw-rayt-", dir="/tmp"))  # Ray's sockets: short paths
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(TUNEWISE_STORAGE="", RAY_TMPDIR=str(temp), RAY_USAGE_STATS_ENABLED="0")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tunewise.cli.main", "run", "spec.json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    study = tw.load_study("onray", storage=storage)
    folders = sorted(p.name for p in (log_dir / f"onray-{study.uuid[:8]}").iterdir())
    assert folders == [f"{n:05d}" for n in range(len(CMD_VALUES))]


def test_create_study_takes_the_spec_tracking(tmp_path: Path) -> None:
    """``create_study(tracking=...)`` is the spec's key from Python: optimize logs with no
    callback, and the study keeps it (a worker or a resume logs the same way)."""
    import tunewise as tw
    from tests.integrations.trackers import PY_VALUES, train

    log_dir = tmp_path / "tb"
    study = tw.create_study(
        "made-in-python",
        objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Float(0.0, 10.0)},
        storage=f"sqlite:///{tmp_path / 'p.db'}",
        tracking={"tensorboard": {"log_dir": str(log_dir)}},
    )
    for x in PY_VALUES[:2]:
        study.enqueue_trial({"x": x})
    study.optimize(train, n_trials=2, progress=False)
    folders = sorted(p.name for p in (log_dir / f"made-in-python-{study.uuid[:8]}").iterdir())
    assert folders == ["00000", "00001"]
    with pytest.raises(SpecError, match=r"^tracking\.tensorboard\.log_dir"):
        tw.create_study(
            "bad",
            objective=tw.Objective("loss", "minimize"),
            space={"x": tw.Float(0.0, 1.0)},
            tracking={"tensorboard": {}},
        )
