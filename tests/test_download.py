"""Downloads against a real HTTP server on 127.0.0.1: every way a download can go wrong.

The server serves small stand-in files; each test describes them with its own ``Remote``
(the checksum of the stand-in), so the real MNIST checksums are never weakened.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nnreally import cli
from nnreally.data import __main__ as data_cli
from nnreally.data import sources as data_module
from nnreally.data.download import DownloadError, Limits, Remote, fetch, is_verified
from tests.http_server import Reply, Server

PAYLOAD = gzip.compress(np.random.default_rng(1).bytes(100_000))  # a 100 kB stand-in data set
# Limits small enough to keep failing tests quick (the defaults are 10 s, 30 s, 600 s, 0.5 s).
FAST = Limits(connect=2.0, silence=1.0, attempt=10.0, backoff=0.0)
HTML = b"<!DOCTYPE html>\n<html><body>Rate limit exceeded</body></html>"


def remote(urls: tuple[str, ...], payload: bytes = PAYLOAD, size: bool = True) -> Remote:
    digest = hashlib.sha256(payload).hexdigest()
    return Remote("file.gz", urls, "sha256", digest, len(payload) if size else None)


def leftovers(folder: Path) -> list[str]:
    """Files other than the bookkeeping note: partial downloads would show up here."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name != ".verified.json")


def fail(target: Remote, folder: Path, **kwargs) -> str:
    with pytest.raises(DownloadError) as caught:
        fetch(target, folder, limits=kwargs.pop("limits", FAST), **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    assert "by hand" in message
    # nothing partial, nothing unverified (a file moved aside keeps its own, marked name)
    assert [name for name in leftovers(folder) if ".corrupt" not in name] == []
    return message


def test_404_then_the_next_mirror(tmp_path: Path):
    with Server({"/good": [Reply(body=PAYLOAD)]}) as srv:
        target = remote((srv.url("/missing"), srv.url("/good")))
        path = fetch(target, tmp_path, limits=FAST)
        assert path.read_bytes() == PAYLOAD
        assert srv.hits == {"/missing": 1, "/good": 1}


def test_server_errors_are_retried(tmp_path: Path):
    replies = [Reply(500, b"oops"), Reply(500, b"oops"), Reply(body=PAYLOAD)]
    with Server({"/f": replies}) as srv:
        path = fetch(remote((srv.url("/f"),)), tmp_path, limits=FAST)
        assert path.read_bytes() == PAYLOAD
        assert srv.hits["/f"] == 3


def test_persistent_server_error_names_the_url(tmp_path: Path):
    with Server({"/f": [Reply(503, b"busy")]}) as srv:
        message = fail(remote((srv.url("/f"),)), tmp_path)
        assert f"(HTTP 503 Service Unavailable) from {srv.url('/f')}." in message
        assert srv.hits["/f"] == 4  # the first try and three retries


def test_truncated_body(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD[:5000], announce=len(PAYLOAD))]}) as srv:
        message = fail(remote((srv.url("/f"),)), tmp_path)
        assert "connection broken mid-download" in message or "truncated" in message


def test_wrong_checksum(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD[::-1])]}) as srv:
        message = fail(remote((srv.url("/f"),)), tmp_path)
        assert "checksum mismatch" in message


def test_html_instead_of_the_file(tmp_path: Path):
    with Server({"/f": [Reply(body=HTML)]}) as srv:
        message = fail(remote((srv.url("/f"),), size=False), tmp_path)
        assert "HTML page" in message


def test_stalled_server_times_out(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD, stall=30)]}) as srv:
        start = time.monotonic()
        message = fail(remote((srv.url("/f"),)), tmp_path)
        assert "the server sent nothing for 1 s" in message
        assert time.monotonic() - start < 1 + 1  # one silence, not retried
        assert srv.hits["/f"] == 1


def test_connection_refused(tmp_path: Path):
    message = fail(remote(("http://127.0.0.1:9/f",)), tmp_path)
    assert "connection refused" in message


def test_unwritable_folder(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DownloadError, match="cannot write to"):
        fetch(remote(("http://127.0.0.1:9/f",)), blocker / "data")


def test_corrupted_cache_is_set_aside_and_replaced(tmp_path: Path):
    (tmp_path / "file.gz").write_bytes(b"bit rot")
    notes: list[str] = []
    with Server({"/f": [Reply(body=PAYLOAD)]}) as srv:
        target = remote((srv.url("/f"),))
        assert not is_verified(tmp_path / "file.gz", target)
        assert fetch(target, tmp_path, notes=notes).read_bytes() == PAYLOAD
        assert is_verified(tmp_path / "file.gz", target)
    assert (tmp_path / "file.gz.corrupt").read_bytes() == b"bit rot"  # never deleted
    assert notes == [
        f"moved {tmp_path / 'file.gz'} aside to {tmp_path / 'file.gz.corrupt'}: it is 7 bytes, "
        f"not {len(PAYLOAD):,} (to train on it as it is: --data {tmp_path / 'file.gz.corrupt'})"
    ]


