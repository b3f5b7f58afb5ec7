"""Reproduce tunewise's benchmark table: its strategies against the peers on the public problems.

    python -m benchmarks.run                      # everything below, about 40 minutes on 2 cores
    python -m benchmarks.run --quick              # 3 seeds, synthetic problems only: a smoke run
    python -m benchmarks.run --peers gp,tpe       # also re-run these peers instead of reusing
                                                  # the stored runs in bench/results/

Steps, all through the shared ``bench`` harness (``--bench``, default ``../shared``; it must
contain ``bench/``), with its own Python (``--python``, default ``/tmp/bench-venv/bin/python``,
set up as ``bench/README.md`` says):

1. sample efficiency: ``tw_bayesian`` and ``tw_tpe`` (plus ``tw_random``) on the four public
   synthetic problems (seeds 0-9, budget 100) and on ``hgb_breast_cancer`` (seeds 0-4, budget
   50: the peers' protocol, see ``BASELINES.md``);
   and on the conditional family (``public-conditional``: ``cond_synthetic`` and
   ``cash_breast_cancer``, seeds 0-4, budget 100, the peers' protocol in ``FAMILIES.md``;
   ``--quick``: ``cond_synthetic`` on 3 seeds; ``--skip-conditional`` leaves it out);
2. parallel: ``bayesian`` with 4 trials running at once (:mod:`benchmarks.parallel`) on the
   synthetic problems, against the sequential runs of step 1;
3. overhead: suggestion time as the history grows to 1,000 trials on the 6-D hartmann6
   (``bench.overhead``, one single-threaded process per optimizer);
4. the reports, next to the raw JSON lines in ``--out``: ``report.md`` (``bench.report`` over
   the stored peer runs and tunewise's) and ``report-bayesian.md`` (the peers and
   ``tw_bayesian`` alone, so that the peers' ranks are those of ``BASELINES.md`` plus one).

Peers are an optional extra: they run in the harness's environment, never in tunewise's.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADAPTERS = {
    "tw_bayesian": "benchmarks.bench_adapter:BayesianOptimizer",
    "tw_tpe": "benchmarks.bench_adapter:TPEOptimizer",
    "tw_random": "benchmarks.bench_adapter:RandomOptimizer",
}


def _harness(python: str, bench: Path, module: str, args: Sequence[str]) -> None:
    path = [str(ROOT), str(ROOT / "src"), str(bench)]  # tunewise need not be installed there
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    command = [python, "-m", module, *args]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=bench, env=env, check=True)


def _adapter_args(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name in ADAPTERS:
            out += ["--adapter", f"{name}={ADAPTERS[name]}"]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", default=str(ROOT.parent / "shared"), help="folder with bench/")
    parser.add_argument("--python", default="/tmp/bench-venv/bin/python")
    parser.add_argument("--out", default="/tmp/tunewise-bench", help="results folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3 seeds, synthetic problems only")
    parser.add_argument("--peers", default="", help="peers to re-run, e.g. gp,tpe (optional)")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-parallel", action="store_true")
    parser.add_argument("--skip-conditional", action="store_true")
    args = parser.parse_args(argv)

    bench = Path(args.bench).resolve()
    if not (bench / "bench").is_dir():
        parser.error(f"--bench: {bench} has no bench/ folder; point it at the shared harness")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    runs = str(out / "tunewise.jsonl")
    seeds = "0-2" if args.quick else "0-9"
    ours = ["tw_bayesian", "tw_tpe", "tw_random"]
    peers = [p for p in args.peers.split(",") if p]
    common = ["--workers", str(args.workers), "--out", runs]

    synthetic = ours + peers
    _harness(
        args.python,
        bench,
        "bench.run",
        [
            *("--problems", "public-synthetic", "--optimizers", ",".join(synthetic)),
            *_adapter_args(synthetic),
            *("--seeds", seeds, "--budget", "100", *common),
        ],
    )
    if not args.quick:
        ml = ours + peers
        _harness(
            args.python,
            bench,
            "bench.run",
            [
                *("--problems", "hgb_breast_cancer", "--optimizers", ",".join(ml)),
                *_adapter_args(ml),
                *("--seeds", "0-4", "--budget", "50", *common),
            ],
        )
    if not args.skip_conditional:
        conditional = ours + peers
        _harness(
            args.python,
            bench,
            "bench.run",
            [
                *("--problems", "cond_synthetic" if args.quick else "public-conditional"),
                *("--optimizers", ",".join(conditional), *_adapter_args(conditional)),
                *("--seeds", "0-2" if args.quick else "0-4", "--budget", "100", *common),
            ],
        )
    if not args.skip_overhead and not args.quick:
        timed = ["tw_bayesian", "tw_tpe"]
        _harness(
            args.python,
            bench,
            "bench.overhead",
            [
                *("--optimizers", ",".join(timed), *_adapter_args(timed), "--skip-storage"),
                *("--n", "1000", "--max-seconds", "600", "--workers", "1"),
                *("--out", str(out / "overhead.json")),
            ],
        )
    if not args.skip_parallel:
        _harness(
            args.python,
            bench,
            "benchmarks.parallel",
            [
                *("--sequential", runs, "--seeds", "3" if args.quick else "10"),
                *("--workers", str(args.workers), "--out", str(out / "parallel.md")),
            ],
        )
    stored = sorted(glob.glob(str(bench / "bench" / "results" / "peers-*.jsonl")))
    _harness(
        args.python,
        bench,
        "bench.report",
        [*stored, runs, "--exclude", "tpe_mv", "--out", str(out / "report.md")],
    )
    _harness(
        args.python,
        bench,
        "bench.report",
        [
            *stored,
            runs,
            "--exclude",
            "tpe_mv,tw_tpe,tw_random",
            "--out",
            str(out / "report-bayesian.md"),
        ],
    )
    print(f"report: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
