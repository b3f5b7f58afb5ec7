"""Ask + tell latency with 100, 10,000 and 100,000 trials stored, next to Optuna's RDBStorage.

    /tmp/bench-venv/bin/python -m benchmarks.scale                       # everything (~15 min)
    /tmp/bench-venv/bin/python -m benchmarks.scale --sizes 100,10000 --stores sqlite --ops 200

Run from the repository root with an interpreter that has tunewise, Optuna and psycopg (the
``bench`` harness's environment, see ``docs/benchmarks.md``; without Optuna its rows are
skipped). For every store (a SQLite file; a PostgreSQL database on a throwaway server this
script starts and stops, ``benchmarks.pgserver``), library and size, a fresh subprocess:

1. creates a study of two floats in [0, 1] with random search (tunewise ``strategy: random``,
   Optuna ``RandomSampler``: the cost measured is the store's and the loop's, not a model's);
2. fills it with ``size`` finished trials by bulk SQL inserts that copy a real trial the library
   itself asked and told (prefilling through the API would take hours for Optuna);
3. opens the study anew, times the first ask + tell (it reads the stored history) apart, then
   ``--ops`` ask + tell pairs: tunewise ``study.ask()`` / ``study.tell(trial, x)``; Optuna
   ``study.ask()``, two ``suggest_float`` and ``study.tell(trial, x)``;
4. ``tunewise-optimize``: ``study.optimize`` runs ``--ops`` + 1 more trials instead (the
   driver's loop: ask, start a forked process, finish, one trial at a time); a trial's
   latency is the time between its end and the previous trial's, as the store recorded them.

Each line of ``--out`` is one cell: median, p99 and max of the steady pairs in milliseconds,
the first pair, the trials found stored afterwards (a check of the prefill) and the load
average before and after. ``--report`` prints the markdown table of a results file.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import add_pg_setting_option, read_jsonl, versions

#: ``tunewise``: ask + tell; ``tunewise-optimize``: the driver's loop (``study.optimize``),
#: asking, starting (a forked process) and finishing each trial.
ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = ("tunewise", "tunewise-optimize", "optuna")
STORES = ("sqlite", "postgresql")
BATCH = 5000


def _timed(pair: Callable[[], None], ops: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    pair()
    first = time.perf_counter() - start
    latencies = []
    for _ in range(ops):
        start = time.perf_counter()
        pair()
        latencies.append(time.perf_counter() - start)
    return first, latencies


# tunewise ------------------------------------------------------------------------------
def _tunewise_study(url: str, size: int) -> None:
    """A study of ``size`` finished trials: one asked and told, the rest copies of it."""
    import tunewise as tw

    study = tw.create_study(
        "scale",
        objective=tw.Objective("value", "minimize"),
        space={"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)},
        strategy="random",
        storage=url,
        seed=0,
    )
    trial = study.ask()
    study.tell(trial, trial.params["x"])
    store_url = study.store.url  # type: ignore[attr-defined]
    study_id = study.store.get_study("scale").id
    study.close()
    _prefill_tunewise(store_url, study_id, size - 1)


def tunewise_cell(url: str, size: int, ops: int) -> dict[str, Any]:
    import tunewise as tw

    _tunewise_study(url, size)
    study = tw.load_study("scale", storage=url)

    def pair() -> None:
        trial = study.ask()
        study.tell(trial, trial.params["x"])

    first, latencies = _timed(pair, ops)
    stored = sum(study.counts().values())
    study.close()
    return {"first": first, "latencies": latencies, "stored": stored}


def tunewise_optimize_cell(url: str, size: int, ops: int) -> dict[str, Any]:
    """``study.optimize`` (local executor, one trial at a time) for ``ops + 1`` more trials:
    the latency of a trial is the time between its end and the previous one's (the ends as the
    store recorded them), the first one apart (it reads the stored history)."""
    import tunewise as tw

    _tunewise_study(url, size)
    study = tw.load_study("scale", storage=url)
    started = time.time()
    study.optimize(lambda params: params["x"], max_trials=size + ops + 1)
    ends = sorted(
        t.finished_at.timestamp()
        for t in study.store.get_trials(study.store.get_study("scale").id, min_number=size)
        if t.finished_at is not None
    )
    stored = sum(study.counts().values())
    study.close()
    latencies = [b - a for a, b in itertools.pairwise(ends)]
    return {"first": ends[0] - started, "latencies": latencies, "stored": stored}


def _prefill_tunewise(url: str, study_id: int, count: int) -> None:
    import sqlalchemy as sa

    from tunewise.store.schema import studies, trials

    engine = sa.create_engine(url)
    rng = random.Random(0)
    with engine.begin() as conn:
        template = dict(
            conn.execute(sa.select(trials).where(trials.c.study_id == study_id)).one()._mapping
        )
        del template["id"]
        now = time.time() - count
        rows = []
        for i in range(1, count + 1):
            x, y = rng.random(), rng.random()
            rows.append(
                {
                    **template,
                    "number": i,
                    "params": json.dumps({"x": x, "y": y}),
                    "value": x,
                    "metrics": json.dumps({"value": x}),
                    "created_at": now + i,
                    "started_at": now + i,
                    "finished_at": now + i + 0.5,
                }
            )
            if len(rows) == BATCH:
                conn.execute(trials.insert(), rows)
                rows = []
        if rows:
            conn.execute(trials.insert(), rows)
        conn.execute(studies.update().where(studies.c.id == study_id).values(next_number=count + 1))
    engine.dispose()


# Optuna --------------------------------------------------------------------------------
def optuna_cell(url: str, size: int, ops: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="scale", storage=url, sampler=optuna.samplers.RandomSampler(seed=0)
    )

    def pair() -> None:
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.suggest_float("y", 0.0, 1.0)
        study.tell(trial, x)

    pair()
    del study
    _prefill_optuna(url, size - 1)
    study = optuna.load_study(
        study_name="scale", storage=url, sampler=optuna.samplers.RandomSampler(seed=1)
    )
    first, latencies = _timed(pair, ops)
    stored = len(study.get_trials(deepcopy=False))
    return {"first": first, "latencies": latencies, "stored": stored}


def _prefill_optuna(url: str, count: int) -> None:
    """Copies of the one trial Optuna stored (its row, two params, one value)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine, only=["trials", "trial_params", "trial_values"])
    trials, params, values = (meta.tables[n] for n in ("trials", "trial_params", "trial_values"))
    rng = random.Random(0)
    with engine.begin() as conn:
        template = dict(conn.execute(sa.select(trials)).one()._mapping)
        tid = template["trial_id"]
        param_rows = [dict(r._mapping) for r in conn.execute(sa.select(params))]
        value_row = dict(conn.execute(sa.select(values)).one()._mapping)
        for row in param_rows:
            del row["param_id"]
        del value_row["trial_value_id"]
        batch: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = (
            [], [], []
        )  # fmt: skip
        for i in range(1, count + 1):
            new_id = tid + i
            x = rng.random()
            batch[0].append({**template, "trial_id": new_id, "number": template["number"] + i})
            for row in param_rows:
                value = x if row["param_name"] == "x" else rng.random()
                batch[1].append({**row, "trial_id": new_id, "param_value": value})
            batch[2].append({**value_row, "trial_id": new_id, "value": x})
            if len(batch[0]) == BATCH or i == count:
                for table, rows in zip((trials, params, values), batch, strict=True):
                    if rows:
                        conn.execute(table.insert(), rows)
                    rows.clear()
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('trials', 'trial_id'), "
                "(SELECT max(trial_id) FROM trials))"
            )
    engine.dispose()


