"""``tunewise edit STUDY --space new.yaml``: the command-line twin of ``study.set_space``.

Registered by :mod:`tunewise.cli.main`; imports :mod:`tunewise.cli.common`, never ``main``.
The edit itself (what is refused, the note stored with the version) is
:mod:`tunewise.space_edit`.
"""

from __future__ import annotations

import argparse
from typing import Any

from tunewise.cli.common import EXIT_OK, STORAGE_HELP, storage_url, writable_url


def register(sub: Any) -> None:
    """Add the ``edit`` subcommand to ``sub``."""
    edit = sub.add_parser(
        "edit",
        help="change a study's space in the middle of the study (stored as a new version)",
        description=(
            "Store a new version of STUDY's space: the next trials are suggested from it (a "
            "running `tunewise run` takes it up), learning from the earlier trials whose values "
            "lie inside it; the others are set aside, counted in the version's note. FILE is a "
            "spec file, or its space: and static: sections alone: a parameter left out of "
            "space: must be fixed in static:; objective, constraints and strategy, when "
            "given, must be the study's; other sections are not read."
        ),
    )
    edit.add_argument("study", metavar="STUDY")
    edit.add_argument(
        "--space", required=True, metavar="FILE", help="YAML or JSON file with the new space:"
    )
    edit.add_argument(
        "--dry-run",
        action="store_true",
        help="say what the edit would change and set aside, and store nothing",
    )
    edit.add_argument("--storage", help=STORAGE_HELP)
    edit.set_defaults(handler=cmd_edit)


def cmd_edit(args: argparse.Namespace) -> int:
    from tunewise.space_edit import edit_space, read_space_file
    from tunewise.store import open_store

    space, static, sections = read_space_file(args.space)
    url = storage_url(args.storage)
    store = open_store(url if args.dry_run else writable_url(url), create=False)
    try:
        version = edit_space(
            store, args.study, space, static, sections=sections, dry_run=args.dry_run
        )
    finally:
        store.close()
    note = version.note
    head = "would store" if args.dry_run else "stored"
    print(f"study {args.study}: {head} space version {version.version}")
    for line in note.get("changes", []):
        print(f"  {line}")
    trials, aside = note.get("trials", 0), note.get("set_aside", 0)
    print(f"earlier trials: {trials - aside} of {trials} kept, {aside} set aside")
    for line in [*note.get("set_aside_why", []), *note.get("kept_with_removed", [])]:
        print(f"  {line}")
    if note.get("queued_outside"):
        numbers = ", ".join(str(n) for n in note["queued_outside"])
        print(f"  queued trials {numbers} lie outside the new space; they run as queued")
    return EXIT_OK
