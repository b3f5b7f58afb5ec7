"""Tune a PyTorch MLP on the digits data set with Hyperband: plain PyTorch, one report an epoch.

The main job (``examples/mlp_digits.yaml``, scikit-learn's MLP) written as most people write a
network: a ``torch.nn.Sequential``, an optimizer, a loop over epochs. After each epoch the
trial reports its validation accuracy (``trial.report(accuracy, epoch)``) and returns when
Hyperband stops it. From the repository root::

    tunewise run examples/pytorch_digits.yaml         # the spec: 40 trials, 2 at a time
    python -m examples.pytorch_digits --trials 12     # the same study from Python

It runs on the GPU it is given, or on the CPU: each trial picks
``torch.device("cuda" if torch.cuda.is_available() else "cpu")`` in its own process, so a
scheduler that sets ``CUDA_VISIBLE_DEVICES`` per trial spreads trials over GPUs. Each trial
prints ``device=cuda:0 CUDA_VISIBLE_DEVICES=2 name=...`` to its ``stdout.log`` and records
``gpu`` (1 on a GPU, 0 on the CPU) and ``visible_device`` (the one device of
``CUDA_VISIBLE_DEVICES``, -1 when unset or several) with its metrics. CUDA is touched only
inside the trial, never at import: trials are forked from the driver, and CUDA initialised
before a fork cannot be used after it.

Needs ``pip install 'tunewise[torch]'`` (PyTorch and scikit-learn, for the data).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

try:
    import torch
except ImportError as exc:  # at import, so `tunewise run` says it before the first trial
    raise ImportError("this example needs PyTorch: pip install 'tunewise[torch]'") from exc

import tunewise as tw

SEED = 0
VALID_SIZE = 0.25
#: CPU threads per trial: two trials share two cores, and these small matrices gain nothing.
THREADS_PER_TRIAL = 1
MAX_EPOCHS = 27  # Hyperband's max_resource: rungs at 1, 3 and 9 epochs with factor 3

_digits = load_digits()
_x_train, _x_valid, _y_train, _y_valid = train_test_split(
    (_digits.data / 16.0).astype(np.float32),  # pixels are 0..16
    _digits.target.astype(np.int64),
    test_size=VALID_SIZE,
    stratify=_digits.target,
    random_state=SEED,
)

SPACE: dict[str, tw.Float | tw.Int | tw.Categorical] = {
    "lr": tw.Float(1e-3, 0.5, scale="log"),
    "momentum": tw.Float(0.5, 0.99, scale="reverse_log"),
    "hidden_layers": tw.Int(1, 3),
    "nodes_per_layer": tw.Int(16, 256, scale="log"),
    "batch_size": tw.Categorical([32, 64, 128, 256]),
    "weight_decay": tw.Float(1e-6, 1e-2, scale="log"),
    "dropout": tw.Float(0.0, 0.5),
}


class EpochTrial(Protocol):
    """What ``train`` uses of its trial (the Python runner's trial context has it)."""

    def report(self, value: float, step: int) -> Any: ...

    def should_stop(self) -> bool: ...


def pick_device() -> torch.device:
    """The GPU this process was given (``CUDA_VISIBLE_DEVICES``), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_metrics(device: torch.device) -> dict[str, float]:
    """Which device a trial used, as numbers a trial can record; printed as one line too."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    index = device.index if device.index is not None else 0
    shown = f"{device.type}:{index}" if device.type == "cuda" else "cpu"
    print(f"device={shown} CUDA_VISIBLE_DEVICES={visible} name={name}", flush=True)
    single = visible is not None and visible.strip().isdigit()
    return {
        "gpu": 1.0 if device.type == "cuda" else 0.0,
        "visible_device": float(int(visible)) if single and visible is not None else -1.0,
    }


def build_model(params: Mapping[str, Any]) -> torch.nn.Sequential:
    """64 inputs, ``hidden_layers`` x ``nodes_per_layer`` ReLU units with dropout, 10 outputs."""
    layers: list[torch.nn.Module] = []
    width = _x_train.shape[1]
    for _ in range(int(params.get("hidden_layers", 1))):
        nodes = int(params.get("nodes_per_layer", 64))
        layers += [
            torch.nn.Linear(width, nodes),
            torch.nn.ReLU(),
            torch.nn.Dropout(float(params.get("dropout", 0.0))),
        ]
        width = nodes
    layers.append(torch.nn.Linear(width, 10))
    return torch.nn.Sequential(*layers)


def train(params: Mapping[str, Any], trial: EpochTrial | None = None) -> dict[str, float]:
    """Train for ``params["epochs"]`` epochs, reporting validation accuracy after each one.

    With a ``trial`` (a Python trial), ``trial.report(accuracy, epoch)`` then
    ``trial.should_stop()`` every epoch; without one (a command, a plain call), the reports go
    out through ``tunewise.report``. Returns the last accuracy with ``epochs_run``, the
    seconds spent and the device metrics.
    """
    epochs = int(params.get("epochs", MAX_EPOCHS))
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    device = pick_device()
    if device.type == "cpu":
        torch.set_num_threads(THREADS_PER_TRIAL)
    where = device_metrics(device)
    torch.manual_seed(int(params.get("seed", SEED)))
    shuffle = torch.Generator().manual_seed(int(params.get("seed", SEED)))
    x_train, y_train = torch.from_numpy(_x_train).to(device), torch.from_numpy(_y_train).to(device)
    x_valid, y_valid = torch.from_numpy(_x_valid).to(device), torch.from_numpy(_y_valid).to(device)
    model = build_model(params).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=float(params.get("lr", 0.05)),
        momentum=float(params.get("momentum", 0.9)),
        weight_decay=float(params.get("weight_decay", 0.0)),
        nesterov=float(params.get("momentum", 0.9)) > 0,
    )
    batch_size = int(params.get("batch_size", 64))
    start = time.perf_counter()
    accuracy, epoch = 0.0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=shuffle).to(device)
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_train[rows]), y_train[rows])
            if not torch.isfinite(loss):
                raise ValueError(
                    f"training diverged (loss {loss.item()}) at epoch {epoch}; "
                    f"lr={params.get('lr')}, momentum={params.get('momentum')}"
                )
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_valid).argmax(dim=1) == y_valid).float().mean().item()
        if trial is None:
            tw.report(step=epoch, accuracy=accuracy)
        else:
            trial.report(accuracy, epoch)
            if trial.should_stop():
                break
    return {
        "accuracy": accuracy,
        "epochs_run": float(epoch),
        "fit_seconds": time.perf_counter() - start,
        **where,
    }


