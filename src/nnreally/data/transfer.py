"""One URL's attempt: a GET retried by urllib3, the body read as stored, all within one deadline.

urllib3's ``Retry`` retries 429 and 5xx answers and failed or dropped connections, with backoff
(``Limits``); a server that sends nothing for ``silence`` seconds is given up at once. The body
is read raw, as the server stores it (a ``.gz`` served with ``Content-Encoding: gzip`` keeps its
bytes), hashed while it streams to a temporary file, and checked before it is renamed into place.

Everything spent on one URL (connections, retries, backoff, redirects, headers, body) ends after
``Limits.attempt`` seconds. Socket timeouts cannot do that alone (a server that sends a byte a
second never times out), so a watchdog timer shuts the URL's sockets at the deadline; each
connection hands its socket over as it connects, through urllib3's ``ConnectionCls`` hook.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import IncompleteRead
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3 import exceptions as urllib3_errors
from urllib3.util.retry import Retry

from nnreally.data.checksums import Remote
from nnreally.data.formats import HTML_STARTS
from nnreally.data.reasons import chain, describe
from nnreally.data.writes import atomic_write

CHUNK = 1 << 16
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 10
USER_AGENT = "nnreally (+https://pytorch.org/tutorials/beginner/nn_tutorial.html)"


@dataclass(frozen=True)
class Limits:
    """How long a download may take. Each URL gets its own budget of ``attempt`` seconds."""

    connect: float = 10.0  # seconds to open a connection
    silence: float = 30.0  # seconds a server may send nothing, before or during the body
    attempt: float = 600.0  # seconds for one URL in all: connections, retries, backoff, body
    retries: int = 3  # for 429/5xx answers and dropped connections
    connect_retries: int = 1  # an unknown host or a refused connection rarely heals
    backoff: float = 0.5  # urllib3's factor: retries come after 0, 1, 2 s (2 x factor x 2^n)


class AttemptError(Exception):
    """One URL did not give a verified file (the reason is the message)."""


class Deadline:
    """One URL's time budget; when it runs out, every socket opened under it is shut down."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def left(self) -> float:
        return self.end - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        """Cut ``sock`` off at the deadline (at once if it has passed)."""
        with self._lock:
            self._sockets.add(sock)
        if self.left() <= 0:
            self._cut()

    def _cut(self) -> None:
        """Shut every socket down: a read blocked on one returns at once."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


class _Retry(Retry):
    """urllib3's retries, but none after silence, and none (nor any sleep) past the deadline."""

    deadline: Deadline

    def new(self, **kw: object) -> _Retry:
        retry = super().new(**kw)
        retry.deadline = self.deadline
        return retry

    def is_exhausted(self) -> bool:
        silent = bool(self.history) and isinstance(
            self.history[-1].error, urllib3_errors.ReadTimeoutError
        )
        return silent or self.deadline.left() <= 0 or super().is_exhausted()

    def get_backoff_time(self) -> float:
        return min(super().get_backoff_time(), max(0.0, self.deadline.left()))


def _watched(manager: PoolManager, deadline: Deadline) -> None:
    """Make the pools of ``manager`` hand each socket they connect to ``deadline``."""

    def pool_class(pool: type) -> type:
        class Connection(pool.ConnectionCls):
            def connect(self) -> None:
                left = deadline.left()
                if left <= 0:
                    raise urllib3_errors.ConnectTimeoutError(self, "out of time for this URL")
                if isinstance(self.timeout, (int, float)):  # no connecting past the deadline
                    self.timeout = min(self.timeout, left)
                super().connect()
                deadline.watch(self.sock)

        return type(pool.__name__, (pool,), {"ConnectionCls": Connection})

    classes = manager.pool_classes_by_scheme
    manager.pool_classes_by_scheme = {scheme: pool_class(p) for scheme, p in classes.items()}


class _Adapter(HTTPAdapter):
    """requests' adapter with urllib3's retries, its connections watched by a deadline."""

    def __init__(self, retry: _Retry) -> None:
        self.deadline = retry.deadline
        super().__init__(max_retries=retry)

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watched(self.poolmanager, self.deadline)

    def proxy_manager_for(self, proxy: str, **kwargs: object) -> PoolManager:
        fresh = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **kwargs)
        if fresh:
            _watched(manager, self.deadline)
        return manager


