"""R7 and R14: the database under a writer that dies, a disk that fills up, a file system that
turns read-only.

- R7: SIGKILL a process in the middle of its ask/tell loop of 1,000 trials (two writers at
  once, killed at two points): ``PRAGMA integrity_check`` is ok, every trial row has its
  params (valid JSON), the numbers stay contiguous, and the store opens and works afterwards.
- R14: the disk fills up under a running ``tunewise run`` (the driver's file size limit drops
  to 1 byte, so every write of the database fails as on a full disk), and a ``tunewise run``
  meets a database on a read-only file system: each CLI exits non-zero within 5 s naming the
  database path, and the trials committed before are intact.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.reliability._workers import study_for
from tests.reliability.conftest import (
    ENTRY_POINT,
    Launcher,
    cli_env,
    figure,
    has_study,
    integrity_check,
    opened,
    run_cli,
    sqlite_url,
    study_id,
    trial_rows,
    wait_until,
    write_spec,
)
from tunewise.trial import TrialState

EXIT_LIMIT = 5.0


@pytest.mark.timeout(90)
def test_r7_writer_killed_mid_commits_leaves_a_sound_database(
    tmp_path: Path, launcher: Launcher
) -> None:
    db = tmp_path / "r7.db"
    url = sqlite_url(db)
    study_for(url, "r7").close()
    go = tmp_path / "go"
    go.touch()
    # Two writers at once, killed at two different points of their loops.
    writers = [
        launcher.worker("asktell", url, "r7", 1000, "study", go, cwd=tmp_path) for _ in range(2)
    ]
    seen = []
    with opened(url) as store:
        sid = study_id(store, "r7")
        for writer, target in zip(writers, (100, 200), strict=True):
            wait_until(
                lambda target=target: sum(store.count_trials(sid).values()) >= target,
                60,
                f"the writers did not write {target} trials",
                interval=0.005,
                running=[writer],
            )
            writer.kill()
            writer.wait(timeout=10)
            seen.append(sum(store.count_trials(sid).values()))

    assert integrity_check(db) == "ok"
    rows = trial_rows(db)
    assert [number for number, _, _ in rows] == list(range(len(rows)))
    for number, _, params in rows:
        assert params is not None, f"trial {number} has no params"
        decoded = json.loads(params)
        assert isinstance(decoded, dict) and 0.0 <= decoded["x"] <= 1.0, (number, params)
    running = [number for number, state, _ in rows if state == "running"]
    assert len(running) <= 2  # at most the trial each killed writer held

    study = study_for(url, "r7")  # opens, migrates nothing, and works
    try:
        trial = study.ask()
        assert trial.number == len(rows)
        assert study.tell(trial, 0.5).state == TrialState.COMPLETED
    finally:
        study.close()
    assert integrity_check(db) == "ok"
    figure(
        "R7",
        f"writers killed at {seen[0]} and {seen[1]} trials: integrity_check ok, "
        f"{len(rows)}/{len(rows)} rows with valid params, store works after",
    )


TRAIN = """\
import time


def train(params):
    time.sleep(0.2)
    return params["x"]
"""


def _completed(url: str, name: str) -> dict[int, float | None]:
    with opened(url) as store:
        sid = study_id(store, name)
        return {t.number: t.value for t in store.get_trials(sid, [TrialState.COMPLETED])}


@pytest.mark.timeout(90)
def test_r14_disk_full_under_the_driver(tmp_path: Path, launcher: Launcher) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    spec = write_spec(
        tmp_path, "r14", trial={"python": "train:train"}, max_trials=500, max_parallel=2
    )
    db = tmp_path / "r14.db"
    url = sqlite_url(db)
    # Output through pipes: with a 1-byte file size limit the driver cannot write log files.
    driver = launcher.cli("run", spec, "--storage", url, cwd=tmp_path, pipes=True)
    with opened(url) as store:
        wait_until(lambda: has_study(store, "r14"), 30, "no study", running=[driver])
        sid = study_id(store, "r14")
        wait_until(
            lambda: store.count_trials(sid)[TrialState.COMPLETED] >= 4,
            30,
            "the driver did not complete 4 trials",
            running=[driver],
        )
    before = _completed(url, "r14")
    driver.handle.rlimit(psutil.RLIMIT_FSIZE, (1, 1))  # the disk is full, for this driver
    full_at = time.monotonic()
    code = driver.wait(timeout=30)
    exit_seconds = time.monotonic() - full_at
    stderr = driver.stderr
    assert code != 0, stderr
    assert exit_seconds <= EXIT_LIMIT, stderr
    assert str(db) in stderr, stderr
    assert "Traceback" not in stderr, stderr

    assert integrity_check(db) == "ok"
    after = _completed(url, "r14")
    assert {n: after.get(n) for n in before} == before  # every committed trial intact
    numbers = [number for number, _, _ in trial_rows(db)]
    assert numbers == list(range(len(numbers)))
    message = stderr.strip().splitlines()[-1]
    figure(
        "R14 disk full",
        f"CLI exited {code} {exit_seconds:.2f}s after the disk filled; {len(before)} committed "
        f"trials intact; said: {message[:110]}",
    )


def _read_only_mounts_work(folder: Path) -> bool:
    probe = subprocess.run(
        ["unshare", "--mount", "--", "sh", "-c", 'mount --bind "$0" "$0" && '
         'mount -o remount,bind,ro "$0" "$0" && ! touch "$0/probe" 2>/dev/null', folder],
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return probe.returncode == 0


@pytest.mark.timeout(90)
def test_r14_read_only_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if not _read_only_mounts_work(data):
        pytest.skip("needs a mount namespace (unshare --mount) to make a folder read-only")
    (tmp_path / "train.py").write_text(TRAIN)
    spec = write_spec(tmp_path, "r14ro", trial={"python": "train:train"}, max_trials=3)
    db = data / "r14.db"
    url = sqlite_url(db)
    first = run_cli("run", spec, "--storage", url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = _completed(url, "r14ro")
    assert len(before) == 3

    # Continue the study (3 more trials) with its folder mounted read-only.
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    argv = ["unshare", "--mount", "--", "sh", "-c", script, data]
    argv += [ENTRY_POINT, "run", spec, "--storage", url, "--max-trials", "6"]
    started = time.monotonic()
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    seconds = time.monotonic() - started
    assert done.returncode != 0, done.stderr
    assert str(db) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert seconds <= EXIT_LIMIT, done.stderr

    assert integrity_check(db) == "ok"
    assert _completed(url, "r14ro") == before
    message = done.stderr.strip().splitlines()[-1]
    figure(
        "R14 read-only",
        f"CLI exited {done.returncode} after {seconds:.2f}s (startup included); 3 trials intact; "
        f"said: {message[:110]}",
    )
