"""S3: with a token, every route and every method refuses a request without it (401) or with a
wrong one (403), the live stream and the static files included; compared in constant time."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.conftest import client_for
from tunewise.server import security

TOKEN = "s3cret-token-for-tests-0123456789"
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


@pytest.fixture(scope="module")
def guarded(demo: tuple[str, Path]) -> Iterator[TestClient]:
    with client_for(demo[0], token=TOKEN, allow_control=True) as client:
        yield client


def every_path(demo_url: str) -> list[str]:
    """Each route of the application (the API's from its OpenAPI document, the pages' from the
    router) with sample values, plus paths that match no route."""
    samples = {"name": "demo", "number": "3", "kind": "history", "stream": "stdout",
               "path": "stdout.log"}  # fmt: skip
    with client_for(demo_url) as open_client:  # no token: to read the route list
        api_paths = list(open_client.get("/api/openapi.json").json()["paths"])
        app = open_client.app
    pages = [getattr(r, "path", None) for r in app.routes]  # type: ignore[attr-defined]
    templates = [*api_paths, *(p for p in pages if p)]
    paths = [re.sub(r"\{(\w+)(:\w+)?\}", lambda m: samples.get(m[1], "x"), p) for p in templates]
    assert "/api/studies/demo/events" in paths and "/studies/demo/trials/3" in paths
    return [*paths, "/static/plotly.min.js", "/no/such/route", "/api/nothing"]


def test_every_route_and_method_needs_the_token(
    guarded: TestClient, demo: tuple[str, Path]
) -> None:
    paths = every_path(demo[0])
    assert len(paths) > 15
    for path in paths:
        for method in METHODS:
            missing = guarded.request(method, path)
            assert missing.status_code == 401, (method, path)
            wrong = guarded.request(method, path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 403, (method, path)
            cookie = guarded.request(method, path, headers={"Cookie": "tunewise_token=nope"})
            assert cookie.status_code == 403, (method, path)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert guarded.get("/api/studies", headers=bearer).status_code == 200
    assert guarded.post("/api/studies/demo/stop", headers=bearer).status_code in (200, 409)
    assert guarded.get("/api/studies", params={"token": "nope"}).status_code == 403
    assert guarded.post(f"/api/studies/demo/stop?token={TOKEN}").status_code == 401, (
        "a token in the address is accepted for GET links only"
    )


def test_a_link_with_the_token_sets_a_cookie_and_drops_it_from_the_address(
    guarded: TestClient,
) -> None:
    response = guarded.get(f"/studies/demo?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/studies/demo"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = guarded.get("/studies/demo", headers={"Cookie": f"tunewise_token={TOKEN}"})
    assert page.status_code == 200


def test_the_comparison_is_constant_time(
    guarded: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    guarded.get("/api/studies", headers={"Authorization": "Bearer nope"})
    guarded.get("/api/studies", headers={"Authorization": f"Bearer {TOKEN}"})
    assert calls == [(b"nope", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]
