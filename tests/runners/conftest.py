"""Fixtures of the runner tests: a current directory per test, small scripts in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current directory for each test: the runner's child inherits it, so nothing a
    command writes lands in the repository."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def script(tmp_path: Path) -> Callable[[str], str]:
    """Write Python source to a fresh file in tmp_path; returns its path."""
    count = 0

    def write(source: str) -> str:
        nonlocal count
        count += 1
        path = tmp_path / f"script{count}.py"
        path.write_text(textwrap.dedent(source))
        return str(path)

    return write
