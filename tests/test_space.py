"""The unit-interval encoding: bounds, types, round trips, scales' mass, grids, validation."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import binomtest

import tunewise as tw
from tunewise.errors import SpecError
from tunewise.space import MAX_GRID_SIZE, Space

# Statistical tests below use a two-sided binomial test at ALPHA: with a correct sampler a test
# fails with probability at most ALPHA per run (each test draws from one fixed seed, so a
# failure is reproducible, not flaky).
ALPHA = 1e-6
N = 20_000


def _draw(param: tw.Float | tw.Int, seed: int = 0, n: int = N) -> list[float]:
    rng = random.Random(seed)
    return [param.from_unit(rng.random()) for _ in range(n)]


@pytest.mark.parametrize(
    "param",
    [
        tw.Float(-3.0, 5.0, scale="linear"),
        tw.Float(1e-5, 1.0, scale="log"),
        tw.Float(0.5, 0.999, scale="reverse_log"),
        tw.Float(0.0, 1.0, step=0.25),
        tw.Int(1, 10),
        tw.Int(1, 1024, scale="log"),
        tw.Int(0, 100, step=5),
    ],
)
def test_decoded_values_are_in_bounds_with_the_right_type(param: tw.Float | tw.Int) -> None:
    expected_type = float if isinstance(param, tw.Float) else int
    values = [*_draw(param, n=2000), param.from_unit(0.0), param.from_unit(1.0)]
    for v in values:
        assert type(v) is expected_type
        assert param.low <= v <= param.high
    assert param.from_unit(0.0) == param.low
    assert param.from_unit(1.0) == param.high


@pytest.mark.parametrize(
    "param",
    [
        tw.Float(1e-5, 1.0, scale="log"),
        tw.Float(0.5, 0.999, scale="reverse_log"),
        tw.Float(0.0, 1.0, step=0.1),
        tw.Int(1, 1024, scale="log"),
        tw.Int(0, 100, step=5),
        tw.Categorical(["relu", "tanh", 3, 2.5, True]),
    ],
)
def test_decode_of_encode_is_the_identity_on_runnable_values(param: tw.Float | tw.Int) -> None:
    rng = random.Random(1)
    for _ in range(500):
        v = param.from_unit(rng.random())
        u = param.to_unit(v)
        assert 0.0 <= u <= 1.0
        if isinstance(param, tw.Float) and param.step is None:
            # continuous floats: exact up to floating-point rounding
            assert param.from_unit(u) == pytest.approx(v, rel=1e-12)
        else:
            assert param.from_unit(u) == v


def test_log_scale_puts_half_the_mass_below_the_geometric_middle() -> None:
    values = _draw(tw.Float(1e-4, 1.0, scale="log"))
    below = sum(v < 1e-2 for v in values)
    assert binomtest(below, N, 0.5).pvalue > ALPHA


def test_reverse_log_crowds_values_near_the_high_end() -> None:
    param = tw.Float(0.5, 0.999, scale="reverse_log")
    values = _draw(param, seed=2)
    # P(v > 0.99) under reverse-log: share of log(1 - v) between log(0.01) and log(0.001).
    p = (math.log(0.01) - math.log(0.001)) / (math.log(0.5) - math.log(0.001))
    above = sum(v > 0.99 for v in values)
    assert binomtest(above, N, p).pvalue > ALPHA
    assert above / N > 10 * (0.009 / 0.499)  # far more than a linear scale would give


def test_int_log_scale_gives_each_integer_its_log_width() -> None:
    param = tw.Int(1, 100, scale="log")
    values = _draw(param, seed=3)
    width = math.log(100.5) - math.log(0.5)
    p_one = (math.log(1.5) - math.log(0.5)) / width
    assert binomtest(sum(v == 1 for v in values), N, p_one).pvalue > ALPHA


def test_auto_scale_chooses_log_for_wide_positive_ranges() -> None:
    assert tw.Float(1e-4, 1.0).scale == "log"
    assert tw.Float(1.0, 50.0).scale == "linear"
    assert tw.Float(-1.0, 100.0).scale == "linear"
    assert tw.Int(1, 1000).scale == "log"


def test_categorical_keeps_types_apart() -> None:
    param = tw.Categorical([1, "1", True])
    assert [param.from_unit(u) for u in (0.1, 0.5, 0.9)] == [1, "1", True]
    assert param.validate("1") == "1"


def test_grid_points_and_size() -> None:
    space = Space(
        {
            "lr": tw.Float(1e-3, 1e-1, scale="log", num=3),
            "layers": tw.Int(1, 3),
            "act": tw.Categorical(["relu", "tanh"]),
            "wd": tw.Float(values=[0.0, 0.01]),
        }
    )
    axes = space.grid_points()
    assert space.grid_size() == 3 * 3 * 2 * 2
    assert axes[0] == pytest.approx([1e-3, 1e-2, 1e-1])
    assert axes[1] == [1, 2, 3]


def test_grid_over_the_limit_is_refused_with_a_message() -> None:
    space = Space({"a": tw.Int(0, 999), "b": tw.Int(0, 999)})
    with pytest.raises(SpecError, match=f"over the {MAX_GRID_SIZE:,} limit"):
        space.grid_points()


def test_grid_needs_points_for_floats() -> None:
    with pytest.raises(SpecError, match="space.lr.num"):
        Space({"lr": tw.Float(0.0, 1.0)}).grid_size()


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"lr": {"type": "float", "low": 1.0, "high": 0.5}}, "space.lr.high", "greater than low"),
        ({"lr": {"type": "float", "low": 0.0, "high": 1, "scale": "log"}}, "space.lr.low", "> 0"),
        (
            {"m": {"type": "float", "low": 0.5, "high": 1.5, "scale": "reverse_log"}},
            "space.m.high",
            "< 1",
        ),
        ({"a": {"type": "categorical", "values": []}}, "space.a.values", "empty"),
        (
            {"a": {"type": "float", "low": 0, "high": 1, "sclae": "log"}},
            "space.a.sclae",
            "unknown key",
        ),
        ({"a": {"type": "floaty", "low": 0, "high": 1}}, "space.a.type", "float, int"),
        ({"a": {"type": "int", "low": 1.5, "high": 3}}, "space.a.low", "integer"),
        (
            {"a": {"type": "int", "low": 1, "high": 30, "step": 2, "scale": "log"}},
            "space.a.step",
            "log",
        ),
        ({"a": {"type": "float", "low": "x", "high": 1}}, "space.a.low", "number"),
        ({"a": {"type": "int", "high": 3}}, "space.a.low", "required"),
    ],
)
def test_space_errors_name_the_field(spec: dict, field: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        Space.from_dict(spec)
    assert info.value.field == field
    assert words in info.value.message
    assert str(info.value).startswith(field + ": ")


def test_space_round_trips_through_json() -> None:
    space = Space.from_dict(
        {
            "lr": {"type": "float", "low": "1e-4", "high": 0.3, "scale": "log"},
            "m": {"type": "float", "low": 0.5, "high": 0.999, "scale": "reverse_log"},
            "n": {"type": "int", "low": 16, "high": 256, "scale": "log"},
            "b": {"type": "categorical", "values": [32, 64]},
        },
        static={"solver": "sgd"},
    )
    again = Space.from_json(space.to_dict())
    assert again == space
    assert space.params["lr"].low == 1e-4  # numeric strings (YAML's 1e-4) are accepted


def test_static_names_may_not_shadow_searched_ones() -> None:
    with pytest.raises(SpecError, match="static.lr"):
        Space({"lr": tw.Float(0.1, 1.0)}, {"lr": 0.5})


@pytest.mark.parametrize(
    "param",
    [
        tw.Float(-3.0, 5.0, scale="linear"),
        tw.Float(1e-5, 1.0, scale="log"),
        tw.Float(0.5, 0.999, scale="reverse_log"),
        tw.Float(0.0, 1.0, step=0.25),
        tw.Float(values=[2.0]),  # low == high
    ],
)
def test_float_encodes_many_values_as_it_encodes_one(param: tw.Float) -> None:
    import numpy as np

    rng = random.Random(2)
    low, high = float(param.low), float(param.high)  # type: ignore[arg-type]
    inside = [param.from_unit(rng.random()) for _ in range(200)]
    odd = [low, high, low - 1.0, high + 1.0, 0.0, -1.0, 1.0, math.nan, math.inf, -math.inf]
    values = [*inside, *odd]
    expected = []
    for v in values:
        try:
            expected.append(param.to_unit(v))
        except (ValueError, ArithmeticError):
            expected.append(math.nan)
    got = param.to_unit_array(np.array(values))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


# Hardening (issue 21) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: tw.Float(-1.0e308, 1.0e308), "high"),  # high - low overflows to inf
        (lambda: tw.Float(-1.0e308, 1.0e308, scale="linear", num=3), "high"),
        (lambda: tw.Int(-(10**308), 10**308), "high"),
        (lambda: tw.Float(1e300, 1e300 * (1 + 2**-52), scale="log"), "high"),  # log width 0
    ],
)
def test_a_range_whose_width_is_not_a_positive_finite_number_is_refused(
    make: object, field: str
) -> None:
    with pytest.raises(SpecError) as error:
        make()  # type: ignore[operator]
    assert error.value.field == field


def test_wide_finite_ranges_still_work_and_stay_inside() -> None:
    param = tw.Float(-1.0e307, 1.0e307)
    assert param.from_unit(0.0) == -1.0e307 and param.from_unit(1.0) == 1.0e307
    assert -1.0e307 < param.from_unit(0.25) < 0.0
    assert tw.Float(1e-300, 1e300, scale="log").from_unit(0.5) == pytest.approx(1.0)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_categorical_value_is_refused(value: float) -> None:
    with pytest.raises(SpecError) as error:
        tw.Categorical(["a", value])
    assert error.value.field == "values[1]" and "finite" in error.value.message
    with pytest.raises(SpecError, match=r"space\.c\.values\[0\]"):
        Space.from_dict({"c": {"type": "categorical", "values": [value]}})


def test_a_categorical_value_or_static_text_with_a_nul_byte_is_refused_naming_it() -> None:
    with pytest.raises(SpecError) as error:
        Space.from_dict({"c": {"type": "categorical", "values": ["ok", "a\x00b"]}})
    assert error.value.field == "space.c.values[1]" and "'a\\x00b'" in error.value.message
    with pytest.raises(SpecError) as error:
        Space({"x": tw.Float(0.0, 1.0)}, {"path": ["ok", "data\x00.csv"]})
    assert error.value.field == "static.path[1]"


@pytest.mark.parametrize(
    ("static", "field"),
    [
        ({"when": [__import__("datetime").date(2024, 1, 1)]}, "static.when[0]"),
        ({"opts": {"limit": math.nan}}, "static.opts.limit"),
        ({"opts": {1: "a"}}, "static.opts.1"),
        ({"tags": {"a", "b"}}, "static.tags"),
    ],
)
def test_static_values_must_be_json_that_reads_back_equal(static: dict, field: str) -> None:
    with pytest.raises(SpecError) as error:
        Space({"x": tw.Float(0.0, 1.0)}, static)
    assert error.value.field == field


def test_numpy_static_values_are_json_the_store_writes() -> None:
    import numpy as np

    space = Space({"x": tw.Float(0.0, 1.0)}, {"w": np.array([1.0, 2.0]), "n": np.int64(3)})
    assert set(space.static) == {"w", "n"}
