"""Reading a trial's files (logs, hyperparameters.json, what the training wrote) safely.

A request names a file by a path relative to the trial's folder; nothing outside that folder
may be read, however the path is spelled. The name is refused before touching the disk when it
has a ``..`` segment, a backslash, a NUL, a leading ``/`` or ``~``, a drive letter, or a ``%``
(what is left of ``%2e%2e`` after the one decoding the server does, or of ``%252e%252e`` after
two). Then the file is opened one path segment at a time, each relative to the folder opened
before it and none followed if it is a symbolic link: the study's folder, the trial's folder,
any folder below it and the file itself. A trial folder that was replaced by a link
(``00005 -> /etc``) or a planted ``stdout.log -> ~/.ssh/id_rsa`` is refused, and a link swapped
in while the request runs is refused too (``O_NOFOLLOW`` on every step, no path resolved and
then reopened). Only regular files are served (a FIFO, which would block, is opened without
waiting and refused), and only their last :data:`MAX_BYTES`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 256 * 1024
MAX_LIST = 200  # files listed on a trial's page
LOG_STREAMS = ("stdout", "stderr")
_DRIVE = re.compile(r"^[A-Za-z]:")
#: An earlier attempt's log as the runner keeps it (``runners.trialdir.keep_earlier_logs``):
#: ``stdout.2.log``, or ``stdout.2-3.log`` when that name was taken.
_EARLIER_LOG = re.compile(r"(?P<stream>stdout|stderr)\.(?P<attempt>[1-9][0-9]{0,5})(-[0-9]+)?\.log")


class UnsafePath(ValueError):
    """The requested name could lead out of the trial's folder."""


@dataclass(frozen=True)
class FileTail:
    """The end of a file: its text and whether the beginning was cut."""

    name: str
    text: str
    size: int
    truncated: bool


def check_name(name: str) -> str:
    """``name`` if it is a plain relative path inside a folder, else :class:`UnsafePath`."""
    if not name or len(name) > 512:
        raise UnsafePath("give a file name of 1 to 512 characters")
    if "\x00" in name or "\\" in name or "%" in name:
        raise UnsafePath("file names may not contain NUL, backslashes or percent signs")
    if name.startswith(("/", "~")) or _DRIVE.match(name):
        raise UnsafePath("give a path relative to the trial's folder")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePath("file names may not contain empty, '.' or '..' segments")
    return name


#: Flags of every step: never follow a link, never block (a FIFO), never become a terminal.
_STEP = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


@contextlib.contextmanager
def _opened(folder: Path, parts: list[str]) -> Iterator[int]:
    """A descriptor of ``folder``'s parent's child ``folder.name``, then of each of ``parts``
    in turn, each opened relative to the one before without following links.

    Raises:
        UnsafePath: a step is a symbolic link.
        FileNotFoundError: a step does not exist, or a folder step is not a folder.
    """
    steps = [folder.parent.name, folder.name, *parts]
    fd = os.open(folder.parent.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            flags = _STEP if last else _STEP | os.O_DIRECTORY
            try:
                child = os.open(step, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UnsafePath(f"{step!r} is a symbolic link: links are not served") from None
                if exc.errno == errno.ENOTDIR:
                    if _is_link(fd, step):
                        raise UnsafePath(
                            f"{step!r} is a symbolic link: links are not served"
                        ) from None
                    raise FileNotFoundError(step) from None
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def folder_is_safe(folder: Path) -> bool:
    """Whether ``folder`` is a real folder reached without a symbolic link for the study's or
    the trial's folder (what :func:`list_files` and the log tails need)."""
    try:
        with _opened(folder, []) as fd:
            return stat.S_ISDIR(os.fstat(fd).st_mode)
    except (OSError, UnsafePath):
        return False


def read_tail(folder: Path, name: str, max_bytes: int = MAX_BYTES) -> FileTail:
    """The last ``max_bytes`` of ``folder/name`` as text (undecodable bytes replaced).

    Raises:
        UnsafePath: the name could lead out of ``folder``, or a step of it is a link.
        FileNotFoundError: no such regular file.
    """
    parts = check_name(name).split("/")
    with _opened(folder, parts) as fd:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileNotFoundError(name)
        size = info.st_size
        start = max(0, size - max_bytes)
        data = os.pread(fd, max_bytes, start)
    text = data.decode("utf-8", errors="replace")
    if start:
        text = text.partition("\n")[2]  # drop the partial first line
    return FileTail(name=name, text=text, size=size, truncated=start > 0)


def list_files(folder: Path) -> list[dict[str, object]]:
    """Regular files under ``folder`` (not following symlinks), shallowest first; none when
    the study's or the trial's folder is itself a link."""
    if not folder_is_safe(folder):
        return []
    root = folder
    out: list[dict[str, object]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            if path.is_symlink() or not path.is_file():
                continue
            out.append({"name": path.relative_to(root).as_posix(), "size": path.stat().st_size})
            if len(out) >= MAX_LIST:
                return out
    return out


@dataclass(frozen=True)
class AttemptLog:
    """One log file of one attempt of a trial."""

    attempt: int
    stream: str
    name: str  # relative to the trial's folder
    latest: bool  # the current attempt's ``stdout.log``/``stderr.log``


def attempt_logs(folder: Path, attempt: int) -> list[AttemptLog]:
    """Each attempt's logs, latest attempt first: the current attempt's ``stdout.log`` and
    ``stderr.log`` (listed whether or not they exist yet), then the logs earlier attempts left
    (renamed by the runner when the next attempt started), newest attempt first."""
    logs = [AttemptLog(attempt, s, f"{s}.log", True) for s in LOG_STREAMS]
    earlier = []
    for entry in list_files(folder):
        match = _EARLIER_LOG.fullmatch(str(entry["name"]))
        if match:
            number = int(match["attempt"])
            earlier.append(AttemptLog(number, match["stream"], match[0], False))
    order = {s: i for i, s in enumerate(LOG_STREAMS)}
    earlier.sort(key=lambda log: (-log.attempt, log.name.count("-"), order[log.stream], log.name))
    return logs + earlier
