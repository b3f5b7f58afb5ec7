"""The per-parameter rules of range proposals (:mod:`tunewise.analysis.ranges` holds the
whole: the good trials, the proposed space, the next spec). Each rule reads a parameter's values
in the good trials as *fractions* of its range on its own scale and returns one :class:`Change`
with a one-line reason and its numbers; the thresholds are the constants below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tunewise.errors import SpecError
from tunewise.space import Categorical, Float, Int, Param, Space

QUANTILE = 0.2  # the good trials: the top fifth of the scored ones
MIN_GOOD = 3
MIN_TRIALS = 10  # below this no rule has evidence
EDGE = 0.05  # the best trial within this fraction of a bound presses it...
ZONE = 0.10  # ...with a third of the good trials within this fraction
PRESS_SHARE = 1 / 3
WIDEN = 0.5  # a pressed bound moves out by half the range's width on its scale
NARROW_MIN_GOOD = 5
NARROW_MAX = 0.6
NARROW_PAD = 0.5  # of the good trials' span, each side...
NARROW_MIN_PAD = 0.1  # ...and at least this fraction of the range
CROWD_SHARE = 0.75
MIN_DECADES = 2.0
NEGLIGIBLE = 0.1  # of an even share (1 / number of parameters)
FIX_MIN_SPREAD = 0.5  # and the good trials cover at least half of it
MIN_FIX_TRIALS = 20
FIX_TRIALS_PER_PARAM = 10  # random search's 40 trials in 6-D fixed parameters that matter
DROP_CHANCE = 0.05

ACTIONS = ("fix", "log", "linear", "widen", "narrow", "drop", "remove", "keep")


@dataclass(frozen=True)
class Change:
    """One proposal for one parameter: what to do, a one-line reason, the numbers behind it."""

    param: str
    action: str  # one of ACTIONS
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    before: dict[str, Any] | None = None  # the parameter's spec form now
    after: dict[str, Any] | None = None  # its proposed form (None: fixed or removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "param": self.param,
            "action": self.action,
            "reason": self.reason,
            "evidence": self.evidence,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class Context:
    """What every rule reads: the space, the scored rows, the good ones and their ranks."""

    space: Space
    rows: list[int]  # scored rows
    good: set[int]
    best: int
    rank: dict[int, int]  # scored row -> its place, best first
    params: list[dict[str, Any]]
    frame: Any
    _importance: dict[str, float] | None = None

    def importance(self) -> dict[str, float]:
        if self._importance is None:
            from tunewise.analysis.importance import ped_anova

            # the good trials' quantile: at 0.1 a 40-trial study ranks on 4 trials, noise
            self._importance = dict(ped_anova(self.frame, quantile=QUANTILE).values)
        return self._importance

    def judge(self, name: str) -> Change:
        param = self.space.params[name]
        before = param.to_dict()
        active = [r for r in self.rows if name in self.params[r]]
        # a conditional parameter's good trials: the best of those where it is active
        ranked = sorted(active, key=self.rank.__getitem__)
        good = ranked[: min(len(ranked), max(MIN_GOOD, math.ceil(QUANTILE * len(ranked))))]
        fixed = self._fix(name, param, active, good)
        if fixed is not None:
            return fixed
        if len(good) < MIN_GOOD:
            return Change(
                name,
                "keep",
                f"only {len(good)} of the good trials use it: too few to judge",
                {"good_active": len(good)},
                before,
            )
        if isinstance(param, Categorical):
            return _categorical(name, param, active, good, self.params, before)
        if param.values is not None:
            return Change(name, "keep", "explicit grid values: kept as given", {}, before)
        best = min(good, key=self.rank.__getitem__)  # the best trial where it is active
        values = [float(self.params[r][name]) for r in good]
        return _numeric(name, param, values, float(self.params[best][name]), before)

    def _fix(self, name: str, param: Param, active: list[int], good: list[int]) -> Change | None:
        d = len(self.space.params)
        enough = max(MIN_FIX_TRIALS, FIX_TRIALS_PER_PARAM * d)
        if d < 2 or len(self.rows) < enough or param.when:
            return None  # (a conditional one, made static, would reach every trial)
        if name not in self.params[self.best]:
            return None
        importance = self.importance()
        if name not in importance:
            return None
        share = importance[name]
        even = 1.0 / len(importance)
        if share >= NEGLIGIBLE * even:
            return None
        # A share is relative: one dominant parameter makes the others' small. So the good
        # trials must also not gather anywhere in this one (a wide span, several choices).
        spread = _spread(param, [self.params[r][name] for r in good])
        if spread < FIX_MIN_SPREAD:
            return None
        value = self.params[self.best][name]
        return Change(
            name,
            "fix",
            f"importance {share:.3f} (PED-ANOVA) is under a tenth of an even share "
            f"({even:.3f}) and the good trials spread over {spread:.0%} of it: fix it at the "
            f"best trial's value {value!r}",
            {
                "importance": round(share, 4),
                "even_share": round(even, 4),
                "good_spread": round(spread, 3),
                "value": value,
            },
            param.to_dict(),
            None,
        )


def _spread(param: Param, values: list[Any]) -> float:
    """How much of a parameter the good trials cover: the span of their fractions on its
    scale, or the share of the choices they use."""
    if isinstance(param, Categorical):  # one choice used: 0; every choice: 1
        return (len({param.index(v) for v in values}) - 1) / max(1, len(param.values) - 1)
    low, high = float(param.low), float(param.high)  # type: ignore[arg-type]
    fractions = [_fraction(str(param.scale), low, high, float(v)) for v in values]
    return max(fractions) - min(fractions)


def _numeric(
    name: str, param: Float | Int, values: list[float], best: float, before: dict[str, Any]
) -> Change:
    low, high = float(param.low), float(param.high)  # type: ignore[arg-type]
    scale = str(param.scale)
    frac = [_fraction(scale, low, high, v) for v in values]
    f_best = _fraction(scale, low, high, best)
    n = len(frac)
    base_ev: dict[str, Any] = {
        "good": n,
        "good_range": [_short(min(values)), _short(max(values))],
        "best": _short(best),
    }
    switched = _switch(param, frac, low, high, n, base_ev, before, name)
    if switched is not None and switched.action == "log" and switched.after is not None:
        return _widen_on_log(param, switched, values, best, n)
    if switched is not None:
        return switched
    press_low = f_best <= EDGE and sum(f <= ZONE for f in frac) >= PRESS_SHARE * n
    press_high = f_best >= 1 - EDGE and sum(f >= 1 - ZONE for f in frac) >= PRESS_SHARE * n
    lo_f, hi_f = min(frac), max(frac)
    pad = max(NARROW_PAD * (hi_f - lo_f), NARROW_MIN_PAD)
    narrow_lo, narrow_hi = max(0.0, lo_f - pad), min(1.0, hi_f + pad)
    can_narrow = n >= NARROW_MIN_GOOD and (narrow_hi - narrow_lo) <= NARROW_MAX
    new_low, new_high = low, high
    reasons: list[str] = []
    kept: list[str] = []
    if press_low:
        widened = _widen(param, low, high, side="low")
        if widened is None:
            kept.append(f"the good trials press low = {_short(low)}, kept (not moved across 0)")
        else:
            new_low = widened
            share = sum(f <= ZONE for f in frac)
            reasons.append(
                f"the best trial ({_short(best)}) and {share} of the {n} good trials lie in "
                f"the lowest tenth: widen low {_short(low)} -> {_short(widened)}"
            )
    elif can_narrow and narrow_lo > 0:
        new_low = _bound(param, low, high, narrow_lo, up=False)
    if press_high:
        widened = _widen(param, low, high, side="high")
        if widened is None:
            kept.append(f"the good trials press high = {_short(high)}, kept")
        else:
            new_high = widened
            share = sum(f >= 1 - ZONE for f in frac)
            reasons.append(
                f"the best trial ({_short(best)}) and {share} of the {n} good trials lie in "
                f"the top tenth: widen high {_short(high)} -> {_short(widened)}"
            )
    elif can_narrow and narrow_hi < 1:
        new_high = _bound(param, low, high, narrow_hi, up=True)
    narrowed = (new_low > low and not press_low) or (new_high < high and not press_high)
    if narrowed:
        reasons.append(
            f"the {n} good trials never leave [{_short(min(values))}, {_short(max(values))}] "
            f"({hi_f - lo_f:.0%} of the range on its {scale} scale): "
            f"narrow to [{_short(new_low)}, {_short(new_high)}]"
        )
    reasons += kept
    if (new_low, new_high) == (low, high):
        reason = "; ".join(kept) or (
            f"the good trials spread over {hi_f - lo_f:.0%} of the range and press no bound"
            + (f" (too few, {n} < {NARROW_MIN_GOOD}, to narrow it)" if n < NARROW_MIN_GOOD else "")
        )
        return Change(name, "keep", reason, base_ev, before)
    after = _rebuild(param, new_low, new_high, scale)
    if after is None:
        return Change(name, "keep", "the proposed range would not be valid; kept", base_ev, before)
    # widened on one side (and maybe narrowed on the other: the range moves), or narrowed
    action = "widen" if new_low < low or new_high > high else "narrow"
    evidence = {
        **base_ev,
        "press_low": press_low,
        "press_high": press_high,
        "new_range": [after["low"], after["high"]],
    }
    return Change(name, action, "; ".join(reasons), evidence, before, after)


def _switch(
    param: Float | Int,
    frac: list[float],
    low: float,
    high: float,
    n: int,
    base_ev: dict[str, Any],
    before: dict[str, Any],
    name: str,
) -> Change | None:
    """Linear -> log when the good trials crowd in a wide linear range's lowest tenth; log ->
    linear when they crowd in a wide log range's top decade."""
    if low <= 0 or param.step is not None:
        return None
    decades = math.log10(high / low)
    if decades < MIN_DECADES:
        return None
    if param.scale == "linear":
        crowd = sum(f <= 0.1 for f in frac)
        if crowd < CROWD_SHARE * n:
            return None
        after = _rebuild(param, low, high, "log")
        reason = (
            f"{crowd} of the {n} good trials lie in the lowest tenth of a linear range "
            f"spanning {decades:.1f} decades: search it on a log scale"
        )
        return Change(name, "log", reason, {**base_ev, "decades": round(decades, 2)}, before, after)
    if param.scale == "log":
        top = 1.0 - 1.0 / decades  # the fraction where the top decade begins
        crowd = sum(f >= top for f in frac)
        if crowd < CROWD_SHARE * n or max(frac) >= 1 - EDGE:
            return None
        after = _rebuild(param, low, high, "linear")
        reason = (
            f"{crowd} of the {n} good trials lie in the top decade of a log range spanning "
            f"{decades:.1f} decades: search it on a linear scale"
        )
        return Change(
            name, "linear", reason, {**base_ev, "decades": round(decades, 2)}, before, after
        )
    return None


