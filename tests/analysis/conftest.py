"""Frames built from made-up trials, without a store."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import tunewise as tw
from tunewise.analysis import TrialFrame
from tunewise.trial import FailureKind, Trial, TrialState

SPACE = tw.Space(
    {
        "lr": tw.Float(1e-4, 1e-1, scale="log"),
        "layers": tw.Int(1, 4),
        "act": tw.Categorical(["relu", "tanh"]),
    }
)
MINIMIZE = tw.Objective("loss", "minimize")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def trial(number: int, params: dict[str, Any], value: float | None, state: str = "completed",
          **extra: Any) -> Trial:  # fmt: skip
    started = T0 + timedelta(seconds=number)
    return Trial(
        study_id=1,
        number=number,
        state=TrialState(state),
        params=params,
        value=value,
        metrics={} if value is None else {"loss": value},
        failure_kind=FailureKind.USER_ERROR if state == "failed" else None,
        created_at=started,
        started_at=started,
        finished_at=None if state in ("running", "queued") else started + timedelta(seconds=2),
        **extra,
    )


def random_trials(n: int, seed: int, objective: Any = None) -> list[Trial]:
    """Random configurations scored by ``objective(params)`` (default: lr matters most)."""
    rng = random.Random(seed)
    score = objective or (lambda p: (math.log10(p["lr"]) + 2.5) ** 2 + 0.05 * p["layers"])
    out = []
    for i in range(n):
        params = {
            "lr": 10 ** rng.uniform(-4, -1),
            "layers": rng.randint(1, 4),
            "act": rng.choice(["relu", "tanh"]),
        }
        out.append(trial(i, params, score(params) + rng.gauss(0, 0.01)))
    return out


def frame_of(trials: Sequence[Trial], objective: tw.Objective = MINIMIZE) -> TrialFrame:
    return TrialFrame.from_trials(trials, SPACE, objective)


P = {"lr": 0.01, "layers": 2, "act": "relu"}
