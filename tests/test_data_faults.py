"""Every layer of a data file can lie, and every write can fail or be interrupted.

Compression, container, header, shapes and values of the files we read; the digits cache; the
data folder itself; interrupted and failing writes; stalled servers. Each fault must end in one
clear line (``DataError``/``DownloadError``) or a note, never a traceback or lost data. The
digits-cache tests shrink the built-in set to a few hundred images, so they take milliseconds.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nnreally.data import (
    DataError,
    DownloadError,
    check_data_dir,
    digits_cache,
    download,
    files,
    load_data,
    load_digits,
    sources,
)
from nnreally.data import __main__ as data_cli
from nnreally.data import digits as generator
from nnreally.data.download import Limits, Remote, fetch, is_verified, problem
from nnreally.data.files import read_idx, read_idx_dir, read_pickle
from tests.http_server import Reply, Server
from tests.test_data import idx_folder, tutorial_layout, write_idx, write_pickle

try:
    import resource
except ImportError:  # not on Windows
    resource = None

N_TRAIN, N_VALID = 200, 50  # the stand-in size of the built-in set
POSIX = pytest.mark.skipif(os.name != "posix", reason="symlinks, FIFOs and process ids as on POSIX")


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused connections (conftest's closed MNIST URL) fail without waiting to retry."""
    monkeypatch.setattr(download, "LIMITS", Limits(backoff=0.0))


@pytest.fixture
def small_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The digits cache at a stand-in size, so that remaking it costs milliseconds."""
    monkeypatch.setattr(digits_cache, "N_TRAIN", N_TRAIN)
    monkeypatch.setattr(digits_cache, "N_VALID", N_VALID)


def temporary_files(folder: Path) -> list[str]:
    """Names a write in progress would leave behind (``.NAME.pidPID.TOKEN.tmp`` and the like)."""
    return sorted(p.name for p in folder.rglob(".*") if p.name.endswith((".tmp", ".part")))


def dead_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- the digits cache: checked on load, remade when broken (case 1) -----------------------------


def _save(path: Path, saved: dict) -> None:
    torch.save(saved, path)


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
    "not-a-dict": (lambda p, s: _save(p, [s["x_train"]]), "it holds a list"),
    "unsafe": (lambda p, s: _save(p, {**s, "x": Path("x")}), "the file holds more than tensors"),
    "missing-key": (
        lambda p, s: _save(p, {k: v for k, v in s.items() if k != "x_valid"}),
        "it lacks x_valid",
    ),
    "wrong-dtype": (
        lambda p, s: _save(p, _with(s, "x_train", s["x_train"].float())),
        "x_train is torch.float32, not torch.uint8",
    ),
    "wrong-shape": (
        lambda p, s: _save(p, _with(s, "x_valid", s["x_valid"][:, :100].contiguous())),
        rf"x_valid has shape \({N_VALID}, 100\), not \({N_VALID}, 784\)",
    ),
    "label-range": (
        lambda p, s: _save(p, _with(s, "y_train", torch.full_like(s["y_train"], 217))),
        "y_train holds label 217, not 0-9",
    ),
    "bit-flip": (
        lambda p, s: _save(p, _with(s, "x_train", s["x_train"] ^ 1, digest=False)),
        "its contents do not match the checksum stored with them",
    ),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=list(CORRUPTIONS))
def test_broken_digits_cache_is_remade_with_a_note(tmp_path: Path, small_digits, corrupt: str):
    good = load_digits(tmp_path)
    assert good.note == ""
    cache = digits_cache.cache_path(tmp_path)
    damage, reason = CORRUPTIONS[corrupt]
    damage(cache, torch.load(cache, weights_only=True))

    again = load_digits(tmp_path)

    assert again.note.count("\n") == 0
    assert again.note.startswith(f"the digits cache {cache} was broken (")
    assert again.note.endswith("), so it was made again")
    assert re.search(reason, again.note)
    for a, b in zip(again, good, strict=True):
        assert torch.equal(a, b)
    digits_cache.check(cache)  # the remade cache is sound
    assert load_digits(tmp_path).note == ""
    assert temporary_files(tmp_path) == []


def test_sound_cache_is_read_not_remade(tmp_path: Path, small_digits, monkeypatch):
    first = load_digits(tmp_path)

    def no_generation(*args, **kwargs):
        raise AssertionError("the digits were generated although the cache is sound")

    monkeypatch.setattr(generator, "digits", no_generation)
    second = load_digits(tmp_path)
    assert second.note == ""
    assert torch.equal(second.x_train, first.x_train)


def test_older_cache_versions_are_removed(tmp_path: Path, small_digits):
    old = tmp_path / "digits" / "digits-v1.pt"
    old.parent.mkdir()
    old.write_bytes(b"an earlier version of the cache")
    load_digits(tmp_path)
    assert sorted(p.name for p in old.parent.iterdir()) == [digits_cache.cache_path(tmp_path).name]


# --- a digits folder that cannot be written (case 2) ---------------------------------------------


def test_cache_write_failing_like_a_read_only_folder(tmp_path: Path, small_digits, monkeypatch):
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
    data = load_data("digits", tmp_path)
    assert len(data.x_train) == N_TRAIN
    assert data.note == (
        f"could not cache the built-in digits in {tmp_path / 'digits'} (Read-only file system); "
        "they were made in memory for this run and will be made again next time"
    )
    assert temporary_files(tmp_path) == []


@pytest.mark.skipif(resource is None or not hasattr(signal, "SIGXFSZ"), reason="POSIX limits")
def test_cache_write_failing_for_real(tmp_path: Path, small_digits):
    """A real failure that stops root too: a file size limit (RLIMIT_FSIZE) cuts torch.save."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, not the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        data = load_data("digits", tmp_path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert len(data.x_valid) == N_VALID
    assert data.note.startswith(f"could not cache the built-in digits in {tmp_path / 'digits'} (")
    assert "\n" not in data.note
    assert list((tmp_path / "digits").iterdir()) == []  # the partial file is gone


