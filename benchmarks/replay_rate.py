"""Replay's reproduction rate: studies run one trial at a time, 4 at once and by 3 workers
sharing one SQLite store, then ``tunewise replay`` on each (issue 27 §2).

    .venv/bin/python -m benchmarks.replay_rate [--strategies bayesian,tpe,random]
        [--modes seq,par4,workers3] [--trials 40] [--out DIR]

Each study searches four hyperparameters (log float, log int, float, categorical) of a cheap
Python trial that sleeps a random 0-0.15 s, so trials run side by side finish out of order
and suggestions are made beside pending ones. ``seq``: ``tunewise run`` with max_parallel 1;
``par4``: max_parallel 4 (batches of suggestions); ``workers3``: ``tunewise run
--workers-only`` then three ``tunewise worker`` processes at once. Prints one line per study:
the replay summary, how many suggestions were made in batches and beside pending trials, and
the largest stored record.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TRAIN = """\
import math
import random
import time


def train(params):
    time.sleep(random.uniform(0.0, 0.15))  # trials side by side finish out of order
    lr, width, drop, act = params["lr"], params["width"], params["dropout"], params["act"]
    return (
        (math.log10(lr) + 2.5) ** 2
        + (math.log2(width) - 6) ** 2 / 9
        + (drop - 0.2) ** 2
        + (0.0 if act == "relu" else 0.3)
    )
"""

SPACE = {
    "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "scale": "log"},
    "width": {"type": "int", "low": 8, "high": 512, "scale": "log"},
    "dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "act": {"type": "categorical", "values": ["relu", "tanh", "gelu"]},
}


def tunewise(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "tunewise.cli.main", *args]
    return subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(root: Path, strategy: str, mode: str, trials: int) -> dict[str, Any]:
    name = f"{strategy}-{mode}"
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "train.py").write_text(TRAIN)
    spec = {
        "study": name,
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": strategy,
        "seed": 17,
        "space": SPACE,
        "trial": {"python": "train:train"},
        "limits": {"max_trials": trials, "max_parallel": 4 if mode == "par4" else 1},
        "lease": {"heartbeat": "1s", "grace": "5s"},
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    url = f"sqlite:///{folder / 'tw.db'}"
    if mode == "workers3":
        tunewise("run", "spec.json", "--workers-only", "--storage", url, cwd=folder).wait()
        workers = [
            tunewise("worker", "--storage", url, "--study", name, cwd=folder) for _ in range(3)
        ]
        for worker in workers:
            worker.wait()
    else:
        tunewise("run", "spec.json", "--storage", url, cwd=folder).wait()
    argv = [sys.executable, "-m", "tunewise.cli.main", "replay", name, "--storage", url]
    out = subprocess.run([*argv, "--format", "json"], capture_output=True, text=True)
    report = json.loads(out.stdout)
    with sqlite3.connect(folder / "tw.db") as db:
        query = "SELECT suggestion FROM trials WHERE suggestion IS NOT NULL"
        records = [json.loads(r) for (r,) in db.execute(query)]
    return {
        "study": name,
        "exit": out.returncode,
        **report["summary"],
        "in_batches": sum(r["n"] > 1 for r in records),
        "beside_pending": sum(bool(r["pending"]) for r in records),
        "max_record_bytes": max(len(json.dumps(r)) for r in records),
        "not_reproduced": [t for t in report["trials"] if t["status"] != "reproduced"][:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="bayesian,tpe,random")
    parser.add_argument("--modes", default="seq,par4,workers3")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None, help="folder for the studies")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="replay-rate-"))
    for strategy in args.strategies.split(","):
        for mode in args.modes.split(","):
            print(json.dumps(measure(root, strategy, mode, args.trials)), flush=True)


if __name__ == "__main__":
    main()
