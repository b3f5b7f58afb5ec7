"""How long the dashboard takes to open a study of 100,000 trials.

    python -m benchmarks.dashboard_open [--trials 100000] [--db PATH | --storage URL] [--browser]

Builds (once, then reuses) a SQLite store with one finished study of ``--trials`` trials (90 %
completed, 5 % stopped, 5 % failed; 1,000 of them with a 20-step learning curve), starts a real
``tunewise serve`` on a free loopback port on a copy of it and times, as a browser would ask for
them:

- ``cold``: the study page and everything it loads (five figures, the first table page)
  right after start-up, while the server may still be loading the study (worst case);
- ``warm``: the same once the server has the study in memory (the everyday case);
- ``new trials``: from 10 more trials written (through the store, as a running study writes
  them) to an open that shows them (the live case);
- ``table``: sorting the 100,000 trials by a hyperparameter and paging deep into them;
- ``browser`` (with ``--browser`` and Chromium at /usr/bin/chromium): from navigation to every
  figure drawn and the table filled, in headless Chromium.

``--storage URL`` builds the fixture in that store instead (an empty PostgreSQL database:
``postgresql://postgres@127.0.0.1:PORT/DB``), and serves it there.

The fixture's trials are written in one transaction with the store's own tables and encoders
(``tunewise.store.schema``): 200,000 separate store calls would take about 6 minutes. Only the
study itself is created through the store contract, so the schema is the real, migrated one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import psutil
from tests.server.helpers import free_port, spec_dict, stop, tunewise_command, wait_until_up

from tunewise.spec import StudySpec
from tunewise.store import open_store
from tunewise.trial import TrialState

NAME = "big"
KINDS = ("history", "importance", "parallel", "slice", "curves")


def build(url: str, n: int) -> None:
    """Write the fixture study into the store at ``url`` (skipped when it is already there)."""
    import sqlalchemy as sa

    from tunewise.store.schema import dump_json, encode_value, reports, studies, trials

    store = open_store(url)
    try:
        if any(r.name == NAME for r in store.list_studies()):
            return
        runs = Path(tempfile.gettempdir()) / "tunewise-dashboard-runs"
        spec = StudySpec.from_dict(spec_dict(NAME, runs, max_trials=n))
        record = store.create_study(NAME, spec.to_dict())
        url = store.url  # the resolved form SQLAlchemy takes
    finally:
        store.close()
    rng = random.Random(0)
    now = time.time() - n
    rows, curves = [], []
    for i in range(n):
        params = {
            "lr": 10 ** rng.uniform(-4, -1),
            "layers": rng.randint(1, 4),
            "act": rng.choice(["relu", "tanh"]),
        }
        value = (math.log10(params["lr"]) + 2.5) ** 2 + 0.05 * params["layers"] + rng.gauss(0, 0.05)
        state, kind = "completed", None
        if i % 20 == 7:
            state, kind, value = "failed", "user_error", None
        elif i % 20 == 13:
            state, value = "stopped", value + 0.3
        stored, special = encode_value(value)
        rows.append(
            {
                "study_id": record.id,
                "number": i,
                "state": state,
                "params": dump_json(params, "params"),
                "value": stored,
                "value_special": special,
                "metrics": dump_json({"loss": value} if value is not None else {}, "metrics"),
                "failure_kind": kind,
                "error": "ValueError: diverged" if kind else None,
                "attempt": 1,
                "created_at": now + i,
                "started_at": now + i,
                "finished_at": now + i + 0.8,
                "last_step": 19 if i % 100 == 0 else None,
            }
        )
        if i % 100 == 0 and value is not None:
            for step in range(20):
                curves.append(
                    {
                        "study_id": record.id,
                        "trial_number": i,
                        "attempt": 1,
                        "step": step,
                        "metrics": json.dumps({"loss": value + 1.0 / (step + 1)}),
                        "created_at": now + i,
                    }
                )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(trials.insert(), rows)
        conn.execute(reports.insert(), curves)
        conn.execute(studies.update().where(studies.c.id == record.id).values(next_number=n))
    engine.dispose()


def open_study(client: httpx2.Client, base: str) -> tuple[float, int]:
    """The study page and what its script loads, in parallel as a browser asks (6 at a time):
    seconds, and the number of trials the table says the study has."""
    api = f"{base}/api/studies/{NAME}"
    urls = [
        f"{base}/studies/{NAME}",
        *(f"{api}/figures/{kind}" for kind in KINDS),
        f"{api}/trials?sort=number&order=asc&offset=0&limit=50",
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(6) as pool:
        responses = list(pool.map(client.get, urls))
    for response in responses:
        response.raise_for_status()
    return time.perf_counter() - started, int(responses[-1].json()["total"])


def add_trials(url: str, count: int) -> int:
    """``count`` finished trials written as a running study writes them; the new total."""
    store = open_store(url)
    try:
        record = store.get_study(NAME)
        for _ in range(count):
            params = {"lr": 0.003, "layers": 2, "act": "relu"}
            number = store.add_trial(record.id, params, owner="bench", lease_seconds=60).number
            store.finish_trial(record.id, number, TrialState.COMPLETED, value=0.1,
                               metrics={"loss": 0.1})  # fmt: skip
        return sum(store.count_trials(record.id).values())
    finally:
        store.close()


def open_new_trials(
    client: httpx2.Client, base: str, url: str, count: int = 10, limit: float = 300.0
) -> float:
    """Seconds from ``count`` new trials written to an open that shows them (inf: not within
    ``limit`` seconds)."""
    total = add_trials(url, count)
    started = time.perf_counter()
    while open_study(client, base)[1] != total:
        if time.perf_counter() - started > limit:
            return math.inf
        time.sleep(0.1)  # as a page polls, not a busy loop stealing the server's CPU
    return time.perf_counter() - started


def timed(client: httpx2.Client, url: str) -> float:
    started = time.perf_counter()
    client.get(url).raise_for_status()
    return time.perf_counter() - started


def browser_open(base: str, visits: int = 3) -> list[float]:
    """Seconds from navigation to every figure drawn and the table filled, for ``visits``
    visits in one browser (later visits reuse the browser's cache of plotly.js, as a person's
    browser does)."""
    from playwright.sync_api import sync_playwright
    from tests.browser.conftest import ARGS as args

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for _ in range(visits):
            page = context.new_page()
            started = time.perf_counter()
            page.goto(f"{base}/studies/{NAME}", wait_until="commit")
            page.wait_for_function(
                "document.querySelectorAll('.figure .main-svg').length >= 5"
                " && /of \\d+ trials/.test(document.getElementById('page-info').textContent)",
                timeout=60_000,
            )
            times.append(time.perf_counter() - started)
            page.close()
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="fixture file (default: in the temp folder)")
    parser.add_argument("--storage", help="build and serve the fixture in this store instead")
    parser.add_argument("--browser", action="store_true", help="also time headless Chromium")
    args = parser.parse_args()
    db = args.db or Path(tempfile.gettempdir()) / f"tunewise-dashboard-{args.trials}.db"
    started = time.perf_counter()
    build(args.storage or f"sqlite:///{db}", args.trials)
    where = args.storage or db
    print(f"fixture: {where} ({args.trials:,} trials, ready in "
          f"{time.perf_counter() - started:.1f} s)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        url = args.storage
        if url is None:  # serve a copy: the new trials must not grow the fixture
            shutil.copy(db, Path(tmp) / db.name)
            url = f"sqlite:///{Path(tmp) / db.name}"
        serve(url, args.browser)


def serve(url: str, browser: bool) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        tunewise_command("serve", "--storage", url, "--port", str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    process = psutil.Process(server.pid)

    def cpu() -> float:  # the server's CPU seconds: steadier than wall time on a busy machine
        times = process.cpu_times()
        return float(times.user + times.system)

    try:
        wait_until_up(base, server, timeout=60)
        up_cpu = cpu()
        with httpx2.Client(timeout=120) as client:
            cold = open_study(client, base)[0]
            cold_cpu = cpu()  # since start: the study loads in the background from start-up
            warm = [open_study(client, base)[0] for _ in range(5)]
            before = cpu()
            live = open_new_trials(client, base, url)
            live_cpu = cpu() - before
            api = f"{base}/api/studies/{NAME}/trials"
            sort = timed(client, f"{api}?sort=param:lr&order=desc&limit=50")
            deep = timed(client, f"{api}?sort=value&offset=90000&limit=50&state=completed")
        print(f"cold open (server just started): {cold:.2f} s (server CPU since its start: "
              f"{up_cpu:.2f} s when up, {cold_cpu:.2f} s when opened)")  # fmt: skip
        print(f"warm open, median of 5:          {statistics.median(warm):.2f} s "
              f"(min {min(warm):.2f}, max {max(warm):.2f})")  # fmt: skip
        print(f"open after 10 new trials:        {live:.2f} s to the page showing them "
              f"(server CPU {live_cpu:.2f} s)")  # fmt: skip
        print(f"sort 100k by a hyperparameter:   {sort * 1000:.0f} ms")
        print(f"page at offset 90,000:           {deep * 1000:.0f} ms")
        if browser:
            visits = ", ".join(f"{t:.2f}" for t in browser_open(base))
            print(f"headless Chromium, page drawn:   {visits} s (first visit, then cached)")
    finally:
        output = stop(server)
        if server.returncode not in (0, -2, 130):
            print(output, file=sys.stderr)


if __name__ == "__main__":
    main()
