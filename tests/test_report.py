"""``tunewise.report``: the tagged JSON line a trial prints, and reading it back."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping

import pytest

from tunewise import reporting
from tunewise.reporting import TAG, parse_report_line, report


class FlushRecorder(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))
        super().flush()


def test_report_prints_one_tagged_json_line_and_flushes(monkeypatch: pytest.MonkeyPatch) -> None:
    out = FlushRecorder()
    monkeypatch.setattr("sys.stdout", out)
    report(step=3, loss=0.41, accuracy=0.91)
    line = '@tunewise {"step": 3, "loss": 0.41, "accuracy": 0.91}\n'
    assert out.getvalue() == line
    assert out.flushed_at == [len(line)]  # flushed right after the line


def test_report_without_step_and_with_ints(capsys: pytest.CaptureFixture[str]) -> None:
    report(epochs=3, loss=1)
    assert capsys.readouterr().out == TAG + '{"epochs": 3.0, "loss": 1.0}\n'


def test_report_goes_to_the_sink_inside_a_python_trial(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[int | None, Mapping[str, float]]] = []
    monkeypatch.setattr(reporting, "_sink", lambda step, values: calls.append((step, values)))
    report(step=2, loss=0.5)
    report(loss=0.25)
    assert calls == [(2, {"loss": 0.5}), (None, {"loss": 0.25})]
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("step", "metrics"),
    [
        (0, {"loss": 0.5}),
        (12, {"loss": -1e-9, "acc": 1.0}),
        (None, {"loss": 3.0}),
        (1, {"weird name ü": 2.5}),
    ],
)
def test_round_trip(
    capsys: pytest.CaptureFixture[str], step: int | None, metrics: dict[str, float]
) -> None:
    report(step, **metrics)
    line = capsys.readouterr().out
    assert parse_report_line(line) == (step, metrics)
    assert parse_report_line(line.rstrip("\n")) == (step, metrics)


def test_round_trip_of_nan_and_infinity(capsys: pytest.CaptureFixture[str]) -> None:
    report(step=1, loss=float("nan"), gap=float("inf"))
    parsed = parse_report_line(capsys.readouterr().out)
    assert parsed is not None
    assert parsed[0] == 1 and math.isnan(parsed[1]["loss"]) and parsed[1]["gap"] == math.inf


def test_a_tag_after_a_log_prefix_is_read() -> None:
    line = '2024-05-01 12:00:00 INFO @tunewise {"step": 4, "loss": 0.2}'
    assert parse_report_line(line) == (4, {"loss": 0.2})


@pytest.mark.parametrize(
    "line",
    [
        "",
        "loss=0.3",
        '{"loss": 0.3}',  # no tag
        "@tunewise",
        "@tunewise {not json",
        '@tunewise ["a", "list"]',
        "@tunewise 3",
        '@tunewise {"step": -1, "loss": 0.3}',
        '@tunewise {"step": 1.5, "loss": 0.3}',
        '@tunewise {"step": true, "loss": 0.3}',
        '@tunewise {"step": "3", "loss": 0.3}',
        '@tunewise {"step": 3}',  # no metric
        '@tunewise {"loss": "0.3", "ok": true, "none": null, "list": [1]}',  # none numeric
        '@tunewise{"loss": 0.3}',  # the tag includes its space
    ],
)
def test_malformed_lines_are_ignored(line: str) -> None:
    assert parse_report_line(line) is None


def test_non_numbers_are_dropped_and_numbers_kept() -> None:
    assert parse_report_line('@tunewise {"loss": 0.3, "note": "hi", "ok": true}') == (
        None,
        {"loss": 0.3},
    )


@pytest.mark.parametrize("step", [-1, 1.5, True, "3"])
def test_a_bad_step_raises(step: object) -> None:
    with pytest.raises(ValueError, match="step"):
        report(step=step, loss=0.1)  # type: ignore[arg-type]


def test_no_metric_raises() -> None:
    with pytest.raises(ValueError, match="at least one metric"):
        report(step=1)


@pytest.mark.parametrize("value", ["abc", None, True, [1.0], {"a": 1}])
def test_a_bad_metric_value_raises(value: object, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(TypeError, match="loss"):
        report(loss=value)  # type: ignore[arg-type]
    assert capsys.readouterr().out == ""  # nothing half-printed
