"""MLflow tracker against a real ``mlflow server`` (SQLite backend) started on loopback, read
back through MLflow's own client: a parent run per study, a nested child run per trial with its
params, metric histories (steps), state/failure/attempt/duration tags and the best tag."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

import tunewise as tw
from tests.integrations.trackers import CMD_VALUES, PY_VALUES, command_study, half, python_study
from tunewise.errors import SpecError
from tunewise.integrations.mlflow import MLflowCallback
from tunewise.spec import parse_spec_text

MLFLOW = Path(sys.executable).with_name("mlflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracking server for this module; stopped (its process group, by PID) at the end."""
    folder = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(MLFLOW),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--default-artifact-root",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # the first start creates its schema: slow on 2 cores
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield uri
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _runs(client: MlflowClient, experiment: str) -> tuple[Any, dict[int, Any]]:
    """The study's parent run and its children by trial number."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    runs = client.search_runs([found.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.data.tags for r in runs]
    parent = parents[0]
    children = {
        int(r.data.tags["tunewise.trial"]): r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }
    assert len(children) == len(runs) - 1  # every other run is nested under the parent
    return parent, children


def _history(client: MlflowClient, run: Any, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))


def test_optimize_callback_logs_nested_runs(server: str, tmp_path: Path) -> None:
    study = python_study(tmp_path, [MLflowCallback(tracking_uri=server, experiment="py-study")])
    client = MlflowClient(server)
    parent, children = _runs(client, "py-study")
    assert parent.data.tags["tunewise.study_uuid"] == study.uuid
    assert parent.info.status == "FINISHED"  # close() ended it
    assert parent.data.tags["tunewise.best_trial"] == "1"
    assert float(parent.data.tags["tunewise.best_value"]) == 1.0
    assert sorted(children) == [0, 1, 2]
    for number, x in enumerate(PY_VALUES):
        run = children[number]
        assert run.data.params == {"x": str(x), "opt": "adam"}
        tags = run.data.tags
        assert tags["tunewise.attempt"] == "1"
        assert float(tags["tunewise.duration_s"]) >= 0
        if number == 2:  # raised after its first report
            assert run.info.status == "FAILED"
            assert tags["tunewise.state"] == "failed"
            assert tags["tunewise.failure_kind"] == "user_error"
            assert "too large" in tags["tunewise.error"]
            assert _history(client, run, "loss") == [(0, 3 * x)]
        else:
            assert run.info.status == "FINISHED"
            assert tags["tunewise.state"] == "completed"
            assert _history(client, run, "loss") == [(s, x * (3 - s)) for s in (0, 1, 2)]
    # Trial 0 was the best when it finished; trial 1 took the tag from it.
    assert [children[n].data.tags["tunewise.best"] for n in (0, 1, 2)] == ["false", "true", "false"]


def test_spec_tracking_logs_command_trials_from_tunewise_run(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tracking = {"mlflow": {"tracking_uri": server, "experiment": "cmd-study"}}
    study = command_study(tmp_path, tracking)
    assert "View run" not in capsys.readouterr().out  # MLflow's own prints stay out of it
    client = MlflowClient(server)
    parent, children = _runs(client, "cmd-study")
    assert parent.data.tags["tunewise.study_uuid"] == study.uuid
    assert parent.data.tags["tunewise.best_trial"] == "1"
    assert sorted(children) == [0, 1]
    for number, x in enumerate(CMD_VALUES):
        run = children[number]
        assert run.info.status == "FINISHED"
        assert run.data.tags["tunewise.state"] == "completed"
        assert float(run.data.tags["tunewise.value"]) == x
        assert _history(client, run, "loss") == [(s, x * (3 - s)) for s in (0, 1, 2)]
        assert _history(client, run, "acc") == [(2, pytest.approx(1 / x))]
    assert [children[n].data.tags["tunewise.best"] for n in (0, 1)] == ["false", "true"]
    # The tracking key is kept with the study (a worker reading the study logs the same way).
    assert study.spec.tracking == tracking


def test_a_second_run_adds_to_the_same_parent(server: str, tmp_path: Path) -> None:
    """Continuing a study (a second optimize, a resume, a worker) finds its parent run by the
    study's uuid instead of making another."""
    callback = MLflowCallback(tracking_uri=server, experiment="resumed")
    study = python_study(tmp_path, [callback], name="again")
    study.optimize(half, n_trials=1, callbacks=[callback], progress=False)
    callback.close()
    _, children = _runs(MlflowClient(server), "resumed")
    assert sorted(children) == [0, 1, 2, 3]
    assert children[3].data.tags["tunewise.best"] == "true"
    assert children[1].data.tags["tunewise.best"] == "false"


def test_a_server_that_does_not_answer_never_holds_the_study(tmp_path: Path) -> None:
    """Trials are logged from a thread of their own: with nothing listening, MLflow's client
    retries each request for minutes, yet optimize returns and close gives up on the trials
    still queued (and says how many)."""
    callback = MLflowCallback(tracking_uri=f"http://127.0.0.1:{_free_port()}", experiment="x")
    atexit.unregister(callback.close)  # the test's own close below is the one that matters
    python_study(tmp_path, [], name="unheard")  # (no callback: the study, with its 3 trials)
    study = tw.load_study("unheard", storage=f"sqlite:///{tmp_path / 'unheard.db'}")
    study.optimize(half, n_trials=2, callbacks=[callback], progress=False)
    assert callback.close(timeout=0.5) == 2  # both still queued behind MLflow's retries


@pytest.mark.parametrize(
    ("tracking", "field"),
    [
        ({"mlfow": {}}, "tracking.mlfow"),
        ({"mlflow": {"uri": "x"}}, "tracking.mlflow.uri"),
        ({"mlflow": {"experiment": 3}}, "tracking.mlflow.experiment"),
        ({"tensorboard": {}}, "tracking.tensorboard.log_dir"),
        ({"wandb": {"mode": "later"}}, "tracking.wandb.mode"),
        ("mlflow", "tracking"),
    ],
)
def test_spec_tracking_errors_name_the_field(tracking: Any, field: str) -> None:
    import json

    text = json.dumps(
        {
            "study": "s",
            "objective": {"metric": "loss", "direction": "minimize"},
            "space": {"x": {"type": "float", "low": 0, "high": 1}},
            "tracking": tracking,
        }
    )
    with pytest.raises(SpecError) as info:
        parse_spec_text(text, "spec.json")
    assert str(info.value).startswith(field)
