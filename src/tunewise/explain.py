"""``tunewise why STUDY TRIAL``: why a strategy suggested a trial, as one JSON document.

The suggestion's call is rebuilt from its record (:mod:`tunewise.replay`) and made again, so
the explanation is about the very pick (``reproduces`` says whether it came out identical).
What is explained depends on the strategy:

- ``bayesian``: in its space-filling start, which point of the Latin hypercube; afterwards the
  incumbent (best trial so far), the Gaussian process's predicted mean and spread at the
  suggestion (in the model's units, values to minimise after warping, and mapped back onto
  the objective's scale through the observed values), the acquisition and its value there,
  and the nearest earlier trials by encoded distance with their values;
- ``random``/``sobol``: which draw of which generator; ``grid``: the point's position in the
  grid's shuffled order; ``tpe``: the good/bad split; ``hyperband``: its sampler and the
  budget its model was fitted on.

The CLI, the dashboard's "Why this trial" block and :meth:`Study.why` share this document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunewise.replay import NOT_REPLAYABLE, REPRODUCED, StudyTrials, SuggestionContext, compare
from tunewise.trial import Trial, TrialState

if TYPE_CHECKING:
    import numpy as np

    from tunewise.study import Study

__all__ = ["describe", "explain_trial"]

#: How many of the nearest earlier trials a bayesian explanation lists.
NEAREST = 3
_RESULTS = (TrialState.COMPLETED, TrialState.STOPPED)


def explain_trial(study: Study, number: int) -> dict[str, Any]:
    """The explanation of trial ``number``'s suggestion (module docstring). When it cannot be
    rebuilt, ``explained`` is False and ``reason`` says why in one sentence.

    Raises:
        KeyError: the study has no trial ``number``.
    """
    trials = StudyTrials(study)
    trial = trials.by_number.get(number)
    if trial is None:
        raise KeyError(f"study {study.name!r} has no trial {number}")
    doc: dict[str, Any] = {"study": study.name, "trial": number, "params": dict(trial.params)}
    context = trials.context(number)
    if isinstance(context, str):
        return {**doc, "explained": False, "status": NOT_REPLAYABLE, "reason": context}
    record = context.record
    replayed = context.suggest()
    check = compare(number, context.expected, replayed, context.index)
    own = [t for t in context.history if t.study_id == trial.study_id]
    doc.update(
        explained=True,
        strategy=str(record["strategy"]),
        reproduces=check.status == REPRODUCED,
        suggested_from={
            "finished": len(own),
            "warm_start": len(context.history) - len(own),
            "pending": len(context.pending),
            "batch": {"index": context.index, "n": int(record["n"])},
            "seed": int(record["seed"]),
            "generator": context.number,
            "remaining": record.get("remaining"),
            "space_version": trial.space_version,
        },
    )
    if check.status != REPRODUCED:
        doc["mismatch"] = check.reason
    explain = _EXPLAINERS.get(str(record["strategy"]))
    if record.get("define_by_run"):
        if not context.space.params:
            explain = _nothing_seen
        else:  # the wrapped strategy searched the seen space with the conditions inferred
            from dataclasses import replace

            from tunewise.define_by_run import inferred_tree

            tree = inferred_tree(context.space, context.history)
            inner = getattr(context.strategy, "inner", context.strategy)
            context = replace(context, space=tree, strategy=inner)
    details = explain(context, replayed) if explain is not None else {}
    doc["details"] = details
    doc["summary"] = details.pop("summary", f"suggested by {record['strategy']}")
    return doc


def describe(doc: Mapping[str, Any]) -> list[str]:
    """The explanation as lines of text (the CLI and the dashboard print these)."""
    head = f"trial {doc['trial']} of {doc['study']}"
    if not doc.get("explained"):
        return [f"{head}: cannot be explained: {doc.get('reason')}"]
    seen = doc["suggested_from"]
    batch = seen["batch"]
    lines = [f"{head}: {doc['summary']}"]
    at_once = f", suggestion {batch['index'] + 1} of {batch['n']}" if batch["n"] > 1 else ""
    warm = f" (+{seen['warm_start']} warm-start)" if seen["warm_start"] else ""
    left = "" if seen["remaining"] is None else f", {seen['remaining']} left in the budget"
    lines.append(
        f"  from {seen['finished']} finished{warm} and {seen['pending']} pending trials"
        f"{at_once}; seed {seen['seed']}, generator of trial {seen['generator']}{left}"
    )
    details = doc.get("details", {})
    incumbent = details.get("incumbent")
    if incumbent is not None:
        lines.append(f"  incumbent: {_trial(incumbent)}, value {_num(incumbent['value'])}")
    prediction = details.get("prediction")
    if prediction is not None:
        scale = (
            "better than every observed value"
            if prediction["better_than_observed"]
            else f"about {_num(prediction['value'])} on the objective's scale"
        )
        lines.append(
            f"  predicted: mean {_num(prediction['mean'])}, spread (std) "
            f"{_num(prediction['std'])} in the model's units (warped, to minimise; the best "
            f"mean at the data {_num(prediction['best_mean'])}): {scale}"
        )
    acquisition = details.get("acquisition")
    if acquisition is not None:
        lines.append(f"  acquisition: {acquisition['name']} = {_num(acquisition['value'])}")
    nearest = details.get("nearest")
    if nearest:
        shown = ", ".join(
            f"{_trial(n)} (value {_num(n['value'])}, distance {n['distance']:.3g})" for n in nearest
        )
        lines.append(f"  nearest earlier trials: {shown}")
    lines.append(
        "  replay: reproduces exactly"
        if doc["reproduces"]
        else f"  replay: does not reproduce: {doc.get('mismatch')}"
    )
    return lines


def _trial(cited: Mapping[str, Any]) -> str:
    parent = " of a warm-start parent" if cited.get("warm_start") else ""
    return f"trial {cited['trial']}{parent}"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)


# Per strategy -----------------------------------------------------------------------------
def _nothing_seen(
    context: SuggestionContext, replayed: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    return {
        "summary": "no value suggested: no trial of this define-by-run study had asked for a "
        "parameter yet, so the trial drew each value itself (seeded by the study's seed, its "
        "number and the parameter's name)"
    }


def _position(context: SuggestionContext) -> int:
    """The suggestion's position in the study: trials before it, then its place in the batch."""
    return len(context.history) + len(context.pending) + context.index


