"""Process-group helpers: end a trial's whole process tree, and let an executor do the same.

A command trial runs in its own process group (``start_new_session=True``), so one signal
reaches the training script and everything it started (data loaders, ``sh -c`` children,
``torchrun`` workers). Stopping is graceful first: SIGTERM to the group, a grace period for the
script to save a checkpoint, then SIGKILL to whatever is left.

Zombies (state Z) are not counted as alive: an exited process whose parent has not reaped it
yet cannot run, and PID 1 on some machines reaps orphans late (INFRA.md, "Processes").

Processes that leave the group (a child started with ``start_new_session=True``, a double fork
and ``setsid``) are caught another way: the process that runs a trial makes itself a *child
subreaper* (:func:`become_subreaper`, Linux's ``PR_SET_CHILD_SUBREAPER``), so an orphan of the
trial's tree is reparented to it rather than to PID 1, and :func:`descendants` /
:func:`kill_descendants` find and end every one of them by walking ``/proc``. The executor's
trial process is such a subreaper and serves one trial at a time, so all its descendants belong
to the trial.

For executors: while a command trial runs, its trial folder holds a file ``pgid`` with the
process group id (written right after the start). A process that kills a runner (SIGKILL, a
lost worker) calls :func:`kill_group_from_file` on the trial folder to end the trial's tree as
well. The runner removes the file once the group is gone, so a file left behind means the
runner itself died; call it soon after, before the group id can be reused by the system.
POSIX only (process groups and ``killpg`` do not exist on Windows).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

#: The file in a trial's folder that holds its process group id while the trial runs.
PGID_FILE = "pgid"

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37
_PROC = Path("/proc")
_POLL_SECONDS = 0.1  # how often should_stop and the clock are checked
TIMEOUT_GRACE = 1.0  # seconds between SIGTERM and SIGKILL for a trial past its timeout
_DRAIN_SECONDS = 1.0  # reading on after the group is gone (pipes held by escaped processes)
_CHUNK = 65536

#: ``on_output(fd, chunk)``: bytes read from the child's stdout or stderr; ``b""`` at its end.
OutputCallback = Callable[[int, bytes], None]


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to every process of the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # only possible if the id was reused by another user's group
        return False
    return True


def _process_table() -> dict[int, tuple[int, int, str]]:
    """``pid -> (ppid, pgrp, state)`` of every process, read from /proc (Linux; else empty)."""
    table: dict[int, tuple[int, int, str]] = {}
    if not _PROC.is_dir():
        return table
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # exited while we looked
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2:
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl`` (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux 3.4+); whether it is.

    Not inherited across ``fork``: only the process that calls it is one. Call it only in a
    process dedicated to trials (it then owns every descendant it has).
    """
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def is_subreaper() -> bool:
    """Whether this process is a child subreaper (see :func:`become_subreaper`)."""
    prctl = _prctl()
    if prctl is None:
        return False
    flag = ctypes.c_int(0)
    if prctl(_PR_GET_CHILD_SUBREAPER, ctypes.addressof(flag), 0, 0, 0) != 0:
        return False
    return bool(flag.value)


def has_children(pid: int | None = None) -> bool:
    """Whether the process (this one by default) has any child, zombies included: cheap
    (``/proc/PID/task/*/children``), where a full :func:`descendants` walk reads all of /proc.
    True where the kernel does not say (then walk)."""
    task = _PROC / str(os.getpid() if pid is None else pid) / "task"
    try:
        threads = list(os.scandir(task))
        return any(Path(t.path, "children").read_text().strip() for t in threads)
    except OSError:
        return True


def descendants(root: int, table: dict[int, tuple[int, int, str]] | None = None) -> list[int]:
    """Pids of the live (non-zombie) descendants of ``root``, parents before children.

    A zombie is skipped but its children are not (they are being reparented). Only
    descendants that stayed in the tree are found: an orphan goes to the nearest subreaper.
    """
    table = _process_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop(0)
        if table[pid][2] != "Z":
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def kill_descendants(root: int, exclude: Collection[int] = (), rounds: int = 100) -> bool:
    """SIGKILL every descendant of ``root`` (but ``exclude``) until none is left; True then.

    Meant for ``root`` a live subreaper (this process, or a stopped trial process): processes
    forked meanwhile, and the orphans of those killed, come back to it and are found by the
    next round. Zombies among our own children are reaped.
    """
    me = os.getpid()
    for _ in range(rounds):
        table = _process_table()
        alive = [pid for pid in descendants(root, table) if pid not in exclude]
        if root == me:
            _reap_zombies(table, me, exclude)
        if not alive:
            return True
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)
    return False


