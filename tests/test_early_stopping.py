"""Early stopping end to end: the median rule and Hyperband (ASHA) on Python and command
trials, the reasons recorded, resumed brackets, and settings refused before anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

import tunewise as tw
from tunewise.spec import StudySpec
from tunewise.trial import TrialState

pytestmark = pytest.mark.timeout(120)
ENTRY_POINT = Path(sys.executable).with_name("tunewise")


def curve_train(params: dict[str, Any], trial: Any) -> float | None:
    """Accuracy rises toward ``q`` with the epochs; good ``q`` stays good at every epoch."""
    q = params["q"]
    value = 0.0
    for epoch in range(1, params["epochs"] + 1):
        value = q * (1 - 0.5**epoch)
        trial.report(value, epoch)
        if trial.should_stop():
            return None
        time.sleep(0.005)
    return value


def test_median_rule_stops_bad_trials_and_says_why() -> None:
    study = tw.create_study(
        "median",
        objective=tw.Objective("acc", "maximize"),
        space={"q": tw.Float(0.1, 1.0)},
        strategy="random",
        static={"epochs": 12},
        early_stopping={"rule": "median", "min_trials": 3},
        seed=3,
    )
    study.optimize(curve_train, max_trials=24, max_parallel=2)
    trials = study.trials
    stopped = [t for t in trials if t.state == TrialState.STOPPED]
    assert stopped, "the median rule stopped nothing"
    for t in stopped:
        assert t.error is not None and t.error.startswith("stopped early: median rule at step")
        curve = dict(study.curves()[t.number])
        assert t.value == curve[max(curve)]  # valid at its last step
    assert any(t.last_step is not None and t.last_step < 12 for t in stopped)
    epochs = sum(t.last_step or 0 for t in trials)
    assert epochs < 24 * 12
    best_completed = max(t.value for t in trials if t.state == TrialState.COMPLETED and t.value)
    assert best_completed == study.best_value


def test_a_trial_that_never_reports_is_told_so() -> None:
    study = tw.create_study(
        "silent",
        objective=tw.Objective("acc", "maximize"),
        space={"q": tw.Float(0.1, 1.0)},
        early_stopping="median",
    )
    study.optimize(lambda p: p["q"], max_trials=2)
    for t in study.trials:
        assert t.state == TrialState.COMPLETED
        assert t.error is not None and "never reported an intermediate value" in t.error


def test_hyperband_spends_fewer_epochs_for_the_same_best() -> None:
    results = {}
    for strategy in ("hyperband", "random"):
        study = tw.create_study(
            strategy,
            objective=tw.Objective("acc", "maximize"),
            space={"q": tw.Float(0.1, 1.0)},
            strategy=strategy,
            static={"epochs": 27},
            seed=5,
        )
        study.optimize(curve_train, max_trials=27, max_parallel=2)
        results[strategy] = (sum(t.last_step or 0 for t in study.trials), study.best_value)
    assert results["hyperband"][0] < results["random"][0] / 2
    assert results["hyperband"][1] >= results["random"][1] - 0.05


COMMAND = """\
import os, sys, time
q = float(sys.argv[sys.argv.index("--q") + 1])
epochs = int(sys.argv[sys.argv.index("--epochs") + 1])
child = __import__("subprocess").Popen([sys.executable, "-c", "import time; time.sleep(60)"])
with open(os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "pids"), "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
for epoch in range(1, epochs + 1):
    print(f"epoch={epoch} acc={q * (1 - 0.5 ** epoch):.6f}", flush=True)
    time.sleep(0.05)