def create_study(
    name: str = "pytorch-digits",
    storage: str | None = None,
    max_epochs: int = MAX_EPOCHS,
    seed: int = 7,
) -> tw.Study:
    """The spec's study from Python: Hyperband over ``SPACE`` with ``epochs`` as resource."""
    return tw.create_study(
        name,
        objective=tw.Objective("accuracy", "maximize"),
        space=SPACE,
        strategy="hyperband",
        hyperband={"min_resource": 1, "reduction_factor": 3},
        static={"epochs": max_epochs},
        storage=storage,
        seed=seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m examples.pytorch_digits``: run the study, print the best trial."""
    parser = argparse.ArgumentParser(prog="python -m examples.pytorch_digits", description=__doc__)
    parser.add_argument("--trials", type=int, default=12, help="trials to run (default 12)")
    parser.add_argument("--parallel", type=int, default=2, help="trials at once (default 2)")
    parser.add_argument("--epochs", type=int, default=MAX_EPOCHS, help="max epochs (27)")
    parser.add_argument("--storage", default=None, help="e.g. sqlite:///tunewise.db (memory)")
    parser.add_argument("--study", default="pytorch-digits", help="the study's name")
    args = parser.parse_args(argv)
    study = create_study(args.study, args.storage, args.epochs)
    study.optimize(train, n_trials=args.trials, max_parallel=args.parallel, progress=False)
    trials = study.trials
    stopped = sum(t.state is tw.TrialState.STOPPED for t in trials)
    epochs = sum(int(t.metrics.get("epochs_run", 0)) for t in trials)
    on_gpu = sum(t.metrics.get("gpu", 0.0) == 1.0 for t in trials)
    best = study.best_trial
    print(
        f"trials: {len(trials)} ({stopped} stopped by Hyperband), {epochs} epochs in all, "
        f"{on_gpu} on a GPU"
    )
    print(f"best: accuracy {best.value:.4f} (trial {best.number}) with {best.params}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
