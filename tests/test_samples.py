"""``samples --out FILE``: the options it uses, and never a half-written file."""

from __future__ import annotations

import errno
import resource
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from nnreally import cli
from nnreally.options import is_own_png
from tests.conftest import run_cli

SMALL = ["--data", "digits", "--limit", "100"]


def test_samples_writes_a_png_nnreally_can_tell_as_its_own(tmp_path: Path, capsys):
    out = tmp_path / "samples.png"
    assert cli.main(["samples", "--out", str(out), *SMALL]) == 0
    assert capsys.readouterr().out == f"samples: {out}\n"
    assert out.read_bytes().startswith(b"\x89PNG")
    assert is_own_png(out)
    assert [p.name for p in tmp_path.iterdir()] == ["samples.png"]  # no temporary file left


@pytest.mark.parametrize("option", ["--epochs=5", "--bs=3", "--nproc=3", "--lr=0.1", "--seed=1"])
def test_options_that_would_change_nothing_are_refused(tmp_path: Path, capsys, option: str):
    out = tmp_path / "samples.png"
    assert cli.main(["samples", "--out", str(out), option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"unrecognized arguments: {option}" in err
    assert not out.exists()


def test_a_full_disk_leaves_the_users_png_as_it_was_and_names_it(
    tmp_path: Path, capsys, monkeypatch
):
    out = tmp_path / "mine.png"
    out.write_bytes(b"the user's picture")

    def full(self, path, **kwargs):  # half a file, then the disk is full
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Figure, "savefig", full)
    assert cli.main(["samples", "--out", str(out), *SMALL]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"python -m nnreally.stages: error: {out}: not written (No space left on device); "
        "a file there before is unchanged\n"
    )
    assert out.read_bytes() == b"the user's picture"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.png"]


def _small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # smaller than the picture


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_file_size_limit_leaves_the_users_png_as_it_was(tmp_path: Path):
    """A real limit, in a real process: Python turns SIGXFSZ into an error on the write."""
    out = tmp_path / "mine.png"
    out.write_bytes(b"the user's picture")
    result = run_cli("samples", "--out", str(out), *SMALL, preexec_fn=_small_files)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1
    assert f"{out}: not written (File too large)" in result.stderr
    assert out.read_bytes() == b"the user's picture"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.png"]
