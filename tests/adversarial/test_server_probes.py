"""The server probes of the adversarial pass (issue 21), as a suite that runs in `make test`.

One real ``tunewise serve --token-file`` on 127.0.0.1 over a store holding a study whose
trial 3 has links out of its folder, whose trial 5's folder is a link to /etc, and a study whose
stored names, values and errors are HTML. Every probe is sent byte for byte (http.client, no
client-side normalisation), bounded in count and time, to loopback only:

- path traversal, 20 spellings (plain, encoded, double-encoded, backslash, overlong UTF-8,
  unicode dots, absolute, NUL, links out, a linked trial folder) on the file, log and static
  routes: never a byte of what lies outside;
- every route of the application, every method, without the token: 401;
- the token link's redirect, 20 spellings: never off the server, never a broken header;
- CR LF in the path and the query: no header injected, no crash;
- oversized headers and query strings: refused, and the server answers the next request;
- HTML in what a study stores (categorical values, metric names, errors, a study's name and
  reason): escaped on every page, no raw ``<script>``;
- 200 requests at once: no 5xx.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.server.conftest import client_for
from tests.server.helpers import Server, make_study, running_server, spec_dict, trial_folder
from tunewise.server.security import flat_routes
from tunewise.spec import StudySpec
from tunewise.store import open_store
from tunewise.trial import FailureKind, StudyState, TrialState

pytestmark = pytest.mark.timeout(120)

SCRIPT = "<script>alert(1)</script>"
EVIL = f'"><img src=x onerror=alert(2)>{SCRIPT}'

TRAVERSALS = [
    "../../../secret.txt",
    "%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
    "%252e%252e/%252e%252e/%252e%252e/secret.txt",
    "%25252e%25252e%25252fsecret.txt",
    "..%5c..%5c..%5csecret.txt",
    "..\\..\\..\\secret.txt",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 dots
    "%ef%bc%8e%ef%bc%8e/%ef%bc%8e%ef%bc%8e/%ef%bc%8e%ef%bc%8e/secret.txt",  # fullwidth dots
    "%u002e%u002e/%u002e%u002e/secret.txt",
    "..%2f..%2f..%2fsecret.txt",
    ".%2e/.%2e/.%2e/secret.txt",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//etc/passwd",
    "stdout.log%00/../../../secret.txt",
    "stdout.log/../../../../secret.txt",
    "escape.txt",  # a link to the secret
    "up/secret.txt",  # a linked folder
    "~/.bashrc",
]
SECRETS = (b"TOP-SECRET", b"root:", b"SQLite format")
REDIRECTS = [
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "//evil.example",
    "/%2F%2Fevil.example",
    "/\\evil.example",
    "/%0d%0aLocation:%20http://evil.example",
    "/studies/%0d%0aSet-Cookie:%20pwned=1",
    "/%E2%80%AEelpmaxe.live",
    "/%00evil.example",
    "/%20/evil.example",
    "/%2e%2e/%2e%2e//evil.example",
    "/studies/..%2F..%2F%2Fevil.example",
    "/static/%5C%5Cevil.example",
    "/@evil.example",
    "/http:%2F%2Fevil.example",
    "/%ef%bc%8f%ef%bc%8fevil.example",  # fullwidth solidus
    "/studies/demo/trials/3%0d%0a",
    "/api/studies/demo/trials/3/files/%2F%2Fevil.example",
]


@dataclass
class Target:
    server: Server
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def send(target: Target, method: str, path: str, headers: dict[str, str] | None = None) -> Answer:
    """One request with the path exactly as given; a reset connection is status 0."""
    address = urlsplit(target.server.base)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return Answer(response.status, response.getheaders(), response.read())
    except (ConnectionError, http.client.HTTPException):
        return Answer(0, [], b"")
    finally:
        conn.close()


def plant_html(url: str, runs: Path) -> None:
    """A study named with HTML (written through the store, which takes any name), with HTML in
    a categorical value, a metric name, a trial's error and the study's reason."""
    data = spec_dict("xss", runs)
    data["space"]["act"]["values"] = ["relu", EVIL]
    store = open_store(url)
    try:
        for name in ("xss", f"x{EVIL}"):
            record = store.create_study(name, StudySpec.from_dict(data).to_dict())
            params = {"lr": 0.01, "layers": 2, "act": EVIL}
            first = store.add_trial(record.id, params, owner="t", lease_seconds=60)
            store.add_report(record.id, first.number, 0, {"loss": 1.0, EVIL: 2.0})
            store.finish_trial(record.id, first.number, TrialState.COMPLETED, value=1.0,
                               metrics={"loss": 1.0, EVIL: 2.0})  # fmt: skip
            second = store.add_trial(record.id, params, owner="t", lease_seconds=60)
            store.finish_trial(record.id, second.number, TrialState.FAILED,
                               failure_kind=FailureKind.USER_ERROR,
                               error=f"</pre>{EVIL}")  # fmt: skip
            store.set_study_state(record.id, StudyState.STOPPED, f"stopped: {EVIL}")
    finally:
        store.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp("probes")
    url = f"sqlite:///{root / 'probes.db'}"
    make_study(url, root / "runs", n=8)
    (root / "secret.txt").write_text("TOP-SECRET\n")
    folder = trial_folder(url, "demo", 3)
    os.symlink(root / "secret.txt", folder / "escape.txt")
    os.symlink(root, folder / "up")
    linked = trial_folder(url, "demo", 5)
    shutil.rmtree(linked)
    os.symlink("/etc", linked)
    plant_html(url, root / "runs")
    token_file = root / "token"
    with running_server(url, "--token-file", str(token_file), cwd=root) as server:
        yield Target(server, token_file.read_text().strip())
    assert "Traceback" not in server.output, server.output[-3000:]


def test_path_traversal_spellings_read_nothing_outside(target: Target) -> None:
    probes = [f"/api/studies/demo/trials/{n}/files/{t}" for n in (3, 5) for t in TRAVERSALS]
    probes += [f"/api/studies/demo/trials/3/logs/{t}" for t in TRAVERSALS[:8]]
    probes += [f"/static/{t}" for t in TRAVERSALS[:8]]
    probes += ["/api/studies/demo/trials/5/files/passwd", "/api/studies/demo/trials/5/logs/stdout"]
    assert len(probes) >= 55
    for path in probes:
        answer = send(target, "GET", path, target.auth)
        assert answer.status in (0, 400, 404, 422), (path, answer.status)
        assert not any(secret in answer.body for secret in SECRETS), path
    page = send(target, "GET", "/studies/demo/trials/5", target.auth)
    assert page.status == 200 and b"root:" not in page.body


def test_every_route_and_method_needs_the_token(target: Target, tmp_path: Path) -> None:
    with client_for(f"sqlite:///{tmp_path / 'routes.db'}") as client:
        routes = flat_routes(client.app.routes)  # type: ignore[attr-defined]
    samples = {"name": "demo", "number": "3", "kind": "history", "stream": "stdout",
               "path": "stdout.log"}  # fmt: skip
    probed = 0
    for route in routes:
        template = getattr(route, "path", None)
        assert isinstance(template, str), route
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: samples.get(m[1], "x"), template)
        for method in [*sorted(getattr(route, "methods", None) or {"GET"}), "OPTIONS", "PUT"]:
            answer = send(target, method, path)
            assert answer.status == 401, (method, path, answer.status)
            wrong = send(target, method, path, {"Authorization": "Bearer wrong"})
            assert wrong.status == 403, (method, path, wrong.status)
            probed += 1
    assert probed >= 3 * 20  # every route of the app (20 today), three methods or more each


def test_the_token_redirect_never_leaves_the_server(target: Target) -> None:
    base = target.server.base
    for path in REDIRECTS:
        answer = send(target, "GET", f"{path}?token={target.token}")
        assert answer.status == 303, (path, answer.status)
        location = dict(answer.headers)["location"]
        assert re.fullmatch(r"/([A-Za-z0-9_.~%\-][A-Za-z0-9_.~%/\-]*)?(\?[ -~]*)?", location), (
            path,
            location,
        )
        browser_view = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
        for seen in (location, browser_view):
            assert urlsplit(urljoin(base + "/", seen)).netloc == urlsplit(base).netloc, seen


def test_crlf_injection_adds_no_header(target: Target) -> None:
    probes = [
        f"/%0d%0aSet-Cookie:%20pwned=1?token={target.token}",
        f"/studies/demo%0d%0aX-Pwned:%201?token={target.token}",
        f"/?x=%0d%0aSet-Cookie:%20pwned=1&token={target.token}",
        "/api/studies/demo%0d%0aX-Pwned:%201",
        "/api/studies/demo/trials?sort=%0d%0aX-Pwned:%201",
        "/api/studies/demo/trials/3/files/a%0d%0aX-Pwned:%201",
    ]
    for path in probes:
        answer = send(target, "GET", path, None if "token=" in path else target.auth)
        assert 300 <= answer.status < 500, (path, answer.status)
        names = {name.lower() for name, _ in answer.headers}
        assert "x-pwned" not in names, (path, answer.headers)
        assert not any(re.search(r"[\x00-\x1f]", v) for _, v in answer.headers), answer.headers
        cookies = [v for n, v in answer.headers if n.lower() == "set-cookie"]
        assert all(v.startswith("tunewise_token=") and "pwned" not in v for v in cookies)


def test_oversized_headers_and_queries_are_refused_and_the_server_lives(target: Target) -> None:
    huge = "a" * 200_000
    for headers in ({**target.auth, "X-Big": huge},
                    {**target.auth, **{f"X-H{i}": "v" * 100 for i in range(500)}}):  # fmt: skip
        answer = send(target, "GET", "/api/studies", headers)  # ignored, or refused
        assert answer.status == 0 or answer.status < 500, answer.status
        assert send(target, "GET", "/api/studies", target.auth).status == 200
    probes = [
        (f"/api/studies?{huge}=1", target.auth),
        (f"/api/studies/demo/trials?sort={huge}", target.auth),
        (f"/studies/{'a' * 100_000}", target.auth),
        ("/api/studies", {"Authorization": f"Bearer {huge}"}),
        ("/api/studies", {"Cookie": f"tunewise_token={huge}"}),
    ]
    for path, headers in probes:
        answer = send(target, "GET", path, headers)
        assert answer.status == 0 or 400 <= answer.status < 500, (path[:60], answer.status)
        assert len(answer.body) < 10_000, "the input is not echoed back"
        after = send(target, "GET", "/api/studies", target.auth)
        assert after.status == 200, path[:60]


def test_html_in_stored_text_is_escaped_on_every_page(target: Target) -> None:
    pages = ["/", "/studies/xss", "/studies/xss/trials/0", "/studies/xss/trials/1",
             "/studies/nope%3Cscript%3E", "/no/%3Cscript%3Ealert(1)%3C/script%3E"]  # fmt: skip
    for path in pages:
        answer = send(target, "GET", path, target.auth)
        assert answer.status in (200, 404), (path, answer.status)
        text = answer.body.decode()
        assert SCRIPT not in text and "<img src=x" not in text, path
        assert "onerror=alert" not in text or "&lt;img src=x onerror=alert" in text, path
    trial = send(target, "GET", "/studies/xss/trials/1", target.auth).body.decode()
    assert "&lt;/pre&gt;" in trial and "&lt;script&gt;" in trial
    studies = send(target, "GET", "/", target.auth).body.decode()
    assert "x&#34;&gt;&lt;img" in studies or "x&quot;&gt;&lt;img" in studies


def test_200_requests_at_once_get_no_5xx(target: Target) -> None:
    paths = [
        "/",
        "/studies/demo",
        "/studies/demo/trials/3",
        "/api/studies",
        "/api/studies/demo",
        "/api/studies/demo/trials?sort=value&limit=20",
        "/api/studies/demo/importance",
        "/api/studies/demo/figures/history",
        "/api/studies/demo/trials/3/logs/stdout",
        "/api/studies/nope",
        "/studies/demo/trials/999",
        "/api/studies/demo/sagemaker/describe",
    ]
    jobs = [paths[i % len(paths)] for i in range(200)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(lambda p: (p, send(target, "GET", p, target.auth)), jobs))
    statuses = [a.status for _, a in answers]
    assert all(0 < s < 500 for s in statuses), [
        (p, a.status) for p, a in answers if a.status >= 500 or a.status == 0
    ][:5]
    assert statuses.count(200) >= 150
