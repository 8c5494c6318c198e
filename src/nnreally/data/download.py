"""Verified downloads: a file reaches its final name only whole and with the right checksum.

Each attempt streams into a temporary file in the target folder while hashing it, checks the
length against ``Content-Length`` and the known size, compares the checksum, and only then
renames it into place with ``os.replace`` (atomic on one file system). Any failure, Ctrl-C
included, deletes the temporary file. Two processes downloading at once each write their own
temporary file; whichever renames last leaves a verified file, so neither can corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

CONNECT_TIMEOUT = 10.0  # seconds to open a connection
READ_TIMEOUT = 30.0  # seconds a server may stay silent mid-download
RETRIES = 3  # per URL, for 429 and 5xx answers and dropped connections
CONNECT_RETRIES = 1  # an unknown host or refused connection rarely heals: fail fast offline
BACKOFF = 0.5  # seconds; doubles with each retry
CHUNK = 1 << 16
RETRY_STATUSES = (429, 500, 502, 503, 504)
VERIFIED_FILE = ".verified.json"  # remembers files already checked, by size and mtime
HTML_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")


class DownloadError(Exception):
    """No URL gave a verified file; ``reasons`` says briefly why, one entry per URL tried."""

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.reasons = list(reasons)


class _AttemptError(Exception):
    """One URL did not give a verified file (the reason is the message)."""


@dataclass(frozen=True)
class Remote:
    """A file we know how to check: its name, where it can come from, its checksum and size."""

    filename: str
    urls: tuple[str, ...]
    algorithm: str  # a hashlib name: "md5" or "sha256"
    digest: str
    size: int | None = None  # bytes, when published


def make_session(retries: int = RETRIES, backoff: float = BACKOFF) -> requests.Session:
    """A session that retries 429/5xx answers and dropped connections with backoff."""
    retry = Retry(
        total=retries,
        connect=min(retries, CONNECT_RETRIES),
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = (
        "nnreally (+https://pytorch.org/tutorials/beginner/nn_tutorial.html)"
    )
    return session


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK * 16), b""):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _remembered(folder: Path) -> dict:
    try:
        return json.loads((folder / VERIFIED_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _remember(path: Path, remote: Remote) -> None:
    """Note that ``path`` matched its checksum; losing this note only costs a re-hash."""
    known = _remembered(path.parent)
    known[path.name] = {"stamp": _stamp(path), "digest": remote.digest}
    tmp = path.parent / f".{VERIFIED_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(known, indent=1))
        os.replace(tmp, path.parent / VERIFIED_FILE)
    except OSError:
        tmp.unlink(missing_ok=True)


def is_verified(path: Path, remote: Remote) -> bool:
    """Whether ``path`` holds ``remote``'s file: hashed once, then known by size and mtime."""
    if not path.is_file():
        return False
    note = _remembered(path.parent).get(path.name)
    if note and note["stamp"] == _stamp(path) and note["digest"] == remote.digest:
        return True
    if remote.size is not None and path.stat().st_size != remote.size:
        return False
    if file_digest(path, remote.algorithm) != remote.digest:
        return False
    _remember(path, remote)
    return True


def fetch(
    remote: Remote,
    folder: Path,
    *,
    urls: Sequence[str] | None = None,
    session: requests.Session | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    progress: bool = False,
) -> Path:
    """Return ``folder/remote.filename``, downloading and verifying it first if needed.

    A file already there is checked; a corrupted one is replaced. URLs are tried in order
    (``urls`` overrides ``remote.urls``); the error names every one and why it failed.
    """
    final = Path(folder) / remote.filename
    if is_verified(final, remote):
        return final
    corrupt = ""
    if final.exists():
        corrupt = f" (removed a corrupted copy at {final} that failed its checksum)"
    try:
        final.unlink(missing_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=final.parent):
            pass  # can we write here? better to know before downloading
    except OSError as e:
        raise DownloadError(f"cannot write to {final.parent}: {e.strerror or e}") from None
    session = session or make_session()
    tried, reasons = [], []
    for url in urls or remote.urls:
        try:
            _download(session, url, remote, final, timeout, progress)
        except _AttemptError as e:
            tried.append(f"{url} ({e})")
            reasons.append(str(e))
            continue
        _remember(final, remote)
        return final
    raise DownloadError(
        f"could not download {remote.filename}{corrupt}: tried {'; '.join(tried)}. To place it "
        f"by hand, save it as {final} ({remote.algorithm} {remote.digest}).",
        reasons,
    )


def _download(
    session: requests.Session,
    url: str,
    remote: Remote,
    final: Path,
    timeout: tuple[float, float],
    progress: bool,
) -> None:
    """One attempt at one URL: stream to a temporary file, check it, rename it into place."""
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, session.get(url, stream=True, timeout=timeout) as r:
            if r.status_code != requests.codes.ok:
                raise _AttemptError(f"HTTP {r.status_code} {r.reason}".strip())
            announced = r.headers.get("Content-Length")
            expected = int(announced) if announced and announced.isdigit() else remote.size
            received, digest = _stream(r, out, remote, expected, progress)
            out.flush()
            os.fsync(out.fileno())
        if announced and announced.isdigit() and received != int(announced):
            raise _AttemptError(f"truncated: got {received:,} of {int(announced):,} bytes")
        if remote.size is not None and received != remote.size:
            raise _AttemptError(f"got {received:,} bytes, expected {remote.size:,}")
        if digest != remote.digest:
            raise _AttemptError(
                f"checksum mismatch: {remote.algorithm} {digest}, expected {remote.digest}"
            )
        os.replace(tmp, final)
    except requests.RequestException as e:
        raise _AttemptError(_describe(e)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _stream(
    r: requests.Response, out, remote: Remote, expected: int | None, progress: bool
) -> tuple[int, str]:
    """Copy the body to ``out`` while hashing it; return the byte count and the digest."""
    h = hashlib.new(remote.algorithm)
    received = 0
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=expected, unit="B", unit_scale=True, desc=remote.filename, leave=False)
    try:
        for chunk in r.iter_content(CHUNK):
            if received == 0 and chunk.lstrip()[:9].lower().startswith(HTML_STARTS):
                raise _AttemptError("the server sent an HTML page, not the file")
            out.write(chunk)
            h.update(chunk)
            received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    return received, h.hexdigest()


def _describe(e: requests.RequestException) -> str:
    """A short reason for a network failure, without urllib3's nested reprs."""
    if isinstance(e, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(e, requests.ReadTimeout) or "Read timed out" in str(e):
        return "the server stopped sending (read timed out)"
    if isinstance(e, requests.exceptions.ChunkedEncodingError):
        return "connection broken mid-download"
    if isinstance(e, requests.ConnectionError):
        text = str(e)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "Failed to resolve" in text:
            return "host not found (offline?)"
        return "could not connect"
    return type(e).__name__
