"""S4: on a loopback bind only loopback Host names are served (DNS rebinding), and a request
from another origin is refused (CSRF)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_only_loopback_host_names(client: TestClient) -> None:
    for host in ("127.0.0.1:8642", "localhost:8642", "[::1]:8642", "127.0.0.1", "LOCALHOST:8642"):
        assert client.get("/api/studies", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example:8642", "attacker.test", "127.0.0.1.evil.example:8642", ""):
        assert client.get("/api/studies", headers={"Host": host}).status_code == 403, host
        assert client.get("/", headers={"Host": host}).status_code == 403, host


def test_cross_origin_requests_are_refused(client: TestClient) -> None:
    same = {"Origin": "http://127.0.0.1:8642"}
    assert client.get("/api/studies", headers=same).status_code == 200
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "null", "file://"):
        headers = {"Origin": origin}
        assert client.get("/api/studies", headers=headers).status_code == 403, origin
        assert client.post("/api/studies/demo/stop", headers=headers).status_code == 403, origin
    assert "access-control-allow-origin" not in client.get("/api/studies", headers=same).headers
