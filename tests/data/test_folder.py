"""The data folder: where it is, and every way it can be unusable, said before any work."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from nnreally.data import DataError, check_data_dir, data_dir_arg, default_data_dir, load_data
from nnreally.data import digits as generator
from tests.data.conftest import POSIX


@pytest.mark.parametrize(("value", "expected"), [("", "data"), ("elsewhere", "elsewhere")])
def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, value: str, expected: str):
    monkeypatch.setenv("NNREALLY_DATA", value)
    assert default_data_dir() == Path(expected)  # empty counts as unset: never the current folder
    monkeypatch.delenv("NNREALLY_DATA")
    assert default_data_dir() == Path("data")


def test_empty_data_dir_option_is_refused():
    with pytest.raises(argparse.ArgumentTypeError, match="an empty path; leave the option out"):
        data_dir_arg("")
    assert data_dir_arg(".") == Path(".")


def loop(tmp_path: Path) -> Path:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


def regular_file(tmp_path: Path) -> Path:
    (tmp_path / "f").write_text("x")
    return tmp_path / "f"


def dangling(tmp_path: Path) -> Path:
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    return tmp_path / "link"


def sub_is_file(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mnist").write_text("x")
    return tmp_path / "data"


def sub_loops(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "digits").symlink_to(tmp_path / "data" / "digits")
    return tmp_path / "data"


BAD_FOLDERS = {
    "a-file": (regular_file, r"data folder .*/f is a file, not a folder; point --data-dir"),
    "symlink-loop": (loop, r"data folder .*/a cannot be used: a symlink loop"),
    "under-a-file": (
        lambda t: regular_file(t) / "data",
        r"data folder .*/f/data cannot be made: .*/f is a file, not a folder",
    ),
    "deep-under-a-file": (
        lambda t: regular_file(t) / "x" / "y",
        r"cannot be made: .*/f is a file, not a folder",
    ),
    "dangling-link": (dangling, r"is a symlink to .*/gone, which does not exist"),
    "subfolder-is-a-file": (
        sub_is_file,
        r"data/mnist is a file, not a folder, but the data folder keeps mnist in a folder there",
    ),
    "subfolder-loops": (sub_loops, r"data/digits cannot be used: a symlink loop"),
}


@POSIX
@pytest.mark.parametrize("case", BAD_FOLDERS, ids=list(BAD_FOLDERS))
def test_bad_data_folder_is_one_line_before_any_work(tmp_path, monkeypatch, case: str):
    make, message = BAD_FOLDERS[case]
    folder = make(tmp_path)

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the data folder was checked")

    monkeypatch.setattr(generator, "digits", no_work)
    with pytest.raises(DataError, match=message) as caught:
        check_data_dir(folder)
    assert "\n" not in str(caught.value)
    for source in ("digits", "auto", "mnist"):
        with pytest.raises(DataError, match=message):
            load_data(source, folder)


@POSIX
def test_usable_data_folders_pass(tmp_path: Path):
    check_data_dir(tmp_path)  # exists
    check_data_dir(tmp_path / "new" / "deeper")  # will be made
    (tmp_path / "link").symlink_to(tmp_path)
    check_data_dir(tmp_path / "link")
