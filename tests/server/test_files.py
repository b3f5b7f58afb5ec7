"""A trial's files are read one path step at a time, never through a symbolic link: not the
trial's folder, not the study's folder, not a folder below, not the file (issue 21 #3/#19)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tunewise.server.files import UnsafePath, folder_is_safe, list_files, read_tail


@pytest.fixture
def trial(tmp_path: Path) -> Path:
    folder = tmp_path / "runs" / "demo" / "00000"
    (folder / "logs").mkdir(parents=True)
    (folder / "stdout.log").write_text("line 1\nline 2\n")
    (folder / "logs" / "epoch.txt").write_text("epoch 1\n")
    (tmp_path / "secret.txt").write_text("TOP-SECRET\n")
    return folder


def test_plain_files_are_read_and_listed(trial: Path) -> None:
    assert read_tail(trial, "stdout.log").text == "line 1\nline 2\n"
    assert read_tail(trial, "logs/epoch.txt").text == "epoch 1\n"
    tail = read_tail(trial, "stdout.log", max_bytes=8)
    assert tail.truncated and tail.text == "line 2\n" and tail.size == 14
    assert [f["name"] for f in list_files(trial)] == ["stdout.log", "logs/epoch.txt"]


def test_a_link_anywhere_on_the_way_is_refused(trial: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", trial / "escape.txt")
    os.symlink("stdout.log", trial / "inside.log")
    os.symlink(tmp_path, trial / "up")
    for name in ("escape.txt", "inside.log", "up/secret.txt"):
        with pytest.raises(UnsafePath, match="symbolic link"):
            read_tail(trial, name)
    assert {f["name"] for f in list_files(trial)} == {"stdout.log", "logs/epoch.txt"}


def test_a_trial_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "stdout.log").write_text("TOP-SECRET\n")
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", tmp_path / "runs" / "demo" / "00005")
    folder = tmp_path / "runs" / "demo" / "00005"
    with pytest.raises(UnsafePath):
        read_tail(folder, "stdout.log")
    assert not folder_is_safe(folder) and list_files(folder) == []
    os.symlink("/etc", tmp_path / "runs" / "demo" / "00006")
    with pytest.raises(UnsafePath):
        read_tail(tmp_path / "runs" / "demo" / "00006", "passwd")


def test_a_study_folder_that_is_a_link_is_refused(trial: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path / "runs" / "demo", tmp_path / "runs" / "other")
    folder = tmp_path / "runs" / "other" / "00000"
    with pytest.raises(UnsafePath):
        read_tail(folder, "stdout.log")
    assert list_files(folder) == []


def test_a_fifo_or_a_folder_is_not_read(trial: Path) -> None:
    os.mkfifo(trial / "pipe")  # opening it for reading would wait for a writer
    with pytest.raises(FileNotFoundError):
        read_tail(trial, "pipe")
    with pytest.raises(FileNotFoundError):
        read_tail(trial, "logs")
    with pytest.raises(FileNotFoundError):
        read_tail(trial, "missing.log")
    with pytest.raises(FileNotFoundError):
        read_tail(trial, "stdout.log/x")  # a file used as a folder
    with pytest.raises(FileNotFoundError):
        read_tail(trial.parent / "00001", "stdout.log")  # no such trial folder