def _reap_zombies(
    table: dict[int, tuple[int, int, str]], me: int, exclude: Collection[int]
) -> None:
    """Reap the zombie children of this process (orphans it adopted as a subreaper)."""
    for pid, (ppid, _, state) in table.items():
        if ppid == me and state == "Z" and pid not in exclude:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


def group_members(pgid: int) -> list[int]:
    """Pids of the group's live (non-zombie) processes, read from /proc (Linux).

    Elsewhere, a group that still accepts signal 0 is reported as ``[pgid]``: alive, members
    unknown (zombies included, which only makes waiting last up to the grace period).
    """
    if not signal_group(pgid, 0):
        return []
    if not _PROC.is_dir():
        return [pgid]
    table = _process_table()
    return [pid for pid, (_, pgrp, state) in table.items() if pgrp == pgid and state != "Z"]


def group_alive(pgid: int) -> bool:
    """Whether any process of the group can still run (zombies do not count)."""
    return bool(group_members(pgid))


def terminate_group(pgid: int, grace: float = 5.0, poll: float = 0.05) -> bool:
    """SIGTERM the group, wait up to ``grace`` seconds, then SIGKILL what is left.

    Blocks until the group is gone (or one more second after SIGKILL, which cannot be
    ignored but takes a moment for processes in uninterruptible sleep). Returns True when the
    group is gone. Reaping the group's leader is the caller's job if it is the leader's parent.
    """
    if not signal_group(pgid, signal.SIGTERM):
        return True
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(poll)
    signal_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(poll)
    return not group_alive(pgid)


def write_pgid_file(trial_dir: Path, pgid: int) -> Path:
    """Record the trial's process group id, atomically (a reader never sees half a file)."""
    path = trial_dir / PGID_FILE
    tmp = trial_dir / f".{PGID_FILE}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # never written through: a link planted there is removed
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(tmp, flags, 0o644), "w") as file:
        file.write(f"{pgid}\n")
    os.replace(tmp, path)
    return path


