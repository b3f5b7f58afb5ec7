"""``tunewise.visualization``: plotly figures in Python that are the dashboard's own figures."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest

import tunewise as tw
from tests.server.helpers import make_study
from tunewise import visualization
from tunewise.analysis import KINDS, MULTI_OBJECTIVE_KINDS
from tunewise.server.data import StudyData

PLOTS = {
    "history": visualization.plot_history,
    "importance": visualization.plot_importance,
    "parallel": visualization.plot_parallel,
    "slice": visualization.plot_slice,
    "curves": visualization.plot_curves,
    "pareto_front": visualization.plot_pareto_front,
    "hypervolume": visualization.plot_hypervolume,
}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("visualization")
    url = f"sqlite:///{root / 'plots.db'}"
    make_study(url, root / "runs", n=30, running=1)
    return url


@pytest.fixture
def study(stored: str) -> Iterator[tw.Study]:
    study = tw.load_study("demo", storage=stored)
    yield study
    study.close()


def test_one_plot_function_per_dashboard_plot() -> None:
    assert tuple(PLOTS) == KINDS
    assert set(visualization.__all__) == {f"plot_{kind}" for kind in KINDS}
    assert all(PLOTS[kind].__name__ == f"plot_{kind}" for kind in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_plot_is_the_dashboards_figure(stored: str, study: tw.Study, kind: str) -> None:
    figure = PLOTS[kind](study)
    assert isinstance(figure, go.Figure)
    data = StudyData(stored, pool_size=1)
    try:
        served = data.figure("demo", kind)  # what the dashboard's API sends to plotly.js
    finally:
        data.close()
    assert figure.to_dict() == go.Figure(served).to_dict()
    if kind in MULTI_OBJECTIVE_KINDS:  # this study has one objective: the figure says so
        assert "several objectives" in figure.layout.annotations[0].text
    else:
        assert figure.data, f"{kind}: a study with 30 finished trials draws something"


def test_the_figures_show_the_studys_numbers(study: tw.Study) -> None:
    history = visualization.plot_history(study)
    completed = next(t for t in history.data if t.name == "completed")
    values = {t.number: t.value for t in study.trials if t.state == tw.TrialState.COMPLETED}
    assert dict(zip(completed.x, completed.y, strict=True)) == values
    best = next(t for t in history.data if t.name == "best so far")
    assert min(best.y) == pytest.approx(study.best_value)
    importance = visualization.plot_importance(study)
    assert set(importance.data[0].y) == {"lr", "layers", "act"}
    curves = visualization.plot_curves(study)
    assert any(t.name.endswith("stopped here") for t in curves.data)


def test_an_empty_study_says_so() -> None:
    study = tw.create_study(
        "empty", objective=tw.Objective("loss", "minimize"), space={"x": tw.Float(0, 1)}
    )
    try:
        figure = visualization.plot_history(study)
    finally:
        study.close()
    assert not figure.data
    assert figure.layout.annotations[0].text == "no trial has completed yet"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False
    )


def test_without_plotly_the_error_names_the_extra() -> None:
    out = run_python(
        "import sys; sys.modules['plotly'] = None\n"
        "try:\n    import tunewise.visualization\n"
        "except ImportError as e:\n    print(e)\n"
    )
    assert out.stdout.strip() == (
        "tunewise.visualization needs plotly: pip install 'tunewise[dashboard]'"
    ), out.stderr


def test_importing_tunewise_loads_neither_plotly_nor_pandas() -> None:
    out = run_python(
        "import sys, tunewise, tunewise.progress\n"
        "print([m for m in ('plotly', 'pandas', 'IPython', 'ipywidgets') if m in sys.modules])"
    )
    assert out.stdout.strip() == "[]", out.stderr
