"""One URL's attempt against a real HTTP server on 127.0.0.1: answers, bodies, time, retries.

The server serves small stand-in files; each test describes them with its own ``Remote`` (the
checksum of the stand-in), so the real MNIST checksums are never weakened.
"""

from __future__ import annotations

import gzip
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from nnreally.data.checksums import Remote
from nnreally.data.download import DownloadError, fetch
from nnreally.data.transfer import MAX_REDIRECTS, AttemptError, Limits, attempt
from tests.data.http_server import Reply, Server
from tests.data.makers import temporary_files

PAYLOAD = gzip.compress(np.random.default_rng(1).bytes(100_000))  # a 100 kB stand-in data set
# Limits small enough to keep failing tests quick (the defaults are 10 s, 30 s, 600 s, 0.5).
FAST = Limits(connect=2.0, silence=1.0, attempt=10.0, backoff=0.0)
HTML = b"<!DOCTYPE html>\n<html><body>Rate limit exceeded</body></html>"


def remote(urls: tuple[str, ...] = (), payload: bytes = PAYLOAD, size: bool = True) -> Remote:
    digest = hashlib.sha256(payload).hexdigest()
    return Remote("file.gz", urls, "sha256", digest, len(payload) if size else None)


def fail(target: Remote, folder: Path, limits: Limits = FAST) -> str:
    """Fetch that must fail: its one-line message, with nothing partial left behind."""
    with pytest.raises(DownloadError) as caught:
        fetch(target, folder, limits=limits)
    message = str(caught.value)
    assert "\n" not in message
    assert "by hand" in message
    assert not folder.exists()  # the folder it made is gone again, with nothing in it
    return message


def reason(url: str, folder: Path, target: Remote | None = None, limits: Limits = FAST) -> str:
    """Why one attempt at ``url`` failed, with nothing left behind."""
    folder.mkdir(exist_ok=True)
    with pytest.raises(AttemptError) as caught:
        attempt(url, target or remote(), folder / "file.gz", limits, progress=False)
    assert list(folder.iterdir()) == []
    return str(caught.value)


# --- what the server answers ---------------------------------------------------------------------


def test_server_errors_are_retried(tmp_path: Path):
    replies = [Reply(500, b"oops"), Reply(502, b"oops"), Reply(body=PAYLOAD)]
    with Server({"/f": replies}) as srv:
        path = fetch(remote((srv.url("/f"),)), tmp_path, limits=FAST)
        assert path.read_bytes() == PAYLOAD
        assert srv.hits["/f"] == 3


def test_persistent_server_error_names_the_url(tmp_path: Path):
    with Server({"/f": [Reply(503, b"busy")]}) as srv:
        message = fail(remote((srv.url("/f"),)), tmp_path / "data")
        assert f"(HTTP 503 Service Unavailable) from {srv.url('/f')}." in message
        assert srv.hits["/f"] == 4  # the first try and three retries


def test_retry_after_is_not_waited_for(tmp_path: Path):
    """A server's 'come back in an hour' must not outrun the budget: the backoff is ours."""
    replies = [Reply(429, b"slow down", headers={"Retry-After": "3600"}), Reply(body=PAYLOAD)]
    with Server({"/f": replies}) as srv:
        start = time.monotonic()
        fetch(remote((srv.url("/f"),)), tmp_path, limits=FAST)
        assert time.monotonic() - start < 5
        assert srv.hits["/f"] == 2


def test_dropped_connections_are_retried(tmp_path: Path):
    with Server({"/f": [Reply(hang_up=True), Reply(hang_up=True), Reply(body=PAYLOAD)]}) as srv:
        assert fetch(remote((srv.url("/f"),)), tmp_path, limits=FAST).read_bytes() == PAYLOAD
        assert srv.hits["/f"] == 3


def test_connection_dropped_every_time_is_named(tmp_path: Path):
    with Server({"/f": [Reply(hang_up=True)]}) as srv:
        assert reason(srv.url("/f"), tmp_path) == "the connection was dropped"
        assert srv.hits["/f"] == 4


def test_truncated_body(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD[:5000], announce=len(PAYLOAD))]}) as srv:
        message = fail(remote((srv.url("/f"),)), tmp_path / "data")
        assert f"(truncated: got 5,000 of {len(PAYLOAD):,} bytes)" in message


def test_wrong_checksum(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD[::-1])]}) as srv:
        message = fail(remote((srv.url("/f"),)), tmp_path / "data")
        assert "checksum mismatch" in message


