"""Helpers of the framework-callback tests: a Hyperband study that must stop its second trial,
and a command trial run by the real command runner that the study stops after N reports.

The study: ``hyperband: {min_resource: 1, max_resource: 3, reduction_factor: 3}`` with seed 8
puts trials 0-5 in the bracket whose one rung is 1 epoch (``AshaRule.bracket``, checked by
:func:`check_brackets`); with one trial at a time, a trial goes past the rung only when it is
the best there so far. The first trial learns (a useful learning rate), the second barely moves
(``lr`` 1e-6): it is stopped after its first epoch, a valid result with 1 report of 3.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tunewise as tw
from tunewise.runners.base import Outcome, TrialJob
from tunewise.runners.command import CommandRunner
from tunewise.stopping.asha import AshaRule

SRC = str(Path(__file__).resolve().parents[2] / "src")
EPOCHS = 3
SEED = 8
GOOD_LR, BAD_LR = 0.1, 1e-6


def check_brackets() -> None:
    """The premise of the studies below: trials 0 and 1 share the bracket with rung 1 only."""
    rule = AshaRule(1.0, 1, EPOCHS, 3, SEED)
    assert [rule.bracket(n) for n in (0, 1)] == [0, 0]
    assert rule.rungs(0) == [1]


def hyperband_study(metric: str, direction: str, good_lr: float = GOOD_LR) -> tw.Study:
    """An in-memory Hyperband study over ``lr`` that runs a learning trial, then a stuck one."""
    check_brackets()
    study = tw.create_study(
        f"frameworks-{metric}",
        objective=tw.Objective(metric, direction),
        space={"lr": tw.Float(1e-6, 1.0, scale="log")},
        strategy="hyperband",
        hyperband={"min_resource": 1, "max_resource": EPOCHS, "reduction_factor": 3},
        static={"epochs": EPOCHS},
        seed=SEED,
        enqueue=[{"lr": good_lr}, {"lr": BAD_LR}],
    )
    return study


def check_hyperband_outcome(study: tw.Study, metric: str) -> None:
    """The learning trial ran every epoch and completed with its last report as its value; the
    stuck one was stopped by Hyperband at the rung, with fewer reports than epochs. Each training
    function returns ``{"epochs_trained": n}`` as its framework counts them."""
    trials = sorted(study.trials, key=lambda t: t.number)
    assert len(trials) == 2, [(t.number, t.state, t.error) for t in trials]
    good, bad = trials
    good_curve, bad_curve = study.reports(good.number), study.reports(bad.number)
    assert good.state is tw.TrialState.COMPLETED, (good.state, good.error)
    assert [r.step for r in good_curve] == [1, 2, 3]
    assert good.value == good_curve[-1].values[metric]
    assert bad.state is tw.TrialState.STOPPED, (bad.state, bad.error)
    assert [r.step for r in bad_curve] == [1]  # stopped mid-training: 1 report of 3 epochs
    # What the framework itself trained, returned by the training function: the callback ended
    # training at once, not merely stopped reporting.
    assert (good.metrics["epochs_trained"], bad.metrics["epochs_trained"]) == (EPOCHS, 1)
    assert bad.value == bad_curve[-1].values[metric]


class StopAfter:
    """The runner's ``report``/``should_stop`` pair: the study stops the trial after ``n``."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.reports: list[tuple[int | None, dict[str, float]]] = []

    def report(self, step: int | None, values: Mapping[str, float]) -> None:
        self.reports.append((step, dict(values)))

    def should_stop(self) -> bool:
        return self.n is not None and len(self.reports) >= self.n


def run_command_trial(
    tmp_path: Path,
    source: str,
    objective: str,
    stop_after: int | None,
    params: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Outcome, StopAfter, Path]:
    """Run ``source`` as a command trial through the real command runner (real SIGTERM)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(source))
    trial_dir = tmp_path / "trial"
    job = TrialJob(
        study="frameworks",
        number=0,
        params=dict(params or {}),
        trial_dir=trial_dir,
        objective=objective,
        timeout=120,
    )
    runner = CommandRunner(
        [sys.executable, str(script)], env={"PYTHONPATH": SRC, **dict(env or {})}
    )
    recorder = StopAfter(stop_after)
    outcome = runner.run(job, recorder.report, recorder.should_stop)
    return outcome, recorder, trial_dir
