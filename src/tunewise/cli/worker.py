"""``tunewise worker``, and what ``tunewise run SPEC --workers-only`` does: scale a study out.

``run --workers-only`` stores the study (or marks the stored one running) and leaves the
running to workers; ``worker`` runs the trials of running studies on whatever machine it is
started on (see :mod:`tunewise.worker` for which study it serves and when it exits).
"""

from __future__ import annotations

import argparse
import signal
import sys
from typing import TYPE_CHECKING, Any

from tunewise.cli.common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, storage_url

if TYPE_CHECKING:
    from tunewise.spec import StudySpec
    from tunewise.store.base import Store

STORAGE_HELP = (
    "store URL the studies are in, e.g. postgresql://user@host/db (default: "
    "$TUNEWISE_STORAGE, then sqlite:///tunewise.db)"
)


def register(sub: Any) -> None:
    """Add ``worker`` to the ``tunewise`` command's subparsers."""
    worker = sub.add_parser(
        "worker",
        help="run trials of the running studies in a store (start any number, on any machine)",
        description="Run trials of running studies: claim queued trials, suggest new ones from "
        "the study's strategy while its budget allows, take over the trials of workers that "
        "died. Exits when there is nothing to do (with --study: when that study ends), unless "
        "--wait. Ctrl-C requeues the trials it runs, for the other workers.",
    )
    worker.add_argument("--storage", help=STORAGE_HELP)
    worker.add_argument(
        "--study", help="serve this study only, until it ends (default: any running study)"
    )
    worker.add_argument(
        "--max-parallel",
        type=int,
        default=1,
        metavar="N",
        help="trials this worker runs at once (default 1)",
    )
    worker.add_argument(
        "--wait",
        action="store_true",
        help="when there is nothing to do, keep looking for work (every 2 s) instead of exiting",
    )
    worker.set_defaults(handler=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    from tunewise.worker import Worker

    worker = Worker(
        storage_url(args.storage),
        study=args.study,
        max_parallel=args.max_parallel,
        wait=args.wait,
    )
    # A process manager stops a worker with SIGTERM: end it as Ctrl-C does (trials requeued).
    previous = signal.signal(signal.SIGTERM, _as_interrupt)
    try:
        served = worker.run()
    except KeyboardInterrupt:
        print(
            "\ntunewise: worker interrupted; the trials it was running were requeued for the "
            "other workers",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.study and any(s.error for s in served):
        return EXIT_FAILURE
    return EXIT_OK


def _as_interrupt(signum: int, frame: object) -> None:
    signal.raise_signal(signal.SIGINT)


def queue_for_workers(store: Store, spec: StudySpec, url: str) -> int:
    """``run --workers-only``: the study is stored; mark it running and say how to serve it."""
    import sqlalchemy as sa

    from tunewise.trial import StudyState

    record = store.get_study(spec.name)
    if record.state != StudyState.RUNNING:
        store.set_study_state(record.id, StudyState.RUNNING)
    trials = sum(store.count_trials(record.id).values())
    limit = f" of {spec.limits.max_trials}" if spec.limits.max_trials else ""
    try:
        shown = sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        shown = url
    print(
        f"study {spec.name} is queued for workers ({trials}{limit} trials so far); "
        f"start them on any machine with:\n"
        f"  tunewise worker --storage '{shown}' --study {spec.name}"
    )
    return EXIT_OK