def _widen_on_log(
    param: Float | Int, switched: Change, values: list[float], best: float, n: int
) -> Change:
    """A range just switched to log whose good trials also press its low bound on that scale
    (the optimum below the range): the low bound moves out as a pressed bound does."""
    low, high = float(param.low), float(param.high)  # type: ignore[arg-type]
    on_log = _fraction("log", low, high, best) <= EDGE
    near = sum(_fraction("log", low, high, v) <= ZONE for v in values)
    if not (on_log and near >= PRESS_SHARE * n):
        return switched
    logged = (
        Int(int(low), int(high), scale="log")
        if isinstance(param, Int)
        else Float(low, high, scale="log")
    )
    widened = _widen(logged, low, high, side="low")
    after = None if widened is None else _rebuild(param, widened, high, "log")
    if after is None:
        return switched
    reason = (
        f"{switched.reason}; there the best trial ({_short(best)}) and {near} of the {n} good "
        f"trials lie in the lowest tenth: widen low {_short(low)} -> {_short(after['low'])}"
    )
    evidence = {**switched.evidence, "press_low": True, "new_range": [after["low"], high]}
    return Change(switched.param, "log", reason, evidence, switched.before, after)


def _categorical(
    name: str,
    param: Categorical,
    active: list[int],
    good: list[int],
    params: list[dict[str, Any]],
    before: dict[str, Any],
) -> Change:
    q = len(good) / len(active)
    ran = {i: 0 for i in range(len(param.values))}
    won = dict(ran)
    for r in active:
        i = param.index(params[r][name])
        ran[i] += 1
        won[i] += r in good
    dropped, evidence = [], {}
    for i, v in enumerate(param.values):
        chance = (1 - q) ** ran[i]
        evidence[str(v)] = {"ran": ran[i], "good": won[i]}
        if won[i] == 0 and ran[i] > 0 and chance <= DROP_CHANCE:
            dropped.append(i)
    if not dropped:
        return Change(name, "keep", "every choice is among the good trials, or ran too seldom "
                      "to tell", evidence, before)  # fmt: skip
    kept = [v for i, v in enumerate(param.values) if i not in dropped]
    names = ", ".join(f"{param.values[i]!r} ({ran[i]} runs)" for i in dropped)
    worst = max((1 - q) ** ran[i] for i in dropped)
    reason = (
        f"{names} never among the good trials (chance <= {worst:.3f} if it made no "
        f"difference): drop"
    )
    if len(kept) == 1 and not param.when:  # (a conditional one, made static, would reach all)
        return Change(
            name,
            "fix",
            reason + f", fix at {kept[0]!r}",
            {**evidence, "value": kept[0]},
            before,
            None,
        )
    after = Categorical(kept, when=param.when).to_dict()
    return Change(name, "drop", reason, evidence, before, after)


