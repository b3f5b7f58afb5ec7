"""Per-trial cost of ask + tell as a study grows (it should stay flat).

python -m benchmarks.ask_tell [--storage sqlite:////tmp/asktell.db] [--trials 2000]
"""

from __future__ import annotations

import argparse
import time

import tunewise as tw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--storage", default="sqlite:////tmp/tunewise-asktell.db")
    parser.add_argument("--trials", type=int, default=2000)
    args = parser.parse_args()
    study = tw.create_study(
        f"asktell-{int(time.time())}",
        objective=tw.Objective("value", "minimize"),
        space={"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)},
        strategy="random",
        storage=args.storage,
        seed=0,
    )
    started = time.perf_counter()
    window = started
    for i in range(1, args.trials + 1):
        trial = study.ask()
        study.tell(trial, trial.params["x"])
        if i % 100 == 0:
            now = time.perf_counter()
            print(f"trials {i - 99}-{i}: {(now - window) / 100 * 1000:.1f} ms per ask+tell")
            window = now
    total = time.perf_counter() - started
    print(f"{args.trials} trials in {total:.1f}s ({args.trials / total:.0f}/s)")
    study.close()


if __name__ == "__main__":
    main()
