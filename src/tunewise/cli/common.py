"""What every ``tunewise`` subcommand shares: exit codes, the storage URL, optional extras.

It sits below :mod:`tunewise.cli.main` and the subcommand modules, so that they import it and
never each other (``main`` registers the subcommands; a subcommand never imports ``main``).
"""

from __future__ import annotations

import os
import re

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
        from tunewise.errors import SpecError

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