@pytest.mark.skipif(resource is None or not hasattr(signal, "SIGXFSZ"), reason="POSIX limits")
def test_download_that_cannot_be_saved(tmp_path: Path):
    """The disk fills up mid-download (a file size limit stands in for it): one line, no part."""
    payload = np.random.default_rng(2).bytes(200_000)
    with Server({"/f": [Reply(body=payload)]}) as srv:
        target = Remote("f.gz", (srv.url("/f"),), "md5", hashlib.md5(payload).hexdigest())
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
        try:
            with pytest.raises(DownloadError) as caught:
                fetch(target, tmp_path)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)
    assert str(caught.value) == f"could not save f.gz in {tmp_path}: File too large"
    assert list(tmp_path.iterdir()) == []


def test_cache_path_taken_by_a_folder(tmp_path: Path, small_digits):
    """Another real failure for root: a folder sits where the cache file goes."""
    cache = digits_cache.cache_path(tmp_path)
    cache.mkdir(parents=True)
    data = load_data("digits", tmp_path)
    assert len(data.x_train) == N_TRAIN
    assert data.note.splitlines() == [
        f"the digits cache {cache} was broken (the file cannot be read: Is a directory), "
        "so it was made again",
        f"could not cache the built-in digits in {cache.parent} (Is a directory); they were "
        "made in memory for this run and will be made again next time",
    ]
    assert temporary_files(tmp_path) == []


def test_auto_offline_with_read_only_cache_says_both(tmp_path: Path, small_digits, monkeypatch):
    def read_only(obj, path, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:747] errno 30 on fopen")

    monkeypatch.setattr(torch, "save", read_only)
    data = load_data("auto", tmp_path)
    lines = data.note.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("no MNIST in")
    assert lines[1].startswith("could not cache the built-in digits")


# --- the data folder, checked before any work (case 4) -------------------------------------------


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


