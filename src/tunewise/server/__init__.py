"""The web face of tunewise: a dashboard and a REST API over a store (``tunewise serve``).

Needs the ``dashboard`` extra (FastAPI, uvicorn, Jinja2, plotly for its plotly.js). Importing
this package loads none of them: ``create_app`` and ``ServerConfig`` are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunewise.server.app import ServerConfig, create_app

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tunewise.server import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
