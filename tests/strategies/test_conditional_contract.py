"""The conditional-space contract beyond one process (tests/strategies/test_contract.py holds
the in-process part: only active parameters, valid values, the same suggestions in another
process, distinct suggestions with pending trials): processes asking the same study at once
get distinct, valid trials of the tree from every strategy, and Hyperband's enqueued trials are
checked against the tree."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.errors import SpecError
from tunewise.space import Space
from tunewise.strategies import strategy_names

ASKERS = 3  # processes asking at once
ASKS = 3  # trials each asks


def tree() -> dict[str, Any]:
    """SGD brings momentum and nesterov; Adam brings beta1; ``lr`` is always active. The
    grid (``num`` points) has 2 x (3 x 2 + 2 + 1) = 18 combinations, more than the 9 asked."""
    return {
        "solver": tw.Categorical(["sgd", "adam", "lbfgs"]),
        "momentum": tw.Float(0.5, 0.9, num=3, when={"solver": ["sgd"]}),
        "nesterov": tw.Categorical([True, False], when={"solver": ["sgd"]}),
        "beta1": tw.Float(0.8, 0.9, num=2, when={"solver": ["adam"]}),
        "lr": tw.Float(0.01, 0.1, num=2),
    }


def _ask(url: str, names: list[str], start: Any, out: Any) -> None:
    """One asking process: for each study, wait for the others, then ask ASKS trials."""
    found: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        study = tw.load_study(name, storage=url)
        start.wait()
        found[name] = [dict(study.ask().params) for _ in range(ASKS)]
        study.close()
    out.put(json.dumps(found))


def test_processes_asking_at_once_get_distinct_valid_trials_of_the_tree(tmp_path: Path) -> None:
    """Without the suggestion lock in ``Study.ask``, processes asking at once read the same
    history, drew from the same generator and were handed the same parameters (random: 8
    distinct of 12; bayesian 9 of 12)."""
    url = f"sqlite:///{tmp_path / 'ask.db'}"
    names = []
    for strategy in strategy_names():
        extra: dict[str, Any] = {}
        if strategy == "hyperband":
            extra["hyperband"] = {"max_resource": 9}
        tw.create_study(
            f"tree-{strategy}",
            objective=tw.Objective("loss", "minimize"),
            space=tree(),
            strategy=strategy,
            seed=5,
            storage=url,
            **extra,
        ).close()
        names.append(f"tree-{strategy}")
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(ASKERS), ctx.Queue()
    askers = [ctx.Process(target=_ask, args=(url, names, start, out)) for _ in range(ASKERS)]
    for p in askers:
        p.start()
    found = [json.loads(out.get(timeout=120)) for _ in askers]
    for p in askers:
        p.join(timeout=30)
        assert p.exitcode == 0
    space = Space(tree())
    for name in names:
        params = [p for each in found for p in each[name]]
        assert len(params) == ASKERS * ASKS
        for p in params:
            assert space.validate(p) == p, (name, p)  # exactly the active ones, valid values
        keys = [json.dumps(p, sort_keys=True) for p in params]
        assert len(set(keys)) == len(keys), (name, sorted(keys))


def test_hyperband_checks_enqueued_trials_against_the_tree() -> None:
    study = tw.create_study(
        "hb-tree",
        objective=tw.Objective("loss", "minimize"),
        space=tree(),
        strategy="hyperband",
        hyperband={"max_resource": 4},
        seed=2,
    )
    with pytest.raises(SpecError, match=r"enqueue_trial\.params\.beta1: is inactive"):
        study.enqueue_trial({"solver": "sgd", "momentum": 0.7, "nesterov": True, "beta1": 0.8})
    with pytest.raises(SpecError, match=r"enqueue_trial\.params\.nesterov: is missing"):
        study.enqueue_trial({"solver": "sgd", "momentum": 0.7, "lr": 0.1})
    study.enqueue_trial({"solver": "lbfgs", "lr": 0.01})
    study.enqueue_trial({"solver": "adam", "beta1": 0.9, "lr": 0.1})

    def train(params: dict[str, Any], trial: Any) -> float:
        loss = params["lr"] + params.get("momentum", 0.0) + params.get("beta1", 0.0)
        for step in range(1, params["epochs"] + 1):
            trial.report(loss / step, step)
        return loss / params["epochs"]

    study.optimize(train, n_trials=8, progress=False)
    trials = study.trials
    assert [t.params for t in trials[:2]] == [
        {"solver": "lbfgs", "lr": 0.01},
        {"solver": "adam", "beta1": 0.9, "lr": 0.1},
    ]
    for t in trials:
        assert study.space.validate(t.params) == t.params
    study.close()
