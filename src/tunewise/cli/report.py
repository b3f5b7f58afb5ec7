"""``tunewise report``: a study as one self-contained HTML file (plots, importance, trials)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tunewise.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    STORAGE_HELP,
    existing_store,
    lacks_dashboard_extra,
    output_path,
    storage_url,
)


def register(sub: Any) -> None:
    """Add ``report`` to the ``tunewise`` command's subparsers."""
    report = sub.add_parser("report", help="write a self-contained HTML report of a study")
    report.add_argument("study", metavar="STUDY")
    report.add_argument("-o", "--output", required=True, metavar="FILE", help="the .html file")
    report.add_argument("--storage", help=STORAGE_HELP)
    report.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    if lacks_dashboard_extra("report", "jinja2", "plotly"):
        return EXIT_FAILURE
    from tunewise.server.report import render_report

    path = output_path(args.output, (".html", ".htm"))
    text = render_report(existing_store(storage_url(args.storage)), args.study)
    path.write_text(text, encoding="utf-8")
    print(f"wrote the report of {args.study} to {path} ({len(text) / 1e6:.1f} MB)", file=sys.stderr)
    return EXIT_OK
