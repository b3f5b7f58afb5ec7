"""ASHA promotions on scripted learning curves."""

from __future__ import annotations

from tunewise.stopping.asha import AshaRule, rung_value


def rule(**changes: object) -> AshaRule:
    settings: dict[str, object] = {
        "sign": 1.0,
        "min_resource": 1,
        "max_resource": 27,
        "reduction_factor": 3,
        "seed": 0,
    }
    settings.update(changes)
    return AshaRule(**settings)  # type: ignore[arg-type]


def test_brackets_and_rungs() -> None:
    asha = rule()
    assert asha.brackets == 4
    assert [asha.rungs(b) for b in range(4)] == [[1, 3, 9], [3, 9], [9], []]
    uneven = rule(max_resource=30)  # the last bracket still runs every trial to the end
    assert uneven.brackets == 4
    assert [uneven.rungs(b) for b in range(4)] == [[1, 3, 9], [3, 9], [9], []]
    # deterministic: the same trial is in the same bracket for any process
    assert [asha.bracket(n) for n in range(20)] == [rule().bracket(n) for n in range(20)]
    counts = [sum(asha.bracket(n) == b for n in range(3000)) for b in range(4)]
    assert counts[0] > counts[1] > counts[2] > 0 and counts[3] > 0


def test_rung_value_is_the_first_report_at_or_after_the_rung() -> None:
    assert rung_value({1: 0.1, 4: 0.4, 9: 0.9}, 3) == 0.4
    assert rung_value({1: 0.1}, 3) is None


def test_promotions_at_the_first_rung() -> None:
    asha = rule()
    bracket0 = [n for n in range(200) if asha.bracket(n) == 0][:7]
    values = [0.50, 0.60, 0.40, 0.70, 0.55, 0.30, 0.65]
    curves: dict[int, dict[int, float]] = {}
    decisions = []
    for number, value in zip(bracket0, values, strict=True):
        curves[number] = {1: value}
        decisions.append(asha.decide(number, 1, curves, completed=[]).stop)
    # With fewer than 3 trials at the rung only a new best goes on; then the top third.
    #   0.50 alone: best -> go on; 0.60 best -> go on; 0.40 (3 trials, keep 1: 0.60) -> stop;
    #   0.70 best -> go on; 0.55 (5 trials, keep 1: 0.70) -> stop; 0.30 -> stop;
    #   0.65 (7 trials, keep 2: 0.70, 0.65) -> go on.
    assert decisions == [False, False, True, False, True, True, False]


def test_decisions_only_at_rungs_and_within_the_bracket() -> None:
    asha = rule()
    number = next(n for n in range(200) if asha.bracket(n) == 1)  # rungs 3, 9
    other = next(n for n in range(200) if asha.bracket(n) == 0)
    curves = {other: {1: 0.9, 3: 0.99}, number: {1: 0.1, 2: 0.1}}
    assert not asha.decide(number, 2, curves, []).stop  # step 2 is no rung of bracket 1
    curves[number][3] = 0.2
    # the only other trial at rung 3 is in another bracket: it is alone, hence the best
    assert not asha.decide(number, 3, curves, []).stop
    peers = [n for n in range(200) if asha.bracket(n) == 1 and n != number][:3]
    for n, v in zip(peers, (0.5, 0.6, 0.7), strict=True):
        curves[n] = {3: v}
    curves[number] = {1: 0.1, 2: 0.1, 4: 0.2}  # skipped step 3: judged at 4 for rung 3
    decision = asha.decide(number, 4, curves, [])
    assert decision.stop and "rung 3" in decision.reason and "cutoff 0.7" in decision.reason


def test_minimize() -> None:
    asha = rule(sign=-1.0)
    bracket0 = [n for n in range(200) if asha.bracket(n) == 0][:3]
    curves = {bracket0[0]: {1: 0.5}, bracket0[1]: {1: 0.4}}
    curves[bracket0[2]] = {1: 0.6}
    assert asha.decide(bracket0[2], 1, curves, []).stop
    curves[bracket0[2]] = {1: 0.3}
    assert not asha.decide(bracket0[2], 1, curves, []).stop
