"""A store with a finished study in every trial state, and a test client over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.helpers import make_study
from tunewise.server import ServerConfig, create_app

BASE = "http://127.0.0.1:8642"


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """URL and runs folder of a store holding study ``demo``: 40 finished trials, 2 running."""
    root = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{root / 'demo.db'}"
    make_study(url, root / "runs", n=40, running=2)
    return url, root / "runs"


def client_for(url: str, **config: object) -> TestClient:
    app = create_app(ServerConfig(storage=url, warm=False, **config))  # type: ignore[arg-type]
    return TestClient(app, base_url=BASE, raise_server_exceptions=False)


@pytest.fixture(scope="package")
def client(demo: tuple[str, Path]) -> Iterator[TestClient]:
    with client_for(demo[0]) as test_client:
        yield test_client
