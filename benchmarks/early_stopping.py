"""Early stopping and Hyperband on the main job: MLPClassifier on digits, epochs as the resource.

Every method tunes the search space of ``examples/mlp_digits_hyperband.yaml`` with
``examples.mlp_digits:train_epochs`` (mean 3-fold CV accuracy reported after every epoch, up to
``static.epochs``), once per seed:

- ``random``: tunewise random search, every trial trained to the full budget;
- ``hyperband``: tunewise ``strategy: hyperband`` (random sampler, min_resource 1, factor 3);
- ``bohb``: the same with ``sampler: bayesian`` (model-based Hyperband, as BOHB);
- ``median``: tunewise random search with ``early_stopping: median`` (min_trials 5);
- ``hyperband_cmd`` / ``median_cmd``: the same as command trials (``benchmarks/_epoch_command.py``
  prints a ``@tunewise`` line per epoch and never asks whether to stop: SIGTERM ends it), so
  their epochs count what the command trained after the decision (read from each trial's
  ``stdout.log``), a measure of how fast a stop reaches a command;
- ``optuna_hyperband`` / ``optuna_median`` (``--optuna``): Optuna's ``RandomSampler`` with its
  ``HyperbandPruner`` (same min_resource, max_resource and factor) or ``MedianPruner`` (5 startup
  trials), through ``trial.report`` / ``trial.should_prune``.

From the repository root, with the project's environment (the Optuna rows need an interpreter
that has Optuna, e.g. the ``bench`` harness's)::

    .venv/bin/python -m benchmarks.early_stopping --seeds 0-4 --out /tmp/es.jsonl
    .venv/bin/python -m benchmarks.early_stopping --seeds 0-4 --out /tmp/es.jsonl \\
        --optuna --optuna-python /tmp/bench-venv/bin/python     # adds the Optuna rows
    .venv/bin/python -m benchmarks.early_stopping --report --out /tmp/es.jsonl

Each run is a subprocess of its own; ``--workers`` of them run side by side. Trials run one at a
time inside a run (``--parallel 1``, the default): every method then decides with the same
information (all earlier trials finished, as in Optuna's sequential ``optimize``), every run
uses one core, and a run's first ``k`` trials are exactly what a ``k``-trial run would do, which
the report uses to find how many Hyperband trials match full-budget random search. tunewise's
random, hyperband and median rows draw the same configuration for the same trial number and
seed, so they are paired; Optuna's rows draw from the same distributions (its sampler picks a
point of the unit cube, decoded by tunewise's space) with their own random stream.

A run records: the best CV accuracy of its trials that trained to the full budget (as
``study.best_value``; stopped trials measured at fewer epochs do not count), the total epochs
trained (each trial's last reported epoch), the wall and CPU time of the optimisation (CPU:
the run's process and its trial processes), and per trial
(number, state, epochs, value, epoch at which the stop was decided).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tunewise.reporting import parse_report_line

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "examples" / "mlp_digits_hyperband.yaml"
TUNEWISE_METHODS = ("random", "hyperband", "bohb", "median", "hyperband_cmd", "median_cmd")
OPTUNA_METHODS = ("optuna_hyperband", "optuna_median")
HYPERBAND_METHODS = ("hyperband", "bohb", "optuna_hyperband", "hyperband_cmd")
#: Median-rule settings shared by tunewise's and Optuna's rows.
MIN_TRIALS = 5
REDUCTION_FACTOR = 3
MIN_RESOURCE = 1
#: A rough cost per run relative to a full-budget random run, to start the long runs first.
COST = {"random": 1.0, "median": 0.6, "optuna_median": 0.6, "hyperband": 0.3, "bohb": 0.3}
COST.update(hyperband_cmd=0.6, median_cmd=1.0)  # an interpreter and sklearn per trial

Record = dict[str, Any]


# --- the task ---------------------------------------------------------------------------------


def load_task(epochs: int | None) -> Any:
    """The hyperband example's spec, with ``static.epochs`` replaced when ``epochs`` is given."""
    from tunewise.space import Space
    from tunewise.spec import parse_spec_text

    spec = parse_spec_text(SPEC_PATH.read_text(), str(SPEC_PATH))
    if epochs is not None:
        spec_space = Space(spec.space.params, {**spec.space.static, "epochs": epochs})
        return spec_space, spec.objective
    return spec.space, spec.objective


