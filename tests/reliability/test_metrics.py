"""R9: metric parsing edge cases of command trials. Each odd trial is FAILED with its reason —
no metric line or a process that exits at once with code 0 and no output (``metric_missing``),
a malformed number ``0.9.1``, ``nan``, ``inf`` or a tagged JSON NaN (``metric_invalid``) —
while a 10 MB line without a newline followed by a good line, and a metric printed only on
stderr, complete; the study goes on to its last trial, and the parser's memory stays bounded
(peak RSS of the driver's process tree with the 10 MB line vs. without it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    ENTRY_POINT,
    PYTHON,
    Launcher,
    figure,
    opened,
    sqlite_url,
    study_id,
    write_spec,
)
from tunewise.trial import FailureKind, TrialState

pytestmark = pytest.mark.timeout(90)

#: The command: what it prints depends on its ``case`` argument.
SCRIPT = """\
import os, sys

case = sys.argv[1]
if case == "instant":
    os._exit(0)
if case == "missing":
    print("epoch 1 loss=0.31 val_loss=0.40")
elif case == "malformed":
    print("val_accuracy=0.9.1")
elif case == "nan":
    print("val_accuracy=nan")
elif case == "inf":
    print("val_accuracy=inf")
elif case == "json_nan":
    print('@tunewise {"val_accuracy": NaN}')
elif case == "big":
    sys.stdout.write("x" * 10_000_000)  # 10 MB, no newline
    sys.stdout.write("\\nval_accuracy=0.8\\n")
elif case == "stderr_only":
    print("val_accuracy=0.7", file=sys.stderr)
elif case == "good":
    print("val_accuracy=0.9")
"""

#: Runs ``tunewise`` and says the peak RSS (KiB) of its whole process tree on stderr.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'peak-rss-kib {peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)

#: regex -> {case: expected (state, failure kind, value)}
STUDIES = {
    "digits": (
        r"val_accuracy=([0-9.]+)",
        {
            "missing": (TrialState.FAILED, FailureKind.METRIC_MISSING, None),
            "malformed": (TrialState.FAILED, FailureKind.METRIC_INVALID, None),
            "instant": (TrialState.FAILED, FailureKind.METRIC_MISSING, None),
            "big": (TrialState.COMPLETED, None, 0.8),
            "stderr_only": (TrialState.COMPLETED, None, 0.7),
            "good": (TrialState.COMPLETED, None, 0.9),
        },
    ),
    "anything": (
        r"val_accuracy=(\S+)",
        {
            "nan": (TrialState.FAILED, FailureKind.METRIC_INVALID, None),
            "inf": (TrialState.FAILED, FailureKind.METRIC_INVALID, None),
            "json_nan": (TrialState.FAILED, FailureKind.METRIC_INVALID, None),
            "good": (TrialState.COMPLETED, None, 0.9),
        },
    ),
}
RSS_GROWTH_LIMIT_MIB = 25  # the 10 MB line held whole (even once as bytes and str) exceeds it
RSS_LIMIT_MIB = 200


def _peak_mib(stderr: str) -> float:
    line = next(line for line in stderr.splitlines() if line.startswith("peak-rss-kib "))
    return int(line.split()[1]) / 1024


def test_r9_metric_edge_cases_fail_their_trial_and_the_study_goes_on(
    tmp_path: Path, launcher: Launcher
) -> None:
    drivers = {}
    for name, (regex, cases) in STUDIES.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "emit.py").write_text(SCRIPT)
        spec = write_spec(
            folder,
            name,
            trial={
                "command": [sys.executable, "emit.py", "{case}"],
                "metrics": [{"name": "val_accuracy", "regex": regex}],
            },
            metric="val_accuracy",
            strategy="grid",
            space={"case": {"type": "categorical", "values": list(cases)}},
            max_trials=len(cases),
            max_parallel=2,
            max_consecutive_failures=20,
        )
        url = sqlite_url(folder / "r9.db")
        argv = [PYTHON, "-c", PEAK_RSS, ENTRY_POINT, "run", spec, "--storage", url]
        drivers[name] = (launcher.start(argv, cwd=folder), url)

    peaks = {}
    for name, (driver, url) in drivers.items():
        assert driver.wait(timeout=60) == 0, driver.stderr
        peaks[name] = _peak_mib(driver.stderr)
        expected = STUDIES[name][1]
        with opened(url) as store:
            trials = store.get_trials(study_id(store, name))
        assert len(trials) == len(expected)  # the study went on to its last trial
        for trial in trials:
            case = trial.params["case"]
            state, kind, value = expected[case]
            assert (trial.state, trial.failure_kind, trial.value) == (state, kind, value), (
                case,
                trial.error,
            )
            if kind is not None:
                assert trial.error, case
                assert trial.attempt == 1, case  # metric failures are not retried by default
    assert "0.9.1" in _error_of(drivers["digits"][1], "digits", "malformed")
    growth = peaks["digits"] - peaks["anything"]
    figure(
        "R9",
        "missing/instant -> metric_missing; 0.9.1, nan, inf, JSON NaN -> metric_invalid; 10 MB "
        f"line and stderr-only -> completed; peak RSS {peaks['digits']:.0f} MiB with the 10 MB "
        f"line vs {peaks['anything']:.0f} MiB without ({growth:+.1f} MiB)",
    )
    assert peaks["digits"] < RSS_LIMIT_MIB
    assert growth < RSS_GROWTH_LIMIT_MIB


def _error_of(url: str, name: str, case: str) -> str:
    with opened(url) as store:
        trials = store.get_trials(study_id(store, name))
    return next(t.error or "" for t in trials if t.params["case"] == case)