def test_html_instead_of_the_file(tmp_path: Path):
    with Server({"/f": [Reply(body=HTML)]}) as srv:
        message = fail(remote((srv.url("/f"),), size=False), tmp_path / "data")
        assert "(the server sent an HTML page, not the file)" in message


def test_html_said_by_its_content_type(tmp_path: Path):
    page = Reply(body=gzip.compress(HTML), headers={"Content-Type": "text/html; charset=utf-8"})
    with Server({"/f": [page]}) as srv:
        assert reason(srv.url("/f"), tmp_path) == "the server sent an HTML page, not the file"


def test_wrong_length_is_refused_before_the_body(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD + b"more")]}) as srv:
        message = reason(srv.url("/f"), tmp_path)
    assert message == f"the server offers {len(PAYLOAD) + 4:,} bytes, expected {len(PAYLOAD):,}"


def test_gzip_content_encoding_keeps_the_stored_bytes(tmp_path: Path):
    """A .gz served with Content-Encoding: gzip (as S3 can) is the file, not its content."""
    encoded = Reply(body=PAYLOAD, headers={"Content-Encoding": "gzip"})
    with Server({"/f": [encoded]}) as srv:
        assert fetch(remote((srv.url("/f"),)), tmp_path, limits=FAST).read_bytes() == PAYLOAD


# --- URLs and where they lead --------------------------------------------------------------------


def test_redirects_are_followed(tmp_path: Path):
    with Server(
        {"/old": [Reply(302, headers={"Location": "/new"})], "/new": [Reply(body=PAYLOAD)]}
    ) as srv:
        assert fetch(remote((srv.url("/old"),)), tmp_path, limits=FAST).read_bytes() == PAYLOAD
        assert srv.hits == {"/old": 1, "/new": 1}


def test_redirect_loop_is_named(tmp_path: Path):
    with Server(
        {
            "/a": [Reply(302, headers={"Location": "/b"})],
            "/b": [Reply(301, headers={"Location": "/a"})],
        }
    ) as srv:
        assert reason(srv.url("/a"), tmp_path) == "too many redirects (a redirect loop?)"
        assert srv.hits["/a"] + srv.hits["/b"] == 1 + MAX_REDIRECTS


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///tmp/mnist.pkl.gz", "file:// URLs are not fetched, only http:// and https://"),
        ("ftp://127.0.0.1/mnist.pkl.gz", "ftp:// URLs are not fetched, only http:// and https://"),
        ("mnist.pkl.gz", "not a valid URL"),
        ("http://", "not a valid URL"),
        ("http://127.0.0.1:99999/f", "not a valid URL"),
        ("http://[::1/f", "not a valid URL"),
    ],
    ids=["file", "ftp", "no-scheme", "no-host", "bad-port", "bad-ipv6"],
)
def test_urls_that_cannot_be_fetched_are_named(tmp_path: Path, url: str, expected: str):
    assert reason(url, tmp_path) == expected


def test_connection_refused(tmp_path: Path):
    message = fail(remote(("http://127.0.0.1:9/f",)), tmp_path / "data")
    assert "(connection refused)" in message


def test_tls_to_a_plain_http_server_is_named(tmp_path: Path):
    with Server({}) as srv:
        url = srv.url("/f").replace("http://", "https://")
        assert reason(url, tmp_path) == "the TLS handshake failed"


# --- time is bounded per URL ---------------------------------------------------------------------

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


def test_stalled_server_times_out(tmp_path: Path):
    with Server({"/f": [Reply(body=PAYLOAD, stall=30)]}) as srv:
        start = time.monotonic()
        message = fail(remote((srv.url("/f"),)), tmp_path / "data")
        assert "the server sent nothing for 1 s" in message
        assert time.monotonic() - start < 1 + 1  # one silence, not retried
        assert srv.hits["/f"] == 1


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
    assert "(gave up after 0.5 s)" in message  # 0 + 0.2 s of backoff, then a cut-off silence
    assert 0.5 <= took < 0.5 + SLACK
    assert hits == 3


def test_backoff_never_sleeps_past_the_deadline(tmp_path: Path):
    """A backoff longer than the budget is cut to what is left of it."""
    limits = Limits(connect=1.0, silence=1.0, attempt=0.5, retries=3, backoff=60.0)
    message, took, hits = timed_failure(tmp_path, [Reply(503, b"busy")], limits)
    assert "(gave up after 0.5 s)" in message
    assert took < 0.5 + SLACK
    assert hits == 2  # at once, then after a backoff cut to the deadline: then none left
