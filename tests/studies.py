"""Small stored studies that tests of several faces (CLI, server pages) build the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tunewise as tw


def loss_study(
    url: str, name: str, space: Mapping[str, Any], *, strategy: str = "random", seed: int = 1
) -> tw.Study:
    """A new study ``name`` in the store at ``url`` that minimizes the metric ``loss``."""
    return tw.create_study(
        name,
        objective=tw.Objective("loss", "minimize"),
        space=dict(space),
        strategy=strategy,
        seed=seed,
        storage=url,
    )
