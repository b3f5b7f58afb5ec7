"""What every tracker shares (tunewise.tracking): a worker logs the trials it runs with the
tracking its study keeps in the store; a tracker that cannot log is a warning and the study goes
on; a missing library is one error naming the extra; importing tunewise loads no tracker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integrations.trackers import CMD_VALUES, command_study
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
def test_a_missing_library_names_the_extra(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tunewise.tracking import build_tracker

    for name in list(sys.modules):
        if name == library or name.startswith(library + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, library, None)  # what an uninstalled package imports as
    options = {"log_dir": "tb"} if library == "tensorboard" else {}
    with pytest.raises(ImportError, match=rf"pip install 'tunewise\[{library}\]'"):
        build_tracker(library, options)


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
