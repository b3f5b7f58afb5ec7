"""S9: the redirect that takes the token out of the address never leaves the server, however
the path is spelled (issue 21 #8: ``/%5Cevil.example`` and ``/%09/evil.example`` went to
http://evil.example/; #24: a CR LF in the path crashed the reply); a server bound to another
loopback address answers at the URL it prints (#14: every request was refused 403)."""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx2
import pytest

from tests.server.conftest import client_for
from tests.server.helpers import Server, free_port, make_study, running_server

#: Paths (sent byte for byte) that once led, or might lead, a browser off the server.
REDIRECT_PROBES = [
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%09/evil.example",
    "/%09%09evil.example",
    "//evil.example",
    "/%2F%2Fevil.example",
    "/%2F/evil.example",
    "/\\evil.example",
    "/\\/evil.example",
    "/%0d%0aLocation:%20http://evil.example",
    "/studies/%0d%0aSet-Cookie:%20pwned=1",
    "/studies/demo%0d%0a",
    "/studies/demo/trials/3%0a",
    "/%E2%80%AEelpmaxe.live",
    "/%00evil.example",
    "/%20/evil.example",
    "/static/%5C%5Cevil.example",
    "/api/studies/demo/trials/3/files/%2F%2Fevil.example",
    "/@evil.example",
    "/http://evil.example",
]


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    root = tmp_path_factory.mktemp("redirect")
    url = f"sqlite:///{root / 'r.db'}"
    make_study(url, root / "runs", n=4)
    token_file = root / "token"
    with running_server(url, "--token-file", str(token_file), cwd=root) as server:
        yield server, token_file.read_text().strip()
    assert "Traceback" not in server.output and "Illegal header" not in server.output, (
        server.output[-2000:]
    )


def raw_get(server: Server, target: str) -> http.client.HTTPResponse:
    address = urlsplit(server.base)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    conn.putrequest("GET", target, skip_accept_encoding=True)
    conn.endheaders()
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def stays_on(base: str, location: str) -> bool:
    """Whether a browser sent to ``location`` from ``base`` stays on ``base``'s host, read as
    a browser reads it: backslashes are slashes, tabs and newlines are dropped."""
    browser_view = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    return all(
        urlsplit(urljoin(base + "/x", seen)).netloc == urlsplit(base).netloc
        for seen in (location, browser_view)
    )


@pytest.mark.parametrize("path", REDIRECT_PROBES)
def test_the_token_redirect_stays_on_the_server(
    token_server: tuple[Server, str], path: str
) -> None:
    server, token = token_server
    response = raw_get(server, f"{path}?token={token}")
    assert response.status == 303, (path, response.status)
    location = response.getheader("location") or ""
    assert location.startswith("/") and location[1:2] not in ("/", "\\"), location
    assert location.isascii() and not re.search(r"[\x00-\x20\x7f\\]", location), location
    assert stays_on(server.base, location), location
    assert token not in location


def test_known_pages_keep_their_path_and_other_parameters(
    token_server: tuple[Server, str],
) -> None:
    server, token = token_server
    for path, expected in (("/studies/demo", "/studies/demo"),
                           ("/studies/demo/trials/3?x=1", "/studies/demo/trials/3?x=1"),
                           ("/?next=//evil.example", "/?next=%2F%2Fevil.example"),
                           ("/api/studies/demo", "/api/studies/demo"),
                           ("/api/studies/demo/trials/3/files/logs/a%25b.txt",
                            "/api/studies/demo/trials/3/files/logs/a%25b.txt"),
                           ("/nowhere/at/all", "/")):  # fmt: skip
        sep = "&" if "?" in path else "?"
        response = raw_get(server, f"{path}{sep}token={token}")
        assert response.status == 303 and response.getheader("location") == expected, path
    cookie = {"Cookie": f"tunewise_token={token}"}
    assert httpx2.get(server.base + "/studies/demo", headers=cookie).status_code == 200


def test_another_loopback_address_answers_at_the_printed_url(tmp_path: Path) -> None:
    """Issue 21 #14: ``serve --host 127.0.0.2`` refused every request 403."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    make_study(url, tmp_path / "runs", n=2)
    port = free_port()
    with running_server(url, host="127.0.0.2", port=port) as server:
        for path in ("/", "/studies/demo", "/api/studies"):
            response = httpx2.get(server.base + path)
            assert response.status_code == 200, (path, response.text[:200])
        rebound = httpx2.get(server.base + "/", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 403
    printed = re.search(r"dashboard at (http://\S+?)/", server.output)
    assert printed and printed[1] == f"http://127.0.0.2:{port}", server.output


def test_the_bound_address_is_allowed_and_only_it(demo: tuple[str, Path]) -> None:
    for host in ("127.0.0.2", "127.1.2.3", "::1"):
        with client_for(demo[0], host=host, port=8642) as client:
            shown = f"[{host}]" if ":" in host else host
            for header in (f"{shown}:8642", shown, "127.0.0.1:8642", "localhost:8642"):
                response = client.get("/api/studies", headers={"Host": header})
                assert response.status_code == 200, (host, header)
            for header in ("127.0.0.9:8642", "evil.example:8642", f"{shown}.evil.example"):
                response = client.get("/api/studies", headers={"Host": header})
                assert response.status_code == 403, (host, header)