# Scales and bounds --------------------------------------------------------------------------
def _t(scale: str, v: float) -> float:
    if scale == "log":
        return math.log(v)
    if scale == "reverse_log":
        return -math.log1p(-v)
    return v


def _t_inv(scale: str, t: float) -> float:
    if scale == "log":
        return math.exp(t)
    if scale == "reverse_log":
        return -math.expm1(-t)
    return t


def _fraction(scale: str, low: float, high: float, v: float) -> float:
    a, b = _t(scale, low), _t(scale, high)
    return min(1.0, max(0.0, (_t(scale, v) - a) / (b - a)))


def _widen(param: Float | Int, low: float, high: float, side: str) -> float | None:
    """The bound on ``side`` moved out by WIDEN of the range's width on its scale; a low bound
    stops at 0 (on the step's grid) rather than cross it, and one at 0 is not moved (None)."""
    if side == "high":
        return _bound(param, low, high, 1 + WIDEN, up=True)
    scale = str(param.scale)
    a, b = _t(scale, low), _t(scale, high)
    if low >= 0 and _t_inv(scale, a - WIDEN * (b - a)) < 0:
        if low == 0:
            return None
        if param.step is not None:
            out = low - math.floor(low / param.step + 1e-9) * param.step
            return int(out) if isinstance(param, Int) else round(out, 12)
        return 0 if isinstance(param, Int) else 0.0
    return _bound(param, low, high, -WIDEN, up=False)


