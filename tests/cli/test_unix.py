"""The command line as a Unix tool: ``--version``, JSON status, ``export -o -``, a closed pipe,
read-only commands that never create a store, and "no study" messages that name the store.

Most cases call :func:`tunewise.cli.main.main` in this process (fast); the closed pipe needs a
real process and a real pipe.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import tunewise as tw
from tunewise.cli.main import main

pytestmark = pytest.mark.timeout(60)

ENTRY_POINT = Path(sys.executable).with_name("tunewise")
STUDY = "unix"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def make_study(folder: Path, trials: int = 3, name: str = STUDY) -> str:
    """A study of ``trials`` finished trials in ``folder/t.db``; returns its storage URL."""
    url = f"sqlite:///{folder / 't.db'}"
    study = tw.create_study(
        name,
        objective=tw.Objective("score", "maximize"),
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        storage=url,
        seed=3,
    )
    try:
        for _ in range(trials):
            trial = study.ask()
            study.tell(trial, {"score": trial.params["x"]})
    finally:
        study.close()
    return url


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("TUNEWISE_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    return make_study(tmp_path)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"tunewise {tw.__version__}\n"


def test_status_json(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["status"], ["status", STUDY]):
        assert main([*args, "--format", "json", "--storage", url]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert rows == [
            {
                "study": STUDY,
                "state": "running",
                "strategy": "random",
                "completed": 3,
                "stopped": 0,
                "failed": 0,
                "running": 0,
                "queued": 0,
                "retries": 0,
                "stale_leases": 0,
                "best": rows[0]["best"],
                "reason": None,
                "space_versions": {
                    "current": 1,
                    "versions": [
                        {
                            "version": 1,
                            "began": rows[0]["space_versions"]["versions"][0]["began"],
                            "changes": [],
                            "fixed": {},
                        }
                    ],
                    "trials": 3,
                    "set_aside": 0,
                    "set_aside_why": [],
                },
            }
        ]
        study = tw.load_study(STUDY, storage=url)
        assert rows[0]["best"] == study.best_trial.value
        study.close()


def test_export_to_stdout_is_the_file(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("csv", "json"):
        assert main(["export", STUDY, "--format", fmt, "-o", "-", "--storage", url]) == 0
        printed = capsys.readouterr()
        assert printed.err == ""  # nothing but the data on the terminal
        assert main(["export", STUDY, "--format", fmt, "-o", f"out.{fmt}", "--storage", url]) == 0
        assert printed.out == (tmp_path / f"out.{fmt}").read_text()
        assert "wrote 3 trials" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_trials_show_each_trials_folder(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    study = tw.load_study(STUDY, storage=url)
    assert main(["trials", STUDY, "--format", "json", "--storage", url]) == 0
    folders = [t["folder"] for t in json.loads(capsys.readouterr().out)]
    assert folders == [str(study.runs_dir / f"{n:05d}") for n in range(3)]
    assert main(["trials", STUDY, "--storage", url]) == 0
    assert f"{study.runs_dir}/NNNNN" in capsys.readouterr().out.splitlines()[-1]
    study.close()


@pytest.mark.parametrize(
    "args",
    [
        ["trials", STUDY, "--format", "json"],
        ["export", STUDY, "--format", "csv", "-o", "-"],
        ["status"],
        ["--help"],
    ],
    ids=["trials", "export", "status", "help"],
)
def test_a_closed_pipe_ends_quietly(url: str, tmp_path: Path, args: list[str]) -> None:
    """``tunewise ... | head``: the reader is gone before the first write (its end of the pipe
    is closed before the command starts), which is what ``head`` does after its lines."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if k != "TUNEWISE_STORAGE"}
    try:
        result = subprocess.run(
            [str(ENTRY_POINT), *args, "--storage", url],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=30,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    # As a process ended by SIGPIPE (cat, git); argparse's --help ignores a failed write itself.
    assert result.returncode == (0 if args == ["--help"] else 141)


READ_ONLY = [
    ["status"],
    ["status", STUDY],
    ["trials", STUDY],
    ["best", STUDY],
    ["export", STUDY, "--format", "csv", "-o", "out.csv"],
    ["plot", STUDY, "history", "-o", "out.html"],
    ["report", STUDY, "-o", "out.html"],
    ["describe", STUDY],
    ["serve", "--port", "FREE"],
    ["resume", STUDY],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=[" ".join(a[:2]) for a in READ_ONLY])
def test_read_only_commands_never_create_a_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    monkeypatch.delenv("TUNEWISE_STORAGE", raising=False)
    monkeypatch.chdir(tmp_path)
    args = [str(free_port()) if a == "FREE" else a for a in args]
    for storage in (["--storage", "sqlite:///typo.db"], []):  # a mistyped path, the default
        assert main([*args, *storage]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tunewise: storage: "), err
        missing = tmp_path / ("typo.db" if storage else "tunewise.db")
        assert str(missing) in err
        assert "--storage" in err and "TUNEWISE_STORAGE" in err
        assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_no_study_messages_name_the_store_searched(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = url.removeprefix("sqlite:///")
    for args in (["trials", "nosuch"], ["best", "nosuch"], ["status", "nosuch"]):
        assert main([*args, "--storage", url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "'nosuch'" in err
        assert f"sqlite:///{path}" in err
    with pytest.raises(tw.StudyNotFound) as caught:  # and from Python
        tw.load_study("nosuch", storage=url)
    assert f"no study named 'nosuch' in {path};" in str(caught.value)
