"""``train_epochs`` as a command trial: the early-stopping benchmark's ``*_cmd`` rows.

Reads the hyperparameters from ``hyperparameters.json`` (``TUNEWISE_PARAMS_FILE``), trains
epoch by epoch and prints one ``@tunewise`` line per epoch (``tunewise.report`` outside a
Python trial). It never asks whether to stop: as any script the command runner runs, it is
stopped by SIGTERM, so the epochs it trains after the decision measure how fast that comes.
"""

from __future__ import annotations

import json
import os

from examples.mlp_digits import train_epochs

import tunewise


class _PrintedTrial:
    def report(self, value: float, step: int) -> None:
        tunewise.report(step=step, accuracy=value)

    def should_stop(self) -> bool:
        return False


if __name__ == "__main__":
    if "TUNEWISE_PARAMS_FILE" in os.environ:
        with open(os.environ["TUNEWISE_PARAMS_FILE"]) as file:
            params = json.load(file)
    else:  # tunewise before TUNEWISE_PARAMS_FILE (to measure the code before a change)
        params = json.loads(os.environ["TUNEWISE_PARAMS"])
    train_epochs(params, _PrintedTrial())