def _bound(param: Float | Int, low: float, high: float, f: float, *, up: bool) -> float:
    """The value at fraction ``f`` of the range on its scale, rounded outward: to the step's
    grid from ``low`` (so earlier trials stay on it), to an integer, or to two significant
    digits (of ``1 - v`` on the reverse-log scale, which must stay under 1); inside the range
    when ``f`` is."""
    scale = str(param.scale)
    a, b = _t(scale, low), _t(scale, high)
    v = _t_inv(scale, a + f * (b - a))
    out: float
    if param.step is not None:
        k = (v - low) / param.step
        k = math.ceil(k - 1e-9) if up else math.floor(k + 1e-9)
        out = low + k * param.step
        out = int(out) if isinstance(param, Int) else round(out, 12)
    elif isinstance(param, Int):
        out = math.ceil(v) if up else math.floor(v)
        out = max(out, 1) if scale == "log" else out
    elif scale == "reverse_log":
        out = 1.0 - _round_sig(1.0 - v, not up)
    else:
        out = _round_sig(v, up)
    if 0.0 <= f <= 1.0:
        out = min(max(out, low), high)
    return out


def _round_sig(v: float, up: bool, digits: int = 2) -> float:
    if v == 0 or not math.isfinite(v):
        return v
    exponent = math.floor(math.log10(abs(v))) - digits + 1
    scaled = v / 10**exponent
    rounded = math.ceil(scaled - 1e-9) if up else math.floor(scaled + 1e-9)
    return float(f"{rounded * 10**exponent:.{max(0, -exponent)}f}")


def _rebuild(param: Float | Int, low: float, high: float, scale: str) -> dict[str, Any] | None:
    """The parameter with new bounds or scale (its step, num and condition kept), in spec form;
    None when that is no valid parameter."""
    kwargs: dict[str, Any] = {"scale": scale, "when": param.when, "num": param.num}
    if param.step is not None and scale == "linear":
        kwargs["step"] = param.step
    try:
        if isinstance(param, Int):
            return Int(int(low), int(high), **kwargs).to_dict()
        return Float(low, high, **kwargs).to_dict()
    except SpecError:
        return None


def _short(v: Any) -> Any:
    if isinstance(v, float):
        return float(f"{v:.4g}")
    return v
