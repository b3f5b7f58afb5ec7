"""``tunewise worker`` and ``tunewise run --workers-only`` end to end, on a SQLite file: queueing,
serving one study or any, retries, completion criteria and early stopping across workers,
Ctrl-C (and SIGTERM), and the errors a user can cause."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

import tunewise as tw
from tests.reliability.conftest import (
    ENTRY_POINT,
    Launcher,
    Proc,
    cli_env,
    opened,
    run_cli,
    sqlite_url,
    study_id,
    wait_until,
)
from tests.workers.helpers import markers, stored, study_folder, unexpected_stderr
from tunewise.trial import StudyState, TrialState

pytestmark = pytest.mark.timeout(120)


def _worker(launcher: Launcher, folder: Path, url: str, *args: str, **env: str) -> Proc:
    environment = {**cli_env(), **env}
    argv = [ENTRY_POINT, "worker", "--storage", url, *args]
    return launcher.start(argv, cwd=folder, env=environment)


def _state(url: str, name: str) -> StudyState:
    with opened(url) as store:
        return store.get_study(name).state


def test_workers_only_queues_the_study_and_workers_complete_it(
    tmp_path: Path, launcher: Launcher
) -> None:
    spec = study_folder(tmp_path / "a", "queued", max_trials=24)
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    done = run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert f"tunewise worker --storage '{url}' --study queued" in done.stdout
    assert _state(url, "queued") == StudyState.RUNNING
    assert stored(url, "queued")[0] == []  # nothing ran: that is the workers' job
    named = _worker(launcher, folder, url, "--study", "queued", "--max-parallel", "2")
    anyone = _worker(launcher, folder, url)
    for proc in (named, anyone):
        assert proc.wait(timeout=90) == 0, proc.stderr
        assert unexpected_stderr(proc) == [], proc.stderr
    # Whichever saw the last trial end ended the study; the other one saw it ended.
    ended = "study queued completed: reached max_trials (24)"
    assert ended in named.stderr + anyone.stderr
    trials, attempts = stored(url, "queued")
    assert [t.number for t in trials] == list(range(24))
    assert all(t.state == TrialState.COMPLETED and t.value == t.params["x"] for t in trials)
    assert len({t.params["x"] for t in trials}) == 24
    assert attempts == {}
    assert markers(folder) == dict.fromkeys(range(24), 1)
    assert _state(url, "queued") == StudyState.COMPLETED


def test_a_worker_serves_every_running_study_then_exits(tmp_path: Path, launcher: Launcher) -> None:
    url = sqlite_url(tmp_path / "tw.db")
    first = study_folder(tmp_path / "first", "first", max_trials=5)
    second = study_folder(tmp_path / "second", "second", max_trials=3)
    for spec in (first, second):
        assert (
            run_cli("run", spec, "--workers-only", "--storage", url, cwd=spec.parent).returncode
            == 0
        )
    done = study_folder(tmp_path / "done", "done", max_trials=2)
    assert run_cli("run", done, "--storage", url, cwd=done.parent).returncode == 0
    from_python = tw.create_study(
        "from-python",
        objective=tw.Objective("score", "maximize"),
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        storage=url,
    )
    from_python.close()
    worker = _worker(launcher, first.parent, url)
    assert worker.wait(timeout=90) == 0, worker.stderr
    lines = worker.stderr.splitlines()
    assert lines[0].startswith("serving study first:")  # the oldest first
    assert "study first completed: reached max_trials (5)" in lines
    assert "study second completed: reached max_trials (3)" in lines
    assert (
        "skipping study from-python: study: was created from Python, with no trial to run" in lines
    )
    assert lines[-1] == "no running study has work for this worker; exiting"
    assert not any("done" in line for line in lines)  # completed before: nothing to do there
    assert [len(stored(url, name)[0]) for name in ("first", "second", "done")] == [5, 3, 2]
    # A study that is not running: the worker says so and exits.
    again = run_cli("worker", "--storage", url, "--study", "first", cwd=first.parent)
    assert (again.returncode, again.stderr.strip()) == (
        0,
        "study first is completed: nothing to do",
    )


def test_workers_run_each_grid_point_once(tmp_path: Path, launcher: Launcher) -> None:
    grid = {
        "strategy": "grid",
        "space": {
            "x": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25},
            "k": {"type": "categorical", "values": ["a", "b", "c"]},
        },
        "limits": {},  # the grid's size: 5 x 3
    }
    spec = study_folder(tmp_path / "g", "grid", max_trials=1, extra=grid)
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    assert run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder).returncode == 0
    workers = [_worker(launcher, folder, url, "--max-parallel", "2") for _ in range(3)]
    for proc in workers:
        assert proc.wait(timeout=90) == 0, proc.stderr
    trials, _ = stored(url, "grid")
    points = sorted((t.params["x"], t.params["k"]) for t in trials)
    assert points == sorted((x / 4, k) for x in range(5) for k in "abc")
    assert all(t.state == TrialState.COMPLETED for t in trials)
    assert _state(url, "grid") == StudyState.COMPLETED


def test_worker_retries_a_crashed_trial_on_any_worker(tmp_path: Path, launcher: Launcher) -> None:
    spec = study_folder(tmp_path / "r", "retried", max_trials=12, retries={"max_attempts": 2})
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    assert run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder).returncode == 0
    workers = [_worker(launcher, folder, url, TW_TEST_CRASH_EVERY="4") for _ in range(2)]
    for proc in workers:
        assert proc.wait(timeout=90) == 0, proc.stderr
    trials, attempts = stored(url, "retried")
    assert all(t.state == TrialState.COMPLETED for t in trials)
    assert sorted(attempts) == [0, 4, 8]
    assert all([a.failure_kind for a in attempts[n]] == ["crashed"] for n in attempts)
    assert all(t.attempt == (2 if t.number % 4 == 0 else 1) for t in trials)


def test_a_completion_criterion_met_by_one_worker_ends_the_others(
    tmp_path: Path, launcher: Launcher
) -> None:
    spec = study_folder(
        tmp_path / "c", "target", max_trials=500, extra={"completion": {"target": 0.8}}
    )
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    assert run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder).returncode == 0
    workers = [
        _worker(launcher, folder, url, "--study", "target", TW_TEST_SLEEP="0.2") for _ in range(3)
    ]
    for proc in workers:
        assert proc.wait(timeout=90) == 0, proc.stderr
        assert unexpected_stderr(proc) == [], proc.stderr
    with opened(url) as store:
        record = store.get_study("target")
    assert record.state == StudyState.COMPLETED
    assert record.evidence is not None and record.evidence["criterion"] == "target"
    trials, _ = stored(url, "target")
    assert len(trials) < 500
    assert all(t.state.is_finished for t in trials)  # the others wound their trials down


def test_early_stopping_across_workers(tmp_path: Path, launcher: Launcher) -> None:
    early = {"early_stopping": {"rule": "median", "min_trials": 3, "min_steps": 1}}
    spec = study_folder(tmp_path / "e", "early", max_trials=16, extra=early)
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    assert run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder).returncode == 0
    env = {"TW_TEST_STEPS": "4", "TW_TEST_SLEEP": "0.05"}
    workers = [_worker(launcher, folder, url, "--study", "early", **env) for _ in range(2)]
    for proc in workers:
        assert proc.wait(timeout=90) == 0, proc.stderr
    trials, _ = stored(url, "early")
    stopped = [t for t in trials if t.state == TrialState.STOPPED]
    completed = [t for t in trials if t.state == TrialState.COMPLETED]
    assert len(trials) == 16 and stopped and completed
    assert all((t.error or "").startswith("stopped early") for t in stopped)
    with opened(url) as store:
        sid = study_id(store, "early")
        steps = {t.number: [r.step for r in store.get_reports(sid, t.number)] for t in trials}
    assert all(steps[t.number] == [1, 2, 3, 4] for t in completed)
    # Each stopped where the rule first could judge it: mostly at step 1, later when fewer
    # than min_trials had completed by then (a trial stopped after its last step has 4).
    assert any(len(steps[t.number]) < 4 for t in stopped)
    assert all(t.value == t.params["x"] for t in stopped)  # its last report


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_a_worker_requeues_its_trials(
    sig: signal.Signals, tmp_path: Path, launcher: Launcher
) -> None:
    spec = study_folder(tmp_path / "i", "inter", max_trials=4)
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    assert run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder).returncode == 0
    slow = _worker(launcher, folder, url, "--max-parallel", "2", TW_TEST_SLEEP="60")

    def running() -> list[int]:
        return [t.number for t in stored(url, "inter")[0] if t.state == TrialState.RUNNING]

    wait_until(lambda: len(running()) == 2, 60, "the worker started 2 trials", running=[slow])
    wait_until(lambda: len(markers(folder)) == 2, 30, "the 2 trials began", running=[slow])
    slow.kill(sig)
    assert slow.wait(timeout=30) == 130, slow.stderr
    assert "worker interrupted; the trials it was running were requeued" in slow.stderr
    trials, attempts = stored(url, "inter")
    assert [(t.state, t.attempt) for t in trials] == [(TrialState.QUEUED, 2)] * 2
    assert [a.failure_kind for n in (0, 1) for a in attempts[n]] == ["interrupted"] * 2
    assert _state(url, "inter") == StudyState.RUNNING  # the other workers go on
    fast = _worker(launcher, folder, url, "--study", "inter")
    assert fast.wait(timeout=60) == 0, fast.stderr
    trials, _ = stored(url, "inter")
    assert [(t.number, t.state) for t in trials] == [(n, TrialState.COMPLETED) for n in range(4)]


def test_worker_bad_input(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "tw.db")
    spec = study_folder(tmp_path / "b", "bad", max_trials=2)
    folder = spec.parent

    def fails(*args: str, code: int = 2) -> str:
        done = run_cli("worker", *args, cwd=folder)
        assert done.returncode == code, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done.stderr.strip()

    assert fails("--storage", url, "--study", "nope").startswith(
        f"tunewise: no study named 'nope' in {url}; `tunewise status` lists the studies"
    )
    assert fails("--storage", url, "--max-parallel", "0") == (
        "tunewise: --max-parallel: must be at least 1"
    )
    assert fails("--storage", "sqlite://").startswith("tunewise: --storage: a worker serves")
    assert fails("--storage", "mysql://h/db").startswith("tunewise: storage: unsupported")
    assert fails("--storage", url, "--max-parallel", "two").endswith(
        "argument --max-parallel: invalid int value: 'two'"
    )
    # A study created from Python has no trial a worker could run.
    tw.create_study(
        "py",
        objective=tw.Objective("score", "maximize"),
        space={"x": tw.Float(0, 1)},
        strategy="random",
        storage=url,
    ).close()
    assert fails("--storage", url, "--study", "py") == (
        "tunewise: study: 'py' cannot be run by a worker: study: was created from Python, "
        "with no trial to run"
    )
    # The Python target must import on the worker's machine (here: from another folder).
    queued = run_cli("run", spec, "--workers-only", "--storage", url, cwd=tmp_path)
    assert queued.returncode == 0, queued.stderr  # --workers-only does not import it
    elsewhere = run_cli("worker", "--storage", url, "--study", "bad", cwd=tmp_path)
    assert elsewhere.returncode == 2
    assert elsewhere.stderr.startswith("tunewise: trial.python: cannot import 'train'")
    # A worker serving any study skips it, says why, and exits.
    anyone = run_cli("worker", "--storage", url, cwd=tmp_path)
    assert anyone.returncode == 0, anyone.stderr
    assert "skipping study bad: trial.python: cannot import 'train'" in anyone.stderr
    assert stored(url, "bad")[0] == []
    # --workers-only checks the spec as run does.
    broken = json.loads(spec.read_text())
    broken["limits"]["max_trials"] = 0
    spec.write_text(json.dumps(broken))
    done = run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder)
    assert done.returncode == 2
    assert done.stderr.startswith("tunewise: limits.max_trials:")


def test_a_waiting_worker_serves_a_study_created_later(tmp_path: Path, launcher: Launcher) -> None:
    spec = study_folder(tmp_path / "w", "later", max_trials=3)
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    waiting = _worker(launcher, folder, url, "--study", "later", "--wait")
    wait_until(
        lambda: "study later is not created yet: waiting until it runs" in waiting.stderr,
        30,
        "the worker waits",
        running=[waiting],
    )
    assert run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder).returncode == 0
    wait_until(
        lambda: _state(url, "later") == StudyState.COMPLETED,
        60,
        "the waiting worker completed the study",
        running=[waiting],
    )
    time.sleep(0.2)
    assert waiting.popen.poll() is None  # --wait: it stays for more work
    waiting.kill(signal.SIGINT)
    assert waiting.wait(timeout=30) == 130
    assert len(stored(url, "later")[0]) == 3
