"""The digits' cache: one file per size, checked on every load, remade when broken.

The tests ask for a few hundred digits (a size of their own), so remaking them costs milliseconds.
"""

from __future__ import annotations

import re
import signal
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from nnreally.data import digits as generator
from nnreally.data import digits_cache, load_data, load_digits
from nnreally.data.dataset import N_TRAIN, N_VALID
from tests.data.conftest import POSIX
from tests.data.makers import dead_pid, temporary_files

try:
    import resource
except ImportError:  # not on Windows
    resource = None

SMALL = {"n_train": 200, "n_valid": 50}


def small(folder: Path | None, **kwargs):
    return load_digits(folder, **SMALL, **kwargs)


def cache(folder: Path) -> Path:
    return digits_cache.cache_path(folder, **SMALL)


def test_each_size_has_its_own_cache(tmp_path: Path):
    assert digits_cache.cache_path(tmp_path).name == "digits-v2.pt"  # the default size
    first = small(tmp_path)
    assert cache(tmp_path).name == "digits-v2-200-50.pt"
    assert (len(first.x_train), len(first.x_valid)) == (200, 50)
    other = load_digits(tmp_path, n_train=30, n_valid=10)
    assert digits_cache.caches(tmp_path) == [
        (digits_cache.cache_path(tmp_path, 200, 50), 200, 50),
        (digits_cache.cache_path(tmp_path, 30, 10), 30, 10),
    ]
    assert not torch.equal(other.x_train, first.x_train[:30])  # a set of its own, not a slice


def test_cache_round_trip_is_exact(tmp_path: Path):
    made = small(tmp_path)
    cached = small(tmp_path)
    for a, b in zip(made, cached, strict=True):
        assert torch.equal(a, b)
    assert cached.note == ""


@pytest.mark.parametrize("sizes", [(0, 10), (10, 0), (-1, 5)])
def test_sizes_must_be_positive(tmp_path: Path, sizes: tuple[int, int]):
    with pytest.raises(ValueError, match="at least one of each"):
        load_digits(tmp_path, n_train=sizes[0], n_valid=sizes[1])


def _with(saved: dict, key: str, value: object, digest: bool = True) -> dict:
    """The cache's content with one entry changed (and its checksum made to fit, if asked)."""
    changed = {**saved, key: value}
    if digest:
        changed["sha256"] = digits_cache._digest(changed)
    return changed


