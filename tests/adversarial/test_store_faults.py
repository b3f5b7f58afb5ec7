"""Store faults of the adversarial pass (issue 21): a store file removed or replaced mid-run
(#9), storage URLs and output paths that raised tracebacks (#11), read-only commands that
created a database at a mistyped path (#20), ``sqlite:///`` silently in memory and ``?mode=ro``
ignored (#21), and two stores whose studies of one name shared trial folders (#7).

Each case runs the real store on real files; the CLI cases run ``tunewise`` as a user would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import tunewise as tw
from tunewise.cli.main import main
from tunewise.errors import SpecError, StoreError
from tunewise.store import open_store

pytestmark = pytest.mark.timeout(60)

ENTRY_POINT = Path(sys.executable).with_name("tunewise")

#: A trial that removes (or replaces) the store's file the first time it runs.
TRAIN = """\
import os
import shutil


def train(params):
    print(f"x={params['x']!r}", flush=True)
    if not os.path.exists("done"):
        open("done", "w").close()
        if params["fault"] == "remove":
            os.remove("t.db")
        else:
            shutil.copy("t.db", "copy.db")
            os.replace("copy.db", "t.db")
    return {"score": params["x"]}
"""

SPEC = """\
study: faults
objective: {metric: score, direction: maximize}
space: {x: {type: float, low: 0.0, high: 1.0}}
static: {fault: FAULT}
trial: {python: "faulty:train"}
limits: {max_trials: 20}
strategy: random
"""


def tunewise(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TUNEWISE_STORAGE"}
    return subprocess.run(
        [str(ENTRY_POINT), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=45
    )


def make_study(url: str) -> str:
    """A study named ``s`` (no trial yet) in the store at ``url``; returns ``url``."""
    study = tw.create_study(
        "s", objective=tw.Objective("y", "minimize"), space={"x": tw.Float(0, 1)}, storage=url
    )
    study.close()
    return url


# 9: the store's file removed or replaced while a run writes to it ------------------------------


@pytest.mark.parametrize(("fault", "said"), [("remove", "removed"), ("replace", "replaced")])
def test_run_fails_when_its_sqlite_file_goes_away(tmp_path: Path, fault: str, said: str) -> None:
    (tmp_path / "faulty.py").write_text(TRAIN)
    (tmp_path / "spec.yaml").write_text(SPEC.replace("FAULT", fault))
    result = tunewise(tmp_path, "run", "spec.yaml", "--storage", "sqlite:///t.db")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "completed" not in result.stdout  # no "20 completed" over a lost store
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("tunewise: ") and "Traceback" not in result.stderr
    assert f"{tmp_path / 't.db'} was {said}" in last


def test_a_replaced_file_fails_every_later_transaction(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        store.create_study("s", {"space": {}})
        shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
        os.replace(tmp_path / "b.db", tmp_path / "a.db")
        for action in (store.list_studies, lambda: store.create_study("t", {"space": {}})):
            with pytest.raises(StoreError, match=f"{tmp_path / 'a.db'} was replaced"):
                action()
    finally:
        store.close()
    reopened = open_store(f"sqlite:///{tmp_path / 'a.db'}")  # a new open takes the new file
    try:
        assert [r.name for r in reopened.list_studies()] == ["s"]
    finally:
        reopened.close()


# 11 and 21: storage URLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h:notaport/db",
        "postgresql://u@h:99999/db",
        "postgres://u@[::1/db",
        "sqlite://host/x.db",
        "sqlite:///t.db?cache=shared",
        "sqlite:///t.db?mode=rw",
    ],
)
def test_unreadable_storage_urls_are_one_sentence(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        open_store(url)
    assert caught.value.field == "storage"
    for args in (["status"], ["trials", "s"], ["resume", "s"]):
        assert main([*args, "--storage", url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tunewise: storage: "), err
    assert list(tmp_path.iterdir()) == []


def test_a_server_that_cannot_be_reached_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # psycopg's message has a second line ("Is the server running ...?"): shown as one.
    assert main(["status", "--storage", "postgresql://u@127.0.0.1:1/db"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tunewise: storage error at "), err
    assert "127.0.0.1" in err and "Traceback" not in err


def test_sqlite_url_with_no_file_is_refused_not_run_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "faulty.py").write_text(TRAIN)
    (tmp_path / "spec.yaml").write_text(SPEC.replace("FAULT", "none"))
    with pytest.raises(SpecError, match="names no file"):
        open_store("sqlite:///")
    assert main(["run", "spec.yaml", "--storage", "sqlite:///"]) == 2
    assert "names no file" in capsys.readouterr().err
    assert not (tmp_path / "done").exists()  # no trial ran


def test_read_only_url_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    make_study("sqlite:///t.db")
    before = (tmp_path / "t.db").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw SQLAlchemy warning
        store = open_store("sqlite:///t.db?mode=ro")
        try:
            assert [r.name for r in store.list_studies()] == ["s"]
            with pytest.raises(StoreError, match="readonly"):
                store.create_study("t", {"space": {}})
            again = open_store(store.url)  # what another process of this store opens
            assert [r.name for r in again.list_studies()] == ["s"]
            again.close()
        finally:
            store.close()
    assert (tmp_path / "t.db").read_bytes() == before
    assert main(["status", "--format", "json", "--storage", "sqlite:///t.db?mode=ro"]) == 0
    assert [row["study"] for row in json.loads(capsys.readouterr().out)] == ["s"]
    (tmp_path / "spec.yaml").write_text(SPEC.replace("FAULT", "none"))
    assert main(["run", "spec.yaml", "--storage", "sqlite:///t.db?mode=ro"]) == 2
    assert "read-only" in capsys.readouterr().err
    with pytest.raises(SpecError, match="no SQLite database"):
        open_store("sqlite:///missing.db?mode=ro")
    assert not (tmp_path / "missing.db").exists()


# 11: export's output path ----------------------------------------------------------------------


@pytest.mark.parametrize("output", ["DIR", "DIR/", "/", "/proc/version"])
def test_export_to_a_place_that_is_not_a_file_is_one_sentence(
    output: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "DIR").mkdir()
    url = make_study("sqlite:///t.db")
    for fmt in ("csv", "json"):
        assert main(["export", "s", "--format", fmt, "-o", output, "--storage", url]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tunewise: --output: "), err
        assert repr(output) in err
    assert list((tmp_path / "DIR").iterdir()) == []


# 20: read-only commands at a mistyped path -----------------------------------------------------


def test_read_only_commands_create_no_database_at_a_mistyped_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["status"], ["trials", "s"], ["best", "s"], ["describe", "s"]):
        assert main([*args, "--storage", "sqlite:///tunewsie.db"]) == 2
        err = capsys.readouterr().err
        assert f"no SQLite database at {tmp_path / 'tunewsie.db'}" in err
    with pytest.raises(SpecError, match="no SQLite database"):
        open_store("sqlite:///tunewsie.db", create=False)
    assert list(tmp_path.iterdir()) == []


# 7: two stores, one study name -----------------------------------------------------------------


def test_studies_of_one_name_in_two_stores_keep_their_own_trial_folders(tmp_path: Path) -> None:
    (tmp_path / "faulty.py").write_text(TRAIN)
    (tmp_path / "done").write_text("")  # no fault: the trials just run
    (tmp_path / "spec.yaml").write_text(
        SPEC.replace("FAULT", "none").replace("max_trials: 20", "max_trials: 1")
    )
    folders = []
    for db in ("one.db", "two.db"):
        storage = ["--storage", f"sqlite:///{db}"]
        assert tunewise(tmp_path, "run", "spec.yaml", *storage).returncode == 0
        listed = tunewise(tmp_path, "trials", "faults", "--format", "json", *storage)
        (trial,) = json.loads(listed.stdout)
        folders.append(tmp_path / trial["folder"])
        assert (folders[-1] / "stdout.log").read_text() == f"x={trial['params']['x']!r}\n"
    assert folders[0] != folders[1]
    assert folders[0].parent.name.startswith("faults-")
    one, two = ((f / "stdout.log").read_text() for f in folders)
    assert one != two  # each store's trial kept its own log (the seeds differ)
