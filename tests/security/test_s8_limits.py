"""S8: a 2 MiB body, NaN or Infinity in JSON, a 10,000-character name: 413 or 422, never 5xx."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx2

from tests.server.helpers import Server

TWO_MIB = 2 * 1024 * 1024


def post(server: Server, path: str, body: bytes | Iterator[bytes], **headers: str) -> int:
    address = urlsplit(server.base)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        chunked = not isinstance(body, bytes)
        conn.request("POST", path, body=body, encode_chunked=chunked,
                     headers={"Content-Type": "application/json", **headers})  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    except (BrokenPipeError, ConnectionResetError):
        return 413  # the server answered 413 and closed before the whole body was sent
    finally:
        conn.close()


def test_a_2_mib_body_is_refused(live: Server) -> None:
    big = b'{"note": "' + b"x" * TWO_MIB + b'"}'
    assert post(live, "/api/studies/demo/stop", big) == 413
    assert post(live, "/api/studies/demo/trials", big) == 413  # a GET route: still 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams in
        yield b'{"note": "'
        for _ in range(32):
            yield b"x" * (64 * 1024)
        yield b'"}'

    assert post(live, "/api/studies/demo/stop", chunks()) == 413
    assert post(live, "/api/studies/demo/stop", b"{}", **{"Content-Length": "abc"}) in (400, 413)


def test_nan_and_infinity_are_refused(live: Server) -> None:
    for body in (b'{"note": NaN}', b'{"note": Infinity}', b'{"note": -Infinity}',
                 b'{"note": "x", "n": NaN}', b"NaN", b"[Infinity]"):  # fmt: skip
        assert post(live, "/api/studies/demo/stop", body) == 422, body
    for value in ("NaN", "Infinity", "-inf", "1e999"):
        response = httpx2.get(f"{live.base}/api/studies/demo/trials", params={"min_value": value})
        assert response.status_code == 422, value


def test_a_10000_character_name_is_refused(live: Server) -> None:
    name = "a" * 10_000
    for path in (f"/api/studies/{name}", f"/api/studies/{name}/trials", f"/studies/{name}",
                 f"/api/studies/demo/trials/3/files/{name}",
                 f"/api/studies/demo/trials?sort={name}"):  # fmt: skip
        response = httpx2.get(live.base + path)
        page = not path.startswith("/api/")  # a page answers an HTML 404 page
        assert response.status_code == (404 if page else 422), path[:60]
        assert len(response.content) < 5_000, "the input is not echoed back"
    response = httpx2.get(f"{live.base}/api/studies/demo/trials/{'9' * 10_000}")
    assert response.status_code == 422
