"""Building a command's argv from its template, and checking its program before any trial."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tunewise.errors import SpecError
from tunewise.runners.command import CommandRunner, build_argv, check_command, format_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("relu", "relu"),
        ("two words", "two words"),
        (3, "3"),
        (0.001, "0.001"),
        (1e-05, "1e-05"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([1, 2], "[1, 2]"),
        ({"a": "b"}, '{"a": "b"}'),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_format_value_of_numpy_scalars_is_the_plain_number() -> None:
    np = pytest.importorskip("numpy")
    assert format_value(np.float64(0.001)) == "0.001"
    assert format_value(np.int64(7)) == "7"
    assert format_value(np.array([1, 2])) == "[1, 2]"


def test_build_argv_fills_placeholders_inside_arguments_and_keeps_escaped_braces() -> None:
    template = ["train", "--lr={lr}", "{act}", "{{act}}", "{lr},{act}", "{{", "}}", "plain"]
    params = {"lr": 0.5, "act": "a b; c"}
    assert build_argv(template, params) == [
        "train",
        "--lr=0.5",
        "a b; c",
        "{act}",
        "0.5,a b; c",
        "{",
        "}",
        "plain",
    ]


def test_build_argv_never_reinterprets_a_value() -> None:
    """A value that looks like a placeholder is not filled again."""
    assert build_argv(["{a}"], {"a": "{b}", "b": "no"}) == ["{b}"]


def test_build_argv_unknown_placeholder_names_the_argument() -> None:
    with pytest.raises(SpecError) as info:
        build_argv(["train", "--x={x}"], {"lr": 1})
    assert info.value.field == "trial.command[1]"
    assert "{x}" in info.value.message and "lr" in info.value.message


def test_check_command_accepts_programs_on_path_and_executable_files() -> None:
    check_command(["sh", "-c", "true"])
    check_command([sys.executable, "train.py", "--lr", "{lr}"])


def test_check_command_program_not_on_path() -> None:
    with pytest.raises(SpecError) as info:
        check_command(["no-such-program-tunewise", "{lr}"])
    assert info.value.field == "trial.command[0]"
    assert "is not on PATH" in str(info.value)
    assert "no-such-program-tunewise" in str(info.value)


def test_check_command_path_that_is_not_an_executable_file(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\n")
    for program in (str(script), str(tmp_path / "missing.sh"), str(tmp_path)):
        with pytest.raises(SpecError) as info:
            check_command([program], field="study.trial.command")
        assert info.value.field == "study.trial.command[0]"
        assert "is not on PATH" in str(info.value)
    os.chmod(script, 0o755)
    check_command([str(script)])


def test_check_command_refuses_a_placeholder_program_and_an_empty_command() -> None:
    with pytest.raises(SpecError) as info:
        check_command(["{python}", "train.py"])
    assert info.value.field == "trial.command[0]"
    with pytest.raises(SpecError) as info:
        check_command([])
    assert info.value.field == "trial.command"
    with pytest.raises(SpecError):
        CommandRunner("python train.py")  # one string: it would never be split
