"""Stores with studies in every trial state, and a real ``tunewise serve`` on a free port.

Shared by ``tests/server``, ``tests/security`` and ``tests/browser``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from tunewise.spec import StudySpec
from tunewise.store import open_store
from tunewise.study import Study
from tunewise.trial import FailureKind, TrialState

SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "scale": "log"},
    "layers": {"type": "int", "low": 1, "high": 4},
    "act": {"type": "categorical", "values": ["relu", "tanh"]},
}


def spec_dict(name: str, runs_dir: Path, *, max_trials: int = 100) -> dict[str, Any]:
    """A spec as a YAML file would give it, with a command trial (so it is 'from a file')."""
    return {
        "study": name,
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "space": copy.deepcopy(SPACE),  # a caller may change it (tests/adversarial does)
        "trial": {"command": [sys.executable, "train.py", "--lr", "{lr}"]},
        "limits": {"max_trials": max_trials, "max_parallel": 2},
        "seed": 1,
        "runs_dir": str(runs_dir),
    }


def loss(params: dict[str, Any]) -> float:
    """The made-up objective: ``lr`` matters most, ``layers`` a little, ``act`` not at all."""
    return (math.log10(params["lr"]) + 2.5) ** 2 + 0.05 * params["layers"]


def make_study(
    url: str,
    runs_dir: Path,
    name: str = "demo",
    n: int = 40,
    *,
    seed: int = 0,
    running: int = 0,
) -> None:
    """A study of ``n`` finished trials (mostly completed, some stopped and failed, each with
    reports and logs) plus ``running`` RUNNING ones, written through the store's contract."""
    rng = random.Random(seed)
    store = open_store(url)
    try:
        spec = StudySpec.from_dict(spec_dict(name, runs_dir))
        record = store.create_study(name, spec.to_dict())
        trial_folders = Study(store, name).runs_dir  # where the server looks for the logs
        for i in range(n + running):
            params = {
                "lr": 10 ** rng.uniform(-4, -1),
                "layers": rng.randint(1, 4),
                "act": rng.choice(["relu", "tanh"]),
            }
            trial = store.add_trial(record.id, params, owner="tests", lease_seconds=3600)
            value = loss(params) + rng.gauss(0, 0.02)
            steps = 3 if i % 7 == 3 else 5
            for step in range(steps):
                store.add_report(record.id, trial.number, step, {"loss": value + 1.0 / (step + 1)})
            folder = trial_folders / f"{trial.number:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "stdout.log").write_text(f"trial {trial.number}\nloss={value}\n")
            (folder / "stderr.log").write_text("" if i % 9 else "Traceback: boom\n")
            if i >= n:
                continue  # left RUNNING
            if i % 9 == 8:
                store.finish_trial(
                    record.id, trial.number, TrialState.FAILED,
                    failure_kind=FailureKind.USER_ERROR, error="ValueError: boom",
                )  # fmt: skip
            elif i % 7 == 3:
                store.finish_trial(record.id, trial.number, TrialState.STOPPED, value=value + 0.2)
            else:
                store.finish_trial(
                    record.id, trial.number, TrialState.COMPLETED, value=value,
                    metrics={"loss": value, "accuracy": 1 - value / 10},
                )  # fmt: skip
    finally:
        store.close()


def trial_folder(url: str, name: str, number: int) -> Path:
    """Where the server looks for trial ``number``'s files (the study's runs folder)."""
    store = open_store(url)
    try:
        return Study(store, name).runs_dir / f"{number:05d}"
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tunewise_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tunewise.cli.main", *args]


@dataclass
class Server:
    """A running ``tunewise serve``: its address, its process, and (once stopped) its output."""

    base: str
    proc: subprocess.Popen[str]
    output: str = ""


@contextlib.contextmanager
def running_server(
    url: str,
    *extra: str,
    port: int | None = None,
    cwd: Path | None = None,
    host: str | None = None,
) -> Iterator[Server]:
    """``tunewise serve`` in a subprocess, once it answers; stopped (Ctrl-C) on exit.
    ``host``: passed as ``--host`` (and the address the server is reached at)."""
    port = port or free_port()
    args = ["serve", "--storage", url, "--port", str(port), *extra]
    if host is not None:
        args += ["--host", host]
    proc = subprocess.Popen(
        tunewise_command(*args),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    shown = "127.0.0.1" if host is None else f"[{host}]" if ":" in host else host
    server = Server(f"http://{shown}:{port}", proc)
    try:
        wait_until_up(server.base, proc)
        yield server
    finally:
        server.output = stop(proc)


def wait_until_up(base: str, proc: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"the server exited with {proc.returncode}: {output}")
        with contextlib.suppress(httpx2.HTTPError):
            httpx2.get(base + "/api/openapi.json", timeout=1.0)
            return
        time.sleep(0.1)
    raise AssertionError("the server did not answer within 30 s")


def stop(proc: subprocess.Popen[str]) -> str:
    """Stop the server (Ctrl-C, as a person would) and return what it printed."""
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


def run_cli(args: Sequence[str], cwd: Path | None = None, timeout: float = 60) -> Any:
    return subprocess.run(
        tunewise_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


TRAIN = """\
import json, math, sys, time
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
lr, layers = float(args["--lr"]), int(args["--layers"])
for step in range({steps}):
    time.sleep({sleep})
    loss = (math.log10(lr) + 2.5) ** 2 + 0.05 * layers + 1.0 / (step + 1)
    print("@tunewise " + json.dumps({{"step": step, "loss": loss}}), flush=True)
"""


def write_spec(
    folder: Path, url: str, name: str, *, max_trials: int, steps: int = 4, sleep: float = 0.05
) -> Path:
    """A spec file whose trials run a small command reporting a learning curve."""
    script = folder / "train.py"
    script.write_text(TRAIN.format(steps=steps, sleep=sleep))
    data = spec_dict(name, folder / "runs", max_trials=max_trials)
    data["trial"] = {
        "command": [sys.executable, str(script), "--lr", "{lr}", "--layers", "{layers}"],
        "timeout": "60s",
    }
    data["storage"] = url
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path
