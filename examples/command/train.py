"""Train a one-hidden-layer network on the digits data set with mini-batch SGD, in numpy.

A plain training script that knows nothing of tunewise: hyperparameters come in as
command-line flags and each epoch prints one line such as::

    epoch=3 loss=0.4100 val_accuracy=0.9120

which the study spec (``examples/command/spec.yaml``) reads with regular expressions.

    python examples/command/train.py --lr 0.1 --epochs 20 --batch-size 32 --hidden 64
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

VALIDATION_FRACTION = 0.2
DATA_SEED = 0  # the train/validation split never changes between trials


def _positive(kind: type) -> Callable[[str], float]:
    noun = "an integer" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or positive, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lr", type=_positive(float), default=0.1, help="learning rate")
    parser.add_argument("--epochs", type=_positive(int), default=20, help="passes over the data")
    parser.add_argument("--batch-size", type=_positive(int), default=32, help="mini-batch size")
    parser.add_argument("--hidden", type=_positive(int), default=64, help="hidden units")
    parser.add_argument(
        "--weight-decay", type=_non_negative_float, default=1e-4, help="L2 penalty on weights"
    )
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    return parser.parse_args(argv)


def load_digits_array() -> tuple[np.ndarray, np.ndarray]:
    """The digits (pixels 0-16) and their labels, as scikit-learn ships them.

    Reads scikit-learn's data file directly: importing ``sklearn.datasets`` costs more than a
    second, most of a trial this small.
    """
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is None or spec.origin is None:
        raise SystemExit("this example needs scikit-learn for its data: pip install scikit-learn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if not path.exists():  # a scikit-learn that moved its data: take the slow, public way
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.data, digits.target
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int)


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], split once into training and validation sets."""
    pixels, y = load_digits_array()
    x = pixels / 16.0
    order = np.random.default_rng(DATA_SEED).permutation(len(y))
    n_val = int(len(y) * VALIDATION_FRACTION)
    val, tr = order[:n_val], order[n_val:]
    return x[tr], y[tr], x[val], y[val]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    x_tr, y_tr, x_val, y_val = load_data()
    n_in, n_out = x_tr.shape[1], int(y_tr.max()) + 1
    rng = np.random.default_rng(args.seed)
    w1 = rng.normal(0.0, math.sqrt(2.0 / n_in), (n_in, args.hidden))
    b1 = np.zeros(args.hidden)
    w2 = rng.normal(0.0, math.sqrt(2.0 / args.hidden), (args.hidden, n_out))
    b2 = np.zeros(n_out)
    onehot = np.eye(n_out)

    for epoch in range(1, args.epochs + 1):
        total = 0.0
        order = rng.permutation(len(y_tr))
        for start in range(0, len(y_tr), args.batch_size):
            batch = order[start : start + args.batch_size]
            xb, yb = x_tr[batch], onehot[y_tr[batch]]
            h = np.maximum(xb @ w1 + b1, 0.0)
            p = _softmax(h @ w2 + b2)
            total += -np.log(np.clip(p[yb == 1], 1e-12, None)).sum()  # summed cross-entropy
            g = (p - yb) / len(batch)  # gradient of mean cross-entropy w.r.t. logits
            gh = (g @ w2.T) * (h > 0)
            w2 -= args.lr * (h.T @ g + args.weight_decay * w2)
            b2 -= args.lr * g.sum(axis=0)
            w1 -= args.lr * (xb.T @ gh + args.weight_decay * w1)
            b1 -= args.lr * gh.sum(axis=0)
        loss = total / len(y_tr)
        if not math.isfinite(loss):
            print(f"epoch={epoch} training diverged; lower --lr", file=sys.stderr)
            return 1
        h_val = np.maximum(x_val @ w1 + b1, 0.0)
        accuracy = float(((h_val @ w2 + b2).argmax(axis=1) == y_val).mean())
        print(f"epoch={epoch} loss={loss:.4f} val_accuracy={accuracy:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
