"""What the tracker tests share: two small studies every tracker logs, and what they must show.

- :func:`python_study`: ``optimize`` with a tracker as a callback; three Python trials
  enqueued as x = 2, 1, 9: each reports ``loss = x * (3 - step)`` at steps 0-2 (so its value is
  ``x``), and x = 9 raises (a failed trial). The best is trial 1 (x = 1), which replaces trial 0.
- :func:`command_study`: ``tunewise run`` on a spec whose ``tracking`` key names the tracker;
  two command trials (x = 3 then 2) print ``@tunewise`` report lines the same way, the last
  with ``acc = 1 / x`` too. The best is trial 1 (x = 2).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tunewise as tw
from tunewise.cli.main import main as cli_main

PY_VALUES = (2.0, 1.0, 9.0)  # trial 2 fails
CMD_VALUES = (3.0, 2.0)
STEPS = (0, 1, 2)


def train(params: Mapping[str, Any]) -> float:
    """A Python trial: a falling loss; x > 5 fails after its first report."""
    x = float(params["x"])
    for step in STEPS:
        tw.report(step=step, loss=x * (3 - step))
        if x > 5:
            raise RuntimeError(f"x={x} is too large")
    return x


def python_study(tmp_path: Path, callbacks: Sequence[Any], name: str = "py") -> tw.Study:
    study = tw.create_study(
        name,
        objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Float(0.0, 10.0), "opt": tw.Categorical(["adam", "sgd"])},
        strategy="random",
        storage=f"sqlite:///{tmp_path / (name + '.db')}",
        seed=1,
    )
    for x in PY_VALUES:
        study.enqueue_trial({"x": x, "opt": "adam"})
    try:
        study.optimize(train, n_trials=len(PY_VALUES), callbacks=callbacks, progress=False)
    finally:
        for callback in callbacks:
            callback.close()
    return study


SCRIPT = """\
import json, sys
x = float(sys.argv[1])
for step in (0, 1):
    print("@tunewise " + json.dumps({"step": step, "loss": x * (3 - step)}), flush=True)
print("@tunewise " + json.dumps({"step": 2, "loss": x, "acc": 1 / x}), flush=True)
"""


def command_study(
    tmp_path: Path, tracking: Mapping[str, Any], name: str = "cmd", *, workers_only: bool = False
) -> tw.Study:
    """Run ``tunewise run`` (in this process) on a spec with ``tracking``, or with
    ``workers_only`` store it and run ``tunewise worker``; the study read back."""
    (tmp_path / "train_cmd.py").write_text(SCRIPT)
    storage = f"sqlite:///{tmp_path / (name + '.db')}"
    spec = {
        "study": name,
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "space": {"x": {"type": "float", "low": 0.0, "high": 10.0}},
        "enqueue": [{"x": x} for x in CMD_VALUES],
        "trial": {"command": [sys.executable, str(tmp_path / "train_cmd.py"), "{x}"]},
        "limits": {"max_trials": len(CMD_VALUES)},
        "seed": 1,
        "storage": storage,
        "runs_dir": str(tmp_path / "runs"),
        "tracking": dict(tracking),
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(spec))
    if workers_only:  # stored by run, run by a worker (which reads tracking from the store)
        assert cli_main(["run", str(path), "--workers-only"]) == 0
        assert cli_main(["worker", "--storage", storage, "--study", name]) == 0
    else:
        assert cli_main(["run", str(path)]) == 0
    return tw.load_study(name, storage=storage)


def half(params: Mapping[str, Any]) -> float:
    """A trial whose value (0.5) beats every trial of :func:`python_study`."""
    return 0.5
