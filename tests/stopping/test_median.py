"""The median rule on a hand-computed example."""

from __future__ import annotations

from tunewise.stopping.median import MedianRule, running_average

# Four completed trials (maximize). Running averages up to step 2:
#   t0: (0.2 + 0.4) / 2 = 0.3    t1: (0.5 + 0.7) / 2 = 0.6
#   t2: (0.1 + 0.3) / 2 = 0.2    t3: (0.6 + 0.8) / 2 = 0.7
# median of {0.2, 0.3, 0.6, 0.7} = 0.45
COMPLETED = {
    0: {1: 0.2, 2: 0.4, 3: 0.5},
    1: {1: 0.5, 2: 0.7, 3: 0.8},
    2: {1: 0.1, 2: 0.3, 3: 0.35},
    3: {1: 0.6, 2: 0.8, 3: 0.9},
}


def test_running_average_uses_the_steps_up_to_the_given_one() -> None:
    assert running_average({1: 0.2, 2: 0.4, 3: 0.5}, 2) == (0.2 + 0.4) / 2
    assert running_average({3: 1.0}, 2) is None


def test_stops_below_the_median_of_running_averages() -> None:
    rule = MedianRule(sign=1.0, min_trials=4, min_steps=1)
    curves = {**COMPLETED, 9: {1: 0.3, 2: 0.44}}
    decision = rule.decide(9, 2, curves, completed=[0, 1, 2, 3])
    assert decision.stop
    assert "0.44 is below the median 0.45" in decision.reason
    assert "4 completed trials" in decision.reason
    curves[9][2] = 0.46
    assert not rule.decide(9, 2, curves, completed=[0, 1, 2, 3]).stop


def test_minimize_compares_the_other_way() -> None:
    rule = MedianRule(sign=-1.0, min_trials=4)
    curves = {**COMPLETED, 9: {1: 0.3, 2: 0.46}}
    decision = rule.decide(9, 2, curves, completed=[0, 1, 2, 3])
    assert decision.stop and "above the median" in decision.reason
    curves[9][2] = 0.44
    assert not rule.decide(9, 2, curves, completed=[0, 1, 2, 3]).stop


def test_guards_minimum_trials_and_steps() -> None:
    curves = {**COMPLETED, 9: {1: 0.0, 2: 0.0}}
    assert not MedianRule(sign=1.0, min_trials=5).decide(9, 2, curves, [0, 1, 2, 3]).stop
    assert (
        not MedianRule(sign=1.0, min_trials=4, min_steps=3).decide(9, 2, curves, [0, 1, 2, 3]).stop
    )
    # running trials (not completed) do not count
    assert not MedianRule(sign=1.0, min_trials=4).decide(9, 2, curves, [0, 1, 2]).stop
    # a completed trial with no report up to the step does not count either
    late = {**curves, 4: {5: 0.9}}
    assert not MedianRule(sign=1.0, min_trials=5).decide(9, 2, late, [0, 1, 2, 3, 4]).stop
