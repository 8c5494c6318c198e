"""Why a request failed, in a few words: judged by exception types and errno, never by message.

requests wraps urllib3's errors, which wrap the socket's; the cause is found by walking the
chain (``.reason``, exceptions among ``.args``, ``__cause__``, ``__context__``).
"""

from __future__ import annotations

import errno
import http.client
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests
from urllib3 import exceptions as urllib3_errors

DROPPED = "the connection was dropped"
OFFLINE = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN)
INVALID_URL = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidURL,
    urllib3_errors.LocationValueError,
    UnicodeError,  # a host name that cannot be encoded (IDNA)
)
BROKEN = (
    urllib3_errors.ProtocolError,
    http.client.HTTPException,
    ConnectionError,  # Python's own: reset, aborted, broken pipe
    requests.exceptions.ChunkedEncodingError,
)


def chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception it wraps, outermost first, each once."""
    pending, seen = [error], set()
    while pending:
        e = pending.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        inner = [getattr(e, "reason", None), *e.args, e.__cause__, e.__context__]
        pending += [x for x in inner if isinstance(x, BaseException)]


def describe(error: BaseException, url: str, connect: float, silence: float) -> str:
    """What went wrong with a request for ``url``, as a short phrase for the user."""
    causes = list(chain(error))

    def has(*types: type) -> bool:
        return any(isinstance(e, types) for e in causes)

    def errno_in(*codes: int) -> bool:
        return any(isinstance(e, OSError) and e.errno in codes for e in causes)

    if has(requests.exceptions.InvalidSchema):
        scheme = urlsplit(url).scheme or "this"
        return f"{scheme}:// URLs are not fetched, only http:// and https://"
    if has(*INVALID_URL):
        return "not a valid URL"
    if has(requests.exceptions.TooManyRedirects):
        return "too many redirects (a redirect loop?)"
    if has(ssl.SSLCertVerificationError):
        return "the server's TLS certificate is not trusted"
    if has(ssl.SSLError, urllib3_errors.SSLError):
        return "the TLS handshake failed"
    if has(socket.gaierror, urllib3_errors.NameResolutionError):
        return "host not found, offline?"
    if errno_in(errno.ECONNREFUSED):
        return "connection refused"
    if errno_in(*OFFLINE):
        return "network unreachable, offline?"
    if has(urllib3_errors.ReadTimeoutError, requests.exceptions.ReadTimeout):
        return f"the server sent nothing for {silence:g} s"
    if has(urllib3_errors.NewConnectionError):  # not refused, not a timeout: say what it was
        why = next((e.strerror for e in causes if isinstance(e, OSError) and e.strerror), None)
        return f"could not connect ({why or 'no reason given'})"
    if has(urllib3_errors.ConnectTimeoutError, requests.exceptions.ConnectTimeout):
        return f"no connection within {connect:g} s"
    if has(*BROKEN):
        return DROPPED
    return f"the request failed ({type(error).__name__})"
