"""S6: the log and file routes never read outside the trial's folder, however the path is
spelled: ``../``, ``%2e%2e/``, ``%252e%252e/``, ``..\\``, absolute paths, symlinks out; no
symbolic link is served at all, a trial folder that is one least of all (``00005 -> /etc``)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.server.helpers import Server
from tunewise.server.files import UnsafePath, check_name

FILES = "/api/studies/demo/trials/3/files/"
ATTACKS = [
    "../../../live.db",
    "../../../secret.txt",
    "%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
    "%252e%252e/%252e%252e/%252e%252e/secret.txt",
    "..%5c..%5c..%5csecret.txt",
    "..\\..\\..\\secret.txt",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//etc/passwd",
    "./../../../secret.txt",
    "stdout.log/../../../../secret.txt",
    "~/.bashrc",
    "C:/Windows/win.ini",
    "stdout.log%00.txt",
    "escape.txt",
    "relative.txt",
    "up/secret.txt",
    "up/live.db",
]


def raw_get(server: Server, path: str) -> tuple[int, bytes]:
    """A GET with the path sent exactly as written (no client-side normalisation)."""
    address = urlsplit(server.base)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("attack", ATTACKS)
def test_paths_out_of_the_trial_folder_are_refused(live: Server, attack: str) -> None:
    status, body = raw_get(live, FILES + attack)
    assert status in (404, 422), (attack, status, body[:200])
    assert b"TOP-SECRET" not in body and b"SQLite format" not in body and b"root:" not in body


def test_the_log_route_takes_only_stdout_and_stderr(live: Server) -> None:
    for stream in ("..%2f..%2f..%2fsecret.txt", "../stdout", "stdout.log", "%2e%2e"):
        status, body = raw_get(live, f"/api/studies/demo/trials/3/logs/{stream}")
        assert status in (404, 422) and b"TOP-SECRET" not in body, stream


def test_files_inside_the_folder_are_served_but_no_link(live: Server) -> None:
    status, body = raw_get(live, FILES + "stdout.log")
    assert status == 200 and b"trial 3" in body
    status, body = raw_get(live, FILES + "inside.log")  # a link, even one that stays inside
    assert status in (404, 422) and b"trial 3" not in body
    status, body = raw_get(live, "/api/studies/demo/trials/3")
    names = {f["name"] for f in json.loads(body)["files"]}
    assert status == 200 and names == {"stdout.log", "stderr.log"}


def test_a_trial_folder_that_is_a_link_is_not_served(live: Server) -> None:
    """Issue 21 #3/#19: ``runs/demo/00005 -> /etc`` served /etc/passwd."""
    linked = "/api/studies/demo/trials/5"
    for path in ("/files/passwd", "/files/hostname", "/logs/stdout", "/logs/stderr"):
        status, body = raw_get(live, linked + path)
        assert status in (404, 422) and b"root:" not in body, (path, status, body[:200])
    status, body = raw_get(live, linked)
    assert status == 200 and json.loads(body)["files"] == []
    status, body = raw_get(live, "/studies/demo/trials/5")
    assert status == 200 and b"root:" not in body and b"passwd" not in body


def test_the_name_check_itself() -> None:
    for name in ("a/../b", "..", "a\\b", "/a", "a//b", "a/./b", "%2e", "a\x00", "", "x" * 513):
        with pytest.raises(UnsafePath):
            check_name(name)
    assert check_name("logs/epoch-1.txt") == "logs/epoch-1.txt"
