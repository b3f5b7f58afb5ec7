"""``tunewise import-sagemaker`` and ``tunewise describe``: SageMaker's tuning job format.

A SageMaker user brings a ``CreateHyperParameterTuningJob`` request and gets a spec file that
``tunewise run`` runs; ``describe`` prints a study the way ``aws sagemaker
describe-hyper-parameter-tuning-job`` prints a tuning job, for the tools and habits built on it.
The mapping lives in :mod:`tunewise.integrations.sagemaker`; this module reads and writes files.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from tunewise.cli.common import EXIT_OK, read_text, storage_url
from tunewise.errors import SpecError

STORAGE_HELP = "store URL (default: $TUNEWISE_STORAGE, else sqlite:///tunewise.db)"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
IMPORT_DESCRIPTION = """\
Read a SageMaker CreateHyperParameterTuningJob request (the JSON that `aws sagemaker
create-hyper-parameter-tuning-job --cli-input-json` takes, or its YAML) and write the
equivalent spec. Strategy, parameter ranges and scaling types, objective, resource limits,
early stopping, completion criteria, random seed, warm start, static hyperparameters, metric
definitions, the training job's time limit, retries and environment carry over. Fields that
only mean something in AWS (image, role, S3 data, instances, ...) are listed on stderr, one
line each. A request AWS would refuse is refused, naming the JSON field.

The training container cannot run here, so trials run a command: --command "python train.py",
to which every hyperparameter is appended as --NAME VALUE, as SageMaker's script mode passes
them. Without --command, a request the SageMaker Python SDK made for a framework estimator runs
its entry point (the sagemaker_program static hyperparameter) with python; any other request
needs --command."""


def register(sub: Any) -> None:
    """Add ``import-sagemaker`` and ``describe`` to the ``tunewise`` command's subparsers."""
    importer = sub.add_parser(
        "import-sagemaker",
        help="turn a SageMaker tuning job request (JSON) into a spec file",
        description=IMPORT_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    importer.add_argument("request", metavar="JOB.json", help="the tuning job request")
    importer.add_argument(
        "-o", "--output", required=True, metavar="SPEC.yaml", help="the spec file to write"
    )
    importer.add_argument(
        "--command",
        metavar="COMMAND",
        help='the training command, e.g. "python train.py"; split like a shell would, then '
        "each hyperparameter is appended as --NAME VALUE",
    )
    importer.set_defaults(handler=cmd_import)

    describe = sub.add_parser(
        "describe", help="a study as SageMaker's DescribeHyperParameterTuningJob shows it (JSON)"
    )
    describe.add_argument("study", metavar="STUDY")
    describe.add_argument(
        "--format",
        choices=("sagemaker", "json"),
        default="sagemaker",
        help="sagemaker: the DescribeHyperParameterTuningJob response (json is the same)",
    )
    describe.add_argument("--storage", help=STORAGE_HELP)
    describe.set_defaults(handler=cmd_describe)


def cmd_import(args: argparse.Namespace) -> int:
    from tunewise.integrations.sagemaker import import_request
    from tunewise.spec import parse_spec_text

    target = Path(args.output)
    if target.suffix.lower() not in SPEC_SUFFIXES:
        raise SpecError("--output", f"{args.output!r} must end in .yaml, .yml or .json")
    if not target.parent.is_dir():
        raise SpecError("--output", f"folder {str(target.parent)!r} does not exist")
    command = None
    if args.command is not None:
        try:
            command = shlex.split(args.command)
        except ValueError as exc:
            raise SpecError("--command", f"cannot be split into arguments ({exc})") from None
    imported = import_request(read_request(args.request), command)
    text = render(imported.spec, imported.notes, args.request, target.suffix.lower() == ".json")
    parse_spec_text(text, str(target))  # what is written must load as a spec
    target.write_text(text, encoding="utf-8")
    for note in imported.notes:
        print(note, file=sys.stderr)
    spec = imported.spec
    print(
        f"wrote {target}: study {spec['study']}, {spec['strategy']} search over "
        f"{len(spec['space'])} hyperparameters; run it with: tunewise run {target}",
        file=sys.stderr,
    )
    return EXIT_OK


def read_request(path: str) -> Any:
    """The request document: JSON, or YAML (what ``--cli-input-yaml`` takes), with a spec's
    bounds on nesting and aliases (:mod:`tunewise.specfile`)."""
    from tunewise.specfile import load_document

    return load_document(read_text(path, "save the request as UTF-8 JSON"), path)


def render(spec: dict[str, Any], notes: tuple[str, ...], source: str, as_json: bool) -> str:
    """The spec file's text; YAML starts with comments saying where it came from.

    The spec itself is written by the YAML emitter only, which quotes whatever the request's
    text holds; a comment line carries request text too (a file name, a script's name), so
    each is escaped to one printable line: a newline in it can never start a key of its own.
    """
    if as_json:
        return json.dumps(spec, indent=2) + "\n"
    import yaml

    header = [f"Imported from {source} by tunewise import-sagemaker.", *notes]
    body = yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100)
    return "".join(f"# {comment_text(line)}\n" for line in header) + body


def comment_text(text: str) -> str:
    """``text`` as one printable line: line breaks (YAML's include U+0085, U+2028 and U+2029)
    and other unprintable characters become their backslash escapes."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def cmd_describe(args: argparse.Namespace) -> int:
    from tunewise.analysis.frame import TrialFrame
    from tunewise.documents import dumps
    from tunewise.integrations.sagemaker import describe_study
    from tunewise.spec import StudySpec
    from tunewise.store import open_store

    store = open_store(storage_url(args.storage), create=False)
    try:
        record = store.get_study(args.study)
        counts = store.count_trials(record.id)  # before the trials, as the REST API reads them
        trials = store.get_trial_table(record.id)
    finally:
        store.close()
    spec = StudySpec.from_dict(dict(record.definition))
    frame = TrialFrame.from_trials(trials, spec.space, spec.objective)
    print(dumps(describe_study(record, counts, frame)))
    return EXIT_OK
