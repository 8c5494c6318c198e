"""Verified downloads: a file reaches its final name only whole and with the right checksum.

Each attempt streams into a temporary file in the target folder while hashing it, checks the
length against ``Content-Length`` and the known size, compares the checksum, and only then
renames it into place with ``os.replace`` (atomic on one file system). Any failure, Ctrl-C
included, deletes the temporary file. Two processes downloading at once each write their own
temporary file; whichever renames last leaves a verified file, so neither can corrupt it.

Time is bounded per URL (``Limits``): a server that sends nothing for ``silence`` seconds is
given up at once (not retried), and everything spent on one URL (connecting, every retry and
its backoff, the whole body) ends after ``attempt`` seconds, cut off by a watchdog if need be.
A file already at the final name that fails its checksum is never deleted: it is moved aside.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from nnreally.data.files import HTML_STARTS
from nnreally.data.writes import atomic_write, set_aside, sweep
from nnreally.errors import RunError

CHUNK = 1 << 16
RETRY_STATUSES = (429, 500, 502, 503, 504)
VERIFIED_FILE = ".verified.json"  # remembers files already checked, by size and mtime
USER_AGENT = "nnreally (+https://pytorch.org/tutorials/beginner/nn_tutorial.html)"
DROPPED = "connection dropped"  # the one connection failure worth all the retries


@dataclass(frozen=True)
class Limits:
    """How long a download may take. Each URL gets its own budget of ``attempt`` seconds."""

    connect: float = 10.0  # seconds to open a connection
    silence: float = 30.0  # seconds a server may send nothing, before or during the body
    attempt: float = 600.0  # seconds for one URL in all: connections, retries, backoff, body
    retries: int = 3  # for 429/5xx answers and dropped connections
    connect_retries: int = 1  # an unknown host or a refused connection rarely heals
    backoff: float = 0.5  # seconds before the first retry; doubles with each


LIMITS = Limits()  # read at each call, so a test can stand in smaller ones


class DownloadError(RunError):
    """No URL gave a verified file; ``attempts`` holds (file, URL, reason) per URL tried."""

    def __init__(self, message: str, attempts: Sequence[tuple[str, str, str]] = ()) -> None:
        super().__init__(message)
        self.attempts = list(attempts)

    @property
    def reasons(self) -> list[str]:
        """Each attempt's reason, in order."""
        return [reason for _, _, reason in self.attempts]


class _AttemptError(Exception):
    """One URL did not give a verified file (the reason is the message)."""


def failure(what: str, attempts: Sequence[tuple[str, str, str]]) -> str:
    """``could not download WHAT``, then which files were tried from where, each reason once."""
    if not attempts:
        return f"could not download {what}: no URL to try"
    reasons = list(dict.fromkeys(reason for _, _, reason in attempts))
    files = list(dict.fromkeys(name for name, _, _ in attempts))

    def urls(name: str) -> str:
        return ", ".join(
            url if len(reasons) == 1 else f"{url} ({reason})"
            for file, url, reason in attempts
            if file == name
        )

    head = f"could not download {what}" + (f" ({reasons[0]})" if len(reasons) == 1 else "")
    if len(files) == 1:
        return f"{head} from {urls(files[0])}"
    return f"{head}: " + "; ".join(f"{name} from {urls(name)}" for name in files)


@dataclass(frozen=True)
class Remote:
    """A file we know how to check: its name, where it can come from, its checksum and size."""

    filename: str
    urls: tuple[str, ...]
    algorithm: str  # a hashlib name: "md5" or "sha256"
    digest: str
    size: int | None = None  # bytes, when published

    def by_hand(self, final: Path) -> str:
        """The sentence that says how to put the file in place without us."""
        return f"To place it by hand, save it as {final} ({self.algorithm} {self.digest})."


# --- sessions whose connections a watchdog can cut ---------------------------------------------


class _Watched:
    """The sockets a session opened, so that a deadline can cut them off mid-read."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet = weakref.WeakSet()

    def cut(self) -> None:
        """Shut every open socket down: a read blocked on one returns at once."""
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections report each socket they open to ``watched``.

    The socket is kept from the moment it connects: http.client drops its own reference to it
    once a response that closes the connection starts, while the body is still being read.
    """

    def __init__(self, watched: _Watched) -> None:
        self.watched = watched
        super().__init__(max_retries=0)  # retries are ours, inside each URL's time budget

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        watched = self.watched

        def watching(pool_class: type) -> type:
            class Connection(pool_class.ConnectionCls):
                def connect(self) -> None:
                    super().connect()
                    watched.sockets.add(self.sock)

            class Pool(pool_class):
                ConnectionCls = Connection

            return Pool

        manager = self.poolmanager
        manager.pool_classes_by_scheme = {
            scheme: watching(pool) for scheme, pool in manager.pool_classes_by_scheme.items()
        }


