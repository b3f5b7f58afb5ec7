"""Process-group helpers: graceful then forced termination, the pgid file, log tails."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tunewise.runners import process

from .helpers import PYTHON, TREE_CHILD, kill_all, read_pids, running, wait_dead

pytestmark = pytest.mark.timeout(20)
Script = Callable[[str], str]


def start_tree(
    tmp_path: Path, script: Script, mode: str
) -> tuple[subprocess.Popen[bytes], list[int]]:
    """A child tree in its own group: a Python process (the leader) and its ``sleep``."""
    pids_file = tmp_path / "pids.txt"
    proc = subprocess.Popen(
        [PYTHON, script(TREE_CHILD), mode, str(pids_file)], start_new_session=True
    )
    return proc, read_pids(pids_file, 2)


@pytest.mark.parametrize(("mode", "most_seconds"), [("default", 0.4), ("ignore-term", 2.0)])
def test_terminate_group_is_graceful_then_forced(
    tmp_path: Path, script: Script, mode: str, most_seconds: float
) -> None:
    proc, pids = start_tree(tmp_path, script, mode)
    try:
        assert process.group_alive(proc.pid)
        assert sorted(process.group_members(proc.pid)) == sorted(pids)
        started = time.monotonic()
        assert process.terminate_group(proc.pid, grace=0.5)
        elapsed = time.monotonic() - started
        assert elapsed < most_seconds
        if mode == "ignore-term":
            assert elapsed >= 0.5  # it waited the grace period before SIGKILL
        proc.wait(timeout=2)
        assert running(pids) == []
        assert not process.group_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
        kill_all(pids)


def test_a_zombie_leader_does_not_keep_a_group_alive(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    deadline = time.monotonic() + 5
    while process.group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not process.group_alive(proc.pid)  # exited, not yet reaped: a zombie
    assert process.leader_exited(proc)
    assert proc.poll() == 0  # leader_exited did not reap it; poll still can


def test_kill_group_from_file(tmp_path: Path, script: Script) -> None:
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    assert not process.kill_group_from_file(trial_dir)  # no file: nothing to do
    proc, pids = start_tree(tmp_path, script, "ignore-term")
    try:
        process.write_pgid_file(trial_dir, proc.pid)
        assert process.read_pgid_file(trial_dir) == proc.pid
        assert process.kill_group_from_file(trial_dir, grace=0.2)
        assert wait_dead(pids) == []
        assert not (trial_dir / process.PGID_FILE).exists()
    finally:
        proc.kill()
        proc.wait()
        kill_all(pids)


def test_pgid_file_garbage_or_stale_is_ignored(tmp_path: Path) -> None:
    (tmp_path / process.PGID_FILE).write_text("not a number\n")
    assert process.read_pgid_file(tmp_path) is None
    assert not process.kill_group_from_file(tmp_path)
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait()
    process.write_pgid_file(tmp_path, proc.pid)  # a group that is gone
    assert not process.kill_group_from_file(tmp_path)
    assert not (tmp_path / process.PGID_FILE).exists()


def test_signal_description() -> None:
    assert process.signal_description(11) == "SIGSEGV"
    assert process.signal_description(9) == "SIGKILL"
    assert process.signal_description(250) == "signal 250"


def test_log_tail_shows_what_a_terminal_shows(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    log.write_bytes(b"one\n10%\r50%\r100%\ntwo\n\n\n")
    assert process.log_tail(log, 2) == ["100%", "two"]
    assert process.log_tail(log, 20) == ["one", "100%", "two"]
    assert process.log_tail(tmp_path / "missing.log", 5) == []
    log.write_bytes(b"x" * 100 + b"\n" + b"\xff\xfebad utf8\n")
    assert process.log_tail(log, 1) == ["\ufffd\ufffdbad utf8"]


def test_descendants_are_found_through_every_generation(tmp_path: Path, script: Script) -> None:
    proc, pids = start_tree(tmp_path, script, "default")
    try:
        # pids: the leader (our child) and its sleep; other tests' processes may be ours too
        mine = process.descendants(os.getpid())
        assert set(pids) <= set(mine) and mine.index(proc.pid) < mine.index(pids[-1])
        assert process.descendants(proc.pid) == [p for p in pids if p != proc.pid]
        assert process.has_children()
    finally:
        proc.kill()
        proc.wait()
        kill_all(pids)


def test_a_subreaper_kills_the_orphans_that_left_its_tree(tmp_path: Path) -> None:
    """A forked process makes itself a subreaper, starts a double-forked ``sleep`` in a
    session of its own (an orphan: reparented to it, not to PID 1), and kills it."""
    pid_file = tmp_path / "orphan.txt"
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked child
        code = 1
        try:
            assert process.become_subreaper() and process.is_subreaper()
            middle = os.fork()
            if middle == 0:
                os.setsid()
                sleeper = subprocess.Popen(["sleep", "60"])
                pid_file.write_text(str(sleeper.pid))
                os._exit(0)
            os.waitpid(middle, 0)
            orphan = int(pid_file.read_text())
            assert orphan in process.descendants(os.getpid())  # it came back to us
            assert process.kill_descendants(os.getpid())
            code = 0 if not running([orphan]) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    orphan = int(pid_file.read_text())
    kill_all([orphan])
    assert os.waitstatus_to_exitcode(status) == 0
    assert not process.is_subreaper()  # only the forked child was one
