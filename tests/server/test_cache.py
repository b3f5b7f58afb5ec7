"""The frame cache: reused while the study is unchanged, reloaded when it changes, and served
stale (reloaded in the background) when loading is slow."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.server.helpers import make_study
from tunewise.server import data as data_module
from tunewise.server.data import StudyData
from tunewise.store import SQLStore, open_store
from tunewise.store.table import TrialTable
from tunewise.trial import TrialState


def add_completed(url: str, value: float) -> None:
    store = open_store(url)
    record = store.get_study("demo")
    trial = store.add_trial(record.id, {"lr": 0.01, "layers": 1, "act": "relu"}, owner="t",
                            lease_seconds=60)  # fmt: skip
    store.finish_trial(record.id, trial.number, TrialState.COMPLETED, value=value)
    store.close()


def test_reused_until_the_counts_change(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    make_study(url, tmp_path / "runs", n=12)
    data = StudyData(url)
    try:
        first = data.snapshot("demo")
        assert data.snapshot("demo") is first
        assert data.figure("demo", "history") is data.figure("demo", "history")  # memoised
        add_completed(url, -1.0)
        second = data.snapshot("demo")
        assert second is not first and len(second.frame) == 13
        assert data.summary("demo")["best"] == {"trial": 12, "value": -1.0}
    finally:
        data.close()


def test_slow_loads_serve_the_old_frame_and_reload_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    make_study(url, tmp_path / "runs", n=12)
    monkeypatch.setattr(data_module, "SYNC_LOAD_SECONDS", -1.0)  # every load counts as slow
    monkeypatch.setattr(data_module, "RELOAD_SPACING", 0.0)
    data = StudyData(url)
    data.start(warm=False)
    try:
        first = data.snapshot("demo")
        add_completed(url, 5.0)
        assert data.snapshot("demo") is first, "a slow study is not reloaded in the request"
        deadline = time.monotonic() + 10
        while len(data.snapshot("demo").frame) != 13:
            assert time.monotonic() < deadline, "the background reload never came"
            time.sleep(0.05)
    finally:
        data.close()


def test_a_reload_reads_only_from_the_first_unfinished_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    make_study(url, tmp_path / "runs", n=12, running=2)  # trials 12 and 13 are running
    asked: list[int] = []
    read = SQLStore.get_trial_table

    def spy(self: SQLStore, study_id: int, *, min_number: int = 0) -> TrialTable:
        asked.append(min_number)
        return read(self, study_id, min_number=min_number)

    monkeypatch.setattr(SQLStore, "get_trial_table", spy)
    data, fresh = StudyData(url), StudyData(url)
    try:
        data.snapshot("demo")
        store = open_store(url)
        record = store.get_study("demo")
        store.finish_trial(record.id, 12, TrialState.COMPLETED, value=-5.0)
        store.close()
        add_completed(url, -1.0)
        updated = data.snapshot("demo").frame
        assert asked == [0, 12], "the second load reads from trial 12 on"
        whole = fresh.snapshot("demo").frame
        assert updated.number.tolist() == whole.number.tolist() == list(range(15))
        assert updated.state.tolist() == whole.state.tolist()
        np.testing.assert_array_equal(updated.value, whole.value)
        assert data.summary("demo")["best"] == {"trial": 12, "value": -5.0}
        assert data.trials_page("demo", sort="value", limit=3) == fresh.trials_page(
            "demo", sort="value", limit=3
        )
    finally:
        data.close()
        fresh.close()
