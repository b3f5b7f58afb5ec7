"""The house rules of DESIGN.md that imports can break, checked over the source files.

- ``cli/main.py`` registers the subcommand modules, so none of them may import it (a circle):
  what they share lives in ``cli/common.py``.
- The server is a face of its own: it never imports ``cli/`` (the trial's JSON document both
  show lives in ``tunewise.documents``, below both).
"""

from __future__ import annotations

import ast
from pathlib import Path

import tunewise

PACKAGE = Path(tunewise.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (function-level imports too), absolute."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_finder_sees_function_level_imports() -> None:
    # The checks below can only fail if the finder sees the imports they look for.
    modules = imported_modules(PACKAGE / "cli" / "main.py")
    assert "tunewise.cli.common" in modules
    assert "tunewise.cli.views" in modules  # imported inside functions


def test_no_cli_subcommand_module_imports_main() -> None:
    offenders = {
        path.name
        for path in (PACKAGE / "cli").glob("*.py")
        if path.name != "main.py" and "tunewise.cli.main" in imported_modules(path)
    }
    assert offenders == set()


def test_the_server_never_imports_the_cli() -> None:
    offenders = {}
    for path in (PACKAGE / "server").rglob("*.py"):
        cli = sorted(m for m in imported_modules(path) if m.startswith("tunewise.cli"))
        if cli:
            offenders[str(path.relative_to(PACKAGE))] = cli
    assert offenders == {}
