"""Throughput of ``tunewise worker`` processes sharing one study on PostgreSQL (trials/s).

    .venv/bin/python -m benchmarks.workers --workers 8 --trials 2000 [--parallel 1]
        [--trial python|command] [--sleep 0] [--fresh] [--storage postgresql://...]
        [--out FILE.json]

Starts a throwaway PostgreSQL server (``benchmarks/pgserver.py``, durable defaults) unless
``--storage`` names one, queues a random search over one float with ``tunewise run SPEC
--workers-only``, starts the workers at once and times from their start to the study's
completion. The trial is trivial, so the figure is tunewise's own cost per trial: the trial's
process (reused, or forked per trial with ``--fresh``), the claim or suggestion, the store
writes, the trial's end. ``python``: a ``module:function`` returning its parameter;
``command``: ``python -c`` printing it (a new interpreter per trial, as any command trial has).
Prints one JSON line of results; checks that the study holds exactly the trials asked for, all
completed, no parameters twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TRAIN = """\
import time


def train(params):
    if params["sleep"]:
        time.sleep(params["sleep"])
    return params["x"]
"""
COMMAND = [
    sys.executable,
    "-c",
    "import sys, time; time.sleep(float(sys.argv[2])); print('score=' + sys.argv[1])",
    "{x}",
    "{sleep}",
]


def spec_for(
    name: str, trials: int, kind: str, sleep: float, fresh: bool = False
) -> dict[str, Any]:
    trial: dict[str, Any] = {"python": "train:train"}
    if kind == "command":
        trial = {"command": COMMAND, "metrics": [{"name": "score", "regex": r"score=(\S+)"}]}
    return {
        "study": name,
        "objective": {"metric": "score", "direction": "maximize"},
        "strategy": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "static": {"sleep": sleep},
        "trial": trial,
        "limits": {"max_trials": trials},
        "seed": 1,
        "executor": {"type": "local", "reuse_processes": not fresh},
    }


@contextlib.contextmanager
def storage(url: str | None) -> Iterator[tuple[str, str]]:
    """The storage URL and a description of the server."""
    if url:
        yield url, "given server"
        return
    from benchmarks.pgserver import postgres

    with postgres() as server:
        yield server.create_database(), server.version


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (and theirs: trial processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(url: str) -> float:
    """CPU seconds the PostgreSQL server at ``url`` used so far (its postmaster and every
    process it started, ended ones included), if it runs on this machine."""
    import psutil
    import sqlalchemy as sa

    port = sa.make_url(url).port or 5432
    total = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and f"-p {port}" in " ".join(cmdline):
            times = process.cpu_times()  # the postmaster: its exited children are in its times
            total += times.user + times.system + times.children_user + times.children_system
            for child in process.children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = child.cpu_times()
                    total += times.user + times.system
    return total


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tunewise.store import open_store
    from tunewise.trial import StudyState, TrialState

    tunewise = str(Path(sys.executable).with_name("tunewise"))
    with storage(args.storage) as (url, server), tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "train.py").write_text(TRAIN)
        spec = work / "spec.json"
        spec_data = spec_for("bench", args.trials, args.trial, args.sleep, args.fresh)
        spec.write_text(json.dumps(spec_data))
        env = {**os.environ, "TUNEWISE_STORAGE": ""}
        subprocess.run(
            [tunewise, "run", str(spec), "--workers-only", "--storage", url],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
        )
        argv = [tunewise, "worker", "--storage", url, "--study", "bench"]
        argv += ["--max-parallel", str(args.parallel)]
        server_cpu = _server_cpu(url)
        own_cpu = _children_cpu()
        started = time.monotonic()
        workers = [
            subprocess.Popen(argv, cwd=work, env=env, stderr=subprocess.PIPE, text=True)
            for _ in range(args.workers)
        ]
        errors = [w.communicate()[1] for w in workers]
        seconds = time.monotonic() - started
        own_cpu = _children_cpu() - own_cpu
        failed = [e for w, e in zip(workers, errors, strict=True) if w.returncode != 0]
        if failed:
            raise SystemExit(f"a worker failed:\n{failed[0]}")
        store = open_store(url)
        try:
            record = store.get_study("bench")
            trials = store.get_trials(record.id)
        finally:
            store.close()
        server_cpu = _server_cpu(url) - server_cpu
    completed = [t for t in trials if t.state == TrialState.COMPLETED]
    assert record.state == StudyState.COMPLETED, record.reason
    assert [t.number for t in trials] == list(range(args.trials))
    assert len(completed) == args.trials, "some trials did not complete"
    assert len({t.params["x"] for t in trials}) == args.trials, "parameters twice"
    return {
        "workers": args.workers,
        "parallel_per_worker": args.parallel,
        "trials": args.trials,
        "trial": args.trial,
        "trial_sleep_s": args.sleep,
        "process_per_trial": args.fresh,
        "seconds": round(seconds, 2),
        "trials_per_s": round(args.trials / seconds, 1),
        # CPU seconds per trial: the workers and their trial processes, and the server's.
        "worker_cpu_ms_per_trial": round(own_cpu / args.trials * 1000, 1),
        "server_cpu_ms_per_trial": round(server_cpu / args.trials * 1000, 1),
        "server": server,
        "cpus": os.cpu_count(),
        "load_before": round(args.load_before, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=1, help="trials at once per worker")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--trial", choices=("python", "command"), default="python")
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds each trial sleeps")
    parser.add_argument(
        "--fresh", action="store_true", help="a process forked per trial (no reuse)"
    )
    parser.add_argument("--storage", help="an existing PostgreSQL URL (default: start one)")
    parser.add_argument("--out", help="also append the JSON line to this file")
    args = parser.parse_args()
    args.load_before = os.getloadavg()[0]
    line = json.dumps(run(args))
    print(line)
    if args.out:
        with open(args.out, "a") as out:
            out.write(line + "\n")


if __name__ == "__main__":
    main()
