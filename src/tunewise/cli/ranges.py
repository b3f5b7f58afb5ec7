"""``tunewise suggest-ranges``: read a finished study and propose the next one's ranges.

Prints one line per hyperparameter (what to do, why, the numbers); ``-o next.yaml`` writes the
next study's spec, warm-started from this one, which ``tunewise run next.yaml`` runs. The rules
are :mod:`tunewise.analysis.ranges`'s. Registered by :mod:`tunewise.cli.main`; imports
:mod:`tunewise.cli.common`, never ``main``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tunewise.cli.common import EXIT_OK, STORAGE_HELP, storage_url
from tunewise.errors import SpecError


def register(sub: Any) -> None:
    """Add ``suggest-ranges`` to the ``tunewise`` command's subparsers."""
    ranges = sub.add_parser(
        "suggest-ranges",
        help="propose the next study's ranges from a finished study (widen, narrow, log, fix)",
    )
    ranges.add_argument("study", metavar="STUDY")
    ranges.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the next study's spec (.yaml, .yml or .json), warm-started from STUDY",
    )
    ranges.add_argument(
        "--study",
        dest="next_name",
        metavar="NAME",
        help="the next study's name, with -o (default: STUDY-next)",
    )
    ranges.add_argument("--format", choices=("table", "json"), default="table")
    ranges.add_argument("--storage", help=STORAGE_HELP)
    ranges.set_defaults(handler=cmd_suggest_ranges)


def _output(value: str | None) -> Path | None:
    """``-o`` checked before any work: a spec suffix, in an existing folder."""
    if value is None:
        return None
    path = Path(value)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise SpecError("--output", f"{value!r} must end in .yaml, .yml or .json")
    if not path.parent.is_dir():
        raise SpecError("--output", f"folder {str(path.parent)!r} does not exist")
    return path


def _spec_storage(url: str) -> str | None:
    """The storage URL the written spec names (so its warm start finds this study), unless it
    holds a password: that stays out of files (give ``--storage`` or ``TUNEWISE_STORAGE``)."""
    from urllib.parse import urlsplit

    if url.startswith("sqlite:///:memory:") or urlsplit(url).password:
        return None
    return url


def cmd_suggest_ranges(args: argparse.Namespace) -> int:
    from tunewise.analysis.ranges import for_study
    from tunewise.store import open_store
    from tunewise.study import Study

    target = _output(args.output)
    url = storage_url(args.storage)
    store = open_store(url, create=False)
    try:
        proposals = for_study(Study(store, args.study, storage=url))
        written = None
        if target is not None:
            proposals.write(str(target), args.next_name, storage=_spec_storage(url))
            written = proposals.to_spec(args.next_name).name
    finally:
        store.close()
    if args.format == "json":
        document = proposals.to_dict()
        if target is not None:
            document["written"] = {"file": str(target), "study": written}
        print(json.dumps(document, indent=2))
        return EXIT_OK
    for line in proposals.lines():
        print(line)
    if target is not None:
        print(
            f"wrote {target}: study {written}, warm-started from {args.study}; "
            f"run it with `tunewise run {target}`",
            file=sys.stderr,
        )
    return EXIT_OK
