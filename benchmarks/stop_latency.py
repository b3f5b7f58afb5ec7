"""How fast a stop decided on a command trial's report line reaches the command.

A command prints one ``@tunewise`` line per 30 ms "epoch" (the line carries the wall time it
was printed at) and never asks whether to stop. The local executor runs it as a study would
under a stopping rule (each report waits for the decision); the driver decides to stop at
step 3. Measured per repeat: the time from the printing of the deciding line to the command's
SIGTERM (its handler writes the time down, then exits) and to the executor's DoneEvent (the
command's whole tree gone and reaped), and the epochs the command printed after the deciding
one (read from its ``stdout.log``)::

    .venv/bin/python -m benchmarks.stop_latency --repeats 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tunewise.executors.base import DoneEvent, ReportEvent
from tunewise.executors.local import LocalExecutor
from tunewise.reporting import parse_report_line
from tunewise.runners.base import TrialJob
from tunewise.runners.command import CommandRunner

EPOCHS = """
import json, os, signal, sys, time

def on_term(signum, frame):
    with open(os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "term.txt"), "w") as f:
        f.write(repr(time.time()))
    os._exit(143)

signal.signal(signal.SIGTERM, on_term)
for step in range(1, 200):
    time.sleep(0.03)
    print("@tunewise " + json.dumps({"step": step, "loss": 1.0 / step, "t": time.time()}))
    sys.stdout.flush()
"""
DECIDE_AT = 3


def once(folder: Path, number: int) -> tuple[float, float, int]:
    """(seconds from the deciding line to the SIGTERM and to the trial's end, epochs printed
    after it)."""
    script = folder / "epochs.py"
    script.write_text(EPOCHS)
    runner = CommandRunner([sys.executable, str(script)], grace_seconds=5.0)
    job = TrialJob("latency", number, {}, folder / f"{number:05d}", "loss", wait_for_decision=True)
    executor = LocalExecutor(capacity=1, reuse_processes=False)
    executor.submit(job, runner)
    printed_at = ended_at = None
    while executor.running:
        for event in executor.poll(1.0):
            if isinstance(event, ReportEvent):
                if event.step == DECIDE_AT:
                    printed_at = event.values["t"]
                    executor.cancel(number, "decided at step 3")
                else:
                    executor.acknowledge(number)
            elif isinstance(event, DoneEvent):
                ended_at = time.time()
    executor.close()
    assert printed_at is not None and ended_at is not None
    steps = [0]
    for line in (job.trial_dir / "stdout.log").read_text().splitlines():
        parsed = parse_report_line(line)
        if parsed is not None and parsed[0] is not None:
            steps.append(parsed[0])
    term_at = float((job.trial_dir / "term.txt").read_text())
    return term_at - printed_at, ended_at - printed_at, max(steps) - DECIDE_AT


def _ms(seconds: float) -> float:
    return round(1000 * seconds, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [once(Path(tmp), n) for n in range(args.repeats)]
    term = sorted(r[0] for r in results)
    done = sorted(r[1] for r in results)
    summary = {
        "repeats": args.repeats,
        "to_sigterm_ms": {"median": _ms(statistics.median(term)), "max": _ms(term[-1])},
        "to_done_ms": {"median": _ms(statistics.median(done)), "max": _ms(done[-1])},
        "extra_epochs": [r[2] for r in results],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
