"""``tunewise schema``: print the study spec's JSON Schema (draft 2020-12).

Editors validate and complete spec files with it: save it beside the specs
(``tunewise schema -o spec.schema.json``) and start a spec with
``# yaml-language-server: $schema=./spec.schema.json`` (VS Code's YAML extension reads that line).
Registered by :mod:`tunewise.cli.main`; the schema itself lives in :mod:`tunewise.schema`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tunewise.cli.common import EXIT_OK, EXIT_USAGE


def register(sub: Any) -> None:
    """Add the ``schema`` subcommand to ``sub``."""
    parser = sub.add_parser(
        "schema", help="print the JSON Schema of spec files (for editors' validation)"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", default="-", help="the file to write, or - for stdout"
    )
    parser.set_defaults(handler=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    from tunewise.schema import schema_text

    text = schema_text()
    if args.output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    target = Path(args.output)
    if target.is_dir() or not target.parent.is_dir():
        print(f"tunewise: --output: cannot write {args.output!r}", file=sys.stderr)
        return EXIT_USAGE
    target.write_text(text, encoding="utf-8")
    return EXIT_OK
