"""The documentation site builds with ``mkdocs build --strict``: a broken link, a missing
reference or a docstring that does not render fails the suite. The generated pages (spec
reference, CLI reference) hold every key and every command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tunewise.cli.main import build_parser
from tunewise.schema_doc import keys

ROOT = Path(__file__).resolve().parents[2]


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_site_builds_strictly(site: Path) -> None:
    for page in ("index.html", "getting-started/index.html", "python-api/index.html"):
        assert (site / page).is_file(), page


def test_the_spec_reference_has_every_key(site: Path) -> None:
    html = (site / "spec-reference" / "index.html").read_text(encoding="utf-8")
    for doc in keys():
        if not doc.path.startswith("space.NAME.type"):
            assert f"<code>{doc.path}</code>" in html, doc.path
    assert "is not a valid name: use letters, digits" in html  # a quoted error


def test_the_cli_reference_has_every_command(site: Path) -> None:
    html = (site / "cli-reference" / "index.html").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:  # type: ignore[attr-defined]
        assert f'id="{name}"' in html, name


def test_the_python_api_renders_the_public_names(site: Path) -> None:
    import tunewise

    html = (site / "python-api" / "index.html").read_text(encoding="utf-8")
    for name in tunewise.__all__:
        if name != "__version__":
            assert f'id="tunewise.{name}"' in html, name


def test_nothing_is_fetched_from_the_network(site: Path) -> None:
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "fonts.googleapis" not in text and '<script src="http' not in text, page


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    """The same settings refuse a page that links nowhere (what --strict is here for)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# x\n\nSee [the missing page](missing.md).\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\ntheme: {name: material, font: false}\n")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0 and "missing.md" in result.stdout + result.stderr


def test_sphinx_roles_in_docstrings_render_as_code(site: Path) -> None:
    html = (site / "python-api" / "index.html").read_text(encoding="utf-8")
    assert ":class:" not in html and ":func:" not in html and ":meth:" not in html
