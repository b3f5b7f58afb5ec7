"""TensorBoard tracker: event files read back with TensorBoard's own readers — the HParams
plugin's session start/end per trial (what its HParams view compares), and scalars with steps;
then TensorBoard's HParams backend lists the trials as session groups with their metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups, metadata

from tests.integrations.trackers import CMD_VALUES, PY_VALUES, command_study, python_study
from tunewise.integrations.tensorboard import TensorBoardCallback


def _read(folder: Path) -> dict[str, Any]:
    """One trial's folder: its hyperparameters, session status and scalars by tag."""
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    content = events.PluginTagToContent("hparams")
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    hparams = {}
    for name, value in start.hparams.items():
        hparams[name] = getattr(value, value.WhichOneof("kind"))
    return {
        "hparams": hparams,
        "group": start.group_name,
        "status": end.status,
        "scalars": {
            tag: [(e.step, e.value) for e in events.Scalars(tag)]
            for tag in events.Tags()["scalars"]
        },
    }


def _trials(log_dir: Path) -> dict[int, dict[str, Any]]:
    (study_folder,) = log_dir.iterdir()  # one study: STUDY-ID
    return {int(folder.name): _read(folder) for folder in sorted(study_folder.iterdir())}


def _session_groups(log_dir: Path) -> dict[str, Any]:
    """What TensorBoard's HParams view shows: its backend's session groups (one per trial),
    each with its hyperparameters, status and the metrics' last values."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(log_dir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(log_dir))
    backend = backend_context.Context(
        base_plugin.TBContext(logdir=str(log_dir), multiplexer=multiplexer, data_provider=provider)
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=100,
        allowed_statuses=[api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE],
    )
    response = list_session_groups.Handler(context.RequestContext(), backend, "", request).run()
    return {
        group.name: {
            "hparams": {k: getattr(v, v.WhichOneof("kind")) for k, v in group.hparams.items()},
            "status": [session.status for session in group.sessions],
            "metrics": {m.name.tag: m.value for m in group.metric_values},
        }
        for group in response.session_groups
    }


def test_optimize_callback_writes_an_hparams_session_per_trial(tmp_path: Path) -> None:
    log_dir = tmp_path / "tb"
    study = python_study(tmp_path, [TensorBoardCallback(log_dir)])
    assert [p.name for p in log_dir.iterdir()] == [f"py-{study.uuid[:8]}"]
    trials = _trials(log_dir)
    assert sorted(trials) == [0, 1, 2]
    for number, x in enumerate(PY_VALUES):
        trial = trials[number]
        assert trial["hparams"] == {"x": x, "opt": "adam"}
        assert trial["group"] == f"py/{number:05d}"
        if number == 2:
            assert trial["status"] == api_pb2.STATUS_FAILURE
            assert trial["scalars"] == {"loss": [(0, 3 * x)]}
        else:
            assert trial["status"] == api_pb2.STATUS_SUCCESS
            assert trial["scalars"] == {"loss": [(s, x * (3 - s)) for s in (0, 1, 2)]}
    groups = _session_groups(log_dir)
    assert groups == {
        "py/00000": {
            "hparams": {"x": 2.0, "opt": "adam"},
            "status": [api_pb2.STATUS_SUCCESS],
            "metrics": {"loss": 2.0},
        },
        "py/00001": {
            "hparams": {"x": 1.0, "opt": "adam"},
            "status": [api_pb2.STATUS_SUCCESS],
            "metrics": {"loss": 1.0},
        },
        "py/00002": {
            "hparams": {"x": 9.0, "opt": "adam"},
            "status": [api_pb2.STATUS_FAILURE],
            "metrics": {"loss": 27.0},
        },
    }


def test_spec_tracking_writes_command_trials_from_tunewise_run(tmp_path: Path) -> None:
    log_dir = tmp_path / "tb-cmd"
    command_study(tmp_path, {"tensorboard": {"log_dir": str(log_dir)}})
    trials = _trials(log_dir)
    assert sorted(trials) == [0, 1]
    for number, x in enumerate(CMD_VALUES):
        trial = trials[number]
        assert trial["hparams"] == {"x": x}
        assert trial["status"] == api_pb2.STATUS_SUCCESS
        assert trial["scalars"]["loss"] == [(s, x * (3 - s)) for s in (0, 1, 2)]
        assert trial["scalars"]["acc"] == [(2, pytest.approx(1 / x))]