def test_corrupted_cache_that_cannot_be_replaced_is_reported(tmp_path: Path):
    (tmp_path / "file.gz").write_bytes(b"bit rot")
    message = fail(remote(("http://127.0.0.1:9/f",)), tmp_path)
    assert f"moved {tmp_path / 'file.gz'} aside to {tmp_path / 'file.gz.corrupt'}" in message
    assert leftovers(tmp_path) == ["file.gz.corrupt"]


def test_verified_file_is_not_fetched_again(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD)]}) as srv:
        target = remote((srv.url("/f"),))
        fetch(target, tmp_path)
        fetch(target, tmp_path)
        assert srv.hits["/f"] == 1


def test_two_concurrent_downloads(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD, drip=0.002)]}) as srv:
        target = remote((srv.url("/f"),))
        errors = []

        def download() -> None:
            try:
                fetch(target, tmp_path)
            except Exception as e:  # reported below; a thread cannot raise into the test
                errors.append(e)

        threads = [threading.Thread(target=download) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert srv.hits["/f"] == 2  # both really downloaded at the same time
        assert (tmp_path / "file.gz").read_bytes() == PAYLOAD
        assert leftovers(tmp_path) == ["file.gz"]


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGALRM")
def test_interrupt_mid_download_leaves_nothing(tmp_path: Path):
    def interrupt(*_) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    with Server({"/f": [Reply(body=PAYLOAD, drip=0.05)]}) as srv:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.5)
            with pytest.raises(KeyboardInterrupt):
                fetch(remote((srv.url("/f"),)), tmp_path)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert leftovers(tmp_path) == []


# --- MNIST through the real code path, with a stand-in file -----------------------------------


def tiny_mnist() -> bytes:
    rng = np.random.default_rng(0)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)

    return gzip.compress(pickle.dumps((split(200), split(50), split(10)), protocol=2))


@pytest.fixture
def stand_in_mnist(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The test-only seam: MNIST's expected checksum becomes the stand-in file's."""
    payload = tiny_mnist()
    digest = hashlib.md5(payload).hexdigest()
    monkeypatch.setattr(data_module, "MNIST_PICKLE", Remote("mnist.pkl.gz", (), "md5", digest))
    return payload


def test_mnist_from_the_url_variable_then_from_cache(tmp_path, monkeypatch, stand_in_mnist):
    with Server({"/mnist.pkl.gz": [Reply(body=stand_in_mnist)]}) as srv:
        monkeypatch.setenv("NNREALLY_MNIST_URL", srv.url("/mnist.pkl.gz"))
        first = data_module.load_data("auto", tmp_path)
        again = data_module.load_data("mnist", tmp_path)
        assert (first.name, len(first.x_train), first.note) == ("mnist", 200, "")
        assert srv.hits["/mnist.pkl.gz"] == 1
        assert again.x_train.equal(first.x_train)


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


def test_data_cli_download_verify_info(tmp_path, monkeypatch, capsys, stand_in_mnist):
    with Server({"/m": [Reply(body=stand_in_mnist)]}) as srv:
        monkeypatch.setenv("NNREALLY_MNIST_URL", srv.url("/m"))
        assert data_cli.main(["--data-dir", str(tmp_path), "download"]) == 0
    assert "mnist: 200 train / 50 valid" in capsys.readouterr().out
    assert data_cli.main(["--data-dir", str(tmp_path), "info"]) == 0
    assert "verified" in capsys.readouterr().out
    assert data_cli.main(["--data-dir", str(tmp_path), "verify"]) == 0
    (tmp_path / "mnist" / "mnist.pkl.gz").write_bytes(b"bit rot")
    assert data_cli.main(["--data-dir", str(tmp_path), "verify"]) == 1
    assert "CORRUPT" in capsys.readouterr().out


def test_the_real_checksums_are_the_published_ones():
    """The stand-ins above go through a seam; the shipped checksums stay exactly these."""
    assert data_module.MNIST_PICKLE.digest == "a02cd19f81d51c426d7ca14024243ce9"
    assert data_module.MNIST_PICKLE.urls[0].endswith(
        "pytorch/tutorials/raw/main/_static/mnist.pkl.gz"
    )
    sizes = {r.filename: (r.digest[:8], r.size) for r in data_module.MNIST_IDX}
    assert sizes == {
        "train-images-idx3-ubyte.gz": ("440fcabf", 9_912_422),
        "train-labels-idx1-ubyte.gz": ("3552534a", 28_881),
        "t10k-images-idx3-ubyte.gz": ("8d422c7b", 1_648_877),
        "t10k-labels-idx1-ubyte.gz": ("f7ae60f9", 4_542),
    }
    assert all(r.algorithm == "sha256" and len(r.digest) == 64 for r in data_module.MNIST_IDX)