def _decision_step(reason: str | None) -> int | None:
    """The epoch at which a tunewise stopping rule decided (from the stored reason)."""
    match = re.search(r"(?:at step|rung) (\d+)", reason or "")
    return int(match.group(1)) if match else None


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (tunewise's trial processes)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def summarize(
    method: str,
    seed: int,
    trials: int,
    parallel: int,
    epochs: int,
    times: tuple[float, float],
    rows: list[list],
) -> Record:
    """One run's record from its per-trial rows ``[number, state, epochs, value, decided_at]``."""
    full = [r[3] for r in rows if r[1] == "completed" and r[3] is not None]
    overshoot = sum(r[2] - r[4] for r in rows if r[4] is not None and r[2] > r[4])
    return {
        "method": method,
        "seed": seed,
        "trials": trials,
        "parallel": parallel,
        "max_epochs": epochs,
        "best": max(full) if full else None,
        "epochs": sum(r[2] for r in rows),
        "wall_s": round(times[0], 2),
        "cpu_s": round(times[1], 2),
        "completed": sum(r[1] == "completed" for r in rows),
        "stopped": sum(r[1] == "stopped" for r in rows),
        "failed": sum(r[1] == "failed" for r in rows),
        "overshoot_epochs": overshoot,
        "per_trial": rows,
    }


def run_tunewise(method: str, seed: int, trials: int, parallel: int, epochs: int | None) -> Record:
    from examples.mlp_digits import train_epochs

    import tunewise as tw

    space, objective = load_task(epochs)
    max_epochs = int(space.static["epochs"])
    command = method.endswith("_cmd")
    method = method.removesuffix("_cmd")
    hyperband = method in ("hyperband", "bohb")
    options: dict[str, Any] = {"strategy": "hyperband" if hyperband else "random"}
    if hyperband:
        options["hyperband"] = {
            "min_resource": MIN_RESOURCE,
            "reduction_factor": REDUCTION_FACTOR,
            "sampler": "bayesian" if method == "bohb" else "random",
        }
    elif method == "median":
        options["early_stopping"] = {"rule": "median", "min_trials": MIN_TRIALS}
    elif method != "random":
        raise ValueError(f"unknown tunewise method {method!r}")
    study = tw.create_study(
        f"es-{method}-{seed}", objective=objective, space=space, storage=None, seed=seed, **options
    )
    try:
        start, cpu = time.perf_counter(), cpu_seconds()
        if command:
            from tunewise.runners.command import CommandRunner
            from tunewise.spec import Limits

            runner = CommandRunner(
                [sys.executable, "-m", "benchmarks._epoch_command"],
                env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])},
            )
            study.run(runner, Limits(max_trials=trials, max_parallel=parallel))
        else:
            study.optimize(train_epochs, max_trials=trials, max_parallel=parallel)
        times = (time.perf_counter() - start, cpu_seconds() - cpu)
        rows = [
            [
                t.number,
                str(t.state),
                _trained(study.runs_dir, t.number) if command else t.last_step or 0,
                t.value,
                _decision_step(t.error) if str(t.state) == "stopped" else None,
            ]
            for t in sorted(study.trials, key=lambda t: t.number)
        ]
        method += "_cmd" if command else ""
        runs_root = study.runs_dir.parent
    finally:
        study.close()
    if runs_root.name.startswith("tunewise-runs-"):  # the in-memory study's temporary folder
        shutil.rmtree(runs_root, ignore_errors=True)
    return summarize(method, seed, trials, parallel, max_epochs, times, rows)


