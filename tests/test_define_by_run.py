"""Define-by-run: Optuna's ``trial.suggest_*`` in ``optimize`` (the trial's own process) and in
ask-and-tell; the space a study has seen, stored and grown; Optuna tutorial objectives run
unchanged apart from the import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sklearn.datasets
import sklearn.ensemble
import sklearn.model_selection
import sklearn.svm

import tunewise as optuna  # the tutorials' code below is Optuna's with only this import changed
import tunewise as tw
from tunewise.trial import TrialState


# Objectives in the style of Optuna's tutorial ("Pythonic search space", "Efficient
# optimization algorithms", the first quadratic), kept as Optuna users write them.
def quadratic(trial: Any) -> float:
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2


def classifier_choice(trial: Any) -> float:
    iris = sklearn.datasets.load_iris()
    x, y = iris.data, iris.target

    classifier_name = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
    if classifier_name == "SVC":
        svc_c = trial.suggest_float("svc_c", 1e-10, 1e10, log=True)
        classifier_obj = sklearn.svm.SVC(C=svc_c, gamma="auto")
    else:
        rf_max_depth = trial.suggest_int("rf_max_depth", 2, 32, log=True)
        classifier_obj = sklearn.ensemble.RandomForestClassifier(
            max_depth=rf_max_depth, n_estimators=10
        )

    score = sklearn.model_selection.cross_val_score(classifier_obj, x, y, n_jobs=1, cv=3)
    accuracy = score.mean()
    return float(accuracy)


def layers_loop(trial: Any) -> float:
    n_layers = trial.suggest_int("n_layers", 1, 3)
    layers = []
    for i in range(n_layers):
        layers.append(trial.suggest_int(f"n_units_l{i}", 4, 128, log=True))
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    optimizer = trial.suggest_categorical("optimizer", ["Adam", "RMSprop", "SGD"])
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    # a stand-in for training: smooth in every suggested value
    return sum(abs(u - 64) for u in layers) / 64 + dropout + (optimizer != "Adam") + abs(lr - 1e-3)


def pruned_loop(trial: Any) -> float:
    """The pruning tutorial's shape: report each step, ask should_prune, raise TrialPruned."""
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(3):
        intermediate_value = x * (step + 1)
        trial.report(intermediate_value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return x * 3


def test_the_pruning_tutorial_shape_runs_with_optunas_names() -> None:
    study = optuna.create_study(direction="maximize", early_stopping="median", strategy="random")
    study.optimize(pruned_loop, n_trials=6)
    states = {t.state for t in study.trials}
    assert states <= {TrialState.COMPLETED, TrialState.STOPPED} and TrialState.COMPLETED in states
    assert all(set(t.params) == {"x"} for t in study.trials)


def test_the_first_tutorial_runs_as_optuna_users_write_it() -> None:
    study = optuna.create_study(direction="minimize", strategy="random", seed=1)
    study.optimize(quadratic, n_trials=5)
    assert study.name.startswith("no-name-")
    assert all(set(t.params) == {"x"} for t in study.trials)
    assert study.best_value == min(t.value for t in study.trials if t.value is not None)
    assert set(study.best_params) == {"x"} and -10 <= study.best_params["x"] <= 10
    assert study.space.params["x"] == tw.Float(-10.0, 10.0, scale="linear")


def test_the_classifier_choice_tutorial_stores_only_each_branchs_parameters() -> None:
    study = optuna.create_study(direction="maximize", seed=4)
    study.optimize(classifier_choice, n_trials=8)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETED for t in trials), [t.error for t in trials]
    for t in trials:
        branch = {"SVC": "svc_c", "RandomForest": "rf_max_depth"}[t.params["classifier"]]
        assert set(t.params) == {"classifier", branch}
        assert isinstance(t.params[branch], float if branch == "svc_c" else int)
    assert {t.params["classifier"] for t in trials} == {"SVC", "RandomForest"}
    assert set(study.space.names) == {"classifier", "svc_c", "rf_max_depth"}
    assert study.best_trial.value is not None and 0.0 < study.best_value <= 1.0
    frame = study.trials_dataframe()
    svc = frame["params_classifier"] == "SVC"
    assert frame.loc[svc, "params_rf_max_depth"].isna().all()