child.kill()
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_hyperband_on_a_command_stops_it_mid_run_leaving_no_process(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(COMMAND)
    spec = {
        "study": "hb-command",
        "objective": {"metric": "acc", "direction": "maximize"},
        "strategy": "hyperband",
        "hyperband": {"max_resource": 9, "reduction_factor": 3},
        "space": {"q": {"type": "float", "low": 0.1, "high": 1.0}},
        "trial": {
            "command": [sys.executable, "train.py", "--q", "{q}", "--epochs", "{epochs}"],
            "metrics": [{"name": "acc", "regex": r"epoch=(?P<step>\d+) acc=([0-9.]+)"}],
        },
        "limits": {"max_trials": 12, "max_parallel": 2},
        "seed": 2,
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    url = f"sqlite:///{tmp_path / 't.db'}"
    out = subprocess.run(
        [str(ENTRY_POINT), "run", "spec.json", "--storage", url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
        env={**os.environ, "TUNEWISE_STORAGE": ""},
    )
    assert out.returncode == 0, out.stderr
    study = tw.load_study("hb-command", storage=url)
    stopped = [t for t in study.trials if t.state == TrialState.STOPPED]
    assert stopped
    curves = study.curves()
    for t in stopped:
        curve = dict(curves[t.number])
        assert t.value == curve[max(curve)] and max(curve) < 9
        assert "hyperband bracket" in (t.error or "")
    time.sleep(0.5)
    pids = [
        int(p)
        for d in (tmp_path / study.runs_dir).iterdir()
        for p in (d / "pids").read_text().split()
    ]
    assert [p for p in pids if _alive(p)] == []
    listing = subprocess.run(
        [str(ENTRY_POINT), "trials", "hb-command", "--storage", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "stopped early: hyperband bracket" in listing and "reason" in listing
    study.close()


def test_a_resumed_hyperband_study_continues_its_brackets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hb.db'}"

    def make() -> tw.Study:
        return tw.create_study(
            "hb",
            objective=tw.Objective("acc", "maximize"),
            space={"q": tw.Float(0.1, 1.0)},
            strategy="hyperband",
            static={"epochs": 9},
            storage=url,
            seed=4,
        )

    first = make()
    first.optimize(curve_train, max_trials=10, max_parallel=2)
    before = {t.number: (t.state, t.last_step, t.value) for t in first.trials}
    reports_before = {n: len(c) for n, c in first.curves().items()}
    first.close()
    again = make()
    again.optimize(curve_train, max_trials=20, max_parallel=2)
    after = {t.number: (t.state, t.last_step, t.value) for t in again.trials}
    assert {n: after[n] for n in before} == before  # finished rungs are not re-run
    assert {n: len(c) for n, c in again.curves().items() if n in before} == reports_before
    assert len(after) == 20
    assert any(t.state == TrialState.STOPPED for t in again.trials if t.number >= 10)
    again.close()


BASE = {
    "study": "s",
    "objective": {"metric": "acc", "direction": "maximize"},
    "space": {"q": {"type": "float", "low": 0.0, "high": 1.0}},
}


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        (
            {"strategy": "hyperband", "hyperband": {"min_resource": 9, "max_resource": 9}},
            "hyperband.min_resource",
            "below max_resource",
        ),
        (
            {"strategy": "hyperband", "hyperband": {"max_resource": 9, "reduction_factor": 1}},
            "hyperband.reduction_factor",
            ">= 2",
        ),
        ({"strategy": "hyperband"}, "hyperband.max_resource", "static hyperparameter"),
        (
            {"strategy": "hyperband", "static": {"epochs": 9}, "early_stopping": "median"},
            "early_stopping",
            "drop one",
        ),
        ({"hyperband": {"max_resource": 9}}, "hyperband", "only to strategy: hyperband"),
        ({"early_stopping": "mean"}, "early_stopping.rule", "unknown rule"),
        ({"strategy": "hyperband", "static": {"epochs": 0}}, "static.epochs", "positive"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    extra: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(tw.SpecError) as info:
        StudySpec.from_dict({**BASE, **extra})
    assert info.value.field == field and words in info.value.message


def test_hyperband_takes_its_resource_from_a_static_epochs() -> None:
    spec = StudySpec.from_dict({**BASE, "strategy": "hyperband", "static": {"max_iter": 30}})
    assert spec.hyperband is not None
    assert (spec.hyperband.resource, spec.hyperband.max_resource) == ("max_iter", 30)
    explicit = StudySpec.from_dict(
        {**BASE, "strategy": "hyperband", "hyperband": {"max_resource": 27}}
    )
    assert explicit.space.static == {"epochs": 27}  # the trial receives its resource
    assert StudySpec.from_dict(explicit.to_dict()) == explicit
