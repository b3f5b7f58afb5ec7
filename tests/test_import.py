"""``import tunewise`` stays cheap: no optional or heavy dependency is loaded by it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "numpy", "scipy", "yaml", "psycopg", "sklearn", "xgboost", "ray")


def test_importing_tunewise_loads_no_heavy_dependency() -> None:
    code = f"import sys, tunewise; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