# Driver --------------------------------------------------------------------------------
def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_cell(library: str, store: str, url: str, size: int, ops: int) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    cell = {
        "tunewise": tunewise_cell,
        "tunewise-optimize": tunewise_optimize_cell,
        "optuna": optuna_cell,
    }[library]
    result = cell(url, size, ops)
    latencies = result.pop("latencies")
    return {
        "library": library,
        "store": store,
        "size": size,
        "ops": ops,
        "median_ms": 1000 * _percentile(latencies, 0.5),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies),
        "first_ms": 1000 * result["first"],
        "stored": result["stored"],
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def _libraries(requested: Sequence[str]) -> list[str]:
    out = []
    for library in requested:
        try:
            __import__(library.partition("-")[0])
        except ImportError:
            print(f"# {library} is not installed here: its rows are skipped", flush=True)
            continue
        out.append(library)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--stores", default=",".join(STORES))
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--ops", type=int, default=300, help="timed ask + tell pairs per cell")
    parser.add_argument("--out", default="/tmp/tunewise-bench/scale.jsonl")
    parser.add_argument("--report", action="store_true", help="print the table of --out")
    add_pg_setting_option(parser)
    parser.add_argument("--cell", nargs=5, metavar=("LIB", "STORE", "URL", "SIZE", "OPS"))
    args = parser.parse_args(argv)
    if args.cell:
        library, store, url, size, ops = args.cell
        print(json.dumps(run_cell(library, store, url, int(size), int(ops))), flush=True)
        return 0
    if args.report:
        print(report(args.out))
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    libraries = _libraries(args.libraries.split(","))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as out:
        out.write(json.dumps({"versions": versions(), "started": time.ctime()}) + "\n")
        for store in args.stores.split(","):
            _run_store(store, sizes, libraries, args.ops, out, args.pg_setting)
    print(report(args.out))
    return 0


