"""``load_data``: the named sources (MNIST cached or downloaded, Fashion-MNIST, digits, auto).

MNIST is a small stand-in pickle whose checksum replaces the real one for the test
(``sources.MNIST_PICKLE`` is monkeypatched); the shipped checksums are checked apart.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from pathlib import Path

import pytest
import torch

from nnreally import cli
from nnreally.data import DataError, DownloadError, load_data, load_digits, sources
from nnreally.data import __main__ as data_cli
from nnreally.data.checksums import Remote, is_verified
from nnreally.data.idx import IDX_FILES
from tests.data.conftest import POSIX
from tests.data.http_server import Reply, Server
from tests.data.makers import (
    damage_inside,
    dead_pid,
    idx_folder,
    temporary_files,
    tutorial_layout,
    write_pickle,
)


@pytest.fixture
def stand_in_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small pickle in place of MNIST in ``tmp_path/mnist``, its checksum the expected one."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    path = write_pickle(folder / "mnist.pkl.gz", tutorial_layout())
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setattr(sources, "MNIST_PICKLE", Remote("mnist.pkl.gz", (), "md5", digest))
    return path


def test_cached_mnist_is_read(tmp_path: Path, stand_in_mnist: Path):
    data = load_data("mnist", tmp_path)
    (x_train, _), (_, y_valid), _ = pickle.loads(gzip.decompress(stand_in_mnist.read_bytes()))
    assert (data.name, data.note) == ("mnist", "")
    assert torch.equal(data.x_train, torch.from_numpy(x_train))
    assert torch.equal(data.y_valid, torch.from_numpy(y_valid))


def test_cached_mnist_as_idx_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = idx_folder(tmp_path / "mnist", n=60)
    remotes = tuple(
        Remote(
            f"{stem}.gz", (), "md5", hashlib.md5((folder / f"{stem}.gz").read_bytes()).hexdigest()
        )
        for stem in IDX_FILES[:2]
    )
    monkeypatch.setattr(sources, "MNIST_IDX", remotes)
    data = load_data("mnist", tmp_path)
    assert (data.name, len(data.x_train), len(data.x_valid)) == ("mnist", 50, 10)


def test_mnist_from_the_url_variable_then_from_cache(tmp_path, monkeypatch, stand_in_mnist):
    payload = stand_in_mnist.read_bytes()
    stand_in_mnist.unlink()
    stand_in_mnist.parent.rmdir()
    with Server({"/mnist.pkl.gz": [Reply(body=payload)]}) as srv:
        monkeypatch.setenv("NNREALLY_MNIST_URL", srv.url("/mnist.pkl.gz"))
        first = load_data("auto", tmp_path)
        again = load_data("mnist", tmp_path)
        assert (first.name, len(first.x_train), first.note) == ("mnist", 120, "")
        assert srv.hits["/mnist.pkl.gz"] == 1
        assert again.x_train.equal(first.x_train)


def test_auto_without_mnist_falls_back_with_a_note(offline_digits: Path):
    data = load_data("auto", offline_digits)  # conftest points the MNIST URL at a closed port
    assert data.name == "digits"
    assert "using the built-in digits" in data.note
    assert len(data.note.replace(str(offline_digits), "")) < 130  # short; the README says more
    assert "(connection refused)" in data.note
    assert "python -m nnreally.data download" in data.note
    assert torch.equal(data.x_valid, load_digits(offline_digits).x_valid)
    assert sorted(p.name for p in offline_digits.iterdir()) == ["digits"]  # no empty mnist/


def test_mnist_that_cannot_be_had_is_one_clear_line(tmp_path, monkeypatch, capsys):
    with Server({}) as srv:
        monkeypatch.setenv("NNREALLY_MNIST_URL", srv.url("/gone.pkl.gz"))
        code = cli.main(["05", "--data", "mnist", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert f"(HTTP 404 Not Found) from {srv.url('/gone.pkl.gz')}." in err
    assert str(tmp_path / "mnist" / "mnist.pkl.gz") in err
    assert list(tmp_path.iterdir()) == []  # the failed download left no mnist/ folder


def test_mnist_failure_is_one_line_with_each_reason_once(tmp_path, monkeypatch):
    with Server({}) as srv:
        pickle_urls = (srv.url("/a/mnist.pkl.gz"), "http://127.0.0.1:9/mnist.pkl.gz")
        monkeypatch.setattr(
            sources, "MNIST_PICKLE", Remote("mnist.pkl.gz", pickle_urls, "md5", "0" * 32)
        )
        idx = tuple(
            Remote(f"{name}.gz", (srv.url(f"/{name}.gz"),), "sha256", "0" * 64)
            for name in IDX_FILES
        )
        monkeypatch.setattr(sources, "MNIST_IDX", idx)
        monkeypatch.delenv("NNREALLY_MNIST_URL")
        with pytest.raises(DownloadError) as caught:
            load_data("mnist", tmp_path)
    assert str(caught.value) == (
        f"could not download MNIST: mnist.pkl.gz from {pickle_urls[0]} (HTTP 404 Not Found), "
        f"{pickle_urls[1]} (connection refused); train-images-idx3-ubyte.gz from "
        f"{srv.url('/train-images-idx3-ubyte.gz')} (HTTP 404 Not Found). To place it by hand, "
        f"save the tutorial's mnist.pkl.gz (md5 {'0' * 32}) as "
        f"{tmp_path / 'mnist' / 'mnist.pkl.gz'}."
    )
    assert list(tmp_path.iterdir()) == []


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


def test_unverified_mnist_is_moved_aside_in_auto_mode(offline_digits, stand_in_mnist):
    (stand_in_mnist.parent / "mnist.pkl.gz.corrupt").write_bytes(b"an earlier one")
    stand_in_mnist.write_bytes(b"the user's own file")
    data = load_data("auto", offline_digits)  # offline: conftest points MNIST at a closed port
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


@POSIX
def test_stale_files_go_when_cached_mnist_is_read(tmp_path: Path, stand_in_mnist):
    stale = stand_in_mnist.parent / f".mnist.pkl.gz.pid{dead_pid()}.0a1b2c3d.part"
    stale.write_bytes(b"left by a killed process")
    assert load_data("mnist", tmp_path).name == "mnist"
    assert temporary_files(tmp_path) == []


def test_a_path_is_read_as_a_file(tmp_path: Path):
    path = write_pickle(tmp_path / "m.pkl.gz", tutorial_layout(30, 10))
    assert load_data(str(path), tmp_path / "unused").describe() == (
        f"m.pkl.gz: 30 train / 10 valid images ({path})"
    )


def test_missing_sources_are_named(tmp_path: Path):
    with pytest.raises(DataError) as caught:
        load_data(str(tmp_path / "nope.pkl.gz"), tmp_path)
    assert str(caught.value) == (
        f"no such data source: {str(tmp_path / 'nope.pkl.gz')!r} (use auto, mnist, "
        "fashion-mnist, digits, a data file or an IDX folder)"
    )


@pytest.mark.skipif(
    not all((sources.SYSTEM_FASHION / r.filename).is_file() for r in sources.FASHION_IDX),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_fashion_from_debian_is_split_like_mnist(tmp_path: Path):
    data = load_data("fashion-mnist", tmp_path)
    assert (len(data.x_train), len(data.x_valid)) == (50_000, 10_000)
    assert data.origin == str(sources.SYSTEM_FASHION)
    assert list(tmp_path.iterdir()) == []  # nothing downloaded


def test_the_real_checksums_are_the_published_ones():
    """The stand-ins above go through a seam; the shipped checksums stay exactly these."""
    assert sources.MNIST_PICKLE.digest == "a02cd19f81d51c426d7ca14024243ce9"
    assert sources.MNIST_PICKLE.urls[0].endswith("pytorch/tutorials/raw/main/_static/mnist.pkl.gz")
    sizes = {r.filename: (r.digest[:8], r.size) for r in sources.MNIST_IDX}
    assert sizes == {
        "train-images-idx3-ubyte.gz": ("440fcabf", 9_912_422),
        "train-labels-idx1-ubyte.gz": ("3552534a", 28_881),
        "t10k-images-idx3-ubyte.gz": ("8d422c7b", 1_648_877),
        "t10k-labels-idx1-ubyte.gz": ("f7ae60f9", 4_542),
    }
    assert all(r.algorithm == "sha256" and len(r.digest) == 64 for r in sources.MNIST_IDX)