def _trained(runs_dir: Path, number: int) -> int:
    """The last epoch a command trial printed (trained), from its ``stdout.log``."""
    steps = [0]
    log = runs_dir / f"{number:05d}" / "stdout.log"
    for line in log.read_text(errors="replace").splitlines():
        parsed = parse_report_line(line)
        if parsed is not None and parsed[0] is not None:
            steps.append(parsed[0])
    return max(steps)


class _OptunaEpochTrial:
    """``train_epochs``'s trial interface over an Optuna trial."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.pruned = False

    def report(self, value: float, step: int) -> None:
        self.trial.report(value, step)

    def should_stop(self) -> bool:
        self.pruned = bool(self.trial.should_prune())
        return self.pruned


def run_optuna(method: str, seed: int, trials: int, epochs: int | None) -> Record:
    import optuna  # only these rows need it
    from examples.mlp_digits import train_epochs

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, _ = load_task(epochs)
    max_epochs = int(space.static["epochs"])
    if method == "optuna_hyperband":
        pruner: Any = optuna.pruners.HyperbandPruner(
            min_resource=MIN_RESOURCE, max_resource=max_epochs, reduction_factor=REDUCTION_FACTOR
        )
    elif method == "optuna_median":
        pruner = optuna.pruners.MedianPruner(n_startup_trials=MIN_TRIALS, n_warmup_steps=0)
    else:
        raise ValueError(f"unknown Optuna method {method!r}")

    def objective(trial: Any) -> float:
        # The sampler draws a point of the unit cube; tunewise's space decodes it, so both
        # libraries search the same distributions (reverse-log momentum included).
        point = [trial.suggest_float(f"u_{name}", 0.0, 1.0) for name in space.names]
        params = space.with_static(space.decode(point))
        trial.set_user_attr("params", params)
        adapter = _OptunaEpochTrial(trial)
        result = train_epochs(params, adapter)
        if adapter.pruned:
            raise optuna.TrialPruned()
        return float(result["accuracy"])

    study = optuna.create_study(
        # HyperbandPruner picks a trial's bracket from a hash of the study's name and the trial's
        # number: a fixed name makes the run reproducible (Optuna's default name is random).
        study_name=f"es-{method}-{seed}",
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=pruner,
    )
    start, cpu = time.perf_counter(), cpu_seconds()
    study.optimize(objective, n_trials=trials, catch=(ValueError,))
    times = (time.perf_counter() - start, cpu_seconds() - cpu)
    states = {"COMPLETE": "completed", "PRUNED": "stopped", "FAIL": "failed"}
    rows = []
    for t in study.trials:
        curve = t.intermediate_values
        last = max(curve) if curve else 0
        state = states.get(t.state.name, t.state.name.lower())
        value = t.value if state == "completed" else curve.get(last)
        rows.append([t.number, state, last, value, last if state == "stopped" else None])
    return summarize(method, seed, trials, 1, max_epochs, times, rows)


def run_one(job: Record) -> Record:
    method, seed, trials = job["method"], job["seed"], job["trials"]
    if method in OPTUNA_METHODS:
        return run_optuna(method, seed, trials, job.get("epochs"))
    return run_tunewise(method, seed, trials, job["parallel"], job.get("epochs"))


# --- the campaign -----------------------------------------------------------------------------


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def plan(args: argparse.Namespace) -> list[Record]:
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in TUNEWISE_METHODS + OPTUNA_METHODS]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; choose from {TUNEWISE_METHODS}")
    if not args.optuna:
        skipped = [m for m in methods if m in OPTUNA_METHODS]
        if skipped:
            raise SystemExit(f"{skipped} need --optuna")
    elif not any(m in OPTUNA_METHODS for m in methods):
        methods += list(OPTUNA_METHODS)
    jobs = []
    for method in methods:
        counts = [args.trials]
        if method in HYPERBAND_METHODS:
            counts = sorted({args.trials, *args.hyperband_trials})
        for trials in counts:
            for seed in parse_seeds(args.seeds):
                jobs.append(
                    {
                        "method": method,
                        "seed": seed,
                        "trials": trials,
                        "parallel": 1 if method in OPTUNA_METHODS else args.parallel,
                        "epochs": args.epochs,
                    }
                )
    # Longest first, so the side-by-side workers finish together.
    jobs.sort(key=lambda j: -COST.get(j["method"].replace("optuna_", ""), 0.5) * j["trials"])
    return jobs


def launch(job: Record, python: str) -> Record:
    """Run one job in a fresh interpreter (its own process tree); returns its record."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [python, "-m", "benchmarks.early_stopping", "--job", json.dumps(job)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{job} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> Record:
    import platform

    import numpy
    import sklearn

    import tunewise

    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "numpy": numpy.__version__,
        "sklearn": sklearn.__version__,
        "tunewise": getattr(tunewise, "__version__", "?"),
        "load_avg": os.getloadavg()[0],
    }


