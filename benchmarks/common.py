"""What the scale-out benchmarks share: the versions they ran with, their JSON-lines results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sqlite3
from importlib.metadata import PackageNotFoundError, version
from typing import Any

PACKAGES = ("tunewise", "optuna", "ray", "SQLAlchemy", "psycopg")


def versions() -> dict[str, str]:
    """Python, the packages of :data:`PACKAGES` that are installed, SQLite and the CPU count."""
    out = {"python": platform.python_version(), "cpus": str(os.cpu_count())}
    for name in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    out["sqlite"] = sqlite3.sqlite_version
    return out


def read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
