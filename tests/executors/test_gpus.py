"""GPUs per trial on one machine, with fake devices: a fake ``nvidia-smi`` on PATH, so the real
discovery runs. Trials wait for a device, never share one beyond their fraction, see only
theirs through CUDA_VISIBLE_DEVICES, and give it back when they finish, crash, time out or are
stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tests.executors.helpers import job, run_until_done
from tunewise.cli.main import main
from tunewise.devices import DevicePool, discover_gpus, gpu_pool
from tunewise.errors import SpecError
from tunewise.executors import build_executor
from tunewise.executors.base import DoneEvent
from tunewise.executors.local import LocalExecutor
from tunewise.runners.python import PythonRunner
from tunewise.spec import ExecutorSpec
from tunewise.trial import FailureKind, TrialState


@pytest.fixture
def fake_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``fake_gpus(n)``: an ``nvidia-smi`` on PATH that lists ``n`` devices (0 .. n-1) the way
    the real one answers ``--query-gpu=index --format=csv,noheader``; NVML unavailable."""
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml -> ImportError
    folder = tmp_path / "bin"
    folder.mkdir()

    def install(count: int) -> None:
        script = folder / "nvidia-smi"
        lines = "".join(f"echo {i}\n" for i in range(count))
        script.write_text(
            '#!/bin/sh\n[ "$1" = "--query-gpu=index" ] && [ "$2" = "--format=csv,noheader" ]'
            f" || exit 9\n{lines}"
        )
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin{os.pathsep}/bin")

    return install


def test_discovery_reads_nvidia_smi(fake_gpus: Any) -> None:
    fake_gpus(3)
    assert discover_gpus() == ["0", "1", "2"]
    assert gpu_pool(1).devices == ("0", "1", "2")
    assert gpu_pool(1, [2]).devices == ("2",)  # the explicit list wins


