"""The FastAPI application: REST API, dashboard pages, static files, behind the security guard.

``create_app(ServerConfig(...))`` is what ``tunewise serve`` runs with uvicorn and what tests
drive with a test client. Errors answer in the language of the route: JSON under ``/api``, an
HTML page (escaped, with the dashboard's content policy) everywhere else, so a person who
follows a stale link sees a page that says what is missing. Interactive API docs (``/docs``)
are off: they load their scripts from a CDN, and the machine may have no internet; the OpenAPI
document is at ``/api/openapi.json``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tunewise import __version__
from tunewise.errors import StoreError, StudyNotFound
from tunewise.server.api import build_router
from tunewise.server.data import StudyData
from tunewise.server.pages import build_pages, error_page
from tunewise.server.security import Guard, SecurityMiddleware, is_loopback

log = logging.getLogger("tunewise.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8642


@dataclass(frozen=True)
class ServerConfig:
    """How the server runs. ``storage`` is a store URL (a file or PostgreSQL: a server over an
    in-memory store would show nothing)."""

    storage: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    allow_control: bool = False
    warm: bool = True  # load every study in the background at start-up


def create_app(config: ServerConfig) -> FastAPI:
    data = StudyData(config.storage)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        data.start(warm=config.warm)
        try:
            yield
        finally:
            data.close()

    app = FastAPI(
        title="tunewise",
        version=__version__,
        description="Studies, trials, importance and SageMaker-shaped views of a tunewise store.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.data = data
    app.include_router(build_router(data, allow_control=config.allow_control))
    from tunewise.server.asktell import build_asktell_router  # ask and tell: control + token

    app.include_router(
        build_asktell_router(
            data, allow_control=config.allow_control, has_token=config.token is not None
        )
    )
    build_pages(app, data)

    @app.exception_handler(StudyNotFound)
    async def not_found(request: Request, exc: StudyNotFound) -> Response:
        return _error(request, 404, f"no study named {exc.name!r}"[:300])

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        log.warning("storage error on %s: %s", request.url.path, exc)
        return _error(request, 503, "the store could not answer; try again")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not _is_api(request):  # a page's address with a malformed name or number
            return _error(request, 404, "no such page: check the study name and trial number")
        # FastAPI would echo the input back; a 2 MiB or 10,000-character input stays out.
        errors: list[dict[str, Any]] = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:200]}
            for e in exc.errors()[:10]
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    guard = Guard(
        token=config.token, loopback=is_loopback(config.host), port=config.port, host=config.host
    )
    app.add_middleware(SecurityMiddleware, guard=guard, routes=lambda: app.routes)
    return app


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


def _error(
    request: Request, status: int, detail: Any, headers: Mapping[str, str] | None = None
) -> Response:
    """The error as JSON ``{"detail": ...}`` under ``/api``, else as an HTML page."""
    if _is_api(request) or not isinstance(detail, str):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    text, extra = error_page(status, detail)
    return HTMLResponse(text, status_code=status, headers={**extra, **(headers or {})})
