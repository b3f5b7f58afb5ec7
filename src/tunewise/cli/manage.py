"""``tunewise add | delete | copy``: the command-line twins of ``study.add_trial``,
``tw.delete_study`` and ``tw.copy_study``.

Registered by :mod:`tunewise.cli.main`; imports :mod:`tunewise.cli.common`, never ``main``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tunewise.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    STORAGE_HELP,
    open_study,
    shown_url,
    storage_url,
    writable_url,
)
from tunewise.errors import SpecError, StudyExists


def register(sub: Any) -> None:
    """Add the ``add``, ``delete`` and ``copy`` subcommands to ``sub``."""
    add = sub.add_parser(
        "add", help="record a trial run elsewhere (its parameters and result) in a study"
    )
    add.add_argument("study", metavar="STUDY")
    add.add_argument(
        "--params", required=True, metavar="JSON", help="hyperparameters, e.g. '{\"lr\": 0.01}'"
    )
    result = add.add_mutually_exclusive_group()
    result.add_argument("--value", type=float, help="the objective's value")
    result.add_argument("--metrics", metavar="JSON", help="metrics holding the objective")
    add.add_argument("--state", choices=("completed", "stopped", "failed"), default="completed")
    add.add_argument("--error", help="why it failed (with --state failed)")
    add.add_argument("--storage", help=STORAGE_HELP)
    add.set_defaults(handler=cmd_add)

    delete = sub.add_parser("delete", help="delete a study with all its trials")
    delete.add_argument("study", metavar="STUDY")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.add_argument("--storage", help=STORAGE_HELP)
    delete.set_defaults(handler=cmd_delete)

    copy = sub.add_parser(
        "copy", help="copy a study to another store (SQLite <-> PostgreSQL) or name"
    )
    copy.add_argument("study", metavar="STUDY")
    copy.add_argument("--to-storage", required=True, metavar="URL", help="the store to copy to")
    copy.add_argument("--to-study", metavar="NAME", help="the copy's name (default: STUDY)")
    copy.add_argument("--storage", help=STORAGE_HELP + "; the store to copy from")
    copy.set_defaults(handler=cmd_copy)


def _json(text: str | None, flag: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SpecError(flag, f"is not JSON ({exc}); e.g. '{{\"lr\": 0.01}}'") from None


def cmd_add(args: argparse.Namespace) -> int:
    params = _json(args.params, "--params")
    metrics = _json(args.metrics, "--metrics")
    if args.state == "failed" and (args.value is not None or metrics is not None):
        raise SpecError("--state", "a failed trial has no result; drop --value/--metrics")
    if args.state != "failed" and args.value is None and metrics is None:
        raise SpecError("--value", f"a {args.state} trial needs --value V or --metrics JSON")
    study = open_study(args, writable=True)
    try:
        trial = study.add_trial(
            params, args.value, metrics=metrics, state=args.state, error=args.error
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, SpecError):
            raise
        raise SpecError("", str(exc)) from None
    finally:
        study.store.close()
    value = "" if trial.value is None else f", {study.objective.metric} {trial.value:.6g}"
    print(f"study {args.study}: trial {trial.number} added ({trial.state}{value})")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    from tunewise.store import open_store

    url = writable_url(storage_url(args.storage))
    store = open_store(url, create=False)
    try:
        record = store.get_study(args.study)
        count = sum(store.count_trials(record.id).values())
        where = shown_url(url)
        if not args.yes:
            if not sys.stdin.isatty():
                print(
                    f"tunewise: delete: study {args.study!r} ({count} trials) in {where} is "
                    "deleted only with --yes when there is no terminal to confirm on",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            answer = input(f"delete study {args.study!r} with {count} trials from {where}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing deleted", file=sys.stderr)
                return EXIT_USAGE
        store.delete_study(record.id)
    finally:
        store.close()
    print(f"study {args.study} deleted ({count} trials) from {where}")
    return EXIT_OK


def cmd_copy(args: argparse.Namespace) -> int:
    from tunewise.study_admin import copy_study

    source = storage_url(args.storage)
    target = writable_url(args.to_storage)
    name = args.to_study or args.study
    try:
        copy_study(
            from_study_name=args.study,
            from_storage=source,
            to_storage=target,
            to_study_name=name,
        )
    except StudyExists:
        print(
            f"tunewise: copy: a study named {name!r} already exists in {shown_url(target)}; "
            "give another name with --to-study NAME, or delete that one first",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"study {args.study} copied to {shown_url(target)} as {name}")
    return EXIT_OK
