"""A trial's folder and the files tunewise writes in it, made without following links.

Anyone who can write in the study's runs folder could plant a symbolic link where tunewise is
about to write (``00000/stdout.log -> ~/.bashrc``, or a trial folder ``00000 -> /etc``), and the
trial would overwrite the link's target. So the trial's folder is opened with ``O_NOFOLLOW``
(a link in its place is removed and a real folder made), and every file tunewise writes in it is
made fresh, relative to that opened folder: whatever was at the name (a link, a hard link to
another file, a stale file) is unlinked, then the file is created with ``O_CREAT | O_EXCL |
O_NOFOLLOW``, so no existing file is ever opened for writing. The folders above the trial's
(``runs_dir``, the study's folder) are the user's and may be links (another disk).

Each attempt of a trial keeps its own logs: ``stdout.log`` and ``stderr.log`` are the current
(latest) attempt's; when attempt N starts, the logs of attempt N-1 found there are renamed to
``stdout.{N-1}.log`` and ``stderr.{N-1}.log`` (:func:`keep_earlier_logs`).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

#: The logs of the current attempt; earlier attempts' are ``stdout.{n}.log``/``stderr.{n}.log``.
LOG_NAMES = ("stdout.log", "stderr.log")
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW | getattr(os, "O_CLOEXEC", 0)


def prepare(trial_dir: Path) -> None:
    """Make the trial's folder (and its parents) a real folder: a link in its place is
    replaced by an empty folder. Raises OSError when something else (a file) is there."""
    os.close(open_dir(trial_dir))


def open_dir(trial_dir: Path) -> int:
    """An open descriptor of the trial's folder, made if missing, never through a link."""
    trial_dir = Path(trial_dir)
    trial_dir.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(trial_dir)
    try:
        return os.open(trial_dir, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR) or not trial_dir.is_symlink():
            raise
    os.unlink(trial_dir)  # a planted link: the trial gets a folder of its own instead
    os.mkdir(trial_dir)
    return os.open(trial_dir, _DIR_FLAGS)


def create(dir_fd: int, name: str, mode: int = 0o644) -> int:
    """A new, empty file ``name`` in the folder ``dir_fd``, open for writing; whatever had
    that name is removed first (never written through)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)
    return os.open(name, _NEW_FILE_FLAGS, mode, dir_fd=dir_fd)


def write_text(dir_fd: int, name: str, text: str) -> None:
    """Write ``name`` in the folder ``dir_fd`` as a new file (see :func:`create`)."""
    with os.fdopen(create(dir_fd, name), "w") as file:
        file.write(text)


def keep_earlier_logs(dir_fd: int, attempt: int) -> None:
    """Before attempt ``attempt`` writes its logs, rename the ones left by attempt
    ``attempt - 1`` (``stdout.log`` -> ``stdout.{attempt-1}.log``) so none is truncated."""
    if attempt < 2:
        return
    for name in LOG_NAMES:
        stem = name.removesuffix(".log")
        try:
            os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        earlier, n = f"{stem}.{attempt - 1}.log", attempt - 1
        while _exists(dir_fd, earlier):  # never overwrite a kept log
            n += 1
            earlier = f"{stem}.{attempt - 1}-{n}.log"
        os.rename(name, earlier, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True
