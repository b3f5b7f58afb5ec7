"""What the benchmark scripts share: the versions they ran with, their results, their options."""

from __future__ import annotations

import argparse
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


def add_pg_setting_option(parser: argparse.ArgumentParser) -> None:
    """``--pg-setting NAME=VALUE`` (repeatable): a setting of the throwaway PostgreSQL server."""
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the throwaway PostgreSQL server (e.g. synchronous_commit=off)",
    )


def emit_table(lines: list[str], out: str | None) -> None:
    """Print a Markdown table and, with ``out``, write it to that file too."""
    table = "\n".join(lines)
    print(table)
    if out:
        with open(out, "w") as f:
            f.write(table + "\n")
