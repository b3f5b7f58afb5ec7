"""The Ray executor with ``address: local``: tunewise starts a private single-node Ray.

The scenarios run in a driver process of their own (:mod:`tests.ray._local_driver`), outside
any network namespace, as a user's would: reports stream while trials run, a stop kills the
trial's whole process tree (a command's shell and child that ignore SIGTERM; a Python trial's
own process), a failing command fails its trial with its stderr, a trial still queued in Ray
is cancelled there, a study with the median rule stops bad trials and stores every curve, Ray
listens on loopback only, and closing the executor ends every Ray process it started.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.ray.conftest import short_temp_dir
from tests.reliability.conftest import (
    ENTRY_POINT,
    PYTHON,
    REPO,
    Launcher,
    alive,
    cli_env,
    wait_until,
)

pytestmark = pytest.mark.timeout(300)


def processes(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found


def test_local_ray_streams_stops_kills_and_ends(tmp_path: Path, launcher: Launcher) -> None:
    temp = short_temp_dir("tw-rayl-")
    env = cli_env()
    env.update(PYTHONPATH=str(REPO), RAY_TMPDIR=str(temp))
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(name, None)
    try:
        driver = launcher.start(
            [PYTHON, "-m", "tests.ray._local_driver", tmp_path], cwd=tmp_path, env=env
        )
        code = driver.wait(timeout=240)
        facts = driver.facts()
        assert code == 0, driver.stderr[-4000:]
    finally:
        shutil.rmtree(temp, ignore_errors=True)

    done = {f["done"]: f for f in facts if "done" in f}
    reports: dict[int, list[int]] = {}
    for fact in facts:
        if "report" in fact:
            reports.setdefault(fact["report"], []).append(fact["step"])

    # 0: the trial could only finish because its first report reached the driver meanwhile.
    assert (done[0]["state"], done[0]["value"], reports[0]) == ("completed", 2.0, [1, 2])
    # 1: stopped after its first report; the shell and its child ignored SIGTERM: killed.
    assert (done[1]["state"], done[1]["value"]) == ("stopped", 0.5)
    (tree,) = [f["tree"] for f in facts if "tree" in f]
    # 2: a Python trial that ignores the stop: its own process is killed.
    (stubborn,) = [f["stubborn"] for f in facts if "stubborn" in f]
    assert (done[2]["state"], done[2]["kind"], done[2]["error"]) == (
        "failed",
        "user_error",
        "cancelled by the test",
    )
    # 3: a failing command.
    assert (done[3]["state"], done[3]["kind"]) == ("failed", "user_error")
    assert "exited with code 3" in done[3]["error"] and "boom" in done[3]["error"]
    wait_until(
        lambda: not any(alive(p) for p in processes([*tree, stubborn])),
        10,
        "the stopped trials' processes are gone",
    )

    # Resources no node has are refused before anything runs.
    (too_big,) = [f["too_big"] for f in facts if "too_big" in f]
    assert too_big.startswith(
        "executor.resources_per_trial: asks for 1 CPU and 1 GPU per trial, but no node"
    )
    # A trial queued in Ray (the node was full) is cancelled there: it never started.
    assert (done[11]["state"], done[11]["error"]) == ("failed", "cancelled while queued")
    assert [f["queued_folder"] for f in facts if "queued_folder" in f] == [False]
    assert done[10]["state"] == "failed"
    assert [f["still_connected"] for f in facts if "still_connected" in f] == [True]

    # The study: the two good trials complete, the bad ones stop after their first step.
    study: dict[int, dict[str, Any]] = {f["study_trial"]: f for f in facts if "study_trial" in f}
    assert [study[n]["state"] for n in range(4)] == ["completed", "completed", "stopped", "stopped"]
    assert [study[n]["steps"] for n in range(4)] == [[1, 2, 3, 4], [1, 2, 3, 4], [1], [1]]
    assert all("stopped early" in (study[n]["error"] or "") for n in (2, 3))

    # Define-by-run on Ray: each trial holds what it asked; the study's space grew to it.
    (dbr,) = [f for f in facts if "dbr_params" in f]
    assert len(dbr["dbr_params"]) == 4
    for params in dbr["dbr_params"]:
        assert set(params) == ({"kind", "x", "n"} if params["kind"] == "a" else {"kind", "x"})
    assert dbr["dbr_space"] == sorted({n for p in dbr["dbr_params"] for n in p})

    # Loopback only, and nothing of Ray left once the executor is closed.
    (where,) = [f for f in facts if "listening" in f]
    assert where["listening"], "no listening socket found"
    assert all(
        ipaddress.ip_address(a.removeprefix("::ffff:")).is_loopback for a in where["listening"]
    )
    assert facts[-1] == {"closed": True}
    wait_until(
        lambda: not any(alive(p) for p in processes(where["ray_pids"])),
        15,
        "the local Ray's processes are gone",
    )


def test_cli_says_in_one_sentence_when_no_ray_cluster_answers(tmp_path: Path) -> None:
    spec = {
        "study": "nowhere",
        "objective": {"metric": "score", "direction": "maximize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "trial": {"command": ["true"]},
        "limits": {"max_trials": 1},
    }
    (tmp_path / "auto.json").write_text(json.dumps(spec))
    spec["executor"] = {"type": "ray", "address": "127.0.0.1:1"}  # port 1: nothing listens
    (tmp_path / "closed.json").write_text(json.dumps(spec))
    temp = short_temp_dir("tw-rayn-")  # no cluster was ever started from this folder
    env = cli_env()
    env["RAY_TMPDIR"] = str(temp)
    env.pop("RAY_ADDRESS", None)
    try:
        runs = [
            subprocess.run(
                [
                    str(ENTRY_POINT),
                    "run",
                    name,
                    "--storage",
                    f"sqlite:///{tmp_path / 'n.db'}",
                    *extra,
                ],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            for name, extra in (("auto.json", ["--executor", "ray"]), ("closed.json", []))
        ]
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    auto, closed = runs
    assert auto.returncode == 2, auto.stderr
    assert auto.stderr.startswith(
        "tunewise: executor.address: no Ray cluster could be used at 'auto' "
        "(Could not find any running Ray instance); start one with `ray start --head`"
    ), auto.stderr
    assert closed.returncode == 2, closed.stderr
    assert closed.stderr.startswith(
        "tunewise: executor.address: nothing answers at 127.0.0.1:1 (Connection refused)"
    ), closed.stderr
    assert "Traceback" not in auto.stderr + closed.stderr
