"""The token link's redirect in a real browser: Chromium reads ``\\`` as ``/`` and drops tabs,
which is how ``/%5Cevil.example?token=T`` and ``/%09/evil.example?token=T`` once sent it to
http://evil.example/ (issue 21 #8); a CR LF in the path broke the reply (#24). Every spelling
must end on the dashboard, on 127.0.0.1, with the cookie set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.security.test_s9_redirect_and_host import REDIRECT_PROBES
from tests.server.helpers import Server, make_study, running_server


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    root = tmp_path_factory.mktemp("browser-redirect")
    url = f"sqlite:///{root / 'r.db'}"
    make_study(url, root / "runs", n=3)
    token_file = root / "token"
    with running_server(url, "--token-file", str(token_file), cwd=root) as server:
        yield server, token_file.read_text().strip()
    assert "Traceback" not in server.output, server.output[-2000:]


def test_every_redirect_spelling_ends_on_the_dashboard(
    browser: Any, guarded: tuple[Server, str]
) -> None:
    server, token = guarded
    context = browser.new_context()
    page = context.new_page()
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    try:
        for path in REDIRECT_PROBES:
            visited.clear()
            page.goto(f"{server.base}{path}?token={token}", timeout=15_000)
            final = urlsplit(page.url)
            assert (final.hostname, final.port) == ("127.0.0.1", urlsplit(server.base).port), (
                path,
                page.url,
            )
            assert token not in page.url, path
            assert all(urlsplit(u).hostname == "127.0.0.1" for u in visited), (path, visited)
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["tunewise_token"]["httpOnly"]
        page.goto(f"{server.base}/studies/demo?token={token}")
        assert urlsplit(page.url).path == "/studies/demo" and "demo" in page.title()
    finally:
        context.close()