@pytest.mark.parametrize("strategy", ["random", "tpe", "bayesian"])
def test_a_loop_of_layers_grows_the_space_and_every_trial_keeps_what_it_asked(
    strategy: str,
) -> None:
    study = optuna.create_study(direction="minimize", strategy=strategy, seed=7)
    study.optimize(layers_loop, n_trials=12)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETED for t in trials), [t.error for t in trials]
    for t in trials:
        units = {f"n_units_l{i}" for i in range(t.params["n_layers"])}
        assert set(t.params) == {"n_layers", "dropout", "optimizer", "lr", *units}
        assert round(t.params["dropout"] * 10, 9) == round(t.params["dropout"] * 10)
    seen = {n for t in trials for n in t.params}
    assert set(study.space.names) == seen


def test_trial_params_are_what_was_asked_so_far_as_in_optuna() -> None:
    def objective(trial: Any) -> float:
        assert trial.params == {}
        x = trial.suggest_float("x", 0.0, 1.0)
        assert trial.params == {"x": x}
        return x

    study = tw.create_study(direction="minimize", strategy="random")
    study.optimize(objective, n_trials=3)
    assert all(t.state == TrialState.COMPLETED for t in study.trials), study.trials[-1].error


def test_enqueued_values_are_used_when_the_trial_asks_them() -> None:
    study = tw.create_study(direction="minimize", strategy="random")
    study.enqueue_trial({"n_layers": 2, "n_units_l0": 64, "optimizer": "SGD"})
    study.enqueue_trial({"optimizer": "Nadam"})  # not one of the choices asked: drawn anew
    with pytest.raises(tw.SpecError, match=r"^enqueue_trial\.params\.x"):
        study.enqueue_trial({"x": float("nan")})
    study.optimize(layers_loop, n_trials=3)
    first, second = (t.params for t in study.trials[:2])
    assert (first["n_layers"], first["n_units_l0"], first["optimizer"]) == (2, 64, "SGD")
    assert set(first) == {"n_layers", "n_units_l0", "n_units_l1", "dropout", "optimizer", "lr"}
    assert second["optimizer"] in ("Adam", "RMSprop", "SGD")


def test_add_trial_records_a_define_by_run_result_with_the_names_it_asked() -> None:
    study = tw.create_study(direction="minimize", strategy="random")
    study.optimize(quadratic, n_trials=1)
    study.add_trial({"x": 2.0, "note": "by hand"}, 0.0)
    with pytest.raises(tw.SpecError, match=r"^add_trial\.params\.x: 20\.0 is outside"):
        study.add_trial({"x": 20.0}, 1.0)
    assert study.best_params == {"x": 2.0, "note": "by hand"}


