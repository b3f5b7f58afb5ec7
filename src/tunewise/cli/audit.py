"""``tunewise replay STUDY`` and ``tunewise why STUDY TRIAL``: audit a study's suggestions.

``replay`` re-derives every stored suggestion (:mod:`tunewise.replay`) and exits 0 when every
replayable one reproduces exactly, 1 otherwise; ``why`` explains one (:mod:`tunewise.explain`)
and exits 1 when it cannot (no suggestion record, another tunewise version).
"""

from __future__ import annotations

import argparse
from typing import Any

from tunewise.cli.common import EXIT_FAILURE, EXIT_OK, STORAGE_HELP, open_study

#: Per-trial lines shown before the rest are summed up (``--format json`` lists every one).
SHOWN_OK = 50


def register(sub: Any) -> None:
    """Add ``replay`` and ``why`` to the ``tunewise`` command's subparsers."""
    replay = sub.add_parser(
        "replay",
        help="re-derive every stored suggestion of a study and check that it reproduces",
        description="Re-derive every stored suggestion from the history as it stood then, "
        "with the stored seed and strategy, and report per trial whether it reproduces "
        "exactly. Exit code 0 when every replayable trial reproduces, 1 otherwise.",
    )
    replay.add_argument("study", metavar="STUDY")
    replay.add_argument("--format", choices=("text", "json"), default="text")
    replay.add_argument("--storage", help=STORAGE_HELP)
    replay.set_defaults(handler=cmd_replay)

    why = sub.add_parser(
        "why",
        help="explain why the strategy suggested a trial",
        description="Explain a trial's suggestion: for bayesian the incumbent, the predicted "
        "mean and spread at the suggestion, the acquisition value and the nearest earlier "
        "trials; for the other strategies what decided it.",
    )
    why.add_argument("study", metavar="STUDY")
    why.add_argument("trial", metavar="TRIAL", type=int)
    why.add_argument("--format", choices=("text", "json"), default="text")
    why.add_argument("--storage", help=STORAGE_HELP)
    why.set_defaults(handler=cmd_why)


def cmd_replay(args: argparse.Namespace) -> int:
    from tunewise.documents import dumps
    from tunewise.replay import REPRODUCED, replay_study

    study = open_study(args)
    try:
        report = replay_study(study)
    finally:
        study.store.close()
    if args.format == "json":
        print(dumps(report.to_dict()))
        return EXIT_OK if report.ok else EXIT_FAILURE
    shown = 0
    for trial in report.trials:
        if trial.status == REPRODUCED:
            shown += 1
            if shown > SHOWN_OK:
                continue
        line = f"trial {trial.number}: {trial.status}"
        if trial.reason and trial.status != REPRODUCED:
            detail = trial.reason.removeprefix(f"trial {trial.number}: ")
            line += f": {detail}"
        print(line)
    if shown > SHOWN_OK:
        print(f"... and {shown - SHOWN_OK} more reproduced")
    print(summary_line(report))
    return EXIT_OK if report.ok else EXIT_FAILURE


def summary_line(report: Any) -> str:
    """``reproduced 40 of 40 replayable trials (100%); 2 not replayable``."""
    from tunewise.replay import MISMATCH, NOT_REPLAYABLE, REPRODUCED

    rate = "" if report.rate is None else f" ({100 * report.rate:.1f}%)"
    line = (
        f"{report.study}: reproduced {report.count(REPRODUCED)} of {report.replayable} "
        f"replayable trials{rate}"
    )
    if report.count(MISMATCH):
        line += f", {report.count(MISMATCH)} mismatched"
    if report.count(NOT_REPLAYABLE):
        line += f"; {report.count(NOT_REPLAYABLE)} not replayable"
    return line + f" (tunewise {report.version})"


def cmd_why(args: argparse.Namespace) -> int:
    from tunewise.documents import dumps
    from tunewise.errors import SpecError
    from tunewise.explain import describe, explain_trial

    study = open_study(args)
    try:
        doc = explain_trial(study, args.trial)
    except KeyError:
        raise SpecError("TRIAL", f"study {args.study!r} has no trial {args.trial}") from None
    finally:
        study.store.close()
    if args.format == "json":
        print(dumps(doc))
    else:
        print("\n".join(describe(doc)))
    return EXIT_OK if doc.get("explained") else EXIT_FAILURE
