"""``benchmarks.parallel``'s reading of the sequential runs: the regret traces it takes from a
``bench.run`` file, and the cost of running trials at once counted in sequential trials."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.parallel import sequential_traces, trials_to_reach


def test_the_cost_is_the_first_trial_where_the_sequential_median_is_down_to_the_regret() -> None:
    traces = [[9.0, 5.0, 3.0, 1.0], [8.0, 6.0, 2.0, 2.0], [7.0, 7.0, 4.0, 0.0]]  # medians 8 6 3 1
    assert trials_to_reach(traces, 8.0) == 1
    assert trials_to_reach(traces, 6.0) == 2
    assert trials_to_reach(traces, 5.9) == 3
    assert trials_to_reach(traces, 0.5) is None  # never reached within the traces


def test_sequential_traces_are_regrets_of_the_optimizers_runs_on_the_seeds(
    tmp_path: Path,
) -> None:
    def line(**fields: object) -> str:
        run = {"optimizer": "tw_bayesian", "problem": "branin", "seed": 0, "error": None}
        return json.dumps(run | {"optimum": 0.5, "best": [3.0, 2.0, 1.0]} | fields)

    path = tmp_path / "runs.jsonl"
    lines = [
        line(),
        line(seed=1, optimum=None, best=[4.0, 4.0, 0.25]),  # no known optimum: regret = value
        line(seed=2),  # a seed outside the range asked
        line(optimizer="gp"),  # a peer
        line(error="crashed"),
        line(best=[3.0]),  # shorter than the budget
        line(problem="not-ours"),
    ]
    path.write_text("\n".join(lines) + "\n")
    assert sequential_traces(str(path), 2, range(2)) == {"branin": [[2.5, 1.5], [4.0, 4.0]]}
    # --optimizer gp: the peer's runs instead, read the same way
    assert sequential_traces(str(path), 2, range(2), "gp") == {"branin": [[2.5, 1.5]]}
