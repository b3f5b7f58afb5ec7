"""The security tests share the server tests' store and client, and one real server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.server.conftest import BASE, client, client_for, demo  # noqa: F401
from tests.server.helpers import Server, make_study, running_server


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``tunewise serve --allow-control`` on loopback over a study whose trial 3 holds
    symlinks that lead out of its folder."""
    root = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{root / 'live.db'}"
    make_study(url, root / "runs", n=6)
    folder = root / "runs" / "demo" / "00003"
    (root / "secret.txt").write_text("TOP-SECRET\n")
    os.symlink(root / "secret.txt", folder / "escape.txt")
    os.symlink("../../../secret.txt", folder / "relative.txt")
    os.symlink(root, folder / "up")
    os.symlink("stdout.log", folder / "inside.log")
    with running_server(url, "--allow-control", cwd=root) as server:
        yield server
