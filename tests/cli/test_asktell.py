"""``tunewise create | ask | tell``: a study driven by a bash loop and by Node.js, each tuning
an easy function to its optimum; the errors a caller can make, each one sentence."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tunewise.cli.main import main
from tunewise.store import open_store
from tunewise.trial import TrialState

NODE = shutil.which("node") or "/usr/bin/node"

SPEC = """\
study: {name}
objective: {{metric: loss, direction: minimize}}
strategy: grid
space:
  x: {{type: int, low: {low}, high: {high}}}
static: {{shift: 1}}
"""


def tunewise_argv() -> list[str]:
    return [sys.executable, "-m", "tunewise.cli.main"]


def env_for(url: str) -> dict[str, str]:
    return {**os.environ, "TUNEWISE_STORAGE": url}


def create(tmp_path: Path, name: str, low: int, high: int) -> str:
    """A study created by ``tunewise create`` from a spec with no ``trial:``; its store URL."""
    url = f"sqlite:///{tmp_path / 'asktell.db'}"
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(name=name, low=low, high=high), encoding="utf-8")
    out = subprocess.run(
        [*tunewise_argv(), "create", str(spec)],
        env=env_for(url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"study {name} ready" in out.stdout
    return url


def finished(url: str, name: str) -> list[tuple[int, float | None, dict[str, object]]]:
    store = open_store(url, create=False)
    try:
        record = store.get_study(name)
        trials = store.get_trials(record.id)
    finally:
        store.close()
    assert all(t.state == TrialState.COMPLETED for t in trials), trials
    return [(t.number, t.value, dict(t.params)) for t in trials]


def test_a_bash_loop_tunes_a_function(tmp_path: Path) -> None:
    url = create(tmp_path, "bashed", -1, 2)
    script = tmp_path / "loop.sh"
    # What a user writes: ask until the grid is exhausted (ask exits 2), tell (x - shift)^2.
    script.write_text(
        """\
set -u
count=0
while asked=$("$@" ask bashed --lease 10m); do
  trial=$(printf '%s' "$asked" | sed -E 's/.*"trial": ([0-9]+).*/\\1/')
  x=$(printf '%s' "$asked" | sed -E 's/.*"x": (-?[0-9]+).*/\\1/')
  shift_=$(printf '%s' "$asked" | sed -E 's/.*"shift": (-?[0-9]+).*/\\1/')
  "$@" tell bashed "$trial" $(( (x - shift_) * (x - shift_) )) > /dev/null || exit 9
  count=$((count + 1))
done
echo "told $count"
""",
        encoding="utf-8",
    )
    out = subprocess.run(
        ["bash", str(script), *tunewise_argv()],
        env=env_for(url),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    assert "told 4" in out.stdout
    assert "no configuration left" in out.stderr  # the loop's end, in one sentence
    trials = finished(url, "bashed")
    assert len(trials) == 4
    best = min(trials, key=lambda t: t[1] if t[1] is not None else float("inf"))
    assert best[1] == 0 and best[2]["x"] == 1


def test_node_drives_the_cli_through_child_process(tmp_path: Path) -> None:
    url = create(tmp_path, "noded", 0, 2)
    script = tmp_path / "loop.mjs"
    script.write_text(
        """\
