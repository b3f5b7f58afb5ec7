"""``tunewise create | ask | tell``: drive a study from a shell script or any language, as
Optuna's ``create-study``, ``ask`` and ``tell`` do.

``create`` stores the study a spec describes (its ``trial:`` may be left out) and runs
nothing; ``ask`` prints a new trial's number and parameters as JSON, leased until a deadline;
``tell`` finishes it. Exit codes: 0 done, 2 bad input (unknown study or trial, a value that is
not a number), 1 the trial is not running any more (already finished, or its lease ran out).

Registered by :mod:`tunewise.cli.main`; imports :mod:`tunewise.cli.common`, never ``main``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from tunewise.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    STORAGE_HELP,
    open_study,
    read_spec,
    shown_url,
    storage_url,
    writable_url,
)


def register(sub: Any) -> None:
    """Add the ``create``, ``ask`` and ``tell`` subcommands to ``sub``."""
    create = sub.add_parser(
        "create", help="store the study a spec file describes, without running anything"
    )
    create.add_argument("spec", metavar="SPEC", help="YAML or JSON spec (trial: may be left out)")
    create.add_argument("--study", help="the study's name (default: the spec's name)")
    create.add_argument("--storage", help=STORAGE_HELP + "; else the spec's storage")
    create.set_defaults(handler=cmd_create)

    ask = sub.add_parser(
        "ask", help="start a trial: print its number and parameters as JSON (for your own loop)"
    )
    ask.add_argument("study", metavar="STUDY")
    ask.add_argument(
        "--lease",
        metavar="DURATION",
        help="tell within this long (90s, 10m, 1h) or the trial is lost and retried by the "
        "study's retry policy (default: the study's trial timeout, else 1h)",
    )
    ask.add_argument("--storage", help=STORAGE_HELP)
    ask.set_defaults(handler=cmd_ask)

    tell = sub.add_parser("tell", help="finish a trial from `tunewise ask` with its result")
    tell.add_argument("study", metavar="STUDY")
    tell.add_argument("trial", metavar="TRIAL", help="the trial's number, as ask printed it")
    tell.add_argument("value", metavar="VALUE", nargs="?", help="the objective's value")
    tell.add_argument("--metrics", metavar="JSON", help="metrics holding the objective")
    tell.add_argument("--state", choices=("completed", "stopped", "failed"), default="completed")
    tell.add_argument("--error", help="why it failed (with --state failed)")
    tell.add_argument("--storage", help=STORAGE_HELP)
    tell.set_defaults(handler=cmd_tell)


def cmd_create(args: argparse.Namespace) -> int:
    from tunewise.store import open_store
    from tunewise.study_create import open_or_create

    spec = read_spec(args.spec)
    if args.study is not None:
        spec = spec.with_overrides(name=args.study)
    url = writable_url(storage_url(args.storage, spec.storage))
    args.storage = url  # the store that messages name
    store = open_store(url)
    try:
        open_or_create(store, spec)
    finally:
        store.close()
    print(f"study {spec.name} ready in {shown_url(url)}; `tunewise ask {spec.name}` starts a trial")
    return EXIT_OK


def cmd_ask(args: argparse.Namespace) -> int:
    from tunewise.asktell import AskTellError, ask_trial
    from tunewise.validation import parse_duration

    lease = None if args.lease is None else parse_duration(args.lease, "--lease")
    study = open_study(args, writable=True)
    try:
        asked = ask_trial(study, lease)
    except AskTellError as exc:
        print(f"tunewise: ask: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        study.store.close()
    print(json.dumps(asked, allow_nan=False))
    return EXIT_OK


def cmd_tell(args: argparse.Namespace) -> int:
    from tunewise.asktell import AskTellError, TrialNotRunning, tell_trial

    try:
        number = int(args.trial)
    except ValueError:
        return _refuse(f"TRIAL must be a trial number as ask printed it, got {args.trial!r}")
    if number < 0:
        return _refuse(f"TRIAL must be a trial number as ask printed it, got {args.trial!r}")
    value = None
    if args.value is not None:
        try:
            value = float(args.value)
        except ValueError:
            return _refuse(f"VALUE must be a number, got {args.value!r}")
        if not math.isfinite(value):
            return _refuse(f"VALUE must be a finite number, got {args.value!r}")
    metrics = None
    if args.metrics is not None:
        try:
            metrics = json.loads(args.metrics)
        except ValueError as exc:
            return _refuse(f"--metrics is not JSON ({exc}); e.g. '{{\"loss\": 0.1}}'")
        if not isinstance(metrics, dict):
            return _refuse("--metrics must be a JSON object such as '{\"loss\": 0.1}'")
    if args.error is not None and args.state != "failed":
        return _refuse("--error goes with --state failed")
    study = open_study(args, writable=True)
    try:
        trial = tell_trial(study, number, value, metrics, args.state, args.error)
    except TrialNotRunning as exc:
        print(f"tunewise: tell: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except AskTellError as exc:
        return _refuse(str(exc))
    finally:
        study.store.close()
    shown = "" if trial.value is None else f", {study.objective.metric} {trial.value:.6g}"
    print(f"study {args.study}: trial {trial.number} {trial.state}{shown}")
    return EXIT_OK


def _refuse(message: str) -> int:
    print(f"tunewise: tell: {message}", file=sys.stderr)
    return EXIT_USAGE
