"""Reasons found by type and errno, through the chains requests and urllib3 build.

Failures a loopback server can show are tested against one (test_transfer.py); these are the
ones it cannot (no DNS, no network), built as urllib3 builds them.
"""

from __future__ import annotations

import errno
import socket

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

from nnreally.data.reasons import describe


def through_requests(
    cause: OSError, wrapper: type = NewConnectionError
) -> requests.ConnectionError:
    """``cause`` as requests raises it: ConnectionError(MaxRetryError(reason=urllib3's error))."""
    try:
        try:
            raise cause
        except OSError as e:
            if wrapper is NameResolutionError:
                raise NameResolutionError("example.org", None, e) from e
            raise NewConnectionError(None, f"Failed to establish a new connection: {e}") from e
    except NewConnectionError as e:
        return requests.ConnectionError(MaxRetryError(None, "http://example.org/", e))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            through_requests(
                socket.gaierror(socket.EAI_NONAME, "Name or service not known"), NameResolutionError
            ),
            "host not found, offline?",
        ),
        (
            through_requests(OSError(errno.ENETUNREACH, "Network is unreachable")),
            "network unreachable, offline?",
        ),
        (
            through_requests(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")),
            "connection refused",
        ),
        (
            through_requests(OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")),
            "could not connect (Cannot assign requested address)",
        ),
        (
            requests.exceptions.InvalidSchema("No connection adapters"),
            "gopher:// URLs are not fetched, only http:// and https://",
        ),
        (
            requests.exceptions.ContentDecodingError("?"),
            "the request failed (ContentDecodingError)",
        ),
    ],
    ids=["dns", "unreachable", "refused", "other-errno", "scheme", "unknown"],
)
def test_reason_by_type_and_errno(error: Exception, expected: str):
    assert describe(error, "gopher://example.org/", connect=10, silence=30) == expected
