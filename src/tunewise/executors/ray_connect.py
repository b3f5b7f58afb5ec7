"""Connecting the driver to Ray: an existing cluster, or a private single-node Ray on loopback.

Ray is imported here and nowhere else on the driver, only when the Ray executor is used. For
``address: local`` three settings are made before Ray starts, because Ray reads them from the
environment of every process it starts (the driver's included):

- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: Ray's switch for single-machine clusters. With it the
  node's address is 127.0.0.1 and Ray's servers listen on loopback only; without it Ray
  replaces 127.0.0.1 by the machine's outward address and listens on every interface.
- ``RAY_AUTH_MODE=token`` and a fresh random ``RAY_AUTH_TOKEN`` (unless a token is already set):
  every RPC into the cluster must carry it.
- ``RAY_USAGE_STATS_ENABLED=0``: a private Ray reports no usage statistics.

The dashboard is not started (its agent listens on loopback like the rest).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from typing import Any

from tunewise.errors import SpecError

LOOPBACK_ENVIRONMENT = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "token",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def import_ray() -> Any:
    """The ``ray`` module, or a SpecError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise SpecError(
            "executor.type",
            "ray needs the Ray package on the driver and every node: pip install 'tunewise[ray]'",
        ) from None
    return ray


def connect(address: str) -> bool:
    """Connect this process to Ray at ``address`` (see :class:`~tunewise.policies.ExecutorSpec`).

    Returns whether this call made the connection (and so :func:`disconnect` should end it); a
    process that called ``ray.init`` itself keeps its own connection, whatever ``address`` says.

    Raises:
        SpecError: Ray is not installed, or nothing answered at ``address``.
    """
    if address == "local":
        os.environ.update(LOOPBACK_ENVIRONMENT)
        if not os.environ.get("RAY_AUTH_TOKEN") and not os.environ.get("RAY_AUTH_TOKEN_PATH"):
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address not in ("auto", "local"):
        _check_reachable(address)
    # Trial output goes to the trials' folders, not to the driver's terminal (Ray Client
    # takes no such options: they would be passed to the server's init).
    options: dict[str, Any] = {} if address.startswith("ray://") else {"log_to_driver": False}
    if address == "local":
        options.update(include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        context = ray.init(address=address, **options)
    except (
        ConnectionError,
        TimeoutError,
        RuntimeError,
        ValueError,
        ray.exceptions.RayError,
    ) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(exc).__name__
        if address == "auto":
            hint = "start one with `ray start --head`, set RAY_ADDRESS, or use address: local"
        elif address.startswith("ray://"):  # the Ray Client server's crash: see the README
            hint = (
                "check the address, the cluster's token (RAY_AUTH_TOKEN_PATH), and that its "
                "head runs with GRPC_ENABLE_FORK_SUPPORT=false"
            )
        else:
            hint = "check the address, that the cluster runs, and its token (RAY_AUTH_TOKEN_PATH)"
        raise SpecError(
            "executor.address",
            f"no Ray cluster could be used at {address!r} ({first}); {hint}",
        ) from None
    if address == "local":
        node_ip = str(context.address_info.get("node_ip_address", ""))
        if not _is_loopback(node_ip):
            ray.shutdown()
            raise SpecError(
                "executor.address",
                f"the local Ray came up on {node_ip}, not loopback, because Ray was imported "
                "before tunewise could set it up; set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in "
                "the environment or import ray after starting the study",
            )
    return True


def disconnect() -> None:
    """End this process's Ray connection (and the local Ray it started, if any)."""
    import ray

    ray.shutdown()


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds when nothing listens at ``HOST:PORT`` (Ray itself retries for a minute
    or more before it gives up on an address)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise SpecError(
            "executor.address",
            f"nothing answers at {address} ({reason}); check the address and that the Ray "
            "cluster runs",
        ) from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
