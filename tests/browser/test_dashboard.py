"""The real dashboard in a real browser: the studies page, a study while it runs (its trial
count grows), sorting the trials table, a trial's page; screenshots go to docs/img/."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.server.helpers import (
    Server,
    make_study,
    running_server,
    stop,
    tunewise_command,
    write_spec,
)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
RUNNING = "running-demo"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A store with a finished study (``demo``) and one that `tunewise run` is running."""
    root = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{root / 'dash.db'}"
    make_study(url, root / "runs", n=30)
    spec = write_spec(root, url, RUNNING, max_trials=400, steps=5, sleep=0.08)
    run = subprocess.Popen(tunewise_command("run", str(spec)), cwd=root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        with running_server(url, cwd=root) as server:
            yield server
    finally:
        stop(run)  # type: ignore[arg-type]


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"the page's script failed: {errors}"


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def test_the_studies_page_lists_both_studies(dashboard: Server, page: Any) -> None:
    page.goto(dashboard.base + "/")
    page.wait_for_selector(f'#studies tr[data-name="{RUNNING}"]', timeout=60_000)
    demo = httpx2.get(f"{dashboard.base}/api/studies/demo").json()
    cell = page.locator('#studies tr[data-name="demo"] [data-field="completed"]').inner_text()
    assert cell == str(demo["counts"]["completed"]) and demo["state"] == "running"
    page.wait_for_selector("#live.live:not(.off)", timeout=60_000)
    shot(page, "studies.png")


def test_a_running_study_updates_sorts_and_opens_a_trial(dashboard: Server, page: Any) -> None:
    page.goto(f"{dashboard.base}/studies/{RUNNING}")
    count = int(page.locator("#trial-count").inner_text())
    page.wait_for_function(
        f"Number(document.getElementById('trial-count').textContent) > {count}", timeout=60_000
    )  # the live stream moved the count on, without a reload
    page.wait_for_function(
        "document.querySelectorAll('.figure .main-svg').length >= 5", timeout=60_000
    )
    page.wait_for_timeout(1500)  # let a refresh redraw with the newer trials
    shot(page, "study.png")

    page.click('#trials th[data-sort="value"]')
    page.wait_for_selector('#trials th[data-sort="value"].asc', timeout=60_000)
    ascending = values(page)
    assert ascending == sorted(ascending) and len(ascending) >= 2
    page.click('#trials th[data-sort="value"]')
    page.wait_for_selector('#trials th[data-sort="value"].desc', timeout=60_000)
    descending = values(page)
    assert descending == sorted(descending, reverse=True) and descending[0] >= ascending[-1]

    page.click('#trials th[data-sort="value"]')  # back to the best first, to open the best
    page.wait_for_selector('#trials th[data-sort="value"].asc', timeout=60_000)
    link = page.locator("#trials tbody a").first
    number = link.inner_text().lstrip("#")
    link.click()
    page.wait_for_url(f"**/studies/{RUNNING}/trials/{number}", timeout=60_000)
    assert page.locator("h1").inner_text().startswith(f"Trial #{number}")
    page.wait_for_selector("#fig-trial-curve .main-svg", timeout=60_000)
    assert (
        "loss" in page.locator("#log-stdout").inner_text()
        or "@tunewise" in page.locator("#log-stdout").inner_text()
    )
    shot(page, "trial.png")


def values(page: Any) -> list[float]:
    """The value column of the table's rows that have one."""
    cells = page.locator("#trials tbody tr td:nth-child(3)").all_inner_texts()
    return [float(c) for c in cells if c.strip()]
