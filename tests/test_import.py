"""``import tunewise`` stays cheap: no optional or heavy dependency is loaded by it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "numpy", "scipy", "yaml", "psycopg", "sklearn", "xgboost", "ray")
#: The libraries of tunewise.integrations: each loads only when its module is imported.
INTEGRATIONS = (
    "torch",
    "lightning",
    "pytorch_lightning",
    "keras",
    "xgboost",
    "lightgbm",
    "mlflow",
    "wandb",
    "tensorboard",
    "tensorflow",
)


def test_importing_tunewise_loads_no_heavy_dependency() -> None:
    code = f"import sys, tunewise; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_tunewise_loads_no_integration_library() -> None:
    code = f"import sys, tunewise; print(','.join(m for m in {INTEGRATIONS!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_framework_callbacks_share_a_helper_that_loads_no_framework() -> None:
    """tunewise.integrations._control is what all callbacks import besides their framework."""
    code = (
        "import sys, tunewise.integrations._control; "
        f"print(','.join(m for m in {INTEGRATIONS!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
