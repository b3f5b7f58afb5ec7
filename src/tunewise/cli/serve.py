"""``tunewise serve``: the dashboard and REST API over a store, safe by default.

It listens on 127.0.0.1 unless told otherwise; listening anywhere else (``--host 0.0.0.0``)
needs ``--token-file``, and then every request must carry the token. Control over HTTP (stop,
resume) is off unless ``--allow-control``.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path
from typing import Any

from tunewise.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    STORAGE_HELP,
    existing_store,
    lacks_dashboard_extra,
    storage_url,
)
from tunewise.errors import SpecError


def register(sub: Any) -> None:
    """Add ``serve`` to the ``tunewise`` command's subparsers."""
    serve = sub.add_parser("serve", help="web dashboard and REST API over a store")
    serve.add_argument("--storage", help=STORAGE_HELP)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    serve.add_argument("--port", type=int, default=8642, help="port (default 8642)")
    serve.add_argument(
        "--token-file",
        metavar="FILE",
        help="require the token in FILE on every request; a missing FILE is created with a new "
        "token, readable by you only (needed to listen beyond this machine)",
    )
    serve.add_argument(
        "--allow-control",
        action="store_true",
        help="allow stopping and resuming studies defined from spec files over HTTP",
    )
    serve.set_defaults(handler=cmd_serve)


#: What ``serve`` imports: the web framework with its parts, the server, the templates, plotly.
SERVE_NEEDS = ("starlette", "pydantic", "fastapi", "uvicorn", "jinja2", "plotly")


def cmd_serve(args: argparse.Namespace) -> int:
    if lacks_dashboard_extra("serve", *SERVE_NEEDS):
        return EXIT_FAILURE
    from tunewise.server.security import is_loopback, read_token_file

    if not 1 <= args.port <= 65535:
        raise SpecError("--port", f"must be between 1 and 65535, got {args.port}")
    url = storage_url(args.storage)
    if url in ("sqlite://", "sqlite:///:memory:"):
        raise SpecError(
            "--storage", "an in-memory store is empty to any other process; give a file"
        )
    token = None
    if args.token_file:
        path = Path(args.token_file)
        token, created = read_token_file(path)
        if created:
            print(f"tunewise: wrote a new token to {path} (mode 0600)", file=sys.stderr)
    loopback = is_loopback(args.host)
    if not loopback and token is None:
        raise SpecError(
            "--host",
            f"{args.host} can be reached from other machines: give --token-file FILE (created "
            "with a new token when missing) so that every request must carry it, or keep the "
            "default 127.0.0.1",
        )
    _check_port(args.host, args.port)
    return _run(existing_store(url), args.host, args.port, token, args.allow_control, loopback)


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SpecError("--port", f"{port} is in use; choose another port") from None
            raise SpecError("--host", f"cannot listen on {host}:{port} ({exc.strerror})") from None


def _run(url: str, host: str, port: int, token: str | None, control: bool, loopback: bool) -> int:
    import uvicorn

    from tunewise.server import ServerConfig, create_app

    shown = f"[{host}]" if ":" in host else host
    if not loopback:
        print(
            f"tunewise: warning: serving to the network on {shown}:{port}; every request needs "
            "the token, and traffic is not encrypted: put a TLS proxy in front of it on a "
            "network you do not trust",
            file=sys.stderr,
        )
    hint = "?token=TOKEN, with the token from the file, " if token else ""
    print(
        f"tunewise: dashboard at http://{shown}:{port}/{hint}(Ctrl-C stops it)"
        + ("; stop and resume over HTTP are allowed" if control else ""),
        file=sys.stderr,
    )
    app = create_app(
        ServerConfig(storage=url, host=host, port=port, token=token, allow_control=control)
    )
    uvicorn.run(
        app,
        host=host.strip("[]"),
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    return EXIT_OK
