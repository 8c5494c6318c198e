"""Atomic writes, stale temporary files swept, files set aside, and folders made only for good."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnreally.data.writes import atomic_write, folder_for, set_aside, sweep, temp_path
from tests.data.conftest import POSIX
from tests.data.makers import dead_pid


def test_atomic_write_renames_into_place(tmp_path: Path):
    atomic_write(tmp_path / "f", lambda tmp: tmp.write_text("whole"))
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
    assert (tmp_path / "f").read_text() == "whole"


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_failed_write_leaves_nothing(tmp_path: Path, error: type):
    def write(tmp: Path) -> None:
        tmp.write_text("half")
        raise error

    with pytest.raises(error):
        atomic_write(tmp_path / "f", write)
    assert list(tmp_path.iterdir()) == []


def test_temporary_names_carry_the_pid(tmp_path: Path):
    name = temp_path(tmp_path / "f.gz", ".part").name
    assert name.startswith(f".f.gz.pid{os.getpid()}.")
    assert name.endswith(".part")


@POSIX
def test_sweep_removes_only_files_of_dead_writers(tmp_path: Path):
    dead = dead_pid()
    stale = [f".digits-v2.pt.pid{dead}.0a1b2c3d.tmp", f".f.gz.pid{dead}.12ab.part"]
    live = [f".digits-v2.pt.pid{os.getpid()}.0a1b2c3d.tmp", f".f.pid{os.getppid()}.beef.tmp"]
    other = ["notes.tmp", f".digits-v1.pt.{dead}.tmp"]  # not ours: no pid marker
    for name in stale + live + other:
        (tmp_path / name).write_bytes(b"partial")
    assert sorted(p.name for p in sweep(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(live + other)


def test_set_aside_never_overwrites(tmp_path: Path):
    (tmp_path / "f").write_text("first")
    (tmp_path / "f.corrupt").write_text("earlier")
    assert set_aside(tmp_path / "f") == tmp_path / "f.corrupt.1"
    assert (tmp_path / "f.corrupt").read_text() == "earlier"
    assert (tmp_path / "f.corrupt.1").read_text() == "first"
    assert not (tmp_path / "f").exists()


class WriteFailedError(Exception):
    """What a write inside ``folder_for`` raised."""


def fail_in(folder: Path, before: object = None) -> None:
    """Enter ``folder_for(folder)``, do ``before``, then fail."""
    with folder_for(folder):
        assert folder.is_dir()
        if before is not None:
            before()
        raise WriteFailedError


def test_folder_for_removes_what_it_made_on_failure(tmp_path: Path):
    with pytest.raises(WriteFailedError):
        fail_in(tmp_path / "a" / "b" / "c")
    assert list(tmp_path.iterdir()) == []


def test_folder_for_keeps_folders_with_something_in_them(tmp_path: Path):
    with pytest.raises(WriteFailedError):
        fail_in(tmp_path / "a" / "b", lambda: (tmp_path / "a" / "other").write_text("another's"))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["other"]


def test_folder_for_keeps_what_it_made_on_success(tmp_path: Path):
    with folder_for(tmp_path / "a" / "b"):
        pass
    assert (tmp_path / "a" / "b").is_dir()
