"""W&B tracker in offline mode (``WANDB_MODE=offline``, files in tmp): a run per trial in a
group per study, read back from the runs' ``.wandb`` files (records decoded with W&B's own
protobuf messages): config, history with steps, summary, tags, exit code."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from wandb.proto import wandb_internal_pb2

from tests.integrations.trackers import CMD_VALUES, PY_VALUES, command_study, python_study
from tunewise.integrations.wandb import WandbCallback

_BLOCK = 32768  # the .wandb file is a LevelDB-style log: 32 KiB blocks of 7-byte-headed chunks
_HEADER = 7  # ":W&B" + magic (2 bytes) + version (1 byte)


def _records(path: Path) -> list[Any]:
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pos, buffer = [], _HEADER, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # the block's tail is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if length == 0 and kind == 0:
            pos += left
            continue
        if pos + 7 + length > len(data):  # a record still being written
            break
        buffer += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last chunk of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(buffer)
            records.append(record)
            buffer = b""
    return records


def _read_run(path: Path) -> dict[str, Any]:
    """A run's name, group, tags, config, history rows (by step), summary and exit code."""
    run: dict[str, Any] = {"history": {}, "summary": {}, "config": {}}
    for record in _records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(
                name=record.run.display_name,
                group=record.run.run_group,
                job_type=record.run.job_type,
                project=record.run.project,
                tags=list(record.run.tags),
            )
            for item in record.run.config.update:
                run["config"][item.key] = json.loads(item.value_json)
        elif kind == "history":
            row = {
                (item.key or "/".join(item.nested_key)): json.loads(item.value_json)
                for item in record.history.item
            }
            step = row.pop("_step")
            run["history"][step] = {k: v for k, v in row.items() if not k.startswith("_")}
        elif kind == "summary":
            for item in record.summary.update:
                key = item.key or "/".join(item.nested_key)
                if not key.startswith("_"):
                    run["summary"][key] = json.loads(item.value_json)
        elif kind == "exit":
            run["exit_code"] = record.exit.exit_code
    return run


def _runs(folder: Path, expected: int) -> dict[int, dict[str, Any]]:
    """The runs in ``folder`` by trial number. W&B's service writes a run's file on its own
    time (it may still be flushing when ``finish`` has returned): read until every run's file
    holds its exit record."""
    deadline = time.monotonic() + 60
    while True:
        paths = sorted(folder.glob("wandb/offline-run-*/run-*.wandb"))
        runs = [_read_run(p) for p in paths]
        if len(runs) == expected and all("exit_code" in run for run in runs):
            return {run["config"]["tunewise/trial"]: run for run in runs}
        assert time.monotonic() < deadline, [(p, p.stat().st_size) for p in paths]
        time.sleep(0.2)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "wandb-files"
    folder.mkdir()
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    return folder


def test_optimize_callback_logs_a_run_per_trial_in_the_study_group(
    offline: Path, tmp_path: Path
) -> None:
    # WANDB_MODE from the environment; the folder given (W&B reads WANDB_DIR once a process)
    study = python_study(tmp_path, [WandbCallback(project="tw-tests", dir=str(offline))])
    runs = _runs(offline, 3)
    assert sorted(runs) == [0, 1, 2]
    for number, x in enumerate(PY_VALUES):
        run = runs[number]
        assert (run["project"], run["group"], run["job_type"]) == ("tw-tests", "py", "trial")
        assert run["config"]["x"] == x and run["config"]["opt"] == "adam"
        assert run["config"]["tunewise/study_uuid"] == study.uuid
        summary = run["summary"]
        assert summary["tunewise/attempt"] == 1
        assert summary["tunewise/duration_s"] >= 0
        if number == 2:
            assert run["exit_code"] == 1
            assert summary["tunewise/state"] == "failed"
            assert summary["tunewise/failure_kind"] == "user_error"
            assert "too large" in summary["tunewise/error"]
            assert run["history"] == {0: {"loss": 3 * x}}
        else:
            assert run["exit_code"] == 0
            assert summary["tunewise/state"] == "completed"
            assert summary["tunewise/value"] == x
            assert run["history"] == {s: {"loss": x * (3 - s)} for s in (0, 1, 2)}
    # Each trial that was the best when it finished is tagged best.
    assert ["best" in runs[n]["tags"] for n in (0, 1, 2)] == [True, True, False]
    assert [runs[n]["summary"]["tunewise/best"] for n in (0, 1, 2)] == [True, True, False]


def test_spec_tracking_logs_command_trials_from_tunewise_run(offline: Path, tmp_path: Path) -> None:
    command_study(
        tmp_path, {"wandb": {"project": "tw-cmd", "mode": "offline", "dir": str(offline)}}
    )
    runs = _runs(offline, 2)
    assert sorted(runs) == [0, 1]
    for number, x in enumerate(CMD_VALUES):
        run = runs[number]
        assert (run["project"], run["group"]) == ("tw-cmd", "cmd")
        assert run["config"]["x"] == x
        assert run["history"][0] == {"loss": 3 * x}
        assert run["history"][2] == {"loss": x, "acc": pytest.approx(1 / x)}
        assert run["summary"]["tunewise/value"] == x
    assert ["best" in runs[n]["tags"] for n in (0, 1)] == [True, True]
