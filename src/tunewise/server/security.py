"""What keeps the dashboard safe by default, as one ASGI middleware in front of every route.

In order, for every HTTP request (static files, the OpenAPI document and the live stream
included, whatever the method):

1. **Host allow-list** on a loopback bind: only ``127.0.0.1``, ``localhost``, ``[::1]`` and the
   address the server is bound to (``--host 127.0.0.2``: the URL it prints), with or without the
   server's port, are accepted, so a web page whose DNS name was re-bound to 127.0.0.1 cannot
   read the API from the user's browser (DNS rebinding).
2. **Origin check**: a request that carries an ``Origin`` (browsers add it to cross-site and to
   state-changing requests) must come from the server's own origin; a page on another site
   cannot make the browser call the API with the user's cookie (CSRF).
3. **Token** (when the server has one): ``Authorization: Bearer T``, or the ``tunewise_token``
   cookie that ``GET /?token=T`` sets (so a person can open the dashboard from a link and the
   browser's live stream, which cannot send headers, is covered). Missing: 401; wrong: 403.
   Compared with :func:`hmac.compare_digest`, in constant time. The redirect that drops the
   token from the address goes to a path built from the route the request matched, its
   parameters percent-encoded (``/`` when none matches): never to the request's own text, so
   ``/%5Cevil.example``, ``/%09/evil.example`` or a CR LF cannot make it leave the server or
   break the header.
4. **Body size**: over :data:`MAX_BODY` bytes is refused with 413, by ``Content-Length`` or while
   a chunked body streams in, before any handler parses it.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match

from tunewise.errors import SpecError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 1024 * 1024  # control requests are tiny; 1 MiB is generous
COOKIE = "tunewise_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
#: Headers every response gets: no framing by other sites, no MIME sniffing, no referrer.
SAFE_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_token_file(path: Path, *, create: bool = True) -> tuple[str, bool]:
    """The token in ``path``, generating one (mode 0600) when the file does not exist.

    Returns the token and whether it was just created.

    Raises:
        SpecError: the file is readable by others, empty, or cannot be read or written.
    """
    if not path.exists():
        if not create:
            raise SpecError("--token-file", f"{path} does not exist")
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise SpecError("--token-file", f"cannot create {path} ({exc.strerror})") from None
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        return token, True
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError("--token-file", f"cannot read {path} ({exc})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SpecError(
            "--token-file", f"{path} can be read by other users; run `chmod 600 {path}`"
        )
    token = text.strip()
    if len(token) < 16 or any(c.isspace() for c in token):
        raise SpecError("--token-file", f"{path} must hold one token of at least 16 characters")
    return token, False


@dataclass(frozen=True)
class Guard:
    """The settings the middleware enforces."""

    token: str | None
    loopback: bool
    port: int
    host: str = "127.0.0.1"  # the bound address: its URL is the one ``serve`` prints

    def allowed_hosts(self) -> frozenset[str]:
        names = set(LOOPBACK_NAMES)
        bound = self.host.strip("[]").lower()
        names |= {bound, f"[{bound}]"} if ":" in bound else {bound}
        return frozenset(names | {f"{n}:{self.port}" for n in names})

    def token_matches(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))


class SecurityMiddleware:
    """Applies a :class:`Guard` to every HTTP request before the application sees it."""

    def __init__(
        self, app: ASGIApp, guard: Guard, routes: Callable[[], Sequence[BaseRoute]] = list
    ) -> None:
        self.app = app
        self.guard = guard
        self.routes = routes  # the application's routes, for the token redirect's target
        self._hosts = guard.allowed_hosts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.guard.loopback and host.lower() not in self._hosts:
            await _refuse(send, 403, f"Host {host[:100]!r} is not allowed on a loopback server")
            return
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in (
            f"http://{host}".lower(),
            f"https://{host}".lower(),
        ):
            await _refuse(send, 403, "cross-origin requests are not allowed")
            return
        if self.guard.token is not None:
            verdict = self._check_token(scope, headers)
            if verdict is not None:
                await _refuse(send, *verdict)
                return
            if scope["method"] == "GET" and "token" in _query(scope):
                target = redirect_target(scope.get("path", "/"), self.routes())
                await _redirect_with_cookie(scope, send, self.guard.token, target)
                return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await _refuse(send, 413, f"request bodies are limited to {MAX_BODY} bytes")
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *SAFE_HEADERS]
            await send(message)

        try:
            await self.app(scope, _limited(receive), send_with_headers)
        except BodyTooLarge:
            if not started:
                await _refuse(send, 413, f"request bodies are limited to {MAX_BODY} bytes")

    def _check_token(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """``None`` when the request carries the right token, else the status and why."""
        given: str | None = None
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        elif "cookie" in headers:
            for part in headers["cookie"].split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    given = value
        if given is None and scope["method"] == "GET":
            values = _query(scope).get("token")
            given = values[-1] if values else None
        if given is None:
            return 401, "a token is required: Authorization: Bearer TOKEN, or open /?token=TOKEN"
        if not self.guard.token_matches(given):
            return 403, "wrong token"
        return None


def _query(scope: Scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)


class BodyTooLarge(HTTPException):
    """A streamed body passed :data:`MAX_BODY`. An HTTP exception, so that FastAPI's body
    parsing lets it through (it turns other errors while reading the body into 400)."""

    def __init__(self) -> None:
        super().__init__(413, f"request bodies are limited to {MAX_BODY} bytes")


def _limited(receive: Receive) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise BodyTooLarge
        return message

    return wrapped


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += SAFE_HEADERS
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="tunewise"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def flat_routes(routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    """``routes`` with each included router replaced by its own routes, in order (FastAPI
    keeps ``app.include_router(router)`` as one entry that holds the router)."""
    out: list[BaseRoute] = []
    for route in routes:
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        out.extend(flat_routes(inner) if inner is not None else [route])
    return out


def redirect_target(path: str, routes: Sequence[BaseRoute]) -> str:
    """The path of the GET route ``path`` matches, rebuilt from the route's template with its
    parameters percent-encoded; ``/`` when no route matches. What comes back always starts
    with ``/`` and a literal segment of a route (or is ``/``), and holds no byte a header or a
    browser could read as another host, so it cannot lead off this server."""
    probe: Scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
    for route in flat_routes(routes):
        template = getattr(route, "path_format", None)
        if not isinstance(template, str) or not template.startswith("/"):
            continue
        match, child = route.matches(probe)
        if match is not Match.FULL:
            continue
        built = template
        for key, value in child.get("path_params", {}).items():
            built = built.replace("{" + key + "}", quote(str(value), safe="/"))
        if built.startswith("/") and not built.startswith("//") and built.isascii():
            return built
    return "/"


async def _redirect_with_cookie(scope: Scope, send: Send, token: str, target: str) -> None:
    """``GET /x?token=T`` -> cookie set, redirect to ``target`` (the token leaves the address
    bar); the other query parameters follow, encoded."""
    query = {k: v for k, v in _query(scope).items() if k != "token"}
    if query:
        target += "?" + urlencode(query, doseq=True)
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", target.encode("ascii")),
                (b"set-cookie", cookie.encode()),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
