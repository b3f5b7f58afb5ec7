"""The security tests share the server tests' store and client, and one real server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.server.conftest import BASE, client, client_for, demo  # noqa: F401
from tests.server.helpers import Server, make_study, running_server, trial_folder


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``tunewise serve --allow-control`` on loopback over a study whose trial 3 holds
    symlinks that lead out of its folder and whose trial 5's folder is a link to /etc."""
    root = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{root / 'live.db'}"
    make_study(url, root / "runs", n=6)
    folder = trial_folder(url, "demo", 3)
    (root / "secret.txt").write_text("TOP-SECRET\n")
    os.symlink(root / "secret.txt", folder / "escape.txt")
    os.symlink("../../../secret.txt", folder / "relative.txt")
    os.symlink(root, folder / "up")
    os.symlink("stdout.log", folder / "inside.log")
    linked = trial_folder(url, "demo", 5)
    shutil.rmtree(linked)
    os.symlink("/etc", linked)  # issue 21 #3/#19: it served /etc/passwd
    with running_server(url, "--allow-control", cwd=root) as server:
        yield server