def _run_store(
    store: str,
    sizes: list[int],
    libraries: list[str],
    ops: int,
    out: Any,
    settings: Sequence[str] = (),
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }

    def cells(new_url: Callable[[], str]) -> None:
        for size in sizes:
            for library in libraries:
                url = new_url()
                command = [sys.executable, "-m", "benchmarks.scale", "--cell"]
                command += [library, store, url, str(size), str(ops)]
                with tempfile.TemporaryDirectory(prefix="tunewise-scale-cell-") as cwd:
                    # the trials' folders of tunewise-optimize go to the cell's own folder
                    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
                if done.returncode != 0:
                    print(done.stdout, done.stderr, file=sys.stderr)
                    raise SystemExit(f"cell {library} {store} {size} failed")
                line = done.stdout.strip().splitlines()[-1]
                print(line, flush=True)
                out.write(line + "\n")
                out.flush()

    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tunewise-scale-") as folder:
            counter = iter(range(10**6))
            cells(lambda: f"sqlite:///{folder}/{next(counter)}.db")
    elif store == "postgresql":
        from benchmarks.pgserver import postgres

        with postgres(settings) as server:
            print(f"# {server.version}", flush=True)
            out.write(json.dumps({"postgresql": server.version, "settings": list(settings)}) + "\n")
            cells(server.create_database)
    else:
        raise SystemExit(f"--stores: unknown store {store!r} (sqlite, postgresql)")


def report(path: str) -> str:
    rows = read_jsonl(path)
    cells = {(r["store"], r["library"], r["size"]): r for r in rows if "library" in r}
    lines = [
        "| store | library | trials stored | per trial, median (ms) | p99 (ms) | max (ms) "
        "| first (ms) | load (before, after) |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for (store, library, size), r in sorted(cells.items()):
        lines.append(
            f"| {store} | {library} | {size:,} | {r['median_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['max_ms']:.1f} | {r['first_ms']:.0f} | {r['load'][0]}, {r['load'][1]} |"
        )
    for store in STORES:
        for library in LIBRARIES:
            small = [cells[k] for k in cells if k[:2] == (store, library) and k[2] <= 100]
            large = [cells[k] for k in cells if k[:2] == (store, library) and k[2] >= 100_000]
            if small and large:
                ratio = large[0]["p99_ms"] / small[0]["p99_ms"]
                lines.append(f"\n{store} {library}: p99 at 100,000 / p99 at 100 = {ratio:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