def test_data_cli_checks_the_folder_too(tmp_path: Path, capsys):
    assert data_cli.main(["--data-dir", str(regular_file(tmp_path)), "info"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is a file, not a folder" in err


# --- interrupted writes leave nothing behind (case 8) --------------------------------------------


def test_interrupted_cache_write_leaves_nothing(tmp_path: Path, small_digits, monkeypatch):
    """Ctrl-C arrives while torch.save is half way through the file."""

    def interrupted(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half a cache")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_digits(tmp_path)
    assert list((tmp_path / "digits").iterdir()) == []


@POSIX
def test_stale_temporary_files_are_swept(tmp_path: Path, small_digits):
    folder = tmp_path / "digits"
    folder.mkdir()
    dead, alive = dead_pid(), os.getpid()
    stale = [
        f".digits-v1.pt.{dead}.tmp",  # as the digits cache wrote them before
        f".digits-v2.pt.pid{dead}.0a1b2c3d.tmp",
    ]
    live = [f".digits-v2.pt.pid{alive}.0a1b2c3d.tmp", f".digits-v2.pt.pid{os.getppid()}.beef.tmp"]
    for name in stale + live:
        (folder / name).write_bytes(b"partial")
    (folder / "notes.tmp").write_text("not ours: no leading dot, no pid")
    load_digits(tmp_path)
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([*live, "notes.tmp", digits_cache.cache_path(tmp_path).name])


@POSIX
def test_stale_download_parts_are_swept(tmp_path: Path):
    payload = b"some bytes"
    target = Remote("file.gz", (), "sha256", hashlib.sha256(payload).hexdigest())
    (tmp_path / "file.gz").write_bytes(payload)
    stale = tmp_path / f".file.gz.pid{dead_pid()}.12ab34cd.part"
    stale.write_bytes(b"half a download")
    assert fetch(target, tmp_path) == tmp_path / "file.gz"
    assert not stale.exists()


@POSIX
def test_stale_files_go_when_cached_mnist_is_read(tmp_path: Path, stand_in_mnist):
    stale = [
        stand_in_mnist.parent / f".mnist.pkl.gz.pid{dead_pid()}.0a1b2c3d.part",
        stand_in_mnist.parent / f"..verified.json.{dead_pid()}.tmp",  # as written before
    ]
    for path in stale:
        path.write_bytes(b"left by a killed process")
    assert load_data("mnist", tmp_path).name == "mnist"
    assert temporary_files(tmp_path) == []


# --- damaged compression, and a verified cache file that went bad (case 5) -----------------------


def damage_inside(path: Path) -> None:
    """Flip bytes in the middle of a gzip file, keeping its size and modification time."""
    before = path.stat()
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 8] = bytes(b ^ 0xFF for b in raw[middle : middle + 8])
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_damaged_gzip_pickle_is_named(tmp_path: Path):
    path = write_pickle(tmp_path / "m.pkl.gz", tutorial_layout())
    damage_inside(path)
    with pytest.raises(DataError, match=r"m\.pkl\.gz: damaged gzip data \(") as caught:
        read_pickle(path)
    assert "download it again" in str(caught.value)


@pytest.fixture
def stand_in_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small pickle in place of MNIST, its checksum standing in for the real one."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    path = write_pickle(folder / "mnist.pkl.gz", tutorial_layout())
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setattr(sources, "MNIST_PICKLE", Remote("mnist.pkl.gz", (), "md5", digest))
    return path


def test_verified_file_that_went_bad_is_rechecked(tmp_path, stand_in_mnist, capsys):
    remote = sources.MNIST_PICKLE
    assert load_data("mnist", tmp_path).name == "mnist"  # verified, and remembered
    damage_inside(stand_in_mnist)  # same size, same mtime: the remembered stamp still matches
    with pytest.raises(DataError) as caught:
        load_data("mnist", tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{stand_in_mnist}: damaged gzip data")
    assert "python -m nnreally.data download mnist" in message
    assert "python -m nnreally.data verify" in message
    assert "\n" not in message
    assert not is_verified(stand_in_mnist, remote)  # the stamp is forgotten: hashed again
    assert data_cli.main(["--data-dir", str(tmp_path), "verify"]) == 1
    assert f"CORRUPT  mnist          {stand_in_mnist} (fails its md5 checksum)" in (
        capsys.readouterr().out
    )


def test_rehash_sees_through_a_matching_stamp(tmp_path: Path):
    """verify re-hashes even when the remembered size and mtime still match (bit rot)."""
    path = write_pickle(tmp_path / "m.pkl.gz", tutorial_layout(30, 10))
    remote = Remote("m.pkl.gz", (), "md5", hashlib.md5(path.read_bytes()).hexdigest())
    assert problem(path, remote) is None  # hashed and remembered
    damage_inside(path)
    assert problem(path, remote) is None  # trusted by its stamp
    assert problem(path, remote, rehash=True) == "fails its md5 checksum"
    assert not is_verified(path, remote)  # the failure dropped the stamp


# --- a user's file is never deleted (case 6) -----------------------------------------------------


def test_unverified_mnist_is_moved_aside_in_auto_mode(tmp_path, stand_in_mnist, small_digits):
    (stand_in_mnist.parent / "mnist.pkl.gz.corrupt").write_bytes(b"an earlier one")
    stand_in_mnist.write_bytes(b"the user's own file")
    data = load_data("auto", tmp_path)  # offline: conftest points MNIST at a closed port
    aside = stand_in_mnist.parent / "mnist.pkl.gz.corrupt.1"
    assert aside.read_bytes() == b"the user's own file"
    assert (stand_in_mnist.parent / "mnist.pkl.gz.corrupt").read_bytes() == b"an earlier one"
    lines = data.note.splitlines()
    assert lines[0] == (
        f"moved {stand_in_mnist} aside to {aside}: it fails its md5 checksum "
        f"(to train on it as it is: --data {aside})"
    )
    assert lines[1].startswith("no MNIST in")
    assert data.name == "digits"


def test_unverified_mnist_is_moved_aside_in_mnist_mode(tmp_path, stand_in_mnist):
    stand_in_mnist.write_bytes(b"the user's own file")
    with pytest.raises(DownloadError) as caught:
        load_data("mnist", tmp_path)
    assert f"moved {stand_in_mnist} aside to {stand_in_mnist}.corrupt" in str(caught.value)
    assert Path(f"{stand_in_mnist}.corrupt").read_bytes() == b"the user's own file"


def test_unverified_mnist_is_moved_aside_by_download(tmp_path, stand_in_mnist, monkeypatch, capsys):
    good = stand_in_mnist.read_bytes()
    stand_in_mnist.write_bytes(b"the user's own file")
    with Server({"/m": [Reply(body=good)]}) as srv:
        monkeypatch.setenv("NNREALLY_MNIST_URL", srv.url("/m"))
        assert data_cli.main(["--data-dir", str(tmp_path), "download"]) == 0
    err = capsys.readouterr().err
    assert err == (
        f"note: moved {stand_in_mnist} aside to {stand_in_mnist}.corrupt: it fails its md5 "
        f"checksum (to train on it as it is: --data {stand_in_mnist}.corrupt)\n"
    )
    assert stand_in_mnist.read_bytes() == good
    assert Path(f"{stand_in_mnist}.corrupt").read_bytes() == b"the user's own file"


# --- values: every reader checks them (case 7) ---------------------------------------------------


def layout_with(x_change=None, y_change=None, dtype=np.float32) -> tuple:
    (xt, yt), valid, test = tutorial_layout(30, 10)
    xt, yt = xt.astype(dtype), yt.copy()
    if x_change:
        xt[x_change[0]] = x_change[1]
    if y_change:
        yt[y_change[0]] = y_change[1]
    return (xt, yt), valid, test


BAD_VALUES = {
    "nan": (layout_with(x_change=((7, 300), np.nan)), r"image 7 has pixel 300 = nan"),
    "inf": (layout_with(x_change=((3, 5), np.inf)), r"image 3 has pixel 5 = inf"),
    "negative": (layout_with(x_change=((0, 0), -0.5)), r"image 0 has pixel 0 = -0.5"),
    "above-one": (layout_with(x_change=((29, 783), 1.5)), r"image 29 has pixel 783 = 1.5"),
    "float64-overflow": (
        layout_with(x_change=((4, 4), 1e300), dtype=np.float64),
        r"image 4 has pixel 4 = inf",
    ),
    "label-10": (layout_with(y_change=(12, 10)), r"label 12 is 10; labels must be integers 0-9"),
    "label-negative": (layout_with(y_change=(2, -1)), r"label 2 is -1"),
}


@pytest.mark.parametrize("case", BAD_VALUES, ids=list(BAD_VALUES))
def test_bad_values_in_a_pickle_are_named(tmp_path: Path, case: str):
    content, message = BAD_VALUES[case]
    path = write_pickle(tmp_path / "bad.pkl.gz", content)
    with pytest.raises(DataError, match=rf"^{path} \(train\): {message}"):
        load_data(str(path), tmp_path)


def test_bad_label_in_an_idx_file_is_named(tmp_path: Path):
    folder = idx_folder(tmp_path / "idx")
    labels = np.random.default_rng(0).integers(0, 10, 10_100)
    labels[4321] = 11
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: label 4,321 is 11"):
        read_idx_dir(folder)


def test_float64_and_uint8_pickles_are_converted(tmp_path: Path):
    (xt, yt), (xv, yv), test = tutorial_layout(30, 10)
    as_bytes = (np.round(xt * 255).astype(np.uint8), yt.astype(np.uint8))
    path = write_pickle(tmp_path / "m.pkl.gz", (as_bytes, (xv.astype(np.float64), yv), test))
    data = read_pickle(path)
    assert data.x_train.dtype == data.x_valid.dtype == torch.float32
    assert data.y_train.dtype == torch.int64
    assert torch.equal(data.x_train, torch.from_numpy(as_bytes[0] / np.float32(255)))
    assert torch.equal(data.x_valid, torch.from_numpy(xv))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (((np.zeros((0, 784), np.float32), np.zeros(0, np.int64)),) * 3, "holds no images"),
        (((np.zeros((5, 784), np.float32), np.zeros(5)),) * 3, "labels are float64"),
        (((np.zeros((5, 784), np.int64), np.zeros(5, np.int64)),) * 3, "images are int64"),
    ],
    ids=["empty", "float-labels", "int64-images"],
)
def test_wrong_dtypes_and_empty_splits_are_named(tmp_path: Path, content, message: str):
    with pytest.raises(DataError, match=message):
        read_pickle(write_pickle(tmp_path / "bad.pkl.gz", content))


# --- more layers that lie ------------------------------------------------------------------------


def test_plain_pickle_named_pkl_gz_reads(tmp_path: Path):
    content = tutorial_layout(30, 10)
    path = tmp_path / "m.pkl.gz"
    path.write_bytes(pickle.dumps(content, protocol=2))
    assert torch.equal(read_pickle(path).x_train, torch.from_numpy(content[0][0]))


@pytest.mark.parametrize("reader", [read_pickle, read_idx], ids=["pickle", "idx"])
def test_empty_file_is_named(tmp_path: Path, reader):
    path = tmp_path / "empty.gz"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.gz: the file is empty"):
        reader(path)


@POSIX
def test_data_path_that_is_not_a_regular_file(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe")  # opening it to read would wait for a writer forever
    with pytest.raises(DataError, match=r"pipe: not a regular file"):
        load_data(str(tmp_path / "pipe"), tmp_path)


def test_random_bytes_are_not_a_pickle(tmp_path: Path):
    path = tmp_path / "noise.pkl.gz"
    path.write_bytes(np.random.default_rng(3).bytes(4000))
    with pytest.raises(DataError, match=r"noise\.pkl\.gz: not a readable pickle \("):
        read_pickle(path)


def test_idx_file_given_as_the_data_file(tmp_path: Path):
    folder = idx_folder(tmp_path / "idx")
    with pytest.raises(
        DataError, match=r"an IDX file \(pass the folder that holds the IDX files\)"
    ):
        load_data(str(folder / "train-images-idx3-ubyte.gz"), tmp_path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], "the file is cut short"),
        (lambda raw: raw[:100] + bytes(b ^ 0x55 for b in raw[100:200]) + raw[200:], "damaged gzip"),
    ],
    ids=["truncated-gzip", "damaged-gzip"],
)
def test_damaged_idx_gzip_is_named(tmp_path: Path, damage, message: str):
    path = write_idx(tmp_path / "x.gz", np.random.default_rng(0).integers(0, 256, (50, 28, 28)))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=rf"x\.gz: {message}"):
        read_idx(path)


