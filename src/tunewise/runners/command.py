"""The command runner: run any training command, in any language, and read its metrics live.

The argv is built as a list from a template (``["python", "train.py", "--lr", "{lr}"]``),
never through a shell, so a value such as ``$(rm -rf ~)`` reaches the program as one literal
argument. The hyperparameters also travel as ``hyperparameters.json`` in the trial's folder
(named by ``TUNEWISE_PARAMS_FILE``) and as ``TUNEWISE_PARAMS`` (JSON, with the other
``TUNEWISE_*`` variables) — except when that JSON is over Linux's limit on one environment
string (128 KiB, e.g. a large ``static`` value): then ``TUNEWISE_PARAMS`` is left out and the
file is the way to read them.

Metrics are read from stdout and stderr line by line while the command runs: tagged JSON lines
(:func:`tunewise.report`, or printed by hand in any language) and SageMaker-style regular
expressions (:class:`~tunewise.spec.MetricDefinition`). Output is kept in ``stdout.log`` and
``stderr.log`` (an earlier attempt's are kept as ``stdout.N.log``; the folder and its files are
made without following links, see :mod:`tunewise.runners.trialdir`). The command runs in its own
process group, ended as a whole on stop or timeout (SIGTERM, then SIGKILL after
``grace_seconds``), with the children that left the group when the runner's process is a
subreaper (the executor's trial process is). A report line that makes the study stop the trial
is acted on at once: later lines are not read as reports and the tree gets SIGTERM. See
:mod:`tunewise.runners.process` for the ``pgid`` file that lets an executor end it too, and
for the parent-death signal.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from tunewise.errors import SpecError
from tunewise.reporting import parse_report_line
from tunewise.runners import process, trialdir
from tunewise.runners.base import (
    ERROR_TAIL_LINES,
    Outcome,
    ReportCallback,
    StopCheck,
    TrialJob,
)
from tunewise.spec import MetricDefinition
from tunewise.trial import FailureKind, TrialState

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
#: Linux's limit on one argument or environment string, its NUL included (MAX_ARG_STRLEN).
MAX_ARG_STRLEN = 131072
_MAX_LINE = 1 << 20  # a longer line without newline is scanned as it is
_NEWLINE = re.compile(rb"\r\n|\r|\n")


def format_value(value: Any) -> str:
    """One hyperparameter as one argument: str as is, numbers exact, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return repr(float(value))  # 0.001 -> "0.001", 1e-05 -> "1e-05", never "np.float64(..)"
    return json.dumps(value, default=_json_default)


def build_argv(
    template: Sequence[str], params: Mapping[str, Any], field: str = "trial.command"
) -> list[str]:
    """Fill ``{name}`` placeholders from ``params``; ``{{`` and ``}}`` are literal braces."""
    argv = []
    for i, arg in enumerate(template):

        def fill(match: re.Match[str], i: int = i) -> str:
            token = match.group(0)
            if token in ("{{", "}}"):
                return token[0]
            name = match.group(1)
            if name not in params:
                known = ", ".join(sorted(params)) or "none"
                message = f"{{{name}}} names no hyperparameter; known: {known}"
                raise SpecError(f"{field}[{i}]", message)
            return format_value(params[name])

        argv.append(_TOKEN.sub(fill, arg))
    return argv


