"""``tunewise best`` of a study with several objectives: its feasible Pareto front as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tunewise.study import Study


def print_front(study: Study) -> None:
    """One row per front trial: its number, each objective, each hyperparameter."""
    from tunewise.cli.views import render_table

    front = study.best_trials
    objectives = study.spec.objectives
    goals = ", ".join(f"{o.direction} {o.metric}" for o in objectives)
    if study.spec.constraints:
        goals += "; subject to " + ", ".join(c.describe() for c in study.spec.constraints)
    if not front:
        print(f"no feasible trial completed ({goals})")
        return
    print(f"Pareto front: {len(front)} trial{'s' if len(front) != 1 else ''} ({goals})")
    params = study.space.names
    header = ["trial", *(o.metric for o in objectives), *params]
    rows = [
        [
            t.number,
            *(t.metrics.get(o.metric) for o in objectives),
            *(t.params.get(p) for p in params),
        ]
        for t in front
    ]
    print(render_table(header, rows, max_width=120))
