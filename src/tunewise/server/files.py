"""Reading a trial's files (logs, hyperparameters.json, what the training wrote) safely.

A request names a file by a path relative to the trial's folder; nothing outside that folder
may be read, however the path is spelled. The name is refused before touching the disk when it
has a ``..`` segment, a backslash, a NUL, a leading ``/`` or ``~``, a drive letter, or a ``%``
(what is left of ``%2e%2e`` after the one decoding the server does, or of ``%252e%252e`` after
two); then the resolved real path, symlinks followed, must still be inside the folder's real
path. Only regular files are served, and only their last :data:`MAX_BYTES`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 256 * 1024
MAX_LIST = 200  # files listed on a trial's page
LOG_STREAMS = ("stdout", "stderr")
_DRIVE = re.compile(r"^[A-Za-z]:")


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


def resolve_inside(folder: Path, name: str) -> Path:
    """The real path of ``folder/name``, refused unless it is a regular file inside ``folder``.

    Raises:
        UnsafePath: the name or its resolved path leads out of ``folder``.
        FileNotFoundError: no such regular file.
    """
    check_name(name)
    root = folder.resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root) or target == root:
        raise UnsafePath("the path leads out of the trial's folder")
    if not target.is_file():
        raise FileNotFoundError(name)
    return target


def read_tail(folder: Path, name: str, max_bytes: int = MAX_BYTES) -> FileTail:
    """The last ``max_bytes`` of ``folder/name`` as text (undecodable bytes replaced)."""
    path = resolve_inside(folder, name)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)  # the resolved path: a symlink swapped in since is refused
    with os.fdopen(fd, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        start = max(0, size - max_bytes)
        handle.seek(start)
        data = handle.read(max_bytes)
    text = data.decode("utf-8", errors="replace")
    if start:
        text = text.partition("\n")[2]  # drop the partial first line
    return FileTail(name=name, text=text, size=size, truncated=start > 0)


def list_files(folder: Path) -> list[dict[str, object]]:
    """Regular files under ``folder`` (not following symlinks), shallowest first."""
    if not folder.is_dir():
        return []
    root = folder.resolve()
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