def check_command(argv_template: Sequence[str], field: str = "trial.command") -> None:
    """Fail early, before any trial runs, if the program of the command cannot be started."""
    if isinstance(argv_template, str) or not argv_template:
        raise SpecError(field, "must be a non-empty list of arguments")
    program = argv_template[0]
    if any(m.group(1) is not None for m in _TOKEN.finditer(program)):
        raise SpecError(f"{field}[0]", f"{program!r}: the program itself cannot be a placeholder")
    program = build_argv([program], {}, field)[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        if not (os.path.isfile(program) and os.access(program, os.X_OK)):
            raise SpecError(
                f"{field}[0]",
                f"{program!r} is not an executable file and is not on PATH; fix the path, "
                "chmod +x it, or run it through its interpreter, e.g. [python, train.py]",
            )
    elif shutil.which(program) is None:
        message = f"{program!r} is not on PATH; install it or give its full path"
        raise SpecError(f"{field}[0]", message)


class CommandRunner:
    """Runs one trial as a command; see the module docstring for what the command gets."""

    #: The runner ends the command's process group itself on timeout (SIGTERM, then SIGKILL).
    handles_timeout = True

    def __init__(
        self,
        argv_template: Sequence[str],
        metrics: Sequence[MetricDefinition] = (),
        env: Mapping[str, str] | None = None,
        grace_seconds: float = 5.0,
    ) -> None:
        if isinstance(argv_template, str) or not argv_template:
            raise SpecError("trial.command", "must be a non-empty list of arguments")
        self.argv_template = tuple(argv_template)
        self.metrics = tuple(metrics)
        self.env = dict(env or {})
        self.grace_seconds = grace_seconds

    def run(self, job: TrialJob, report: ReportCallback, should_stop: StopCheck) -> Outcome:
        """Run the command to its end, reporting metrics as they appear; never raises for the
        trial's own errors (they become a FAILED outcome)."""
        try:
            argv = build_argv(self.argv_template, job.params)
        except SpecError as exc:
            return Outcome.failed(FailureKind.USER_ERROR, str(exc))
        trial_dir = Path(job.trial_dir)
        params_json = json.dumps(dict(job.params), default=_json_default)
        too_long = _too_long(argv)
        if too_long is not None:
            return Outcome.failed(FailureKind.USER_ERROR, too_long)
        try:
            dir_fd = trialdir.open_dir(trial_dir)
        except OSError as exc:
            error = f"cannot make the trial's folder {str(trial_dir)!r}: {exc.strerror or exc}"
            return Outcome.failed(FailureKind.INFRASTRUCTURE, error)
        try:
            trialdir.keep_earlier_logs(dir_fd, job.attempt)
            text = json.dumps(dict(job.params), indent=2, default=_json_default)
            trialdir.write_text(dir_fd, "hyperparameters.json", text)
            out_fd = trialdir.create(dir_fd, "stdout.log")
            err_fd = trialdir.create(dir_fd, "stderr.log")
        finally:
            os.close(dir_fd)
        halted = [False]  # the study decided to stop the trial: later lines are not reports

        def report_and_check(step: int | None, values: Mapping[str, float]) -> None:
            report(step, values)
            halted[0] = halted[0] or should_stop()

        scanner = _Scanner(self.metrics, report_and_check, halted)
        with (
            open(out_fd, "wb", buffering=0) as out_log,
            open(err_fd, "wb", buffering=0) as err_log,
        ):
            try:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=self._environment(job, params_json),
                    start_new_session=True,
                    preexec_fn=process.parent_death_hook(),
                )
            except OSError as exc:  # not found, not executable, not a program
                return Outcome.failed(FailureKind.USER_ERROR, _start_error(argv[0], exc))
            try:
                process.write_pgid_file(trial_dir, proc.pid)
                assert proc.stdout is not None and proc.stderr is not None  # both are pipes
                outputs = {
                    proc.stdout.fileno(): (out_log, bytearray()),
                    proc.stderr.fileno(): (err_log, bytearray()),
                }

                def on_output(fd: int, chunk: bytes) -> None:
                    log, buffer = outputs[fd]
                    log.write(chunk)
                    buffer.extend(chunk or b"\n")  # the end of a pipe ends its last line
                    scanner.feed(buffer)

                reason = process.supervise(
                    proc, on_output, should_stop, job.timeout, self.grace_seconds
                )
            finally:  # whatever happened (even a failing callback), leave nothing behind
                process.signal_group(proc.pid, signal.SIGKILL)
                if process.is_subreaper():  # children that left the group, too
                    process.kill_descendants(os.getpid(), exclude={proc.pid})
                proc.wait()
                for pipe in (proc.stdout, proc.stderr):
                    if pipe is not None:
                        pipe.close()
                process.remove_pgid_file(trial_dir)
        return self._outcome(job, proc.returncode, reason, scanner)

    def _environment(self, job: TrialJob, params_json: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # Python scripts stream their prints (overridable)
        env.update(self.env)
        trial_dir = Path(job.trial_dir).absolute()
        env.pop("TUNEWISE_PARAMS", None)
        if _fits_one_string("TUNEWISE_PARAMS", params_json):
            env["TUNEWISE_PARAMS"] = params_json
        env.update(
            TUNEWISE_PARAMS_FILE=str(trial_dir / "hyperparameters.json"),
            TUNEWISE_TRIAL_DIR=str(trial_dir),
            TUNEWISE_TRIAL_NUMBER=str(job.number),
            TUNEWISE_STUDY=job.study,
            TUNEWISE_ATTEMPT=str(job.attempt),
        )
        return env

    def _outcome(self, job: TrialJob, code: int, reason: str | None, scanner: _Scanner) -> Outcome:
        metrics = dict(scanner.last)
        value = metrics.get(job.objective)
        if reason == "timeout":
            error = f"ran past the {job.timeout:g}s timeout; killed its process group"
            return Outcome.failed(FailureKind.TIMEOUT, error, metrics)
        if reason == "stop":
            return Outcome(TrialState.STOPPED, value, metrics)
        tail = _stderr_tail(job.trial_dir) if code else ""
        if code < 0:
            error = f"killed by signal {process.signal_description(-code)}{tail}"
            return Outcome.failed(FailureKind.CRASHED, error, metrics)
        if code > 0:
            return Outcome.failed(FailureKind.USER_ERROR, f"exited with code {code}{tail}", metrics)
        if value is None:
            invalid = scanner.invalid.get(job.objective)
            if invalid is not None:
                error = (
                    f"the objective {job.objective!r} was reported as {invalid!r}, which is not "
                    "a number"
                )
                return Outcome.failed(FailureKind.METRIC_INVALID, error, metrics)
            return Outcome.failed(FailureKind.METRIC_MISSING, self._missing(job, metrics), metrics)
        if not math.isfinite(value):
            error = f"the objective {job.objective!r} is {value}, not a finite number"
            return Outcome.failed(FailureKind.METRIC_INVALID, error, metrics)
        return Outcome(TrialState.COMPLETED, value, metrics)

    def _missing(self, job: TrialJob, metrics: Mapping[str, float]) -> str:
        name = job.objective
        tag = f'a line "@tunewise {{"{name}": <number>}}" (tunewise.report({name}=...))'
        regexes = [m.regex for m in self.metrics if m.name == name]
        expected = f"a line matching regex {regexes[0]!r} or {tag}" if regexes else tag
        seen = f"; metrics seen: {', '.join(sorted(metrics))}" if metrics else ""
        return (
            f"exited with code 0 without reporting the objective {name!r}: expected {expected} "
            f"on stdout or stderr{seen}"
        )


class _Scanner:
    """Turns output lines into reports: tagged JSON lines first, then the regex definitions.

    Values found on one line are grouped into one ``report`` call per step. A value without a
    step gets the next step of its metric: the count of that metric's values so far, plus one.
    """

    def __init__(
        self,
        definitions: Sequence[MetricDefinition],
        report: ReportCallback,
        halted: list[bool] | None = None,
    ) -> None:
        self._report = report
        #: ``[True]`` once the study stopped the trial: lines read after that are not scanned
        #: (a stopped trial ends at the step of the decision).
        self._halted = halted if halted is not None else [False]
        self._rules = [(d.name, d.pattern, _value_group(d.pattern)) for d in definitions]
        self._counts: dict[str, int] = {}
        self.last: dict[str, float] = {}  # the last value of every metric seen
        self.invalid: dict[str, str] = {}  # the last capture of a metric that was no number

    def feed(self, buffer: bytearray) -> None:
        """Scan and remove the complete lines of ``buffer`` (``\\r`` ends a line too)."""
        if b"\n" not in buffer and b"\r" not in buffer and len(buffer) <= _MAX_LINE:
            return
        *lines, rest = _NEWLINE.split(bytes(buffer))
        if len(rest) > _MAX_LINE:
            lines.append(rest)
            rest = b""
        buffer[:] = rest
        for line in lines:
            if self._halted[0]:
                return
            if line:
                self.scan(line.decode("utf-8", "replace"))

    def scan(self, line: str) -> None:
        found: dict[str, tuple[int | None, float]] = {}
        parsed = parse_report_line(line)
        if parsed is not None:
            found = {name: (parsed[0], value) for name, value in parsed[1].items()}
        for name, pattern, group in self._rules:
            match = pattern.search(line) if name not in found else None
            if match is None:
                continue
            try:
                found[name] = (_match_step(match), float(match.group(group)))
            except (TypeError, ValueError):  # not a number (or the group did not take part)
                captured = match.group(group)
                if captured is not None:
                    self.invalid[name] = captured[:80]
                continue
        by_step: dict[int, dict[str, float]] = {}
        for name, (step, value) in found.items():
            self._counts[name] = self._counts.get(name, 0) + 1
            by_step.setdefault(self._counts[name] if step is None else step, {})[name] = value
            self.last[name] = value
        for step in sorted(by_step):
            self._report(step, by_step[step])


def _value_group(pattern: re.Pattern[str]) -> int:
    """The group that holds the number: ``value``, else the one unnamed group, else 1."""
    if "value" in pattern.groupindex:
        return pattern.groupindex["value"]
    named = set(pattern.groupindex.values())
    return next((i for i in range(1, pattern.groups + 1) if i not in named), 1)


def _match_step(match: re.Match[str]) -> int | None:
    """The ``step`` group as a number, or None (no such group, or not a whole number)."""
    text = match.group("step") if "step" in match.re.groupindex else None
    return int(text) if text is not None and text.strip().isdecimal() else None


def _fits_one_string(name: str, value: str) -> bool:
    """Whether ``NAME=value`` fits Linux's limit on one argument or environment string."""
    return len(name.encode()) + len(value.encode()) + 2 <= MAX_ARG_STRLEN


def _too_long(argv: Sequence[str]) -> str | None:
    """Why the command cannot be started with this argv (an argument over the limit), if so."""
    for i, arg in enumerate(argv):
        if len(arg.encode()) + 1 > MAX_ARG_STRLEN:
            return (
                f"argument {i} of the command is {len(arg.encode()):,} bytes, over the system's "
                f"limit of {MAX_ARG_STRLEN - 1:,} for one argument; read large values from the "
                "file named by TUNEWISE_PARAMS_FILE (hyperparameters.json) instead"
            )
    return None


def _start_error(program: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"command {program!r} was not found; install it or give its full path"
    if isinstance(exc, PermissionError):
        return f"command {program!r} is not executable; chmod +x it or run it via its interpreter"
    return f"command {program!r} could not be started ({exc.strerror or exc})"


def _stderr_tail(trial_dir: Path) -> str:
    lines = process.log_tail(Path(trial_dir) / "stderr.log", ERROR_TAIL_LINES)
    return "; stderr ends with:\n" + "\n".join(lines) if lines else ""


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays (from strategies) as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