def make_session() -> requests.Session:
    """A session for downloads: our User-Agent, and connections a deadline can cut."""
    session = requests.Session()
    session.watched = _Watched()
    for prefix in ("http://", "https://"):
        session.mount(prefix, _WatchedAdapter(session.watched))
    session.headers["User-Agent"] = USER_AGENT
    return session


# --- what is cached, and whether it can be trusted ---------------------------------------------


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK * 16), b""):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _remembered(folder: Path) -> dict[str, dict]:
    """The notes of files already verified; a damaged notes file counts as no notes."""
    try:
        known = json.loads((folder / VERIFIED_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(known, dict):
        return {}
    return {name: note for name, note in known.items() if isinstance(note, dict)}


def _write_notes(folder: Path, known: dict[str, dict]) -> None:
    """Save the notes; losing them only costs a re-hash, so a failure is not an error."""
    text = json.dumps(known, indent=1)
    with contextlib.suppress(OSError):
        atomic_write(folder / VERIFIED_FILE, lambda tmp: tmp.write_text(text))


def _remember(path: Path, remote: Remote) -> None:
    """Note that ``path`` matched its checksum."""
    known = _remembered(path.parent)
    known[path.name] = {"stamp": _stamp(path), "digest": remote.digest}
    _write_notes(path.parent, known)


def forget(path: Path) -> None:
    """Drop ``path``'s verified note, so that its checksum is computed again next time."""
    known = _remembered(path.parent)
    if known.pop(path.name, None) is not None:
        _write_notes(path.parent, known)


def problem(path: Path, remote: Remote, *, rehash: bool = False) -> str | None:
    """Why ``path`` is not ``remote``'s file (``fails its md5 checksum``, ...), or None if it is.

    A file is hashed once, then known by its size and modification time (unless ``rehash``).
    A file that fails loses its note.
    """
    try:
        if not path.exists():
            return "is a broken symlink" if path.is_symlink() else "is missing"
        if not path.is_file():
            return "is not a regular file"
        stamp = _stamp(path)
        note = _remembered(path.parent).get(path.name) or {}
        if not rehash and note.get("stamp") == stamp and note.get("digest") == remote.digest:
            return None
        if remote.size is not None and stamp[0] != remote.size:
            why = f"is {stamp[0]:,} bytes, not {remote.size:,}"
        elif file_digest(path, remote.algorithm) != remote.digest:
            why = f"fails its {remote.algorithm} checksum"
        else:
            why = None
    except OSError as e:
        why = f"cannot be read ({e.strerror or e})"
    if why:
        forget(path)
    else:
        _remember(path, remote)
    return why


def is_verified(path: Path, remote: Remote) -> bool:
    """Whether ``path`` holds ``remote``'s file (see ``problem``)."""
    return problem(path, remote) is None


def set_aside_note(path: Path, why: str) -> str:
    """Move a file that is not what it should be out of the way; say where, in one line."""
    try:
        aside = set_aside(path)
    except OSError as e:
        raise DownloadError(
            f"{path} {why}, and it cannot be moved aside ({e.strerror or e}): "
            "move or delete it, then try again"
        ) from None
    return f"moved {path} aside to {aside}: it {why} (to train on it as it is: --data {aside})"


# --- fetching -----------------------------------------------------------------------------------


def fetch(
    remote: Remote,
    folder: Path,
    *,
    urls: Sequence[str] | None = None,
    session: requests.Session | None = None,
    limits: Limits | None = None,
    progress: bool = False,
    notes: list[str] | None = None,
) -> Path:
    """Return ``folder/remote.filename``, downloading and verifying it first if needed.

    A file already there is checked; one that fails is moved aside (never deleted), and the
    line saying where is appended to ``notes``. URLs are tried in order (``urls`` overrides
    ``remote.urls``); the error names every one and why it failed.
    """
    limits = limits or LIMITS
    final = Path(folder) / remote.filename
    sweep(final.parent)
    aside = ""
    if final.exists() or final.is_symlink():
        why = problem(final, remote)
        if why is None:
            return final
        aside = set_aside_note(final, why)
        if notes is not None:
            notes.append(aside)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=final.parent):
            pass  # can we write here? better to know before downloading
    except OSError as e:
        raise DownloadError(f"cannot write to {final.parent}: {e.strerror or e}") from None
    session = session or make_session()
    attempts = []
    for url in urls or remote.urls:
        try:
            _download(session, url, remote, final, limits, progress)
        except _AttemptError as e:
            attempts.append((remote.filename, url, str(e)))
            continue
        _remember(final, remote)
        return final
    aside = f" ({aside})" if aside else ""
    raise DownloadError(
        f"{failure(remote.filename, attempts)}{aside}. {remote.by_hand(final)}", attempts
    )


def _download(
    session: requests.Session,
    url: str,
    remote: Remote,
    final: Path,
    limits: Limits,
    progress: bool,
) -> None:
    """One attempt at one URL, within ``limits.attempt`` seconds: stream, check, rename."""
    deadline = time.monotonic() + limits.attempt
    watched = getattr(session, "watched", None)
    watchdog = threading.Timer(limits.attempt, watched.cut) if watched else None
    if watchdog:
        watchdog.daemon = True
        watchdog.start()
    try:
        with _get(session, url, limits, deadline) as r:
            if r.status_code != requests.codes.ok:
                raise _AttemptError(f"HTTP {r.status_code} {r.reason}".strip())
            announced = r.headers.get("Content-Length")
            announced = int(announced) if announced and announced.isdigit() else None

            def receive(tmp: Path) -> None:
                with open(tmp, "wb") as out:
                    _receive(r, out, remote, announced, limits, deadline, progress)
                    out.flush()
                    os.fsync(out.fileno())

            atomic_write(final, receive, suffix=".part")
    except (requests.RequestException, _AttemptError) as e:
        if time.monotonic() >= deadline:  # cut off by the watchdog, whatever it looked like
            raise _AttemptError(f"gave up after {limits.attempt:g} s") from None
        if isinstance(e, _AttemptError):
            raise
        raise _AttemptError(_describe(e, limits)) from None
    except OSError as e:  # our side: the disk is full, the folder went away, ...
        raise DownloadError(
            f"could not save {remote.filename} in {final.parent}: {e.strerror or e}"
        ) from None
    finally:
        if watchdog:
            watchdog.cancel()


def _left(deadline: float, limits: Limits) -> float:
    """Seconds left for this URL; none left ends the attempt."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _AttemptError(f"gave up after {limits.attempt:g} s")
    return left


def _get(session: requests.Session, url: str, limits: Limits, deadline: float):
    """GET, retrying 429/5xx answers and failed connections with backoff, before the deadline."""
    tries = 0
    while True:
        left = _left(deadline, limits)
        timeout = (min(limits.connect, left), min(limits.silence, left))
        try:
            r = session.get(url, stream=True, timeout=timeout)
        except requests.ConnectionError as e:  # refused, unknown host, dropped (not silence)
            if time.monotonic() >= deadline:
                raise
            reason = _describe(e, limits)
            allowed = limits.retries if reason == DROPPED else limits.connect_retries
            if tries >= allowed:
                raise
        else:
            if r.status_code not in RETRY_STATUSES or tries >= limits.retries:
                return r
            r.close()
        time.sleep(min(limits.backoff * 2**tries, _left(deadline, limits)))
        tries += 1


def _receive(
    r: requests.Response,
    out,
    remote: Remote,
    announced: int | None,
    limits: Limits,
    deadline: float,
    progress: bool,
) -> None:
    """Copy the body to ``out`` while hashing it, then check its length and checksum."""
    h = hashlib.new(remote.algorithm)
    received = 0
    bar = None
    if progress:
        from tqdm import tqdm

        total = announced or remote.size
        bar = tqdm(total=total, unit="B", unit_scale=True, desc=remote.filename, leave=False)
    try:
        for chunk in r.iter_content(CHUNK):
            _left(deadline, limits)
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
    if announced is not None and received != announced:
        raise _AttemptError(f"truncated: got {received:,} of {announced:,} bytes")
    if remote.size is not None and received != remote.size:
        raise _AttemptError(f"got {received:,} bytes, expected {remote.size:,}")
    digest = h.hexdigest()
    if digest != remote.digest:
        raise _AttemptError(f"checksum mismatch, got {remote.algorithm} {digest[:16]}...")


def _describe(e: requests.RequestException, limits: Limits) -> str:
    """A short reason for a network failure, without urllib3's nested reprs."""
    text = str(e)
    if isinstance(e, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(e, requests.ReadTimeout) or "Read timed out" in text:
        return f"the server sent nothing for {limits.silence:g} s"
    if isinstance(e, requests.exceptions.ChunkedEncodingError):
        return "connection broken mid-download"
    if isinstance(e, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(e, requests.ConnectionError):
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "Failed to resolve" in text:
            return "host not found, offline?"
        if "Connection aborted" in text or "Connection reset" in text:
            return DROPPED
        return "could not connect"
    return type(e).__name__
