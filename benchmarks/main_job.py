"""The main job (``make demo``: ``examples/mlp_digits.yaml``): does tuning beat scikit-learn's
default ``MLPClassifier()`` on held-out digits, by more than the noise, over study seeds?

    python -m benchmarks.main_job --seeds 0-4 --out /tmp/tunewise-bench/main_job.md

Each seed runs the spec through ``tunewise run`` (the same CLI as ``make demo``) in a temporary
store, with ``--seed``; ``--strategy random`` runs it with ``strategy: random`` instead of the
default. The best configuration is then fitted on the whole training split with ``--inits``
initial weights (``random_state`` 0, 1, ...), as ``examples.mlp_digits compare`` does, and so
are the defaults. Reported per seed: the best trial's objective (CV log loss), the held-out mean
over initial weights, its difference from the defaults' mean and the demo's verdict line; over
all seeds: the mean difference with a 95% bootstrap interval that resamples the seeds, each
seed's initial weights and the defaults' initial weights (so it holds both the search's luck and
the starts' luck), and the study's CPU and wall-clock seconds. The data is the demo's own
(``examples.mlp_digits``: noisy training labels, held-out digits with their true labels).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "mlp_digits.yaml"


@dataclass(frozen=True)
class JobResult:
    """One seed's run: the best trial's objective and its held-out accuracies per start."""

    seed: int
    cv: float
    held_out: list[float]
    wall_s: float
    cpu_s: float
    params: dict[str, object]


def run_job(
    spec_path: Path, strategy: str | None, seed: int, folder: Path, inits: int
) -> JobResult:
    """Run the main job once through the CLI; held-out accuracies of its best configuration."""
    from examples.mlp_digits import held_out_accuracies

    import tunewise as tw

    text = spec_path.read_text()
    if strategy is not None:
        text = text.replace("space:\n", f"strategy: {strategy}\nspace:\n", 1)
    name = f"mlp-digits-{strategy or 'default'}-{seed}"
    spec = folder / f"{name}.yaml"
    spec.write_text(text.replace("runs_dir:", "# runs_dir:"))
    storage = f"sqlite:///{folder / 'runs.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [
            *(sys.executable, "-m", "tunewise.cli.main", "run", str(spec)),
            *("--storage", storage, "--seed", str(seed), "--study", name),
        ],
        cwd=folder,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    study = tw.load_study(name, storage=storage)
    best = study.best_trial
    assert best.value is not None
    held = held_out_accuracies({**study.static, **best.params}, inits)
    return JobResult(seed, float(best.value), held, wall, cpu, dict(best.params))


def bootstrap_interval(
    tuned: Sequence[Sequence[float]],
    default: Sequence[float],
    reps: int = 10_000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of (each seed's tuned mean - the defaults' mean) with its 95% bootstrap interval.

    Each replicate resamples the study seeds, then each drawn seed's initial weights, and the
    defaults' initial weights, all with replacement: the interval holds the search's luck (which
    configuration a seed found) and the starts' luck on both sides.
    """
    rng = np.random.default_rng(seed)
    rows = [np.asarray(row, dtype=float) for row in tuned]
    base = np.asarray(default, dtype=float)
    point = float(np.mean([row.mean() for row in rows]) - base.mean())
    draws = np.empty(reps)
    for rep in range(reps):
        picked = rng.integers(len(rows), size=len(rows))
        means = [rng.choice(rows[i], size=len(rows[i])).mean() for i in picked]
        draws[rep] = np.mean(means) - rng.choice(base, size=len(base)).mean()
    low, high = np.percentile(draws, [2.5, 97.5])
    return point, float(low), float(high)


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-4", help="study seeds, e.g. 0-4")
    parser.add_argument("--inits", type=int, default=5, help="initial weights per configuration")
    parser.add_argument("--spec", type=Path, default=SPEC, help="the spec to run")
    parser.add_argument("--strategy", default=None, help="run with this strategy instead")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)

    from examples.mlp_digits import held_out_accuracies, verdict

    low, _, high = args.seeds.partition("-")
    seeds = range(int(low), int(high or low) + 1)
    default = held_out_accuracies({}, args.inits)
    rows = [
        f"The defaults (`MLPClassifier()`), held-out over {args.inits} initial weights: "
        f"{statistics.mean(default):.4f} [{min(default):.4f}, {max(default):.4f}]",
        "",
        "| seed | best CV objective | held-out, tuned (mean [min, max]) | tuned - default "
        "| study wall s | study CPU s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    results: list[JobResult] = []
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            job = run_job(args.spec, args.strategy, seed, Path(tmp), args.inits)
            results.append(job)
            held = job.held_out
            rows.append(
                f"| {seed} | {job.cv:.4f} | {statistics.mean(held):.4f} "
                f"[{min(held):.4f}, {max(held):.4f}] "
                f"| {statistics.mean(held) - statistics.mean(default):+.4f} "
                f"| {job.wall_s:.0f} | {job.cpu_s:.0f} |"
            )
            found = ", ".join(f"{k}={_short(v)}" for k, v in sorted(job.params.items()))
            verdicts.append(f"seed {seed}: {verdict(held, default)}; best {found}")
            print(rows[-1], "\n  ", verdicts[-1], flush=True)
    point, lo, hi = bootstrap_interval([r.held_out for r in results], default)
    wins = sum("tuning wins" in line for line in verdicts)
    rows.append(
        f"\nOver {len(results)} seeds x {args.inits} initial weights: tuned - default on "
        f"held-out digits {point:+.4f}, 95% bootstrap interval [{lo:+.4f}, {hi:+.4f}]"
        f" ({'beyond' if lo > 0 or hi < 0 else 'within'} the noise); the demo's verdict says "
        f"tuning wins on {wins} of {len(results)} seeds. Study: "
        f"{statistics.mean(r.wall_s for r in results):.0f} s wall, "
        f"{statistics.mean(r.cpu_s for r in results):.0f} s CPU on average."
    )
    rows.extend(["", *verdicts])
    table = "\n".join(rows)
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