def test_folder_without_idx_files_says_what_it_needs(tmp_path: Path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_pickle(folder / "mnist.pkl.gz", tutorial_layout(30, 10))
    with pytest.raises(DataError) as caught:
        load_data(str(folder), tmp_path)
    assert str(caught.value) == (
        f"{folder}: no train-images-idx3-ubyte.gz here (an IDX folder needs "
        "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz); to use mnist.pkl.gz, "
        "pass the file itself"
    )


def test_unreadable_file_is_named(tmp_path: Path, monkeypatch):
    """Permission denied. chmod does not stop root, so ``open`` is made to refuse as it would."""

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    path = write_pickle(tmp_path / "m.pkl.gz", tutorial_layout(30, 10))
    monkeypatch.setattr(files, "open", denied, raising=False)
    with pytest.raises(DataError, match=r"m\.pkl\.gz: cannot read it \(Permission denied\)"):
        read_pickle(path)


def test_damaged_verified_notes_file_is_ignored(tmp_path: Path):
    payload = b"some bytes"
    target = Remote("file.gz", (), "sha256", hashlib.sha256(payload).hexdigest())
    (tmp_path / "file.gz").write_bytes(payload)
    for notes in ("[1, 2]", '{"file.gz": 5}', "{not json", '{"file.gz": {"stamp": 3}}'):
        (tmp_path / ".verified.json").write_text(notes)
        assert is_verified(tmp_path / "file.gz", target)


@POSIX
def test_data_path_that_loops(tmp_path: Path):
    with pytest.raises(DataError, match="a symlink loop"):
        load_data(str(loop(tmp_path)), tmp_path)


# --- verify looks at the digits cache too (case 9) -----------------------------------------------


def test_verify_checks_the_digits_cache(tmp_path: Path, small_digits, capsys):
    load_digits(tmp_path)
    cache = digits_cache.cache_path(tmp_path)
    assert data_cli.main(["--data-dir", str(tmp_path), "verify"]) == 0
    assert capsys.readouterr().out == f"ok       digits         {cache}\n"
    cache.write_bytes(cache.read_bytes()[:1000])
    assert data_cli.main(["--data-dir", str(tmp_path), "verify"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"CORRUPT  digits         {cache} (the file is cut short or damaged")
    assert out.endswith("; it is made again on use)\n")


# --- progress while the digits are made (case 10) ------------------------------------------------


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_generation_progress(tmp_path, small_digits, monkeypatch, capsys, terminal: bool):
    size = (N_TRAIN + 7 + terminal, N_VALID)  # a size not made yet in this process
    monkeypatch.setattr(digits_cache, "N_TRAIN", size[0])
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    load_data("digits", tmp_path, progress=True)
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
    load_data("digits", tmp_path, progress=True)  # cached now: nothing to say
    assert capsys.readouterr().err == ""


def test_no_progress_unless_asked(tmp_path, small_digits, monkeypatch, capsys):
    monkeypatch.setattr(digits_cache, "N_TRAIN", N_TRAIN + 3)
    load_data("digits", tmp_path)
    assert capsys.readouterr().err == ""


# --- time is bounded per URL (case 11) -----------------------------------------------------------

PAYLOAD = gzip.compress(np.random.default_rng(1).bytes(20_000))
SMALL = Limits(connect=1.0, silence=0.25, attempt=0.5, retries=3, backoff=0.1)
SLACK = 0.5  # seconds a loaded machine may add; unbounded, these servers take 20-30 s


def timed_failure(
    folder: Path, replies: list[Reply], limits: Limits = SMALL
) -> tuple[str, float, int]:
    """Fetch from a server scripted by ``replies``; return the error, seconds taken, hits."""
    with Server({"/f": replies}) as srv:
        target = Remote("f.gz", (srv.url("/f"),), "md5", hashlib.md5(PAYLOAD).hexdigest())
        start = time.monotonic()
        with pytest.raises(DownloadError) as caught:
            fetch(target, folder, limits=limits)
        took = time.monotonic() - start
    assert temporary_files(folder) == []
    return str(caught.value), took, srv.hits["/f"]


def test_server_that_never_answers_is_given_up_after_one_silence(tmp_path: Path):
    message, took, hits = timed_failure(tmp_path, [Reply(body=PAYLOAD, silent=30)])
    assert "(the server sent nothing for 0.25 s)" in message
    assert 0.25 <= took < 0.25 + SLACK
    assert hits == 1  # silence is not retried


def test_dripping_body_is_cut_at_the_attempt_limit(tmp_path: Path):
    message, took, _ = timed_failure(tmp_path, [Reply(body=PAYLOAD, drip=0.1, chunk=100)])
    assert "(gave up after 0.5 s)" in message
    assert 0.5 <= took < 0.5 + SLACK


def test_dripping_headers_are_cut_at_the_attempt_limit(tmp_path: Path):
    message, took, _ = timed_failure(tmp_path, [Reply(body=PAYLOAD, header_drip=0.05)])
    assert "(gave up after 0.5 s)" in message
    assert 0.5 <= took < 0.5 + SLACK


def test_retries_and_backoff_stay_within_the_attempt_limit(tmp_path: Path):
    replies = [Reply(503, b"busy"), Reply(503, b"busy"), Reply(body=PAYLOAD, silent=30)]
    limits = Limits(connect=1.0, silence=5.0, attempt=0.5, retries=3, backoff=0.1)
    message, took, hits = timed_failure(tmp_path, replies, limits)
    assert "(gave up after 0.5 s)" in message  # 0.1 + 0.2 s of backoff, then a cut-off silence
    assert 0.5 <= took < 0.5 + SLACK
    assert hits == 3


# --- one readable line when MNIST cannot be had (case 3) -----------------------------------------


def test_mnist_failure_is_one_line_with_each_reason_once(tmp_path, monkeypatch):
    with Server({}) as srv:
        pickle_urls = (srv.url("/a/mnist.pkl.gz"), "http://127.0.0.1:9/mnist.pkl.gz")
        monkeypatch.setattr(
            sources, "MNIST_PICKLE", Remote("mnist.pkl.gz", pickle_urls, "md5", "0" * 32)
        )
        idx = tuple(
            Remote(f"{name}.gz", (srv.url(f"/{name}.gz"),), "sha256", "0" * 64)
            for name in files.IDX_FILES
        )
        monkeypatch.setattr(sources, "MNIST_IDX", idx)
        monkeypatch.delenv("NNREALLY_MNIST_URL")
        with pytest.raises(DownloadError) as caught:
            load_data("mnist", tmp_path)
    message = str(caught.value)
    assert message == (
        f"could not download MNIST: mnist.pkl.gz from {pickle_urls[0]} (HTTP 404 Not Found), "
        f"{pickle_urls[1]} (connection refused); train-images-idx3-ubyte.gz from "
        f"{srv.url('/train-images-idx3-ubyte.gz')} (HTTP 404 Not Found). To place it by hand, "
        f"save the tutorial's mnist.pkl.gz (md5 {'0' * 32}) as "
        f"{tmp_path / 'mnist' / 'mnist.pkl.gz'}."
    )


def test_mnist_failure_with_one_reason_says_it_once(tmp_path, monkeypatch):
    closed = "http://127.0.0.1:9/"
    pickle_remote = Remote("mnist.pkl.gz", (closed + "p1", closed + "p2"), "md5", "0" * 32)
    monkeypatch.setattr(sources, "MNIST_PICKLE", pickle_remote)
    monkeypatch.setattr(sources, "MNIST_IDX", (Remote("t.gz", (closed + "t",), "md5", "0" * 32),))
    monkeypatch.delenv("NNREALLY_MNIST_URL")
    with pytest.raises(DownloadError) as caught:
        load_data("mnist", tmp_path)
    message = str(caught.value)
    assert message.startswith(
        f"could not download MNIST (connection refused): mnist.pkl.gz from {closed}p1, "
        f"{closed}p2; t.gz from {closed}t. To place it by hand"
    )
    assert message.count("connection refused") == 1
