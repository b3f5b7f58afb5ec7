"""Orchestration overhead: trials per second on a trivial objective, tunewise against Optuna's
``optimize`` and Ray Tune's ``Tuner``.

    /tmp/bench-venv/bin/python -m benchmarks.overhead                    # every row (~10 min)
    /tmp/bench-venv/bin/python -m benchmarks.overhead --rows tw-sqlite-random-p1,optuna-tpe-sqlite
    /tmp/bench-venv/bin/python -m benchmarks.overhead --report           # the table of --out

Run from the repository root with an interpreter that has tunewise, Optuna, psycopg and
``ray[tune]`` (the ``bench`` harness's environment, see ``docs/benchmarks.md``); rows whose
library is missing are skipped. Every row is a fresh subprocess working in a temporary folder
(the trials' log folders go there); PostgreSQL rows share one throwaway server
(``benchmarks.pgserver``), each with a database of its own.

The objective is ``x ** 2 + y`` over two floats in [0, 1], minimised, and returns at once:
what is timed is the tuner's own work. For tunewise that is a process forked per trial, the
store's writes (asked, started, finished) and the strategy; for Optuna, a function call in the
driver's thread and its storage writes; for Ray Tune, a trial actor per trial. Each row times
the optimisation call alone (the study is created, and Ray started, before the clock starts;
``ray.init`` is reported apart) and records the driver's CPU time and its children's per trial
and the load average before and after.

Rows (``NAME``: what runs):

- ``tw-{sqlite,postgresql}-{random,tpe}-p{N}[-fresh]``: tunewise ``study.optimize`` with the
  local executor, ``max_parallel=N``; its trial processes reused (the default), or ``-fresh``: a
  process forked per trial (``executor: {type: local, reuse_processes: false}``);
- ``tw-ray-random-p{N}``: tunewise with the Ray executor on a local Ray
  (``executor: {type: ray, address: local}``), when ``tunewise.executors.ray`` exists;
- ``optuna-{tpe,random}-{memory,sqlite,postgresql}``: Optuna ``study.optimize(n_trials=...)``
  (``n_jobs=1``) with ``TPESampler`` (its default) or ``RandomSampler``, on ``RDBStorage``;
- ``raytune``: Ray Tune ``Tuner(trainable, param_space=..., TuneConfig(num_samples=...))``
  with its defaults (random search, one CPU per trial); ``--raytune-trials`` of them (100 by
  default: 1,000 take about 25 minutes here).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import add_pg_setting_option, read_jsonl, versions

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROWS = (
    "tw-sqlite-random-p1",
    "tw-sqlite-random-p2",
    "tw-sqlite-random-p1-fresh",
    "tw-sqlite-tpe-p1",
    "tw-postgresql-random-p1",
    "tw-postgresql-random-p2",
    "tw-ray-random-p2",
    "optuna-tpe-memory",
    "optuna-tpe-sqlite",
    "optuna-random-sqlite",
    "optuna-tpe-postgresql",
    "raytune",
)


def _cpu() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


def _clocked(run: Callable[[], None], trials: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    cpu = _cpu()
    start = time.perf_counter()
    run()
    wall = time.perf_counter() - start
    after = _cpu()
    return {
        "wall_s": wall,
        "trials_per_s": trials / wall,
        "driver_cpu_ms": 1000 * (after[0] - cpu[0]) / trials,
        "children_cpu_ms": 1000 * (after[1] - cpu[1]) / trials,
        "load": [round(load, 2), round(os.getloadavg()[0], 2)],
    }


def objective_value(x: float, y: float) -> float:
    return x**2 + y


# tunewise ------------------------------------------------------------------------------
def tunewise_row(
    url: str, strategy: str, parallel: int, trials: int, ray: bool, fresh: bool = False
) -> dict[str, Any]:
    import tunewise as tw

    study = tw.create_study(
        "overhead",
        objective=tw.Objective("value", "minimize"),
        space={"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)},
        strategy=strategy,
        storage=url,
        seed=0,
    )

    def train(params: dict[str, float]) -> float:
        return objective_value(params["x"], params["y"])

    if ray:
        run = _tunewise_on_ray(study, train, trials, parallel)
    else:

        def run() -> None:
            study.optimize(
                train,
                max_trials=trials,
                max_parallel=parallel,
                executor={"type": "local", "reuse_processes": not fresh},
            )

    result = _clocked(run, trials)
    counts = study.counts()
    result["completed"] = counts[tw.TrialState.COMPLETED]
    study.close()
    return result


def _tunewise_on_ray(study: Any, train: Any, trials: int, parallel: int) -> Callable[[], None]:
    """Start the local Ray as ``address: local`` does (timed apart, as for Ray Tune); the
    executor then finds this process connected and uses that Ray."""
    from tunewise.executors.ray_connect import connect  # type: ignore[import-not-found,unused-ignore]

    started = time.perf_counter()
    connect("local")
    _ray_init_s[0] = time.perf_counter() - started

    def run() -> None:
        study.optimize(
            train,
            max_trials=trials,
            max_parallel=parallel,
            executor={"type": "ray", "address": "local"},
        )

    return run


_ray_init_s = [0.0]


# Optuna --------------------------------------------------------------------------------
def optuna_row(url: str | None, sampler_name: str, trials: int) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (
        optuna.samplers.TPESampler(seed=0)
        if sampler_name == "tpe"
        else optuna.samplers.RandomSampler(seed=0)
    )
    study = optuna.create_study(storage=url, sampler=sampler, study_name="overhead")

    def objective(trial: Any) -> float:
        return objective_value(
            trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
        )

    result = _clocked(lambda: study.optimize(objective, n_trials=trials), trials)
    result["completed"] = sum(
        t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False)
    )
    return result


# Ray Tune ------------------------------------------------------------------------------
def raytune_row(trials: int, folder: str) -> dict[str, Any]:
    import ray
    from ray import tune

    started = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False)
    init = time.perf_counter() - started

    def trainable(config: dict[str, float]) -> dict[str, float]:
        return {"value": objective_value(config["x"], config["y"])}

    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(num_samples=trials, metric="value", mode="min"),
        run_config=tune.RunConfig(storage_path=folder, verbose=0),
    )
    grid: list[Any] = []
    result = _clocked(lambda: grid.append(tuner.fit()), trials)
    result["completed"] = sum(r.error is None for r in grid[0])
    result["ray_init_s"] = init
    ray.shutdown()
    return result


# One row, in its own process -----------------------------------------------------------
def run_row(name: str, url: str | None, trials: int, folder: str) -> dict[str, Any]:
    parts = name.split("-")
    if parts[0] == "tw":
        store, strategy, parallel = parts[1], parts[2], int(parts[3].removeprefix("p"))
        ray = store == "ray"
        if ray:
            url = f"sqlite:///{folder}/tunewise.db"
        fresh = parts[4:] == ["fresh"]
        result = tunewise_row(url or "", strategy, parallel, trials, ray, fresh)
        if ray:
            result["ray_init_s"] = _ray_init_s[0]
    elif parts[0] == "optuna":
        result = optuna_row(url, parts[1], trials)
    elif name == "raytune":
        result = raytune_row(trials, folder)
    else:
        raise SystemExit(f"unknown row {name!r}")
    return {"row": name, "trials": trials, **result}


def _store_of(name: str) -> str:
    parts = name.split("-")
    if name == "raytune" or parts[1] == "ray":
        return "ray"
    return parts[2] if parts[0] == "optuna" else parts[1]


def _available(name: str) -> str | None:
    """Why the row cannot run here (a library is missing), or None."""
    needs = {"tw": ["tunewise"], "optuna": ["optuna"], "raytune": ["ray.tune"]}[name.split("-")[0]]
    if _store_of(name) == "postgresql":
        needs.append("psycopg")
    if _store_of(name) == "ray" and name != "raytune":
        needs += ["ray", "tunewise.executors.ray"]
    for module in needs:
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not importable"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS))
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--raytune-trials", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each row")
    parser.add_argument("--out", default="/tmp/tunewise-bench/overhead.jsonl")
    parser.add_argument("--report", action="store_true", help="print the table of --out")
    add_pg_setting_option(parser)
    parser.add_argument("--row", nargs=4, metavar=("NAME", "URL", "TRIALS", "FOLDER"))
    args = parser.parse_args(argv)
    if args.row:
        name, url, trials, folder = args.row
        result = run_row(name, None if url == "-" else url, int(trials), folder)
        print(json.dumps(result), flush=True)
        return 0
    if args.report:
        print(report(args.out))
        return 0

    rows = []
    for name in args.rows.split(","):
        why = _available(name)
        if why:
            print(f"# {name}: skipped ({why})", flush=True)
        else:
            rows.append(name)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as out:
        out.write(json.dumps({"versions": versions(), "started": time.ctime()}) + "\n")
        server = None
        if any(_store_of(r) == "postgresql" for r in rows):
            from benchmarks.pgserver import postgres

            server = postgres(args.pg_setting)
            pg = server.__enter__()
            out.write(json.dumps({"postgresql": pg.version, "settings": args.pg_setting}) + "\n")
        try:
            for _ in range(args.repeat):
                for name in rows:
                    trials = args.raytune_trials if name == "raytune" else args.trials
                    url = pg.create_database() if _store_of(name) == "postgresql" else None
                    line = _run_isolated(name, url, trials)
                    print(line, flush=True)
                    out.write(line + "\n")
                    out.flush()
        finally:
            if server is not None:
                server.__exit__(None, None, None)
    print(report(args.out))
    return 0


def _run_isolated(name: str, url: str | None, trials: int) -> str:
    """One row in a fresh interpreter, in a temporary folder removed afterwards. Ray rows run
    in a network namespace that has only loopback (``unshare -n``, as root): Ray otherwise
    binds the machine's external address (INFRA.md)."""
    folder = tempfile.mkdtemp(prefix="tunewise-overhead-")
    try:
        store = _store_of(name)
        if store == "sqlite" and url is None:
            url = f"sqlite:///{folder}/{name}.db"
        command = [sys.executable, "-m", "benchmarks.overhead", "--row"]
        command += [name, url or "-", str(trials), folder]
        if store == "ray" and os.geteuid() == 0 and shutil.which("unshare"):
            quoted = " ".join(f"'{c}'" for c in command)
            command = ["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {quoted}"]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-4000:], done.stderr[-4000:], file=sys.stderr)
            return json.dumps({"row": name, "error": f"exit {done.returncode}"})
        return done.stdout.strip().splitlines()[-1]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(path: str) -> str:
    rows = read_jsonl(path)
    lines = [
        "| row | trials | wall (s) | trials/s | driver CPU (ms/trial) | children CPU (ms/trial) "
        "| ray.init (s) | load (before, after) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "row" not in r:
            continue
        if "error" in r:
            lines.append(f"| {r['row']} | failed: {r['error']} |")
            continue
        init = f"{r['ray_init_s']:.1f}" if "ray_init_s" in r else ""
        lines.append(
            f"| {r['row']} | {r['completed']:,} | {r['wall_s']:.1f} | {r['trials_per_s']:.1f} "
            f"| {r['driver_cpu_ms']:.1f} | {r['children_cpu_ms']:.1f} | {init} "
            f"| {r['load'][0]}, {r['load'][1]} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
