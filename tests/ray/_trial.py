"""A command trial of the Ray cluster tests: ``python _trial.py X STEPS PAUSE DONE_LOG``.

It writes where it runs (the pid of the raylet above it, its own pid) to ``where.ATTEMPT.json``
in its trial folder before anything else, reports ``score = X * step`` for STEPS steps, PAUSE
seconds apart, and appends its trial number to DONE_LOG when it got to the end: a trial number
found twice there ran to completion twice.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psutil

import tunewise


def main() -> None:
    x, steps, pause, done_log = (
        float(sys.argv[1]),
        int(sys.argv[2]),
        float(sys.argv[3]),
        sys.argv[4],
    )
    me = psutil.Process()
    raylet = next((p.pid for p in me.parents() if p.name() == "raylet"), None)
    where = {"raylet": raylet, "pid": me.pid, "create_time": me.create_time()}
    attempt = os.environ["TUNEWISE_ATTEMPT"]
    Path(os.environ["TUNEWISE_TRIAL_DIR"], f"where.{attempt}.json").write_text(json.dumps(where))
    for step in range(1, steps + 1):
        time.sleep(pause)
        tunewise.report(step=step, score=x * step)
    with open(done_log, "a") as log:
        log.write(f"{os.environ['TUNEWISE_TRIAL_NUMBER']}\n")


if __name__ == "__main__":
    main()