def test_the_same_seed_asks_the_same_values(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        study = tw.create_study(
            name, direction="minimize", strategy="random", seed=3,
            storage=f"sqlite:///{tmp_path}/s.db",
        )  # fmt: skip
        study.optimize(layers_loop, n_trials=4)
        runs.append([t.params for t in study.trials])
        study.close()
    assert runs[0] == runs[1]


def test_asking_a_name_again_with_another_range_fails_naming_it() -> None:
    def twice(trial: Any) -> float:
        trial.suggest_float("lr", 0.0, 1.0)
        return trial.suggest_float("lr", 0.0, 2.0)

    study = tw.create_study(direction="minimize", strategy="random")
    with pytest.raises(tw.NoTrialCompleted):
        study.optimize(twice, n_trials=1)
    error = study.trials[0].error or ""
    assert "parameter 'lr' was already suggested in this trial" in error
    asked = study.ask()
    asked.suggest_int("n", 1, 4)
    assert asked.suggest_int("n", 1, 4) == asked.suggested["n"]  # same range: same value
    with pytest.raises(ValueError, match="parameter 'n' was already suggested"):
        asked.suggest_int("n", 1, 5)
    with pytest.raises(ValueError, match="suggest_float\\('x', ...\\): high"):
        asked.suggest_float("x", 2.0, 1.0)


def test_ask_and_tell_store_what_was_asked_and_grow_the_space(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a.db"
    study = tw.create_study("asked", direction="maximize", storage=url, strategy="random")
    for _ in range(4):
        trial = study.ask()
        kind = trial.suggest_categorical("kind", ["linear", "rbf"])
        if kind == "rbf":
            gamma = trial.suggest_float("gamma", 1e-3, 1.0, log=True)
        else:
            gamma = trial.suggest_float("c", 0.0, 1.0)
        study.tell(trial, gamma)
    for t in study.trials:
        assert set(t.params) == {"kind", "gamma" if t.params["kind"] == "rbf" else "c"}
    again = tw.load_study("asked", storage=url)
    assert set(again.space.names) == {n for t in study.trials for n in t.params}
    # continuing it by name keeps the space its trials asked
    continued = tw.create_study("asked", direction="maximize", storage=url, strategy="random")
    assert continued.space == again.space
    study.close()
    again.close()
    continued.close()


def test_a_declared_study_lets_suggest_read_its_own_names_only() -> None:
    study = tw.create_study(
        "declared", objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Float(0.0, 1.0, scale="linear")}, strategy="random",
    )  # fmt: skip
    trial = study.ask()
    assert trial.suggest_float("x", 0.0, 1.0) == trial.params["x"]
    with pytest.raises(ValueError, match="declares its space, which has no 'y'"):
        trial.suggest_float("y", 0.0, 1.0)
    study.tell(trial, 0.5)


def test_create_study_takes_optunas_arguments() -> None:
    study = tw.create_study(study_name="named", direction="maximize")
    assert study.name == "named" and study.objective.metric == "value"
    assert study.spec.define_by_run and len(study.space) == 0
    with pytest.raises(TypeError, match="direction='minimize' or 'maximize'"):
        tw.create_study()
    with pytest.raises(tw.SpecError, match="^strategy: grid needs a declared space"):
        tw.create_study(direction="minimize", strategy="grid")


def test_the_seen_space_exports_as_a_spec_that_loads() -> None:
    from tunewise.spec import StudySpec

    study = tw.create_study("exported", direction="minimize", strategy="random", seed=2)
    study.optimize(layers_loop, n_trials=3)
    spec = StudySpec.from_dict(study.spec.with_overrides(space=study.space).to_dict())
    assert spec.define_by_run and spec.space == study.space


def test_the_strategy_sees_the_tree_the_trials_show() -> None:
    from tunewise.define_by_run import inferred_tree
    from tunewise.space import Space
    from tunewise.trial import Trial

    space = Space(
        {
            "classifier": tw.Categorical(["SVC", "RF", "KNN"]),
            "svc_c": tw.Float(1e-3, 1e3, scale="log"),
            "k": tw.Int(1, 20),
            "weights": tw.Categorical(["uniform", "distance"]),
            "x": tw.Float(0.0, 1.0),
        }
    )
    asked = [
        {"classifier": "SVC", "svc_c": 1.0, "x": 0.1},
        {"classifier": "RF", "x": 0.2},
        {"classifier": "KNN", "k": 3, "weights": "uniform", "x": 0.3},
        {"classifier": "KNN", "k": 4, "weights": "distance", "x": 0.4},
    ]
    history = [Trial(1, i, TrialState.COMPLETED, p, value=1.0) for i, p in enumerate(asked)]
    tree = inferred_tree(space, history)
    assert tree.params["svc_c"].when == {"classifier": ("SVC",)}
    # siblings asked together both hang on their parent, never on each other (no cycle)
    assert tree.params["k"].when == tree.params["weights"].when == {"classifier": ("KNN",)}
    assert not tree.params["x"].when and not tree.params["classifier"].when
    assert all(tree.validate(p) == p for p in asked)
    # a trial that asks svc_c under another classifier removes that condition
    contradiction = Trial(1, 9, TrialState.COMPLETED, {"classifier": "RF", "svc_c": 2.0, "x": 0})
    assert not inferred_tree(space, [*history, contradiction]).params["svc_c"].when
    assert inferred_tree(space, history[:1]) is space  # too little to tell
