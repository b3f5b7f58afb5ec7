"""Headless Chromium (Debian's, at /usr/bin/chromium) driven by Playwright.

Never `playwright install`: it downloads a browser build, which this network does not allow;
`make test` installs Debian's chromium instead. In CI (CI set) these tests must run: a missing
browser fails them. Elsewhere they are skipped when Chromium is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [  # INFRA.md's flags: no sandbox (root in a container), no GPU, nothing phoning home
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; `make browser` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (`make browser` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
