"""One GPU per trial, checked on a machine that has GPUs: the PyTorch digits example
(``examples/pytorch_digits.py``) with 4 trials at once, each asking ``resources_per_trial:
{gpu: 1}``.

It checks that every trial saw exactly one device (``CUDA_VISIBLE_DEVICES``), that it is the
one tunewise recorded with the trial, that the trial trained on it (``cuda``), and that no two
trials that ran at the same time shared a device. Then it runs the same configurations on the
CPU (one at a time) and reports the time per trial on each.

    python -m benchmarks.gpu_check [--trials 4] [--parallel 4] [--epochs 10]

Exit codes: 0 every check held, 1 a check failed, 2 this machine has no GPU (NVML and
``nvidia-smi`` found none) or PyTorch is missing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
from typing import Any

import tunewise as tw
from tunewise.devices import DEVICES_ATTR, discover_gpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__)
    parser.add_argument("--trials", type=int, default=4, help="trials on the GPUs (default 4)")
    parser.add_argument("--parallel", type=int, default=4, help="trials at once (default 4)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial (default 10)")
    parser.add_argument("--skip-cpu", action="store_true", help="no CPU run to compare with")
    args = parser.parse_args(argv)

    gpus = discover_gpus()
    if not gpus:
        print(
            "gpu_check: this machine has no GPU (NVML and nvidia-smi found none); run it on a "
            "machine with NVIDIA GPUs and their driver",
            file=sys.stderr,
        )
        return 2
    try:
        from examples import pytorch_digits as example
    except ImportError as exc:
        print(f"gpu_check: {exc}", file=sys.stderr)
        return 2
    print(f"GPUs found: {', '.join(gpus)}; {args.trials} trials, {args.parallel} at once")

    # CUDA is never touched here: trials are forked from this process (see the example).
    gpu_study = _study(example, "gpu-check-gpu", args.epochs)
    gpu_study.optimize(
        example.train,
        n_trials=args.trials,
        max_parallel=args.parallel,
        executor={"type": "local", "resources_per_trial": {"gpu": 1}},
        progress=False,
    )
    trials = sorted(gpu_study.trials, key=lambda t: t.number)
    problems = _check(trials)
    print("\ntrial  state      devices  saw  on_gpu  started   ended     fit_s")
    origin = min(t.started_at for t in trials if t.started_at is not None)
    for t in trials:
        start = (t.started_at - origin).total_seconds() if t.started_at else float("nan")
        end = (t.finished_at - origin).total_seconds() if t.finished_at else float("nan")
        print(
            f"{t.number:<6} {t.state!s:<10} {_devices(t)!s:<8} "
            f"{t.metrics.get('visible_device', float('nan')):<4.0f} "
            f"{t.metrics.get('gpu', 0.0):<7.0f} {start:<9.2f} {end:<9.2f} "
            f"{t.metrics.get('fit_seconds', float('nan')):.2f}"
        )
    most = _most_at_once(trials)
    print(f"\nat most {most} trials ran at once on {len(gpus)} GPU(s)")
    gpu_seconds = [t.metrics["fit_seconds"] for t in trials if "fit_seconds" in t.metrics]

    if not args.skip_cpu and gpu_seconds:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the trials forked from now on see no GPU
        cpu_study = _study(example, "gpu-check-cpu", args.epochs)
        for t in trials:
            cpu_study.enqueue_trial(dict(t.params))
        cpu_study.optimize(example.train, n_trials=len(trials), max_parallel=1, progress=False)
        cpu_seconds = [
            t.metrics["fit_seconds"] for t in cpu_study.trials if "fit_seconds" in t.metrics
        ]
        if any(t.metrics.get("gpu", 0.0) != 0.0 for t in cpu_study.trials):
            problems.append("a CPU trial ran on a GPU with CUDA_VISIBLE_DEVICES empty")
        if cpu_seconds:
            gpu_mean, cpu_mean = statistics.mean(gpu_seconds), statistics.mean(cpu_seconds)
            print(
                f"time per trial ({args.epochs} epochs): GPU {gpu_mean:.2f} s "
                f"({args.parallel} at once), CPU {cpu_mean:.2f} s (one at a time, 1 thread); "
                f"CPU/GPU {cpu_mean / gpu_mean:.2f}x"
            )
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        return 1
    print("\nOK: each trial saw exactly one device, its own while it ran, and trained on it")
    return 0


def _study(example: Any, name: str, epochs: int) -> tw.Study:
    """An in-memory study of the example's space; random search, so every trial runs all its
    epochs (comparable times)."""
    return tw.create_study(
        name,
        objective=tw.Objective("accuracy", "maximize"),
        space=example.SPACE,
        strategy="random",
        static={"epochs": epochs},
        seed=7,
    )


def _devices(trial: tw.Trial) -> str:
    given = trial.user_attrs.get(DEVICES_ATTR)
    return ",".join(map(str, given)) if isinstance(given, list) else "-"


def _check(trials: list[tw.Trial]) -> list[str]:
    """What went wrong: a trial without exactly one device, one that saw another device than
    it was given or trained on the CPU, two trials at once on one device."""
    problems = []
    for t in trials:
        given = t.user_attrs.get(DEVICES_ATTR)
        if t.state != tw.TrialState.COMPLETED:
            problems.append(f"trial {t.number} is {t.state}: {t.error}")
            continue
        if not isinstance(given, list) or len(given) != 1:
            problems.append(f"trial {t.number} was given {given!r}, not exactly one device")
            continue
        if t.metrics.get("visible_device") != float(given[0]):
            problems.append(
                f"trial {t.number} saw CUDA_VISIBLE_DEVICES={t.metrics.get('visible_device')} "
                f"but was given device {given[0]}"
            )
        if t.metrics.get("gpu") != 1.0:
            problems.append(f"trial {t.number} trained on the CPU, not on its GPU")
    for a, b in itertools.combinations(trials, 2):
        if _overlap(a, b) and _devices(a) == _devices(b) and _devices(a) != "-":
            problems.append(f"trials {a.number} and {b.number} shared device {_devices(a)}")
    return problems


def _overlap(a: tw.Trial, b: tw.Trial) -> bool:
    if None in (a.started_at, a.finished_at, b.started_at, b.finished_at):
        return False
    assert a.started_at and a.finished_at and b.started_at and b.finished_at
    return a.started_at < b.finished_at and b.started_at < a.finished_at


def _most_at_once(trials: list[tw.Trial]) -> int:
    points = sorted(
        [(t.started_at, 1) for t in trials if t.started_at and t.finished_at]
        + [(t.finished_at, -1) for t in trials if t.started_at and t.finished_at],
        key=lambda p: (p[0], p[1]),
    )
    most = now = 0
    for _, change in points:
        now += change
        most = max(most, now)
    return most


if __name__ == "__main__":
    sys.exit(main())