def _session(limits: Limits, deadline: Deadline) -> requests.Session:
    retry = _Retry(
        total=limits.retries,
        connect=limits.connect_retries,
        other=0,  # TLS and the like: retrying changes nothing
        status_forcelist=RETRY_STATUSES,
        backoff_factor=limits.backoff,
        raise_on_status=False,  # the last answer comes back, so its status can be reported
        respect_retry_after_header=False,  # a server's "come back in an hour" outruns the budget
    )
    retry.deadline = deadline
    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS
    # identity: the file as stored, never compressed again on the way
    session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
    for prefix in ("http://", "https://"):
        session.mount(prefix, _Adapter(retry))
    return session


def attempt(url: str, remote: Remote, final: Path, limits: Limits, progress: bool) -> None:
    """Fetch ``url`` to ``final``, verified; an ``AttemptError`` says why not.

    An ``OSError`` is our side (the disk is full, the folder went away) and is not caught here.
    """
    with Deadline(limits.attempt) as deadline, _session(limits, deadline) as session:
        try:
            with session.get(url, stream=True, timeout=(limits.connect, limits.silence)) as r:
                atomic_write(
                    final, lambda tmp: _receive(r, tmp, remote, deadline, progress), ".part"
                )
        except (requests.RequestException, urllib3_errors.HTTPError, AttemptError) as e:
            if deadline.left() <= 0:  # cut off by the watchdog, whatever it looked like
                raise AttemptError(f"gave up after {limits.attempt:g} s") from None
            if isinstance(e, AttemptError):
                raise
            raise AttemptError(describe(e, url, limits.connect, limits.silence)) from None


def _check_answer(r: requests.Response, remote: Remote) -> int | None:
    """Refuse an answer that cannot be the file; return the length it announces, if any."""
    if r.status_code != requests.codes.ok:
        raise AttemptError(f"HTTP {r.status_code} {r.reason}".strip())
    if "html" in r.headers.get("Content-Type", "").lower():
        raise AttemptError("the server sent an HTML page, not the file")
    length = r.headers.get("Content-Length", "")
    announced = int(length) if length.isdigit() else None
    if announced is not None and remote.size is not None and announced != remote.size:
        raise AttemptError(f"the server offers {announced:,} bytes, expected {remote.size:,}")
    return announced


def _receive(
    r: requests.Response, tmp: Path, remote: Remote, deadline: Deadline, progress: bool
) -> None:
    """Check the answer, copy its body as stored to ``tmp`` while hashing it, then check that."""
    announced = _check_answer(r, remote)
    h = hashlib.new(remote.algorithm)
    received = 0
    with open(tmp, "wb") as out, _bar(progress, announced or remote.size, remote.filename) as bar:
        try:
            for chunk in r.raw.stream(CHUNK, decode_content=False):
                if deadline.left() <= 0:
                    raise AttemptError("out of time")  # said as "gave up after" by ``attempt``
                if received == 0 and chunk.lstrip()[:9].lower().startswith(HTML_STARTS):
                    raise AttemptError("the server sent an HTML page, not the file")
                out.write(chunk)
                h.update(chunk)
                received += len(chunk)
                bar(len(chunk))
        except urllib3_errors.HTTPError as e:  # the body ended early, or a silence, ...
            if any(isinstance(cause, IncompleteRead) for cause in chain(e)):
                of = f" of {announced:,}" if announced is not None else ""
                raise AttemptError(f"truncated: got {received:,}{of} bytes") from None
            raise
        out.flush()
        os.fsync(out.fileno())
    if announced is not None and received != announced:
        raise AttemptError(f"truncated: got {received:,} of {announced:,} bytes")
    if remote.size is not None and received != remote.size:
        raise AttemptError(f"got {received:,} bytes, expected {remote.size:,}")
    digest = h.hexdigest()
    if digest != remote.digest:
        raise AttemptError(f"checksum mismatch, got {remote.algorithm} {digest[:16]}...")


@contextlib.contextmanager
def _bar(show: bool, total: int | None, name: str) -> Iterator[Callable[[int], object]]:
    """A progress bar on stderr if ``show``; yields the function that advances it."""
    if not show:
        yield lambda n: None
        return
    from tqdm import tqdm  # only on a terminal

    with tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False) as bar:
        yield bar.update
