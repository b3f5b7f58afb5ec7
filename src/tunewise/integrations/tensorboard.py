"""TensorBoard: one run folder per trial with HParams plugin summaries, so TensorBoard's HParams
view lists the trials side by side (hyperparameters against metrics) and its Scalars view draws
their learning curves.

Each finished trial is written, from the driver, to ``log_dir/STUDY-ID/NNNNN`` (``ID`` the
first 8 hex digits of the study's uuid, ``NNNNN`` the trial's number):

- a session start (the HParams plugin's ``session_start_info``): the trial's hyperparameters,
  its group named by the trial, its start time;
- every report as scalars at its step, and the final metrics no report carried at the last step;
- a session end: ``STATUS_SUCCESS`` for a completed or early-stopped trial, ``STATUS_FAILURE``
  for a failed one, with its end time.

Only TensorBoard's own protobufs and event file writer are used: no TensorFlow, no PyTorch. Run
``tensorboard --logdir LOG_DIR`` to look. Enable it in a spec (``tracking: {tensorboard:
{log_dir: tb}}``) or in Python: ``study.optimize(f, callbacks=[TensorBoardCallback("tb")])``.
Needs ``pip install 'tunewise[tensorboard]'``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tunewise.tracking import FinishedTrial, TrackerCallback, missing_library
from tunewise.trial import TrialState

__all__ = ["TensorBoardCallback", "TensorBoardTracker", "from_options", "trial_folder"]


def trial_folder(log_dir: str | Path, event: FinishedTrial) -> Path:
    """Where a trial's events go: ``log_dir/STUDY-ID/NNNNN``."""
    study = f"{event.study}-{event.study_uuid[:8]}" if event.study_uuid else event.study
    return Path(log_dir) / study / f"{event.trial.number:05d}"


def _hparam(value: Any) -> bool | float | str:
    """The HParams plugin takes bools, numbers and strings: anything else is shown as JSON."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return json.dumps(value, default=str)


def _seconds(when: datetime | None, default: float) -> float:
    return default if when is None else when.timestamp()


class TensorBoardTracker:
    """Writes each finished trial's HParams session and scalars under ``log_dir``."""

    def __init__(self, log_dir: str | Path) -> None:
        try:
            from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: F401
        except ImportError:
            raise missing_library("tensorboard", "tensorboard") from None
        self.log_dir = Path(log_dir)

    def log_trial(self, event: FinishedTrial) -> None:
        import time

        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary
        from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
        from tensorboard.plugins.hparams.summary_v2 import hparams_pb
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        trial = event.trial
        now = time.time()
        start = _seconds(trial.started_at, now)
        end = _seconds(trial.finished_at, now)
        folder = trial_folder(self.log_dir, event)
        writer = EventFileWriter(str(folder))
        try:
            params = {name: _hparam(value) for name, value in trial.params.items()}
            start_summary = hparams_pb(
                params, trial_id=f"{event.study}/{trial.number:05d}", start_time_secs=start
            )
            writer.add_event(Event(wall_time=start, step=0, summary=start_summary))
            for report in event.reports:
                summary = Summary(
                    value=[Summary.Value(tag=k, simple_value=v) for k, v in report.values.items()]
                )
                wall = _seconds(report.time, end)
                writer.add_event(Event(wall_time=wall, step=report.step, summary=summary))
            final = event.final_metrics()
            if final:
                summary = Summary(
                    value=[Summary.Value(tag=k, simple_value=v) for k, v in final.items()]
                )
                writer.add_event(Event(wall_time=end, step=event.last_step(), summary=summary))
            status = (
                api_pb2.STATUS_FAILURE
                if trial.state == TrialState.FAILED
                else api_pb2.STATUS_SUCCESS
            )
            data = plugin_data_pb2.HParamsPluginData(
                session_end_info=plugin_data_pb2.SessionEndInfo(status=status, end_time_secs=end)
            )
            end_summary = Summary(
                value=[
                    Summary.Value(
                        tag=metadata.SESSION_END_INFO_TAG,
                        metadata=metadata.create_summary_metadata(data),
                        tensor=metadata.NULL_TENSOR,
                    )
                ]
            )
            writer.add_event(Event(wall_time=end, step=event.last_step(), summary=end_summary))
        finally:
            writer.close()

    def close(self) -> None:
        """Nothing to end: each trial's event file is closed when it is written."""


class TensorBoardCallback(TrackerCallback):
    """``study.optimize(f, callbacks=[TensorBoardCallback("tb")])``: an HParams session per
    trial under ``tb/STUDY-ID/``."""

    def __init__(self, log_dir: str | Path) -> None:
        super().__init__(TensorBoardTracker(log_dir))


def from_options(log_dir: str) -> TensorBoardTracker:
    """The tracker a spec's ``tracking: {tensorboard: {log_dir: ...}}`` entry describes."""
    return TensorBoardTracker(log_dir)
