"""Helpers of the Ray executor tests: a real two-node Ray cluster on loopback, and the processes
that use it.

Ray replaces 127.0.0.1 by the machine's outward address unless it runs where loopback is the
only network (INFRA.md), so the cluster lives in a network namespace of its own: a holder
process made by ``unshare --net`` brings ``lo`` up and sleeps, and every process of the test
that talks to Ray (the nodes, the ``tunewise`` driver, a node watcher) enters that namespace
with ``nsenter``. Only the network is separate: pids and files are shared with the test, so
the test signals the Ray processes by their own pids (never ``ray stop``, which would stop
every Ray on the machine) and reads the study's SQLite store directly.

Every Ray process has ``RAY_AUTH_MODE=token`` and the same ``RAY_AUTH_TOKEN_PATH`` (a joining
node or a driver without them is refused), usage statistics off, grpcio's fork handlers off
(see :func:`ray_env`) and its own temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.reliability.conftest import REPO, Launcher, Proc, alive, cli_env, wait_until
from tests.reliability.conftest import launcher as launcher  # the fixture, for the tests here

RAY = Path(sys.executable).with_name("ray")
PORT = 6379  # free for sure: the namespace is new
ADDRESS = f"127.0.0.1:{PORT}"
#: The head's Ray Client server (Ray's default port, below the worker ports 10002-19999 that
#: Ray keeps for itself: ``ray start`` refuses a client port among them).
CLIENT_PORT = 10001
CLIENT_ADDRESS = f"ray://127.0.0.1:{CLIENT_PORT}"
#: GCS health checks every second, dead after 5 misses: a node is declared dead ~5-8 s after
#: its raylet died (Ray's default, 3 s x 5, takes 15-20 s).
HEALTH_CHECKS = {
    "health_check_period_ms": 1000,
    "health_check_timeout_ms": 3000,
    "health_check_failure_threshold": 5,
}
START_TIMEOUT = 120.0  # two cores shared with other tests: Ray's Python daemons start slowly

#: ``python -c LISTEN_PROBE PORT TIMEOUT``: exits 0 once 127.0.0.1:PORT accepts a connection.
LISTEN_PROBE = """
import socket, sys, time
port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listens at 127.0.0.1:{port}")
        time.sleep(0.1)
"""

#: (test id, figure) pairs measured by the Ray tests, printed at the end of the run.
FIGURES: list[tuple[str, str]] = []


def figure(rid: str, text: str) -> None:
    FIGURES.append((rid, text))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("ray figures")
        for rid, text in FIGURES:
            terminalreporter.write_line(f"{rid}: {text}")


def short_temp_dir(prefix: str) -> Path:
    """A temporary folder with a short path: Ray's unix sockets live under it (108 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def ray_env(folder: Path, temp: Path) -> dict[str, str]:
    """The environment of every process that talks to the test cluster."""
    token = folder / "auth_token"
    if not token.exists():
        token.write_text(secrets.token_hex(32))
    env = cli_env()
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(token),
        RAY_USAGE_STATS_ENABLED="0",
        RAY_TMPDIR=str(temp),
        PYTHONPATH=str(REPO),
        # The head's Ray Client server forks a server per connection; with grpcio's fork
        # handlers on, the child sometimes crashes before its exec (a segfault in cygrpc) and
        # the driver fails ~40 s later with "Initialization failure from server" (README).
        GRPC_ENABLE_FORK_SUPPORT="false",
    )
    return env


def raylet_of(node: Proc) -> psutil.Process:
    """The raylet that ``ray start --block`` started (its child)."""
    for child in node.descendants():
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.name() == "raylet":
                return child
    pytest.fail(f"no raylet under ray start (pid {node.pid}):\n{node.stderr[-3000:]}")


class RayCluster:
    """A head and one worker node (``--num-cpus=1`` each) in a namespace with only loopback;
    the head serves Ray Client at :data:`CLIENT_ADDRESS`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.temp = short_temp_dir("tw-ray-")
        self.launcher = Launcher(folder / "process-logs")
        self.env = ray_env(folder, self.temp)
        self.nodes: list[Proc] = []

    def start_nodes(self) -> None:
        self.holder = self.launcher.start(
            [
                "unshare",
                "--net",
                "--",
                "sh",
                "-c",
                "ip link set lo up && echo ready && exec sleep 3600",
            ],
            cwd=self.folder,
            env=self.env,
        )
        wait_until(lambda: "ready" in self.holder.stdout, 30, "the network namespace is ready")
        self.head = self._node(["--head", f"--port={PORT}", "--include-dashboard=false",
                                f"--ray-client-server-port={CLIENT_PORT}",
                                f"--system-config={json.dumps(HEALTH_CHECKS)}"])  # fmt: skip
        self.head_raylet = raylet_of(self.head)
        self.worker = self._node([f"--address={ADDRESS}"])
        self.worker_raylet = raylet_of(self.worker)
        self._wait_listening(CLIENT_PORT)

    def inside(self, *argv: str | Path) -> list[str]:
        """``argv`` run inside the cluster's network namespace."""
        return ["nsenter", f"--net=/proc/{self.holder.pid}/ns/net", "--", *map(str, argv)]

    def start(self, *argv: str | Path, cwd: Path, env: Mapping[str, str] | None = None) -> Proc:
        """A process inside the namespace, with the cluster's environment (plus ``env``)."""
        return self.launcher.start(self.inside(*argv), cwd=cwd, env={**self.env, **(env or {})})

    def _node(self, options: list[str]) -> Proc:
        node = self.start(
            RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--num-cpus=1",
            "--object-store-memory=100000000", "--disable-usage-stats",
            f"--temp-dir={self.temp}", *options, cwd=self.folder,
        )  # fmt: skip
        wait_until(
            lambda: "Ray runtime started" in node.stdout + node.stderr,
            START_TIMEOUT,
            "a Ray node starts",
            interval=0.2,
            running=[node],
        )
        self.nodes.append(node)
        return node

    def _wait_listening(self, port: int) -> None:
        """Wait until a server of the cluster accepts connections at 127.0.0.1:``port`` (the
        head starts its Ray Client server without waiting for it to listen)."""
        probe = self.start(sys.executable, "-c", LISTEN_PROBE, str(port), str(START_TIMEOUT),
                           cwd=self.folder)  # fmt: skip
        code = probe.wait(timeout=START_TIMEOUT + 10)
        assert code == 0, f"nothing listens at 127.0.0.1:{port} in the namespace:\n{probe.stderr}"

    def close(self) -> None:
        """SIGTERM the nodes (each ends its own processes), then SIGKILL whatever is left."""
        for node in self.nodes:
            self.launcher.watch_tree(node)
        for node in reversed(self.nodes):
            node.kill(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.wait(timeout=max(0.1, deadline - time.monotonic()))
        self.launcher.close()
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    started = RayCluster(tmp_path_factory.mktemp("ray-cluster"))
    try:
        started.start_nodes()
        yield started
    finally:
        started.close()


def gone(processes: list[psutil.Process]) -> bool:
    return not any(alive(p) for p in processes)
