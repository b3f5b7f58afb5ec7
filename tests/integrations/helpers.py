"""The request documents under ``data/`` and what the tests share about them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
#: Realistic CreateHyperParameterTuningJob requests, written from the API reference.
REQUESTS = sorted(p.name for p in DATA.glob("*.json"))


def request(name: str) -> dict[str, Any]:
    """A fresh copy of one request document (tests may change it)."""
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return copy.deepcopy(data)


#: A training script for any of the requests: it takes ``--NAME VALUE`` pairs as SageMaker's
#: script mode passes them, prints its arguments, and prints the metrics in the formats the
#: requests' MetricDefinitions read (Keras' progress line, a scikit-learn score line).
TRAIN_SCRIPT = """\
import json
import math
import sys

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
print("ARGS " + json.dumps(args), flush=True)


def number(name, default):
    try:
        return float(args.get("--" + name, default))
    except ValueError:
        return default


lr = number("learning_rate", 0.01)
accuracy = 0.9 - 0.1 * abs(math.log10(lr) + 2.5) - 0.1 * number("dropout", 0.0)
print(f"Epoch 1/1 - loss: 0.9 - val_loss: {1 - accuracy:.4f} - val_accuracy: {accuracy:.4f}")
f1 = 0.6 + (0.2 if args.get("--kernel") == "rbf" else 0.0) + 0.01 * number("C", 1.0)
print(f"validation f1={f1:.4f}")
"""
