"""Every tutorial page runs: its ```python and ```bash blocks, in order, in a fresh folder.

The blocks of one page share one Python process (as cells of a notebook do); a bash block runs
through ``bash -euo pipefail`` in the same folder, with the venv's ``tunewise`` first on PATH.
A block marked ``python no-run`` or ``bash no-run`` is shown only, and its page says why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs" / "tutorials").glob("*.md"))
BLOCK = re.compile(r"^```(python|bash)([^\n]*)\n(.*?)^```", re.S | re.M)
RUN_BASH = """
import subprocess as _subprocess
def _bash(script):
    _subprocess.run(["bash", "-euo", "pipefail", "-c", script], check=True)
"""


def program(page: Path) -> tuple[str, int]:
    """The page's runnable blocks as one Python program, and how many blocks it runs."""
    parts, count = [RUN_BASH], 0
    for language, info, code in BLOCK.findall(page.read_text(encoding="utf-8")):
        if "no-run" in info:
            continue
        count += 1
        parts.append(code if language == "python" else f"_bash({code!r})")
    return "\n".join(parts), count


def test_there_are_the_tutorials_the_issue_asks_for() -> None:
    names = {p.stem for p in PAGES}
    assert {"first-study", "spec-cli", "define-by-run", "early-stopping"} <= names


def test_a_block_that_is_not_run_says_why() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"```\w+ no-run\n", text):
            after = text[match.end() :]
            said = after[after.find("```") :][:600]
            assert "not run" in said or "not run" in text[: match.start()][-600:], page.name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_the_tutorial_runs(page: Path, tmp_path: Path) -> None:
    code, count = program(page)
    assert count >= 2, f"{page.name} runs fewer than two blocks"
    (tmp_path / "tutorial.py").write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TUNEWISE_STORAGE"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(tmp_path)  # a spec's trial.python module lives in the folder
    result = subprocess.run(
        [sys.executable, "tutorial.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