def _key(r: Record) -> tuple[Any, ...]:
    return (r["method"], r["trials"], r["seed"], r["parallel"], r["max_epochs"])


def campaign(args: argparse.Namespace) -> None:
    jobs = plan(args)
    out_path = Path(args.out)
    if out_path.exists() and not args.rerun:  # go on where an earlier campaign stopped
        done = {_key(r) for r in load_records([args.out])}
        epochs = args.epochs or int(load_task(None)[0].static["epochs"])
        jobs = [j for j in jobs if _key({**j, "max_epochs": epochs}) not in done]
    if args.optuna:
        python = args.optuna_python or sys.executable
        check = subprocess.run([python, "-c", "import optuna"], capture_output=True, check=False)
        if check.returncode != 0:
            raise SystemExit(f"--optuna: {python} cannot import optuna; give --optuna-python")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def work(job: Record) -> Record:
        python = sys.executable
        if job["method"] in OPTUNA_METHODS and args.optuna_python:
            python = args.optuna_python
        record = launch(job, python)
        record["machine"] = machine()
        record["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with out_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(
            f"[{time.perf_counter() - started:6.0f}s] {record['method']:<17} "
            f"{record['trials']:>3} trials seed {record['seed']}: best {record['best']} "
            f"epochs {record['epochs']} wall {record['wall_s']}s cpu {record['cpu_s']}s",
            file=sys.stderr,
            flush=True,
        )
        return record

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        list(pool.map(work, jobs))
    print(f"{len(jobs)} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)


# --- the report -------------------------------------------------------------------------------


def load_records(paths: Iterable[str]) -> list[Record]:
    """All records, the last one kept when a (method, trials, seed, setting) was run twice."""
    latest: dict[tuple, Record] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                latest[_key(r)] = r
    return list(latest.values())


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def _prefix(rows: list[list], k: int, at_decision: bool = False) -> tuple[float | None, int]:
    """Best full-budget value and epochs of a run's first ``k`` trials (``at_decision``: had
    every stopped trial ended at the epoch its stop was decided)."""
    first = [r for r in rows if r[0] < k]
    full = [r[3] for r in first if r[1] == "completed" and r[3] is not None]
    epochs = sum(r[4] if at_decision and r[4] is not None else r[2] for r in first)
    return (max(full) if full else None), epochs


def report(records: list[Record], trials: int) -> str:
    """The Markdown tables and the targets' verdicts."""
    groups: dict[tuple[str, int], list[Record]] = {}
    for r in sorted(records, key=lambda r: r["seed"]):
        groups.setdefault((r["method"], r["trials"]), []).append(r)
    base = {r["seed"]: r for r in groups.get(("random", trials), [])}
    if not base:
        return "no full-budget random runs to compare with"
    base_best = statistics.median(r["best"] for r in base.values())
    base_epochs = statistics.median(r["epochs"] for r in base.values())
    order = [*TUNEWISE_METHODS, *OPTUNA_METHODS]
    lines = [
        "| method | trials | seeds | median best acc | IQR | median total epochs | "
        "epochs vs random | vs random, at the decisions | stopped / failed per run | wall s | "
        "CPU s |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    summary: dict[tuple[str, int], dict[str, float]] = {}
    for key in sorted(groups, key=lambda k: (order.index(k[0]), k[1])):
        runs = sorted(groups[key], key=lambda r: r["seed"])
        bests = [r["best"] for r in runs if r["best"] is not None]
        q1, med, q3 = _quartiles(bests)
        epochs = statistics.median(r["epochs"] for r in runs)
        ratios = [r["epochs"] / base[r["seed"]]["epochs"] for r in runs if r["seed"] in base]
        ratio = statistics.median(ratios) if ratios else float("nan")
        # Had each stopped trial ended at the epoch its stop was decided (tunewise's trials
        # may train on until they see the verdict).
        decided = [
            (r["epochs"] - r["overshoot_epochs"]) / base[r["seed"]]["epochs"]
            for r in runs
            if r["seed"] in base
        ]
        at_decision = statistics.median(decided) if decided else float("nan")
        stopped = statistics.median(r["stopped"] for r in runs)
        failed = statistics.median(r["failed"] for r in runs)
        wall = statistics.median(r["wall_s"] for r in runs)
        cpu_text = (
            f"{statistics.median(r['cpu_s'] for r in runs):.0f}"
            if all("cpu_s" in r for r in runs)
            else "-"
        )
        summary[key] = {"best": med, "ratio": ratio}
        lines.append(
            f"| {key[0]} | {key[1]} | {len(runs)} | {med:.4f} | {q1:.4f}-{q3:.4f} | "
            f"{epochs:.0f} | {ratio:.3f} | {at_decision:.3f} | {stopped:.0f} / {failed:.0f} | "
            f"{wall:.0f} | {cpu_text} |"
        )
    lines += ["", f"random, {trials} trials: median best {base_best:.4f}, {base_epochs:.0f} epochs"]

    for method in HYPERBAND_METHODS:
        longest = max((k[1] for k in groups if k[0] == method), default=None)
        if longest is None:
            continue
        runs = [r for r in groups[(method, longest)] if r["seed"] in base and r["parallel"] == 1]
        if not runs:
            continue
        lines += [
            "",
            f"{method}: the first k trials of the {longest}-trial runs "
            "(with one trial at a time, exactly a k-trial run)",
            "",
            "| k | median best acc | median epochs vs random |",
            "|---:|---:|---:|",
        ]
        for k in range(trials, longest + 1, 10):
            pairs = [_prefix(r["per_trial"], k) for r in runs]
            bests = [b for b, _ in pairs if b is not None]
            ratio = statistics.median(
                e / base[r["seed"]]["epochs"] for (_, e), r in zip(pairs, runs, strict=True)
            )
            mark = " (reaches random)" if bests and statistics.median(bests) >= base_best else ""
            best_text = f"{statistics.median(bests):.4f}" if bests else "-"
            lines.append(f"| {k} | {best_text}{mark} | {ratio:.2f} |")
        # The budget of the target: a third of random's epochs, seed by seed.
        for at_decision in (False, True):
            if at_decision and not any(r["overshoot_epochs"] for r in runs):
                continue
            within = []
            for r in runs:
                budget = base[r["seed"]]["epochs"] / 3
                k = max(
                    (
                        n
                        for n in range(1, longest + 1)
                        if _prefix(r["per_trial"], n, at_decision)[1] <= budget
                    ),
                    default=0,
                )
                within.append((k, _prefix(r["per_trial"], k)[0]))
            reached = [b for _, b in within if b is not None]
            if not reached:
                continue
            best_third = statistics.median(reached)
            ks = [k for k, _ in within]
            lines += [
                "",
                "within a third of random's epochs (seed by seed"
                + (
                    ", counting stopped trials to the epoch of their decision"
                    if at_decision
                    else ""
                )
                + f"): the first {statistics.median(ks):.0f} trials (median; {min(ks)}-{max(ks)}),"
                f" median best {best_third:.4f} ({100 * (best_third - base_best):+.2f} pp vs "
                "random's median best; per seed vs that seed's random best: "
                + ", ".join(
                    f"{100 * (b - base[r['seed']]['best']):+.2f}" if b is not None else "-"
                    for (_, b), r in zip(within, runs, strict=True)
                )
                + " pp)",
            ]
        actual = {r["seed"]: r for r in groups.get((method, trials), [])}
        checked = [(r, actual[r["seed"]]) for r in runs if r["seed"] in actual]
        if checked and longest != trials:
            same = sum(
                _prefix(r["per_trial"], trials)[0] == a["best"]
                and [row[:2] for row in r["per_trial"][:trials]]
                == [row[:2] for row in a["per_trial"]]
                for r, a in checked
            )
            lines += [
                "",
                f"check: the first {trials} trials of the {longest}-trial runs have the states "
                f"and best of the {trials}-trial runs on {same} of {len(checked)} seeds",
            ]

    lines.append("")
    for method in ("hyperband", "bohb", "optuna_hyperband", "hyperband_cmd"):
        if (method, trials) in summary:
            s = summary[(method, trials)]
            met = s["best"] >= base_best and s["ratio"] <= 1 / 3
            lines.append(
                f"{method} @ {trials}: median best {s['best']:.4f} vs random {base_best:.4f} "
                f"({100 * (s['best'] - base_best):+.2f} pp), epochs {s['ratio']:.2f} of random: "
                f"target {'met' if met else 'not met'}"
            )
    for method in ("median", "optuna_median", "median_cmd"):
        if (method, trials) in summary:
            s = summary[(method, trials)]
            loss = 100 * (base_best - s["best"])
            paired = [
                100 * (base[r["seed"]]["best"] - r["best"])
                for r in groups[(method, trials)]
                if r["seed"] in base and r["best"] is not None
            ]
            met = 1 - s["ratio"] >= 0.30 and loss <= 0.5
            lines.append(
                f"{method} @ {trials}: saves {100 * (1 - s['ratio']):.0f}% of the epochs, "
                f"best {loss:+.2f} pp below random (per seed: "
                f"{', '.join(f'{p:+.2f}' for p in paired)}): target {'met' if met else 'not met'}"
            )
    for (method, n), runs in sorted(groups.items()):
        over = [r["overshoot_epochs"] for r in runs]
        if method in TUNEWISE_METHODS and any(over):
            total = statistics.median(r["epochs"] for r in runs)
            lines.append(
                f"{method} @ {n}: median {statistics.median(over):.1f} epochs per run "
                f"({100 * statistics.median(over) / total:.1f}% of its epochs) trained after the "
                "stop was decided (the trial saw should_stop() late)"
            )
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.early_stopping", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,7")
    parser.add_argument("--out", default="/tmp/es.jsonl", help="JSON lines, appended to")
    parser.add_argument("--methods", default=",".join(TUNEWISE_METHODS))
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument(
        "--hyperband-trials",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[80],
        help="further trial counts for the hyperband rows (the longest gives the k-trial table)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="default: the spec's (27)")
    parser.add_argument("--parallel", type=int, default=1, help="max_parallel of tunewise runs")
    parser.add_argument("--workers", type=int, default=2, help="runs side by side")
    parser.add_argument("--optuna", action="store_true", help="add Optuna's pruners (needs optuna)")
    parser.add_argument("--optuna-python", default=None, help="interpreter with optuna installed")
    parser.add_argument("--report", action="store_true", help="only report on --out")
    parser.add_argument(
        "--rerun", action="store_true", help="run again the runs --out already records"
    )
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        print(json.dumps(run_one(json.loads(args.job))))
        return 0
    if not args.report:
        campaign(args)
    print(report(load_records([args.out]), args.trials))
    return 0


if __name__ == "__main__":
    sys.exit(main())
