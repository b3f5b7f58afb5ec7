"""The main job (``make demo``: ``examples/mlp_digits.yaml``) with the default strategy against
random search, over several seeds.

    python -m benchmarks.main_job --seeds 0-4 --out /tmp/tunewise-bench/main_job.md

Each seed runs the spec twice through ``tunewise run`` (the same CLI as ``make demo``) in a
temporary store: once as written (no strategy named, so the default, ``bayesian``), once with
``strategy: random``. Reported: the best 3-fold CV accuracy the study found and the held-out
test accuracy of its best configuration, the mean over a few initial weights
(``examples.mlp_digits.compare``'s figure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "mlp_digits.yaml"


def run_job(strategy: str | None, seed: int, folder: Path) -> tuple[float, float]:
    """Best CV accuracy and mean held-out accuracy of one run of the main job."""
    from examples.mlp_digits import HELD_OUT_INITS, held_out_accuracies

    import tunewise as tw

    text = SPEC.read_text()
    if strategy is not None:
        text = text.replace("space:\n", f"strategy: {strategy}\nspace:\n", 1)
    name = f"mlp-digits-{strategy or 'default'}-{seed}"
    spec = folder / f"{name}.yaml"
    spec.write_text(text.replace("runs_dir:", "# runs_dir:"))
    storage = f"sqlite:///{folder / 'runs.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
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
    study = tw.load_study(name, storage=storage)
    best = study.best_trial
    assert best.value is not None
    return best.value, statistics.mean(
        held_out_accuracies({**study.static, **best.params}, HELD_OUT_INITS)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0-4", help="e.g. 0-4")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    low, _, high = args.seeds.partition("-")
    seeds = range(int(low), int(high or low) + 1)
    rows = [
        "| seed | CV accuracy, random | CV accuracy, bayesian | held-out, random "
        "| held-out, bayesian |",
        "|---:|---:|---:|---:|---:|",
    ]
    gains: list[float] = []
    held: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            r_cv, r_test = run_job("random", seed, Path(tmp))
            b_cv, b_test = run_job(None, seed, Path(tmp))
            gains.append(b_cv - r_cv)
            held.append(b_test - r_test)
            rows.append(f"| {seed} | {r_cv:.4f} | {b_cv:.4f} | {r_test:.4f} | {b_test:.4f} |")
            print(rows[-1], flush=True)
    rows.append(
        f"\nMean gain of the default over random: CV accuracy {statistics.mean(gains):+.4f} "
        f"(better on {sum(g > 0 for g in gains)} of {len(gains)} seeds), held-out accuracy "
        f"{statistics.mean(held):+.4f}."
    )
    table = "\n".join(rows)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