CORRUPTIONS = {
    "truncated": (
        lambda p, s: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        r"the file is cut short or damaged \(its zip archive cannot be read\)",
    ),
    "random-bytes": (
        lambda p, s: p.write_bytes(np.random.default_rng(0).bytes(5000)),
        r"the file was not written by torch.save \(foreign or random bytes\)",
    ),
    "empty": (lambda p, s: p.write_bytes(b""), "the file is empty"),
    "not-a-dict": (lambda p, s: torch.save([s["x_train"]], p), "it holds a list"),
    "unsafe": (
        lambda p, s: torch.save({**s, "x": Path("x")}, p),
        "the file holds more than tensors",
    ),
    "missing-key": (
        lambda p, s: torch.save({k: v for k, v in s.items() if k != "x_valid"}, p),
        "it lacks x_valid",
    ),
    "wrong-dtype": (
        lambda p, s: torch.save(_with(s, "x_train", s["x_train"].float()), p),
        "x_train is torch.float32, not torch.uint8",
    ),
    "wrong-shape": (
        lambda p, s: torch.save(_with(s, "x_valid", s["x_valid"][:, :100].contiguous()), p),
        r"x_valid has shape \(50, 100\), not \(50, 784\)",
    ),
    "label-range": (
        lambda p, s: torch.save(_with(s, "y_train", torch.full_like(s["y_train"], 217)), p),
        "y_train holds label 217, not 0-9",
    ),
    "bit-flip": (
        lambda p, s: torch.save(_with(s, "x_train", s["x_train"] ^ 1, digest=False), p),
        "its contents do not match the checksum stored with them",
    ),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_broken_cache_is_remade_with_a_note(tmp_path: Path, corrupt: str):
    good = small(tmp_path)
    damage, reason = CORRUPTIONS[corrupt]
    damage(cache(tmp_path), torch.load(cache(tmp_path), weights_only=True))

    again = small(tmp_path)

    assert again.note.count("\n") == 0
    assert again.note.startswith(f"the digits cache {cache(tmp_path)} was broken (")
    assert again.note.endswith("), so it was made again")
    assert re.search(reason, again.note)
    for a, b in zip(again, good, strict=True):
        assert torch.equal(a, b)
    digits_cache.check(cache(tmp_path), **SMALL)  # the remade cache is sound
    assert small(tmp_path).note == ""
    assert temporary_files(tmp_path) == []


def test_sound_cache_is_read_not_remade(tmp_path: Path, monkeypatch):
    first = small(tmp_path)

    def no_generation(*args, **kwargs):
        raise AssertionError("the digits were generated although the cache is sound")

    monkeypatch.setattr(generator, "digits", no_generation)
    second = small(tmp_path)
    assert second.note == ""
    assert torch.equal(second.x_train, first.x_train)


def test_cache_write_failing_like_a_read_only_folder(tmp_path: Path, monkeypatch):
    """torch.save raises the RuntimeError it raises on a read-only file system.

    A chmod'ed folder does not stop root (the tests run as root), so the writer is made to fail
    exactly as torch's C++ writer does there.
    """

    def read_only(obj, path, *args, **kwargs):
        raise RuntimeError(
            "[enforce fail at inline_container.cc:747] . open file failed because of errno 30 "
            f"on fopen: Read-only file system, file path: {path}"
        )

    monkeypatch.setattr(torch, "save", read_only)
    data = small(tmp_path)
    assert len(data.x_train) == 200
    assert data.note == (
        f"could not cache the built-in digits in {tmp_path / 'digits'} (Read-only file system); "
        "they were made in memory for this run and will be made again next time"
    )
    assert list(tmp_path.iterdir()) == []  # not even the digits/ folder made for the cache


@pytest.mark.skipif(resource is None or not hasattr(signal, "SIGXFSZ"), reason="POSIX limits")
def test_cache_write_failing_for_real(tmp_path: Path):
    """A real failure that stops root too: a file size limit (RLIMIT_FSIZE) cuts torch.save."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, not the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        data = small(tmp_path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert len(data.x_valid) == 50
    assert data.note.startswith(f"could not cache the built-in digits in {tmp_path / 'digits'} (")
    assert "\n" not in data.note
    assert list(tmp_path.iterdir()) == []  # the partial file is gone, and the folder made for it


def test_cache_path_taken_by_a_folder(tmp_path: Path):
    """Another real failure for root: a folder sits where the cache file goes."""
    cache(tmp_path).mkdir(parents=True)
    data = small(tmp_path)
    assert len(data.x_train) == 200
    assert data.note.splitlines() == [
        f"the digits cache {cache(tmp_path)} was broken (the file cannot be read: Is a directory), "
        "so it was made again",
        f"could not cache the built-in digits in {cache(tmp_path).parent} (Is a directory); they "
        "were made in memory for this run and will be made again next time",
    ]
    assert temporary_files(tmp_path) == []


@pytest.mark.slow
def test_auto_offline_with_read_only_cache_says_both(tmp_path: Path, monkeypatch):
    """The fallback at full size (60,000 digits made, unless another test made them)."""

    def read_only(obj, path, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:747] errno 30 on fopen")

    monkeypatch.setattr(torch, "save", read_only)
    data = load_data("auto", tmp_path)
    assert (len(data.x_train), len(data.x_valid)) == (N_TRAIN, N_VALID)
    lines = data.note.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("no MNIST in")
    assert lines[1].startswith("could not cache the built-in digits")


def test_interrupted_cache_write_leaves_nothing(tmp_path: Path, monkeypatch):
    """Ctrl-C arrives while torch.save is half way through the file."""

    def interrupted(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half a cache")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        small(tmp_path)
    assert list(tmp_path.iterdir()) == []


@POSIX
def test_stale_temporary_files_are_swept(tmp_path: Path):
    folder = tmp_path / "digits"
    folder.mkdir()
    stale = f".{cache(tmp_path).name}.pid{dead_pid()}.0a1b2c3d.tmp"
    (folder / stale).write_bytes(b"partial")
    small(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [cache(tmp_path).name]


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_generation_progress(tmp_path, monkeypatch, capsys, terminal: bool):
    size = (200 + 7 + terminal, 50)  # a size not made yet in this process
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    load_digits(tmp_path, progress=True, n_train=size[0], n_valid=size[1])
    err = capsys.readouterr().err
    total = f"{sum(size)}"
    if terminal:
        assert "generating the built-in digits" in err
        assert f"| 0/{total} [" in err  # tqdm's bar, over the right total (it redraws at most
        # every 0.1 s and clears itself at the end, so the last count may never be drawn)
    else:
        assert err.startswith(
            f"generating the built-in digits ({total} images, 5-30 s) ... done in"
        )
        assert err.count("\n") == 1
    load_digits(tmp_path, progress=True, n_train=size[0], n_valid=size[1])  # cached: silent
    assert capsys.readouterr().err == ""


def test_no_progress_unless_asked(tmp_path, capsys):
    load_digits(tmp_path, n_train=203, n_valid=50)
    assert capsys.readouterr().err == ""


def test_progress_goes_to_stdout_in_a_notebook(tmp_path, monkeypatch, capsys):
    """Jupyter shows stderr as an error (red): in a kernel, the progress line is ordinary output."""
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    load_digits(tmp_path, progress=True, n_train=211, n_valid=50)
    out, err = capsys.readouterr()
    assert out.startswith("generating the built-in digits (261 images, 5-30 s) ... done in")
    assert err == ""


def test_a_damaged_cache_brings_no_warning_of_torchs(tmp_path):
    """A broken cache is said in one line of ours; torch's own warning about the bytes (here a
    pickle protocol of 75) is not shown besides."""
    path = tmp_path / "digits.pt"
    path.write_bytes(b"\x80K" + bytes(64))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(digits_cache.BrokenCacheError):
            digits_cache.check(path, 1, 1)
    assert [str(w.message) for w in shown] == []