import { execFileSync } from "node:child_process";
const [cmd, ...base] = JSON.parse(process.argv[2]);
const tw = (...args) => execFileSync(cmd, [...base, ...args], { encoding: "utf8" });
let told = 0;
for (;;) {
  let asked;
  try { asked = JSON.parse(tw("ask", "noded")); } catch (e) { break; }
  const x = asked.params.x;
  const metrics = JSON.stringify({ loss: (x - 1) ** 2 + 0.5 });
  tw("tell", "noded", String(asked.trial), "--metrics", metrics);
  told += 1;
}
console.log(`told ${told}`);
""",
        encoding="utf-8",
    )
    out = subprocess.run(
        [NODE, str(script), json.dumps(tunewise_argv())],
        env=env_for(url),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr
    assert "told 3" in out.stdout
    trials = finished(url, "noded")
    assert len(trials) == 3
    assert min(t[1] for t in trials if t[1] is not None) == 0.5


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_errors_are_one_sentence_with_exit_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = create(tmp_path, "errs", 0, 9)
    monkeypatch.setenv("TUNEWISE_STORAGE", url)
    code, out, _ = run(capsys, "ask", "errs")
    assert code == 0
    asked = json.loads(out)
    assert asked["trial"] == 0 and asked["params"]["shift"] == 1
    assert asked["lease_seconds"] == 3600.0  # no trial timeout: an hour
    number = str(asked["trial"])

    for args, expected_code, expected in [
        (("tell", "errs", "7", "1"), 2, "study 'errs' has no trial 7"),
        (("tell", "errs", number, "abc"), 2, "VALUE must be a number, got 'abc'"),
        (("tell", "errs", number, "nan"), 2, "VALUE must be a finite number"),
        (("tell", "errs", "first", "1"), 2, "TRIAL must be a trial number"),
        (("tell", "errs", number), 2, "needs its value"),
        (("tell", "errs", number, "--metrics", "{"), 2, "--metrics is not JSON"),
        (("tell", "errs", number, "--metrics", '{"acc": 1}'), 2, "do not hold the objective"),
        (("tell", "errs", number, "1", "--state", "failed"), 2, "a failed trial has no result"),
        (("tell", "nope", number, "1"), 2, "no study named 'nope'"),
        (("ask", "errs", "--lease", "soon"), 2, "--lease"),
    ]:
        code, _, err = run(capsys, *args)
        assert code == expected_code, (args, err)
        assert expected in err, (args, err)
        assert err.count("\n") == 1, err  # one line

    code, out, _ = run(capsys, "tell", "errs", number, "0.25")
    assert code == 0 and f"trial {number} completed, loss 0.25" in out
    code, _, err = run(capsys, "tell", "errs", number, "0.5")
    assert code == 1 and "already finished: completed" in err

    code, out, _ = run(capsys, "ask", "errs")
    failed = str(json.loads(out)["trial"])
    code, out, _ = run(capsys, "tell", "errs", failed, "--state", "failed", "--error", "OOM")
    assert code == 0 and "failed" in out
    store = open_store(url, create=False)
    try:
        trial = store.get_trial(store.get_study("errs").id, int(failed))
    finally:
        store.close()
    assert trial.state == TrialState.FAILED and trial.error == "OOM"


def test_a_caller_that_never_tells_does_not_block_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lease given at ask runs out: the next ask takes the trial over as its second
    attempt (the default retry policy retries a lost trial once), then fails it as lost and
    moves on; the late tell is refused, saying why."""
    url = create(tmp_path, "late", 0, 9)
    monkeypatch.setenv("TUNEWISE_STORAGE", url)

    def ask(*extra: str) -> dict[str, object]:
        code, out, err = run(capsys, "ask", "late", *extra)
        assert code == 0, err
        asked: dict[str, object] = json.loads(out)
        return asked

    first = ask("--lease", "1s")
    time.sleep(1.2)
    retried = ask("--lease", "1s")
    assert (retried["trial"], retried["attempt"]) == (first["trial"], 2)
    time.sleep(1.2)
    fresh = ask()
    assert fresh["trial"] != first["trial"] and fresh["attempt"] == 1
    code, _, err = run(capsys, "tell", "late", str(first["trial"]), "1")
    assert code == 1 and "already finished: failed (its lease ran out" in err
    assert run(capsys, "tell", "late", str(fresh["trial"]), "1")[0] == 0


def test_create_refuses_a_spec_with_errors_and_creates_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(name="twice", low=0, high=3), encoding="utf-8")
    assert run(capsys, "create", str(spec), "--storage", url)[0] == 0
    assert run(capsys, "create", str(spec), "--storage", url)[0] == 0  # same spec: kept
    spec.write_text(SPEC.format(name="twice", low=0, high=4), encoding="utf-8")
    code, _, err = run(capsys, "create", str(spec), "--storage", url)
    assert code == 2 and err.startswith("tunewise: ") and err.count("\n") == 1
    code, _, err = run(capsys, "create", str(tmp_path / "missing.yaml"), "--storage", url)
    assert code == 2 and "cannot be read" in err


def test_the_default_lease_is_the_trial_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'lease.db'}"
    spec = tmp_path / "s.yaml"
    text = SPEC.format(name="timed", low=0, high=3) + "trial: {command: [echo], timeout: 5m}\n"
    spec.write_text(text, encoding="utf-8")
    assert run(capsys, "create", str(spec), "--storage", url)[0] == 0
    code, out, _ = run(capsys, "ask", "timed", "--storage", url)
    assert code == 0 and json.loads(out)["lease_seconds"] == 300.0
    code, out, _ = run(capsys, "ask", "timed", "--storage", url, "--lease", "90s")
    assert code == 0 and json.loads(out)["lease_seconds"] == 90.0