def _random(context: SuggestionContext, replayed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    draw = _position(context)
    seed = int(context.record["seed"])
    return {
        "summary": f"sampled uniformly (each parameter in its unit encoding), seed {seed}, "
        f"draw {draw}",
        "draw": draw,
    }


def _sobol(context: SuggestionContext, replayed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    point = _position(context)
    return {
        "summary": f"point {point} of the study's scrambled Sobol sequence "
        f"(seed {context.record['seed']})",
        "point": point,
    }


def _grid(context: SuggestionContext, replayed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    import numpy as np

    space = context.space
    size = space.grid_size()
    if space.is_conditional:
        return {"summary": f"the next untried point of a grid of {size}", "grid_size": size}
    axes = space.grid_points()
    try:
        pairs = zip(space.names, axes, strict=True)
        index = [axis.index(context.expected[name]) for name, axis in pairs]
    except (KeyError, ValueError):
        return {"summary": f"a point of a grid of {size}", "grid_size": size}
    flat = int(np.ravel_multi_index(index, [len(a) for a in axes]))
    order = np.random.default_rng(int(context.record["seed"]) & 0xFFFFFFFF).permutation(size)
    position = int(np.flatnonzero(order == flat)[0])
    return {
        "summary": f"grid point {position + 1} of {size} in the grid's shuffled order "
        f"(seed {context.record['seed']}); the earlier ones were run or pending",
        "grid_size": size,
        "position": position,
    }


def _tpe(context: SuggestionContext, replayed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    from tunewise.strategies.features import Features
    from tunewise.strategies.tpe import N_STARTUP, n_good

    if len(context.strategy.objectives) > 1 or context.strategy.constraints:
        return {"summary": "multi-objective / constrained TPE (MOTPE)"}
    features = Features(context.space)
    obs, pending_rows, _ = features.known(
        context.history, context.pending, context.strategy.objective
    )
    position = _position(context)
    if position < N_STARTUP or len(obs.y) < 2:
        return {
            "summary": f"startup point {position} of the study's Latin hypercube (the first "
            f"{N_STARTUP} trials fill the space before TPE models it)",
            "phase": "startup",
        }
    good = n_good(len(obs.y))
    bad = len(obs.y) - good + len(obs.failed) + len(pending_rows) + context.index
    return {
        "summary": f"TPE: the best of its candidates by l(x)/g(x), with {good} trials in the "
        f"good group and {bad} in the bad one (failed, pending and batch picks count as bad)",
        "phase": "model",
        "good": good,
        "bad": bad,
    }


def _hyperband(context: SuggestionContext, replayed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    from tunewise.strategies.hyperband import same_budget_history

    sampler = context.strategy.options.get("sampler", "random")
    rungs = _rungs(context)
    if sampler == "bayesian":
        fitted = same_budget_history(context.history, min_points=len(context.space) + 2)
        if fitted:
            budget = fitted[0].last_step
            return {
                "summary": f"Hyperband's bayesian sampler, fitted on the {len(fitted)} trials "
                f"that reached step {budget}{rungs.pop('said', '')}",
                "sampler": sampler,
                "fitted": len(fitted),
                "budget": budget,
                **rungs,
            }
    return {
        "summary": f"Hyperband's random sampler, draw {_position(context)}{rungs.pop('said', '')}",
        "sampler": "random",
        **rungs,
    }


def _rungs(context: SuggestionContext) -> dict[str, Any]:
    """The trial's Hyperband bracket and rungs (the stopping rule's, from the seed and its
    number) and how far it ran."""
    from tunewise.stopping import AshaRule, build_stopping_rule

    rule = build_stopping_rule(context.spec)
    if not isinstance(rule, AshaRule):
        return {}
    number = context.trial.number
    bracket, rungs = rule.bracket(number), rule.rungs(rule.bracket(number))
    last = context.trial.last_step
    ran = "" if last is None else f", ran to step {last}"
    said = f"; bracket {bracket} of {rule.brackets} (rungs {rungs or 'none'}){ran}"
    return {"bracket": bracket, "rungs": rungs, "last_step": last, "said": said}


def _bayesian(context: SuggestionContext, replayed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    from tunewise.strategies.bayesian import initial_design_size
    from tunewise.strategies.feasibility import needs_outcomes
    from tunewise.strategies.features import Features, single_threaded_blas

    strategy = context.strategy
    if needs_outcomes(strategy):
        return {"summary": "bayesian with several objectives or constraints (GPs per metric)"}
    features = Features(context.space)
    obs, pending_rows, _ = features.known(context.history, context.pending, strategy.objective)
    position = _position(context)
    n_init = initial_design_size(features.dim)
    incumbent = _incumbent(context.history, strategy.objective, context.trial.study_id)
    if position < n_init or len(obs.y) < 2:
        return {
            "summary": f"space-filling start: point {position} of the study's Latin hypercube "
            f"(the first {n_init} trials spread out before the Gaussian process models them)",
            "phase": "initial",
            "incumbent": incumbent,
        }
    row = features.try_encode(context.expected)
    if row is None:
        return {"summary": "bayesian (the trial's params no longer fit the space)"}
    with single_threaded_blas():
        details = _model_details(context, features, obs, pending_rows, replayed, row)
    near = _nearest(features, context.history, row, context.trial.study_id)
    pending = len(pending_rows) + context.index
    return {
        "summary": "the Gaussian process's pick: the most promising point by "
        + details["acquisition"]["name"],
        "phase": "model",
        "incumbent": incumbent,
        **details,
        "nearest": near,
        "pending": pending,
    }


def _model_details(
    context: SuggestionContext,
    features: Any,
    obs: Any,
    pending_rows: np.ndarray,
    replayed: Sequence[Mapping[str, Any]],
    row: np.ndarray,
) -> dict[str, Any]:
    """The GP refitted on the same data, asked at the suggestion: mean, spread, acquisition."""
    import numpy as np

    from tunewise.strategies.acquisition import log_ei
    from tunewise.strategies.base import strategy_rng
    from tunewise.strategies.bayesian import _Model
    from tunewise.strategies.warping import fence, warp

    rng = strategy_rng(int(context.record["seed"]), context.number)
    model = _Model(features, obs.x, obs.y, rng)
    mean, var = model.gp.predict(row[None, :])
    sd = float(np.sqrt(var[0]))
    earlier = [features.try_encode(p) for p in replayed[: context.index]]
    fantasies = [pending_rows, *(r[None, :] for r in earlier if r is not None)]
    stacked = np.vstack(fantasies) if sum(len(f) for f in fantasies) else None
    if stacked is None:
        name = "log expected improvement"
        value = float(log_ei(model.gp, row[None, :], model.best)[0])
    else:
        from tunewise.strategies.pending import PendingLogEI

        name = f"log expected improvement beyond {len(stacked)} pending trial(s) (q-EI gain)"
        value = float(PendingLogEI(model.gp, stacked, model.best, rng).value(row[None, :])[0])
    acquisition: dict[str, Any] = {"name": name, "value": value}
    weighting = _cost_weighting(context, features)
    if weighting is not None:  # cost: {aware: true}: per unit of expected cost
        penalty = float(weighting.penalty(row[None, :])[0])
        acquisition.update(
            name=f"{name} per unit of expected cost",
            value=value - penalty,
            before_cost=value,
            log_cost=float(weighting.log_cost(row[None, :])[0]),
        )
    # Back onto the objective's scale through the observed values (the warp is monotone).
    values = fence(obs.y) if features.categorical.any() else warp(obs.y)
    order = np.argsort(values, kind="stable")
    sign = context.strategy.objective.sign

    inside = float(values[order[0]]), float(values[order[-1]])

    def unwarp(v: float) -> float | None:
        # None beyond the observed values: the warp is known only between them
        if not inside[0] <= v <= inside[1]:
            return None
        return float(-sign * np.interp(v, values[order], obs.y[order]))

    m = float(mean[0])
    return {
        "prediction": {
            "mean": m,
            "std": sd,
            "value": unwarp(m),
            "low": unwarp(m + sd if sign > 0 else m - sd),
            "high": unwarp(m - sd if sign > 0 else m + sd),
            "better_than_observed": m < inside[0],
            "best_mean": float(model.best),  # the model's best mean at the data, the bar
        },
        "acquisition": acquisition,
    }


def _cost_weighting(context: SuggestionContext, features: Any) -> Any:
    """A cost-aware study's weighting of this suggestion (None: not cost-aware, or not yet)."""
    from tunewise.strategies.bayesian import initial_design_size
    from tunewise.strategies.cost_model import CostWeighting

    n_init = initial_design_size(features.dim)
    remaining = context.record.get("remaining")
    return CostWeighting.fit(context.strategy.options, features, context.history, remaining, n_init)


def _incumbent(history: Sequence[Trial], objective: Any, own: int) -> dict[str, Any] | None:
    best: Trial | None = None
    for trial in history:
        value = trial.value
        if trial.state not in _RESULTS or value is None or not math.isfinite(value):
            continue
        if best is None or objective.is_better(value, best.value):
            best = trial
    return None if best is None else _cited(best, own)


def _cited(trial: Trial, own: int, **more: Any) -> dict[str, Any]:
    """A trial as an explanation names it; one of a warm-start parent says so (its number is
    the parent's)."""
    from tunewise.documents import json_number

    value = json_number(trial.value)  # JSON has no infinity (a stored -inf loss)
    out: dict[str, Any] = {"trial": trial.number, "value": value, **more}
    if trial.study_id != own:
        out["warm_start"] = True
    return out


def _nearest(
    features: Any, history: Sequence[Trial], row: np.ndarray, own: int
) -> list[dict[str, Any]]:
    """The earlier trials closest to the suggestion in the unit encoding (a categorical that
    differs counts 1), with their values."""
    import numpy as np

    found = []
    for trial in history:
        other = features.try_encode(trial.params)
        if other is None:
            continue
        diff = np.asarray(other, dtype=float) - row
        diff[features.categorical] = diff[features.categorical] != 0
        found.append((float(np.sqrt(np.sum(diff * diff))), trial.number, trial))
    found.sort(key=lambda item: (item[0], item[1]))
    return [_cited(t, own, state=str(t.state), distance=d) for d, _, t in found[:NEAREST]]


_EXPLAINERS = {
    "bayesian": _bayesian,
    "random": _random,
    "sobol": _sobol,
    "grid": _grid,
    "tpe": _tpe,
    "hyperband": _hyperband,
}
