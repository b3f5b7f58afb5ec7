"""``tunewise``: run a study from a spec file and look at what is stored.

Exit codes: 0 success, 2 bad input (the spec, an argument, an unknown study or store), 1 a
runtime failure (the study aborted, the store failed), 130 interrupted, 141 the reader of its
output went away (``| head``). Errors are one sentence, never a traceback.

The subcommands of other modules register themselves here; they import
:mod:`tunewise.cli.common`, never this module.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tunewise import __version__
from tunewise.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    open_study,
    read_spec,
    shown_url,
    storage_url,
    writable_url,
)
from tunewise.errors import SpecError, StoreError, StudyAborted, StudyNotFound
from tunewise.study import DEFAULT_RUNS_DIR, Study

if TYPE_CHECKING:
    from tunewise.executors.base import Executor
    from tunewise.runners.base import Runner
    from tunewise.spec import StudySpec
    from tunewise.store.base import Store

EXECUTORS = ("local", "ray")
__all__ = ["build_parser", "main"]


def cmd_run(args: argparse.Namespace) -> int:
    from tunewise.executors import build_executor
    from tunewise.runners import build_runner
    from tunewise.store import open_store
    from tunewise.strategies import strategy_for
    from tunewise.study import open_or_create

    spec = read_spec(args.spec)
    overrides = {
        "name": args.study,
        "max_trials": args.max_trials,
        "max_parallel": args.max_parallel,
        "seed": args.seed,
    }
    spec = spec.with_overrides(**{k: v for k, v in overrides.items() if v is not None})
    if args.executor is not None:
        spec = spec.with_overrides(executor=spec.executor.with_type(args.executor))
    if spec.trial is None:
        raise SpecError("trial", "is required: give `python: module:function` or `command: [...]`")
    implied = strategy_for(spec, 0).default_max_trials(spec.space)
    ends = (spec.limits.max_trials, implied, spec.limits.max_runtime, spec.limits.max_cost)
    if all(end is None for end in ends):
        raise SpecError("limits.max_trials", "is required (or give limits.max_runtime)")
    # --workers-only: the trial runs on the workers' machines, so it is checked there.
    runner = None if args.workers_only else build_runner(spec.trial)
    # Where trials run is checked (a Ray cluster reached) before the study is stored.
    executor = None if runner is None else build_executor(spec.executor, spec.limits.max_parallel)
    url = writable_url(storage_url(args.storage, spec.storage))
    args.storage = url  # the store that messages name
    store = open_store(url)
    try:
        spec = open_or_create(store, spec)
        if runner is None:
            from tunewise.cli.worker import queue_for_workers

            return queue_for_workers(store, spec, url)
        return _run_to_the_end(store, spec, runner, url, executor)
    finally:
        store.close()
        if executor is not None:
            executor.close()


def cmd_resume(args: argparse.Namespace) -> int:
    """Continue a stored study with the spec it was run with: in-flight trials of a killed
    driver are requeued as new attempts, and the study ends with the trials its limits ask."""
    from tunewise.runners import build_runner
    from tunewise.spec import StudySpec
    from tunewise.store import open_store

    url = writable_url(storage_url(args.storage))
    store = open_store(url, create=False)  # a study to resume is in a store that exists
    try:
        spec = StudySpec.from_dict(dict(store.get_study(args.study).definition))
        if spec.trial is None:
            raise SpecError(
                "study",
                f"{args.study!r} was created from Python, with no trial to run; continue it "
                "with study.optimize(...)",
            )
        runner = build_runner(spec.trial)
        if args.executor is not None:
            spec = spec.with_overrides(executor=spec.executor.with_type(args.executor))
        return _run_to_the_end(store, spec, runner, url)
    finally:
        store.close()


def _run_to_the_end(
    store: Store, spec: StudySpec, runner: Runner, url: str, executor: Executor | None = None
) -> int:
    """Run a stored study with a progress bar, then print why it ended and its best trial;
    trials run on ``executor``, else where the spec says."""
    from tunewise.progress import ProgressDisplay

    study = Study(store, spec.name, runs_dir=spec.runs_dir or DEFAULT_RUNS_DIR, storage=url)
    goals = ", ".join(f"{o.direction} {o.metric}" for o in spec.objectives)
    if spec.constraints:
        goals += " subject to " + ", ".join(c.describe() for c in spec.constraints)
    print(
        f"study {spec.name}: {spec.strategy} search, {goals}, trial logs in {study.runs_dir}/",
        file=sys.stderr,
    )
    bar = ProgressDisplay()
    timeout = spec.trial.timeout if spec.trial is not None else None
    try:
        completion = study.run(
            runner,
            spec.limits,
            timeout=timeout,
            on_progress=bar,
            executor=executor or spec.executor,
        )
    finally:
        bar.close()
    print(f"study {spec.name} {study.state}: {completion.message}")
    _print_best(study)
    from tunewise.failures import no_result_error
    from tunewise.trial import TrialState

    counts = study.counts()  # trials failed and none completed: read them to say why
    failed = counts[TrialState.COMPLETED] == 0 and counts[TrialState.FAILED] > 0
    failure = no_result_error(spec.name, study.trials) if failed else None
    if failure is not None:
        print(f"tunewise: {failure}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _print_best(study: Study) -> None:
    counts = study.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    print(f"trials: {summary or 'none'}")
    if study.spec.multi_objective:
        from tunewise.cli.front_view import print_front

        print_front(study)
        return
    try:
        best = study.best_trial
    except ValueError:
        print("no trial completed")
        return
    origin = study.parents().names.get(best.study_id)
    source = f" (of warm-start parent {origin})" if origin else ""
    print(f"best trial #{best.number}{source}: {study.objective.metric} = {best.value:.6g}")
    width = max(len(name) for name in best.params)
    for name, value in best.params.items():
        print(f"  {name.ljust(width)}  {value}")
    extra = {k: v for k, v in best.metrics.items() if k != study.objective.metric}
    if extra:
        print("  metrics: " + ", ".join(f"{k}={v:.6g}" for k, v in sorted(extra.items())))


def cmd_status(args: argparse.Namespace) -> int:
    from tunewise.cli.views import STATUS_HEADER, render_table, status_document, study_summary
    from tunewise.cost import earlier_attempts, reported_costs, summarize
    from tunewise.documents import dumps
    from tunewise.space_versions import describe_versions, versions_document
    from tunewise.store import open_store

    store = open_store(storage_url(args.storage), create=False)
    try:
        records = [store.get_study(args.study)] if args.study else store.list_studies()
        rows = []
        costs = {}  # spent and left, for the studies that declare a cost
        versions = {}
        for record in records:
            study = Study(store, record.name)
            try:
                best = study.best_trial
            except (ValueError, RuntimeError):  # none yet; several objectives: no single best
                best = None
            trials = study.trials
            rows.append(study_summary(record, trials, best))
            spent = reported_costs(store, record.id, record.definition, trials)  # running ones
            retried = earlier_attempts(store, record.id, record.definition, trials)
            costs[record.name] = summarize(
                record.definition, trials, reported=spent, attempts=retried
            )
            # Its space versions (tunewise edit): when each began, the trials set aside.
            versions[record.name] = versions_document(study.space_versions, study.space, trials)
        if args.format == "json":
            documents = [status_document(row) for row in rows]
            for document in documents:
                cost = costs[document["study"]]
                if cost is not None:
                    document["cost"] = cost.to_dict()
                document["space_versions"] = versions[document["study"]]
            print(dumps(documents))
        elif not rows:
            print("no studies in this storage")
        else:
            print(render_table(STATUS_HEADER, rows, max_width=80))
            for name, cost in costs.items():
                if cost is not None:
                    print(f"cost of {name}: {cost.describe()}")
            for name, document in versions.items():
                if document["current"] > 1:  # edited: each version, when it began, what changed
                    print(f"space versions of {name}:")
                    print("\n".join(f"  {line}" for line in describe_versions(document)))
            if args.study:  # one study: its space too (a define-by-run study's as seen so far)
                print("\nspace:")
                print("\n".join(f"  {line}" for line in Study(store, args.study).space.describe()))
        return EXIT_OK
    finally:
        store.close()


def cmd_trials(args: argparse.Namespace) -> int:
    from tunewise.cli.views import render_csv, render_table, trial_folder, trials_table
    from tunewise.documents import dumps, trial_document

    study = open_study(args)
    try:
        trials = study.trials
        if args.format == "json":
            from tunewise.front import study_flags

            curves = study.curves()
            flags = study_flags(study, trials)
            documents = []
            for t in trials:
                document = trial_document(t, curves.get(t.number, []))
                if flags is not None:  # several objectives or constraints
                    document.update(flags[t.number])
                document["folder"] = str(trial_folder(study, t))
                documents.append(document)
            print(dumps(documents))
        elif args.format == "csv":
            sys.stdout.write(render_csv(*trials_table(study, trials)))
        else:
            print(render_table(*trials_table(study, trials), max_width=120))
            print(f"trial folders (logs, hyperparameters.json): {study.runs_dir}/NNNNN")
        return EXIT_OK
    finally:
        study.close()


def cmd_best(args: argparse.Namespace) -> int:
    from tunewise.documents import best_document, dumps

    study = open_study(args)
    try:
        # Several objectives: the Pareto front, a JSON list of the same documents.
        best = study.best_trials if study.spec.multi_objective else [study.best_trial]
        if not best:
            raise ValueError(f"study {study.name!r} has no feasible completed trial yet")
        if args.format == "json":
            documents = [best_document(t) for t in best]
            print(dumps(documents if study.spec.multi_objective else documents[0]))
        else:
            if study.reason:
                print(f"study {study.name} {study.state}: {study.reason}")
            _print_best(study)
        return EXIT_OK
    except ValueError as exc:
        print(f"tunewise: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        study.close()


def cmd_export(args: argparse.Namespace) -> int:
    from tunewise.cli.views import render_csv, trials_table
    from tunewise.documents import dumps, export_document

    target = None if args.output == "-" else _output_file(args.output)
    study = open_study(args)
    try:
        if args.format == "json":
            text = dumps(export_document(study)) + "\n"
        elif args.format == "spec":  # the study's spec, with the space its trials asked so far
            text = dumps(study.spec.with_overrides(space=study.space).to_dict()) + "\n"
        else:
            text = render_csv(*trials_table(study, study.trials))
        if target is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return EXIT_OK
        try:
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SpecError(
                "--output", f"cannot write {str(target)!r} ({exc.strerror}); choose another file"
            ) from None
        print(f"wrote {len(study.trials)} trials to {target}", file=sys.stderr)
        return EXIT_OK
    finally:
        study.close()


def _output_file(value: str) -> Path:
    """``export -o FILE`` checked before any work: a file (not a folder) in an existing folder."""
    target = Path(value)
    if target.is_dir() or value.endswith(("/", os.sep)):
        raise SpecError("--output", f"{value!r} is a folder; give a file name (or - for stdout)")
    if not target.parent.is_dir():
        raise SpecError("--output", f"folder {str(target.parent)!r} does not exist")
    return target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunewise", description="Automatic model tuning: run studies, read their results."
    )
    parser.add_argument("--version", action="version", version=f"tunewise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    storage_help = (
        "store URL (default: $TUNEWISE_STORAGE, the spec's storage, sqlite:///tunewise.db)"
    )
    executor_help = (
        "where trials run: local processes or Ray tasks (overrides executor.type; "
        "the spec's executor.address and resources_per_trial are kept)"
    )

    run = sub.add_parser("run", help="run (or continue) the study a spec file describes")
    run.add_argument("spec", metavar="SPEC", help="the study's YAML or JSON spec file")
    run.add_argument("--storage", help=storage_help)
    run.add_argument("--study", help="study name (overrides the spec's `study`)")
    run.add_argument("--max-trials", type=int, help="overrides limits.max_trials")
    run.add_argument("--max-parallel", type=int, help="overrides limits.max_parallel")
    run.add_argument("--seed", type=int, help="overrides the spec's seed")
    run.add_argument("--executor", choices=EXECUTORS, help=executor_help)
    run.add_argument(
        "--workers-only",
        action="store_true",
        help="store the study and leave the running to `tunewise worker` processes",
    )
    run.set_defaults(handler=cmd_run)

    resume = sub.add_parser(
        "resume", help="continue a stored study (after a crash, Ctrl-C or a raised limit)"
    )
    resume.add_argument("study", metavar="STUDY")
    resume.add_argument("--storage", help=storage_help)
    resume.add_argument("--executor", choices=EXECUTORS, help=executor_help)
    resume.set_defaults(handler=cmd_resume)

    status = sub.add_parser("status", help="state and trial counts of the studies")
    status.add_argument("study", metavar="STUDY", nargs="?")
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.add_argument("--storage", help=storage_help)
    status.set_defaults(handler=cmd_status)

    trials = sub.add_parser("trials", help="the trials of a study")
    trials.add_argument("study", metavar="STUDY")
    trials.add_argument("--format", choices=("table", "json", "csv"), default="table")
    trials.add_argument("--storage", help=storage_help)
    trials.set_defaults(handler=cmd_trials)

    best = sub.add_parser("best", help="the best trial of a study")
    best.add_argument("study", metavar="STUDY")
    best.add_argument("--format", choices=("text", "json"), default="text")
    best.add_argument("--storage", help=storage_help)
    best.set_defaults(handler=cmd_best)

    export = sub.add_parser("export", help="write a study's trials to a file")
    export.add_argument("study", metavar="STUDY")
    export.add_argument(
        "--format",
        choices=("csv", "json", "spec"),
        required=True,
        help="csv or json: the trials; spec: the study's spec (JSON, which tunewise run reads), "
        "its space as seen so far for a define-by-run study",
    )
    export.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the file to write, or - for stdout"
    )
    export.add_argument("--storage", help=storage_help)
    export.set_defaults(handler=cmd_export)
    from tunewise.cli import plot, report, serve, worker  # (their modules import this one)

    serve.register(sub)
    worker.register(sub)
    report.register(sub)
    plot.register(sub)
    from tunewise.cli import sagemaker as sagemaker_commands  # import-sagemaker, describe

    sagemaker_commands.register(sub)
    from tunewise.cli import manage  # add, delete, copy

    manage.register(sub)
    from tunewise.cli import asktell  # create, ask, tell

    asktell.register(sub)
    from tunewise.cli import edit  # edit a study's space mid-study

    edit.register(sub)
    from tunewise.cli import ranges  # suggest-ranges

    ranges.register(sub)
    from tunewise.cli import schema  # the spec's JSON Schema

    schema.register(sub)
    from tunewise.cli import audit  # replay, why

    audit.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tunewise`` command; returns its exit code."""
    try:
        try:
            return _main(argv)
        finally:  # --help and --version exit through SystemExit: flush for them too
            sys.stdout.flush()  # here, so that a closed pipe is met while it can be handled
    except BrokenPipeError:
        # The reader went away (``tunewise trials STUDY | head``): end quietly, as Unix tools
        # do, and keep Python from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    for flag in ("max_trials", "max_parallel"):
        value = getattr(args, flag, None)
        if value is not None and value < 1:
            print(f"tunewise: --{flag.replace('_', '-')}: must be at least 1", file=sys.stderr)
            return EXIT_USAGE
    try:
        code: int = args.handler(args)
        return code
    except StudyNotFound as exc:
        searched = shown_url(storage_url(getattr(args, "storage", None)))
        print(
            f"tunewise: no study named {exc.name!r} in {searched}; `tunewise status` lists the "
            "studies of a store, --storage URL or TUNEWISE_STORAGE points at another one",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except SpecError as exc:
        print(f"tunewise: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StudyAborted as exc:
        print(f"tunewise: the study aborted: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except StoreError as exc:
        # One line, even where the driver's message has several (PostgreSQL's hints do).
        text = " ".join(str(exc).split())
        shown = text if text.startswith("storage error") else f"storage error: {text}"
        print(f"tunewise: {shown}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(
            "\ntunewise: interrupted; running trials were ended and recorded. "
            "Run the same command again to continue.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
