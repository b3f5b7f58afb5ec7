"""The Pareto front and hypervolume figures, and infeasible trials greyed (issue 23)."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunewise as tw
from tunewise.analysis import KINDS, TrialFrame, build_figure, kinds_for
from tunewise.analysis.pareto_plots import hypervolume_data, pareto_data
from tunewise.analysis.plots import history
from tunewise.analysis.png import write_png

ACC, LAT = tw.Objective("accuracy", "maximize"), tw.Objective("latency_ms", "minimize")
CONS = (tw.Constraint("memory_mb", max=512),)
# (accuracy, latency, memory): 0 and 1 on the front, 2 dominated, 3 infeasible.
ROWS = [(0.9, 10.0, 100.0), (0.8, 5.0, 100.0), (0.7, 20.0, 100.0), (0.95, 1.0, 900.0)]


def trials(rows: list[tuple[float, ...]] = ROWS) -> list[tw.Trial]:
    return [
        tw.Trial(1, i, tw.TrialState.COMPLETED, {"x": i / 10}, acc,
                 {"accuracy": acc, "latency_ms": lat, "memory_mb": mem})
        for i, (acc, lat, mem) in enumerate(rows)
    ]  # fmt: skip


def frame(objectives: tuple[tw.Objective, ...] = (ACC, LAT)) -> TrialFrame:
    space = tw.Space({"x": tw.Float(0.0, 1.0)})
    return TrialFrame.from_trials(trials(), space, objectives[0], objectives, CONS)


def test_pareto_data_marks_front_and_feasibility() -> None:
    data = pareto_data(frame())
    assert data["number"] == [0, 1, 2, 3]
    assert data["on_front"] == [True, True, False, False]
    assert data["feasible"] == [True, True, True, False]
    assert data["values"][1] == [10.0, 5.0, 20.0, 1.0]


def test_pareto_figure_draws_the_front_as_a_staircase() -> None:
    figure = build_figure("pareto_front", frame())
    names = [t.get("name") for t in figure["data"]]
    assert names[:3] == ["feasible", "infeasible", "Pareto front"]
    front = figure["data"][2]
    assert front["text"] == ["#0", "#1"]
    stair = figure["data"][3]
    assert stair["line"]["shape"] == "hv" and stair["x"] == [0.9, 0.8]  # best accuracy first
    assert "accuracy (max)" in figure["layout"]["xaxis"]["title"]["text"]


def test_three_objectives_give_a_3d_scatter() -> None:
    mem = tw.Objective("memory_mb", "minimize")
    figure = build_figure("pareto_front", frame((ACC, LAT, mem)))
    assert {t["type"] for t in figure["data"]} == {"scatter3d"}
    assert "zaxis" in figure["layout"]["scene"]


def test_hypervolume_history_grows_with_the_feasible_front() -> None:
    data = hypervolume_data(frame())
    hv = data["hypervolume"]
    assert hv[0] > 0 and hv[1] > hv[0] and hv[2] == hv[1] and hv[3] == hv[2]
    assert build_figure("hypervolume", frame())["data"][0]["y"] == hv


def test_single_objective_study_says_why_there_is_no_front() -> None:
    figure = build_figure("pareto_front", frame((ACC,)))
    assert figure["data"] == []
    assert "several objectives" in figure["layout"]["annotations"][0]["text"]
    assert kinds_for(1) == tuple(k for k in KINDS if k not in ("pareto_front", "hypervolume"))
    assert kinds_for(2)[:2] == ("pareto_front", "hypervolume")


def test_constrained_single_objective_greys_infeasible_trials() -> None:
    single = frame((ACC,))
    data = history(single)
    assert data["completed"]["number"] == [0, 1, 2]
    assert data["infeasible"]["number"] == [3]
    assert data["best"]["value"][-1] == 0.9  # 0.95 is infeasible
    assert single.best_index() == 0
    figure = build_figure("history", single)
    assert "infeasible" in [t["name"] for t in figure["data"]]


@pytest.mark.parametrize("kind", ["pareto_front", "hypervolume", "history"])
def test_png(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.png"
    write_png(kind, frame(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_notebook_functions() -> None:
    from tunewise.visualization import plot_hypervolume, plot_pareto_front

    study = tw.create_study(objectives=[ACC, LAT], constraints=list(CONS),
                            space={"x": tw.Float(0, 1)}, strategy="random")  # fmt: skip
    for acc, lat, mem in ROWS:
        study.tell(study.ask(), {"accuracy": acc, "latency_ms": lat, "memory_mb": mem})
    assert [t.name for t in plot_pareto_front(study).data][:3] == [
        "feasible",
        "infeasible",
        "Pareto front",
    ]
    assert len(plot_hypervolume(study).data[0].y) == 4
