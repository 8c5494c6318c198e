"""``fetch``: mirrors in order, a cached file checked first, and nothing partial ever left.

Against a real HTTP server on 127.0.0.1, with stand-in files and their own checksums.
"""

from __future__ import annotations

import hashlib
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from nnreally.data.checksums import Remote, is_verified
from nnreally.data.download import DownloadError, failure, fetch
from tests.data.conftest import POSIX
from tests.data.http_server import Reply, Server
from tests.data.makers import dead_pid
from tests.data.test_transfer import FAST, PAYLOAD, remote

try:
    import resource
except ImportError:  # not on Windows
    resource = None


def leftovers(folder: Path) -> list[str]:
    """Files other than the bookkeeping note: partial downloads would show up here."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name != ".verified.json")


def test_404_then_the_next_mirror(tmp_path: Path):
    with Server({"/good": [Reply(body=PAYLOAD)]}) as srv:
        target = remote((srv.url("/missing"), srv.url("/good")))
        path = fetch(target, tmp_path, limits=FAST)
        assert path.read_bytes() == PAYLOAD
        assert srv.hits == {"/missing": 1, "/good": 1}
        assert is_verified(path, target)


def test_every_mirror_named_with_its_reason(tmp_path: Path):
    with Server({"/bad": [Reply(body=PAYLOAD[::-1])]}) as srv:
        urls = (srv.url("/missing"), srv.url("/bad"))
        with pytest.raises(DownloadError) as caught:
            fetch(remote(urls), tmp_path / "data", limits=FAST)
    error = caught.value
    assert str(error).startswith(
        f"could not download file.gz from {urls[0]} (HTTP 404 Not Found), {urls[1]} "
        "(checksum mismatch, got sha256 "
    )
    assert str(error).endswith(
        f"To place it by hand, save it as {tmp_path / 'data' / 'file.gz'} "
        f"(sha256 {remote().digest})."
    )
    assert [url for _, url, _ in error.attempts] == list(urls)


def test_failure_says_each_reason_once():
    attempts = [("a.gz", "u1", "refused"), ("a.gz", "u2", "refused"), ("b.gz", "u3", "refused")]
    assert (
        failure("MNIST", attempts)
        == "could not download MNIST (refused): a.gz from u1, u2; b.gz from u3"
    )
    assert failure("MNIST", []) == "could not download MNIST: no URL to try"


def test_unwritable_folder(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DownloadError, match="cannot write to"):
        fetch(remote(("http://127.0.0.1:9/f",)), blocker / "data")


def test_failed_download_leaves_no_folder_it_made(tmp_path: Path):
    with Server({}) as srv, pytest.raises(DownloadError):
        fetch(remote((srv.url("/gone"),)), tmp_path / "data" / "mnist", limits=FAST)
    assert list(tmp_path.iterdir()) == []  # neither data/mnist nor data


def test_failed_download_keeps_a_folder_that_was_there(tmp_path: Path):
    (tmp_path / "mnist").mkdir()
    with pytest.raises(DownloadError):
        fetch(remote(("http://127.0.0.1:9/f",)), tmp_path / "mnist", limits=FAST)
    assert (tmp_path / "mnist").is_dir()


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
    with pytest.raises(DownloadError) as caught:
        fetch(remote(("http://127.0.0.1:9/f",)), tmp_path, limits=FAST)
    assert f"moved {tmp_path / 'file.gz'} aside to {tmp_path / 'file.gz.corrupt'}" in str(
        caught.value
    )
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
                fetch(remote((srv.url("/f"),)), tmp_path / "data")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    assert list(tmp_path.iterdir()) == []  # no partial file, and no folder made for it


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


@POSIX
def test_stale_download_parts_are_swept(tmp_path: Path):
    payload = b"some bytes"
    target = Remote("file.gz", (), "sha256", hashlib.sha256(payload).hexdigest())
    (tmp_path / "file.gz").write_bytes(payload)
    stale = tmp_path / f".file.gz.pid{dead_pid()}.12ab34cd.part"
    stale.write_bytes(b"half a download")
    assert fetch(target, tmp_path) == tmp_path / "file.gz"
    assert not stale.exists()
