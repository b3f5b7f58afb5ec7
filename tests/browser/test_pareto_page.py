"""A study with two objectives and a constraint in a real browser: its page draws the Pareto
front (feasible, infeasible and front traces, the staircase) and the hypervolume history
first, and the trials table shows the constrained metric (issue 23)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tests.server.helpers import Server, running_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("pareto")
    url = f"sqlite:///{root / 'pareto.db'}"
    study = tw.create_study(
        "pareto-demo",
        objectives=[tw.Objective("accuracy", "maximize"), tw.Objective("latency_ms", "minimize")],
        constraints=[tw.Constraint("memory_mb", max=200)],
        space={"width": tw.Int(8, 256, scale="log")},
        strategy="random",
        storage=url,
        seed=0,
    )
    rng = random.Random(0)
    for _ in range(25):
        trial = study.ask()
        width = trial.params["width"]
        accuracy = 1 - 1 / width**0.5 + rng.gauss(0, 0.01)
        latency = width / 10 + rng.random()
        study.tell(trial, {"accuracy": accuracy, "latency_ms": latency, "memory_mb": 2.0 * width})
    study.close()
    with running_server(url, cwd=root) as server:
        yield server


def test_the_pareto_page(dashboard: Server, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{dashboard.base}/studies/pareto-demo")
        page.wait_for_selector("#fig-pareto_front .main-svg", timeout=60_000)
        page.wait_for_selector("#fig-hypervolume .main-svg", timeout=60_000)
        assert page.locator("#best").inner_text().startswith("Pareto front: ")
        kinds = page.eval_on_selector_all(".figure[data-kind]", "els => els.map(e => e.id)")
        assert kinds[:2] == ["fig-pareto_front", "fig-hypervolume"]
        names = page.evaluate(
            "() => document.getElementById('fig-pareto_front').data.map(t => t.name || '')"
        )
        assert names[:3] == ["feasible", "infeasible", "Pareto front"]
        front = page.evaluate("() => document.getElementById('fig-pareto_front').data[2].x.length")
        assert front >= 1
        # Plotly drew the points: one path per marker in the SVG.
        points = page.locator("#fig-pareto_front .scatterlayer .point").count()
        assert points >= 25
        header = page.locator("#trials thead").inner_text()
        assert "latency_ms" in header and "memory_mb" in header and "feasible" in header
        cells = page.locator("#trials tbody td.infeasible").all_inner_texts()
        assert cells and all(c.strip() == "no" for c in cells)
        # Sorted by the constrained metric (rows drawn by the page's script): largest first.
        page.click('#trials th[data-sort="metric:memory_mb"]')
        page.wait_for_selector('#trials th[data-sort="metric:memory_mb"].asc', timeout=60_000)
        page.click('#trials th[data-sort="metric:memory_mb"]')
        page.wait_for_selector('#trials th[data-sort="metric:memory_mb"].desc', timeout=60_000)
        first = page.locator("#trials tbody tr").first.locator("td.infeasible").inner_text()
        assert first.strip() == "no"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#fig-pareto_front").screenshot(path=str(SCREENSHOTS / "pareto-dashboard.png"))
    finally:
        context.close()
    assert errors == [], f"the page's script failed: {errors}"
