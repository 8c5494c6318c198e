"""``python -m nnreally.data download|verify|info``, called as ``main(argv)``."""

from __future__ import annotations

import gzip
import hashlib
import pickle
from pathlib import Path

import pytest

from nnreally.data import __main__ as data_cli
from nnreally.data import digits_cache, load_digits, sources
from nnreally.data.checksums import Remote
from tests.data.http_server import Reply, Server
from tests.data.makers import tutorial_layout


@pytest.fixture
def stand_in_mnist(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A small pickle served in place of MNIST; its checksum stands in for the real one."""
    payload = gzip.compress(pickle.dumps(tutorial_layout(200, 50), protocol=2))
    digest = hashlib.md5(payload).hexdigest()
    monkeypatch.setattr(sources, "MNIST_PICKLE", Remote("mnist.pkl.gz", (), "md5", digest))
    return payload


@pytest.mark.parametrize("where", ["before", "after"])
def test_download_verify_info(tmp_path, monkeypatch, capsys, stand_in_mnist, where: str):
    def main(command: str) -> int:
        folder = ["--data-dir", str(tmp_path)]
        return data_cli.main([*folder, command] if where == "before" else [command, *folder])

    with Server({"/m": [Reply(body=stand_in_mnist)]}) as srv:
        monkeypatch.setenv("NNREALLY_MNIST_URL", srv.url("/m"))
        assert main("download") == 0
    assert "mnist: 200 train / 50 valid" in capsys.readouterr().out
    assert main("info") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"data folder: {tmp_path.resolve()}\n")
    assert f"{tmp_path / 'mnist' / 'mnist.pkl.gz'}  {len(stand_in_mnist):,} B  verified" in out
    assert main("verify") == 0
    (tmp_path / "mnist" / "mnist.pkl.gz").write_bytes(b"bit rot")
    assert main("verify") == 1
    assert "CORRUPT" in capsys.readouterr().out


def test_unverified_mnist_is_moved_aside_by_download(tmp_path, monkeypatch, capsys, stand_in_mnist):
    (tmp_path / "mnist").mkdir()
    mine = tmp_path / "mnist" / "mnist.pkl.gz"
    mine.write_bytes(b"the user's own file")
    with Server({"/m": [Reply(body=stand_in_mnist)]}) as srv:
        monkeypatch.setenv("NNREALLY_MNIST_URL", srv.url("/m"))
        assert data_cli.main(["--data-dir", str(tmp_path), "download"]) == 0
    assert capsys.readouterr().err == (
        f"note: moved {mine} aside to {mine}.corrupt: it fails its md5 "
        f"checksum (to train on it as it is: --data {mine}.corrupt)\n"
    )
    assert mine.read_bytes() == stand_in_mnist
    assert Path(f"{mine}.corrupt").read_bytes() == b"the user's own file"
    assert data_cli.main(["info", "--data-dir", str(tmp_path)]) == 0
    assert f"set aside      {mine}.corrupt  (failed its check" in capsys.readouterr().out


def test_info_on_an_empty_folder(tmp_path: Path, capsys):
    assert data_cli.main(["info", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any(str(tmp_path) in line for line in lines[1:])
    assert lines[1:] in (  # Debian's Fashion-MNIST is listed where it is installed
        ["nothing cached yet: python -m nnreally.data download"],
        [f"fashion-mnist  {sources.SYSTEM_FASHION}  (Debian's dataset-fashion-mnist)"],
    )
    assert data_cli.main(["verify", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == "nothing cached to verify\n"


def test_verify_checks_every_digits_cache(tmp_path: Path, capsys):
    load_digits(tmp_path, n_train=30, n_valid=10)
    load_digits(tmp_path, n_train=40, n_valid=10)
    small, other = (digits_cache.cache_path(tmp_path, n, 10) for n in (30, 40))
    assert data_cli.main(["--data-dir", str(tmp_path), "verify"]) == 0
    assert capsys.readouterr().out == (
        f"ok       digits         {small}\nok       digits         {other}\n"
    )
    other.write_bytes(other.read_bytes()[:1000])
    assert data_cli.main(["--data-dir", str(tmp_path), "verify"]) == 1
    out = capsys.readouterr().out
    assert f"CORRUPT  digits         {other} (the file is cut short or damaged" in out
    assert out.endswith("; it is made again on use)\n")
    assert data_cli.main(["info", "--data-dir", str(tmp_path)]) == 0
    assert "cache of 30 + 10 images" in capsys.readouterr().out


def test_a_bad_folder_is_one_line(tmp_path: Path, capsys):
    (tmp_path / "f").write_text("x")
    assert data_cli.main(["--data-dir", str(tmp_path / "f"), "info"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is a file, not a folder" in err


def test_an_empty_data_dir_is_refused(capsys):
    assert data_cli.main(["info", "--data-dir", ""]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--data-dir: an empty path" in err