def test_no_device_is_a_refusal_before_anything_runs(
    fake_gpus: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_gpus(0)
    with pytest.raises(SpecError) as caught:
        build_executor(ExecutorSpec.from_dict({"resources_per_trial": {"gpu": 1}}), 2)
    assert caught.value.field == "executor.resources_per_trial.gpu"
    assert "executor.gpus" in str(caught.value)
    fake_gpus(1)
    with pytest.raises(SpecError, match="asks for 2 GPUs per trial and there are 1"):
        build_executor(ExecutorSpec.from_dict({"resources_per_trial": {"gpu": 2}}), 2)

    # The CLI: exit 2, one line, and no study stored.
    fake_gpus(0)
    spec = tmp_path / "gpu.yaml"
    spec.write_text(
        "study: gpu\nobjective: {metric: loss, direction: minimize}\n"
        "space: {x: {type: float, low: 0, high: 1}}\nlimits: {max_trials: 2}\n"
        f"trial: {{command: [{sys.executable}, -c, 'print(1)']}}\n"
        "executor: {type: local, resources_per_trial: {gpu: 1}}\n"
    )
    db = tmp_path / "gpu.db"
    code = main(["run", str(spec), "--storage", f"sqlite:///{db}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "executor.resources_per_trial.gpu" in err and "shows none" in err
    assert not db.exists()


def test_the_pool_counts_shares_exactly() -> None:
    quarters = DevicePool(["0"], 0.25)
    assert quarters.fits() == 4
    got = [quarters.acquire(n) for n in range(5)]
    assert got == [("0",)] * 4 + [None]  # four quarters fill a device; a fifth waits
    quarters.release(2)
    assert quarters.fits() == 1 and quarters.acquire(7) == ("0",)

    halves = DevicePool(["0", "1"], 0.5)
    assert [halves.acquire(n) for n in range(4)] == [("0",), ("1",), ("0",), ("1",)]  # spread
    assert halves.acquire(4) is None

    pairs = DevicePool(["0", "1", "2", "3"], 2)
    assert pairs.fits() == 2
    assert pairs.acquire(0) == ("0", "1") and pairs.acquire(1) == ("2", "3")
    pairs.release(0)
    assert pairs.held(0) == () and pairs.acquire(2) == ("0", "1")


def trained(params: dict[str, Any]) -> float:
    """Records the devices it saw and when it ran."""
    start = time.time()
    time.sleep(params["sleep"])
    record = {"devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": time.time()}
    Path(params["out"], f"{os.getpid()}-{start}.json").write_text(json.dumps(record))
    return params["x"]


def concurrency(records: list[dict[str, Any]], device: str | None = None) -> int:
    """The most trials that ran at once (on ``device``, when given)."""
    chosen = [r for r in records if device is None or r["devices"] == device]
    events = sorted([(r["start"], 1) for r in chosen] + [(r["end"], -1) for r in chosen])
    most = now = 0
    for _, change in events:
        now += change
        most = max(most, now)
    return most


@pytest.mark.parametrize(
    ("executor", "max_parallel", "per_device", "at_once"),
    [
        ({"type": "local", "resources_per_trial": {"gpu": 1}}, 4, 1, 2),  # devices limit
        ({"type": "local", "resources_per_trial": {"gpu": 0.5}, "gpus": [1]}, 4, 2, 2),
        ({"type": "local", "resources_per_trial": {"gpu": 1}}, 1, 1, 1),  # max_parallel limits
    ],
)
def test_trials_wait_for_a_device_and_never_share_beyond_their_fraction(
    fake_gpus: Any,
    tmp_path: Path,
    executor: dict[str, Any],
    max_parallel: int,
    per_device: int,
    at_once: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_gpus(2)
    out = tmp_path / "seen"
    out.mkdir()
    study = tw.create_study(
        "gpus",
        objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Float(0, 1)},
        static={"out": str(out), "sleep": 0.4},
        strategy="random",
        storage=f"sqlite:///{tmp_path / 'g.db'}",
    )
    study.optimize(
        trained, n_trials=4, max_parallel=max_parallel, executor=executor, progress=False
    )
    records = [json.loads(p.read_text()) for p in out.iterdir()]
    assert len(records) == 4
    allowed = {"1"} if "gpus" in executor else {"0", "1"}
    assert {r["devices"] for r in records} <= allowed  # exactly one device each
    assert concurrency(records) <= at_once
    for device in allowed:
        assert concurrency(records, device) <= per_device
    if at_once > 1:  # they did run side by side: the limit was the devices, not a queue
        assert concurrency(records) == at_once
    trials = study.trials
    assert all(t.state == TrialState.COMPLETED for t in trials)
    stored = sorted(",".join(map(str, t.user_attrs["devices"])) for t in trials)
    assert stored == sorted(r["devices"] for r in records)  # kept with the trial as seen
    if max_parallel == 1:
        return
    # Shown by `tunewise trials` and on the dashboard's trial page.
    url = f"sqlite:///{tmp_path / 'g.db'}"
    assert main(["trials", "gpus", "--storage", url]) == 0
    header, *rows = capsys.readouterr().out.splitlines()[:5]
    column = header.split().index("devices")
    assert sorted(row.split()[column] for row in rows) == stored
    from tests.server.conftest import client_for

    with client_for(url) as client:
        page = client.get("/studies/gpus/trials/0").text
    assert f'<td id="trial-devices">{stored_of(trials[0])}</td>' in page


def stored_of(trial: tw.Trial) -> str:
    return ", ".join(map(str, trial.user_attrs["devices"]))


def crash(params: dict[str, Any]) -> float:
    os._exit(3)


def hang(params: dict[str, Any]) -> float:
    time.sleep(60)
    return 0.0


def test_a_command_trial_sees_its_device_too(tmp_path: Path) -> None:
    """A training command inherits CUDA_VISIBLE_DEVICES from its trial process."""
    from tunewise.runners.command import CommandRunner

    script = tmp_path / "train.py"
    script.write_text(
        "import json, os\n"
        "print('@tunewise ' + json.dumps({'score': 1.0}))\n"
        "print('seen=' + os.environ['CUDA_VISIBLE_DEVICES'])\n"
    )
    runner = CommandRunner([sys.executable, str(script)])
    executor = LocalExecutor(capacity=2, devices=DevicePool(["3", "5"], 1))
    executor.submit(job(tmp_path, 0), runner)
    executor.submit(job(tmp_path, 1), runner)
    events = run_until_done(executor, limit=30.0)
    assert all(e.outcome.state == TrialState.COMPLETED for e in events if isinstance(e, DoneEvent))
    seen = sorted((tmp_path / f"{n:05d}" / "stdout.log").read_text().split()[-1] for n in (0, 1))
    assert seen == ["seen=3", "seen=5"]
    executor.close()


@pytest.mark.parametrize("how", ["crash", "timeout", "stop", "shutdown"])
def test_a_device_is_released_however_its_trial_ends(tmp_path: Path, how: str) -> None:
    pool = DevicePool(["0"], 1)
    executor = LocalExecutor(capacity=2, grace_seconds=0.5, devices=pool)
    runner = PythonRunner(crash if how == "crash" else hang)
    executor.submit(job(tmp_path, 0, timeout=0.5 if how == "timeout" else None), runner)
    assert executor.devices(0) == ("0",)
    assert executor.free == 0  # capacity 2, but the one device is taken: the next trial waits
    with pytest.raises(RuntimeError, match="no free capacity"):
        executor.submit(job(tmp_path, 1), runner)
    if how == "stop":
        executor.cancel(0, "stopped by the test", FailureKind.TIMEOUT, keep_partial=False)
    if how == "shutdown":
        events = executor.shutdown("the test ends it")
    else:
        events = run_until_done(executor, limit=30.0)
    (ended,) = [e for e in events if isinstance(e, DoneEvent)]
    assert ended.outcome.state == TrialState.FAILED
    assert executor.devices(0) == () and executor.free == 1 and pool.fits() == 1
    assert pool.acquire(5) == ("0",)  # free for the next trial
    executor.close()


def test_gpu_check_says_so_on_a_machine_without_gpus(fake_gpus: Any) -> None:
    """``benchmarks/gpu_check.py`` exits 2 with one clear line when no GPU is found."""
    fake_gpus(0)
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.returncode == 2
    assert out.stderr.startswith("gpu_check: this machine has no GPU") and out.stdout == ""
