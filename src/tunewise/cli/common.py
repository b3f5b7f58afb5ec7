"""What every ``tunewise`` subcommand shares: exit codes, the storage URL, reading a spec
file, opening a stored study, optional extras.

It sits below :mod:`tunewise.cli.main` and the subcommand modules, so that they import it and
never each other (``main`` registers the subcommands; a subcommand never imports ``main``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.errors import SpecError

if TYPE_CHECKING:
    from tunewise.spec import StudySpec
    from tunewise.study import Study

DEFAULT_STORAGE = "sqlite:///tunewise.db"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: What a command that wrote into a closed pipe (``tunewise trials | head``) exits with: the
#: shell's code for a process ended by SIGPIPE, as ``cat`` and ``git`` give.
EXIT_BROKEN_PIPE = 141
STORAGE_HELP = "store URL (default: $TUNEWISE_STORAGE, then sqlite:///tunewise.db)"
DASHBOARD_EXTRA = "pip install 'tunewise[dashboard]'"


def storage_url(flag: str | None, spec_storage: str | None = None) -> str:
    """``--storage``, else ``TUNEWISE_STORAGE``, else the spec's ``storage``, else the default."""
    return flag or os.environ.get("TUNEWISE_STORAGE") or spec_storage or DEFAULT_STORAGE


def writable_url(url: str) -> str:
    """``url``, refused when it opens the store read-only (``?mode=ro``) for a command that
    writes: better one sentence now than a failed write after the first trial."""
    from urllib.parse import parse_qsl

    if dict(parse_qsl(url.partition("?")[2])).get("mode") == "ro":
        raise SpecError(
            "storage",
            f"{shown_url(url)} opens the store read-only (?mode=ro) and this command writes to "
            "it; drop ?mode=ro",
        )
    return url


def shown_url(url: str) -> str:
    """A storage URL as messages show it: a SQLite path made absolute, no password."""
    if url.startswith("sqlite:///") and url not in ("sqlite:///", "sqlite:///:memory:"):
        path, sep, query = url[len("sqlite:///") :].partition("?")
        return f"sqlite:///{os.path.abspath(os.path.expanduser(path))}{sep}{query}"
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def read_text(path: str, save_as: str) -> str:
    """The text of the file a command was given, or a SpecError naming it: it cannot be read
    (the reason), or it is not UTF-8 (``save_as`` says how to save it)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(path, f"cannot be read ({exc.strerror}); check the path") from None
    except UnicodeDecodeError:
        raise SpecError(path, f"is not UTF-8 text; {save_as}") from None


def read_spec(path: str) -> StudySpec:
    """The spec file at ``path``, validated (``run`` and ``create`` read it alike)."""
    from tunewise.spec import parse_spec_text

    return parse_spec_text(read_text(path, "save it as UTF-8 YAML or JSON"), path)


def open_study(args: argparse.Namespace, *, writable: bool = False) -> Study:
    """The study ``args.study`` in the store of ``args.storage``, which must exist: opening a
    study never creates a database. ``writable``: a read-only URL is refused first
    (:func:`writable_url`). The caller closes the study's store."""
    from tunewise.store import open_store
    from tunewise.study import Study

    url = storage_url(args.storage)
    if writable:
        url = writable_url(url)
    store = open_store(url, create=False)
    try:
        return Study(store, args.study, storage=url)
    except BaseException:
        store.close()
        raise


def existing_store(url: str) -> str:
    """``url``, once checked to name a store that exists: reading never creates a database
    (a wrong URL, a missing file or a newer schema fails here, in one sentence)."""
    from tunewise.store import open_store

    open_store(url, create=False).close()
    return url


def output_path(value: str, suffixes: tuple[str, ...]) -> Path:
    """``-o`` checked before any work: a known suffix and an existing folder."""
    path = Path(value)
    if path.suffix.lower() not in suffixes:
        raise SpecError("--output", f"{value!r} must end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise SpecError("--output", f"folder {str(path.parent)!r} does not exist")
    return path


def lacks_dashboard_extra(command: str, *modules: str) -> bool:
    """Whether ``command`` cannot run for want of one of ``modules``, having said on stderr
    which one and how to install it (``plot``, ``report`` and ``serve`` each check first)."""
    missing = missing_dashboard_extra(*modules)
    if missing:
        print(f"tunewise: {command} needs {missing}: {DASHBOARD_EXTRA}", file=sys.stderr)
    return missing is not None


def missing_dashboard_extra(*modules: str) -> str | None:
    """The first of ``modules`` that cannot be imported, or ``None``.

    Each is imported, not just looked up: a package that is there but fails to import (one of
    its own dependencies missing or broken) is as missing to the command as an absent one.
    """
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None