def read_pgid_file(trial_dir: Path) -> int | None:
    """The process group id recorded in ``trial_dir``, or None if there is none (or garbage)."""
    try:
        text = (trial_dir / PGID_FILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 1 else None


def remove_pgid_file(trial_dir: Path) -> None:
    """Forget the group once it is gone, so no one signals a reused id later."""
    with contextlib.suppress(FileNotFoundError):
        (trial_dir / PGID_FILE).unlink()


def kill_group_from_file(trial_dir: Path | str, grace: float = 5.0) -> bool:
    """End the process tree of the trial whose folder is ``trial_dir``; for executors.

    Use it after killing (or losing) the process that ran a :class:`CommandRunner`: the
    runner's direct child dies with it (parent-death signal), but its own children may not.
    Returns True when a live group was found and ended; the ``pgid`` file is removed then.
    """
    trial_dir = Path(trial_dir)
    pgid = read_pgid_file(trial_dir)
    if pgid is None:
        return False
    if not group_alive(pgid):
        remove_pgid_file(trial_dir)
        return False
    gone = terminate_group(pgid, grace)
    if gone:
        remove_pgid_file(trial_dir)
    return gone


def parent_death_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when the process that started it dies.

    Linux only (``prctl(PR_SET_PDEATHSIG)``); None elsewhere. The libc lookup happens here,
    before ``fork``, so the hook does almost nothing in the child. Note: Linux sends the signal
    when the *thread* that forked the child ends; :meth:`CommandRunner.run` blocks its thread
    until the child is reaped, so this only fires if the whole runner process dies.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def supervise(
    proc: subprocess.Popen[bytes],
    on_output: OutputCallback,
    should_stop: Callable[[], bool],
    timeout: float | None,
    grace: float,
) -> str | None:
    """Pump the output of ``proc`` (a group leader) until its whole process tree is gone.

    Returns ``"stop"`` (``should_stop()`` said so), ``"timeout"``, or None (it ended by
    itself). Either way the tree got SIGTERM, then SIGKILL after ``grace`` seconds; leftovers
    of a command that ended by itself are ended the same way. The tree is the process group
    and, when this process is a subreaper (:func:`become_subreaper`), every descendant of this
    process, so children that left the group (``setsid``) end too.

    Stopping is event-driven: ``should_stop()`` is asked right after each piece of output (a
    report line's decision is acted on at once), and when ``should_stop`` has a ``fileno()``
    (a descriptor that becomes readable when a stop may have been asked) that descriptor is
    waited on beside the pipes; otherwise it is also asked every ``_POLL_SECONDS``.

    One thread does it all (a selector over the pipes), so callbacks run in the caller's
    thread and a full pipe cannot deadlock. The leader is watched without being reaped
    (``WNOWAIT``) so that its group id stays reserved while the group is killed; the caller
    reaps it (``proc.wait()``).
    """
    pipes = [p for p in (proc.stdout, proc.stderr) if p is not None]
    start = time.monotonic()
    deadline = start + timeout if timeout is not None else float("inf")
    reason: str | None = None
    kill_at: float | None = None  # when the tree gets SIGKILL, once SIGTERM was sent
    leader_done, drain_until, next_check = False, float("inf"), start
    me, subreaper = os.getpid(), is_subreaper()
    wake = getattr(should_stop, "fileno", None)
    wake_fd: int | None = wake() if callable(wake) else None

    def escaped() -> list[int]:
        """Descendants outside the group (this process being their subreaper)."""
        return [pid for pid in descendants(me) if pid != proc.pid] if subreaper else []

    def signal_tree(sig: int) -> None:
        signal_group(proc.pid, sig)
        for pid in escaped():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    with selectors.DefaultSelector() as selector:
        for pipe in pipes:
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe.fileno(), selectors.EVENT_READ)
        if wake_fd is not None:
            selector.register(wake_fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            wait = _POLL_SECONDS
            if reason is None and not leader_done:
                wait = min(wait, max(0.0, deadline - now))
            if kill_at is not None:
                wait = min(wait, max(0.0, kill_at - now))
            asked = False
            if selector.get_map():
                for key, _ in selector.select(wait):
                    if key.fd == wake_fd:
                        asked = True
                        continue
                    try:
                        chunk = os.read(key.fd, _CHUNK)
                    except BlockingIOError:  # a spurious wake-up
                        continue
                    if not chunk:
                        selector.unregister(key.fd)
                    on_output(key.fd, chunk)
                    asked = True  # a report line may have brought the study's decision
            else:
                time.sleep(wait / 2)
            now = time.monotonic()
            leader_done = leader_done or leader_exited(proc)
            if not leader_done and reason is None:
                if now >= deadline:
                    reason = "timeout"
                elif asked or (wake_fd is None and now >= next_check):
                    next_check = now + _POLL_SECONDS
                    reason = "stop" if should_stop() else None
                if reason is not None:
                    if wake_fd is not None:
                        selector.unregister(wake_fd)
                        wake_fd = None
                    signal_tree(signal.SIGTERM)
                    # Past its timeout a trial gets at most TIMEOUT_GRACE to exit cleanly, so a
                    # timeout is enforced within about timeout + 2 s.
                    kill_at = now + (min(grace, TIMEOUT_GRACE) if reason == "timeout" else grace)
            if kill_at is not None and now >= kill_at:  # the grace period is over
                signal_tree(signal.SIGKILL)
                kill_at = now + 0.05  # again while anything is left (a fork in between)
            if not leader_done:
                continue
            if wake_fd is not None:  # the decision no longer matters
                selector.unregister(wake_fd)
                wake_fd = None
            alive = group_alive(proc.pid) or bool(escaped())
            if alive and kill_at is None:  # leftovers of a command that ended by itself
                signal_tree(signal.SIGTERM)
                kill_at = now + grace
            elif not alive:
                drain_until = min(drain_until, now + _DRAIN_SECONDS)
                if not selector.get_map() or now >= drain_until:
                    return reason


def leader_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether our child has exited, without reaping it where the OS allows (its pid, hence
    its group id, stays reserved); where ``waitid`` is missing (macOS) it is reaped."""
    if not hasattr(os, "waitid"):
        return proc.poll() is not None
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): treat as exited
        return True
    return info is not None


def signal_description(number: int) -> str:
    """``SIGSEGV`` for 11: how a death by signal is told to the user."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def log_tail(path: Path, lines: int, max_bytes: int = 65536) -> list[str]:
    """The last ``lines`` lines of a log as a terminal shows them (a line redrawn with ``\\r``,
    as progress bars do, keeps its last version; trailing blank lines dropped; ``[]`` if none)."""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, os.fstat(file.fileno()).st_size - max_bytes))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return []
    shown = [line.rstrip("\r").rsplit("\r", 1)[-1].rstrip() for line in text.split("\n")]
    while shown and not shown[-1]:
        shown.pop()
    return shown[-lines:]
