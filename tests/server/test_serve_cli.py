"""``tunewise serve`` without the dashboard extra names the extra to install, never a traceback
(issue 20 §4): whether the web framework is absent, or present but failing to import."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.server.helpers import tunewise_command

BLOCKER = """\
import sys


class Blocker:
    '''Makes {names} unimportable, as if the dashboard extra were not installed.'''

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Blocker())
"""


def serve_without(tmp_path: Path, how: str, module: str) -> subprocess.CompletedProcess[str]:
    """``tunewise serve`` with ``module`` unimportable: ``absent`` (a meta-path finder refuses
    it) or ``broken`` (a package of that name that raises ImportError, first on the path)."""
    shadow = tmp_path / "shadow"
    if how == "absent":
        shadow.mkdir()
        (shadow / "sitecustomize.py").write_text(BLOCKER.format(names={module}))
    else:
        (shadow / module).mkdir(parents=True)
        (shadow / module / "__init__.py").write_text(
            f"raise ImportError('cannot import name X from {module} (a broken install)')\n"
        )
    path = os.pathsep.join(p for p in (str(shadow), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    db = tmp_path / "t.db"
    return subprocess.run(
        tunewise_command("serve", "--storage", f"sqlite:///{db}", "--port", "1"),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("how", "module"),
    [("absent", "fastapi"), ("broken", "fastapi"), ("broken", "starlette"), ("absent", "uvicorn")],
)
def test_serve_without_the_extra_names_it(tmp_path: Path, how: str, module: str) -> None:
    result = serve_without(tmp_path, how, module)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"serve needs {module}: pip install 'tunewise[dashboard]'" in result.stderr
    assert not (tmp_path / "t.db").exists()
