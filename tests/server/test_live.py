"""The dashboard reads while a study runs: the study never fails on the reads, and the live
stream tells the page when trials finish."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.server.conftest import client_for
from tests.server.helpers import stop, tunewise_command, write_spec
from tunewise.store import open_store
from tunewise.trial import TrialState


def test_reads_never_make_a_running_study_fail(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    spec = write_spec(tmp_path, url, "live", max_trials=16, steps=3, sleep=0.02)
    run = subprocess.Popen(
        tunewise_command("run", str(spec)), cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reads = 0
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # wait until the study exists
            if run.poll() is not None or "live" in _names(url):
                break
            time.sleep(0.05)
        with client_for(url) as client:
            while run.poll() is None:
                for path in ("/api/studies/live", "/api/studies/live/trials?sort=value",
                             "/api/studies/live/figures/curves", "/studies/live"):  # fmt: skip
                    assert client.get(path).status_code == 200
                    reads += 1
        output = run.stdout.read() if run.stdout else ""
    finally:
        stop(run)
    assert run.returncode == 0, output
    assert "locked" not in output
    store = open_store(url)
    record = store.get_study("live")
    counts = store.count_trials(record.id)
    store.close()
    assert counts[TrialState.COMPLETED] == 16, counts
    assert reads >= 20


def _names(url: str) -> list[str]:
    store = open_store(url)
    try:
        return [r.name for r in store.list_studies()]
    finally:
        store.close()
