"""``tunewise plot``: one plot of a study as a PNG (matplotlib) or an HTML page (plotly.js)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tunewise.analysis import KINDS
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
    """Add ``plot`` to the ``tunewise`` command's subparsers."""
    plot = sub.add_parser("plot", help="draw one plot of a study into a PNG or HTML file")
    plot.add_argument("study", metavar="STUDY")
    plot.add_argument("kind", choices=KINDS, help="which plot")
    plot.add_argument("-o", "--output", required=True, metavar="FILE", help="a .png or .html file")
    plot.add_argument("--storage", help=STORAGE_HELP)
    plot.set_defaults(handler=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    path = output_path(args.output, (".png", ".html"))
    png = path.suffix.lower() == ".png"
    needs = ("matplotlib",) if png else ("jinja2", "plotly")
    if lacks_dashboard_extra(f"plot -o {path.suffix}", *needs):
        return EXIT_FAILURE
    from tunewise.server.data import StudyData

    data = StudyData(existing_store(storage_url(args.storage)), pool_size=1)
    try:
        snap = data.snapshot(args.study)
        if png:
            from tunewise.analysis.png import write_png

            reports = data.curve_reports(snap) if args.kind == "curves" else None
            write_png(args.kind, snap.frame, path, reports)
        else:
            from tunewise.server.render import plot_page

            figure = data.figure(args.study, args.kind)
            path.write_text(plot_page(f"{args.study}: {args.kind}", figure), encoding="utf-8")
    finally:
        data.close()
    print(f"wrote the {args.kind} plot of {args.study} to {path}", file=sys.stderr)
    return EXIT_OK
