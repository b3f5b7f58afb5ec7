"""``tunewise report``: a study as one self-contained HTML file (plots, importance, trials)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tunewise.cli.common import (
    DASHBOARD_EXTRA,
    EXIT_FAILURE,
    EXIT_OK,
    STORAGE_HELP,
    missing_dashboard_extra,
    storage_url,
)
from tunewise.errors import SpecError


def register(sub: Any) -> None:
    """Add ``report`` to the ``tunewise`` command's subparsers."""
    report = sub.add_parser("report", help="write a self-contained HTML report of a study")
    report.add_argument("study", metavar="STUDY")
    report.add_argument("-o", "--output", required=True, metavar="FILE", help="the .html file")
    report.add_argument("--storage", help=STORAGE_HELP)
    report.set_defaults(handler=cmd_report)


def output_path(value: str, suffixes: tuple[str, ...]) -> Path:
    """``-o`` checked before any work: a known suffix and an existing folder."""
    path = Path(value)
    if path.suffix.lower() not in suffixes:
        raise SpecError("--output", f"{value!r} must end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise SpecError("--output", f"folder {str(path.parent)!r} does not exist")
    return path


def existing_store(url: str) -> str:
    """``url``, once checked to name a store that exists: reading never creates a database."""
    from tunewise.store import open_store

    store = open_store(url, create=False)
    store.close()
    return url


def cmd_report(args: argparse.Namespace) -> int:
    missing = missing_dashboard_extra("jinja2", "plotly")
    if missing:
        print(f"tunewise: report needs {missing}: {DASHBOARD_EXTRA}", file=sys.stderr)
        return EXIT_FAILURE
    from tunewise.server.report import render_report

    path = output_path(args.output, (".html", ".htm"))
    text = render_report(existing_store(storage_url(args.storage)), args.study)
    path.write_text(text, encoding="utf-8")
    print(f"wrote the report of {args.study} to {path} ({len(text) / 1e6:.1f} MB)", file=sys.stderr)
    return EXIT_OK
