"""formats.py: what a file is by its first bytes, decompression, and what a failed read means.

The end-to-end side (a file of each kind given to ``read_file``, and the one line it gets) is
in test_files.py; these test the pieces directly, by the values they return.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import lzma
import pickle
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnreally.data import formats
from nnreally.data.formats import (
    CHUNK,
    HEAD,
    brief,
    compression,
    container,
    decompress,
    other,
    read_at_most,
    reading,
)
from nnreally.errors import DataError

PAYLOAD = b"the tutorial's arrays" * 50
PACKERS = {"gzip": gzip.compress, "xz": lzma.compress, "bzip2": bz2.compress}


@pytest.mark.parametrize("name", PACKERS)
def test_each_compression_is_told_and_undone(name: str):
    packed = PACKERS[name](PAYLOAD)
    assert compression(packed[:HEAD]) == name
    assert decompress(name, io.BytesIO(packed)).read() == PAYLOAD


@pytest.mark.parametrize("head", [PAYLOAD, b"", pickle.dumps((1, 2)), b"\x28\xb5\x2f\xfd"])
def test_what_is_no_compression_read_here_is_none(head: bytes):
    assert compression(head) is None


def _npy() -> bytes:
    out = io.BytesIO()
    np.save(out, np.zeros((2, 3), dtype=np.float32))
    return out.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (_npy(), "npy"),
        (_zip({"x_train.npy": _npy()}), "zip"),
        (_zip({}), "zip"),  # an empty archive opens with the end-of-directory record
        *[(pickle.dumps((1, [2], {3: 4}), protocol=p), "pickle") for p in range(6)],
        (pickle.dumps([1], protocol=0), "pickle"),
        (pickle.dumps({}, protocol=1), "pickle"),
    ],
)
def test_the_formats_read_here_are_told(head: bytes, kind: str):
    assert container(head[:HEAD]) == kind


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"label,1x1\n5,0\n",
        b"\x80\x06 not a pickle protocol",
        b"\x28\xb5\x2f\xfd" + bytes(20),  # zstd's magic opens with "(", a protocol-0 MARK
        b"\x89PNG\r\n\x1a\n",
    ],
)
def test_what_is_not_read_is_no_container(head: bytes):
    assert container(head) is None


def _tar_head() -> bytes:
    return bytes(257) + b"ustar" + bytes(HEAD - 262)


@pytest.mark.parametrize(
    ("head", "phrase"),
    [
        (_tar_head(), "a tar archive, not read here: unpack it"),
        (b"\x89HDF\r\n\x1a\n", "an HDF5 file, not read here: save its arrays with np.savez"),
        (b"  \n<!DOCTYPE html>", "an HTML page (an error page saved by a download?)"),
        (b"<HTML><body>", "an HTML page"),
        (b"\0\0\x08\x03" + bytes(12), "one IDX file: pass the folder that holds the IDX files"),
        (b"\0\0\x0d\x01" + bytes(4), "one IDX file"),
        (b"label,1x1\n5,0\n", "a text file (CSV?), not read here; expected a pickle"),
        (b"\0\0\x08\x04" + bytes(12), "no format read here"),  # IDX holds 1-3 dimensions
        (b"\0\0\x07\x03" + bytes(12), "no format read here"),  # 0x07 is no IDX element type
        (bytes(range(256)), "no format read here; expected a pickle"),
    ],
)
def test_what_is_not_read_is_named(head: bytes, phrase: str):
    assert other(head).startswith(phrase)


@settings(derandomize=True, database=None)  # the same heads each run, as in test_fuzz
@given(st.binary(max_size=HEAD))
def test_any_head_is_read_or_named(head: bytes):
    """Every head is a format read here or a phrase that says what to do; none raises."""
    kind = container(head)
    assert kind in (None, "npy", "zip", "pickle")
    said = other(head)
    assert said
    assert "\n" not in said


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (EOFError(), r"^f: the file is cut short \(it ends in the middle\); the file is corrupt"),
        (zlib.error("invalid stored block lengths"), r"^f: damaged gzip data \(invalid stored "),
        (lzma.LZMAError("Corrupt input data"), r"^f: damaged gzip data \(Corrupt input data\)"),
        (OSError("Not a gzipped file (b'xx')"), r"^f: damaged gzip data \(Not a gzipped file"),
        (OSError(errno.EIO, "Input/output error"), r"^f: cannot read it \(Input/output error\)$"),
    ],
)
def test_a_failed_read_says_what_it_means(error: Exception, message: str):
    with pytest.raises(DataError, match=message), reading("f", "gzip"):
        raise error


def test_a_failed_read_without_a_kind_says_data():
    with pytest.raises(DataError, match=r"^f: damaged data \(bad\)"), reading("f"):
        raise zlib.error("bad")


def test_other_errors_pass_through_reading():
    with pytest.raises(ValueError, match=r"^a bug$"), reading("f", "gzip"):
        raise ValueError("a bug")


class Recorded(io.BytesIO):
    """A stream that keeps the size of every read asked of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(size)
        return super().read(size)


def test_read_at_most_reads_up_to_n_in_chunks():
    stream = Recorded(bytes(3 * CHUNK))
    assert len(read_at_most(stream, 2 * CHUNK + 5)) == 2 * CHUNK + 5
    assert stream.asked == [CHUNK, CHUNK, 5]


def test_a_header_claiming_more_than_the_file_holds_gets_what_is_there():
    stream = Recorded(b"ten bytes!")
    assert read_at_most(stream, 10**12) == b"ten bytes!"
    assert max(stream.asked) == CHUNK  # no read asks for the claimed size


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ValueError("first line\nsecond line"), "first line"),
        (ValueError("  padded  "), "padded"),
        (ValueError(""), "ValueError"),
        (EOFError(), "EOFError"),
        (ValueError("x" * 500), "x" * 120),
    ],
)
def test_brief(error: BaseException, said: str):
    assert brief(error) == said


@pytest.mark.parametrize(("offset", "magic", "what", "todo"), formats.OTHERS)
def test_every_other_format_says_what_to_do(offset: int, magic: bytes, what: str, todo: str):
    head = bytes(offset) + magic + bytes(HEAD)
    assert other(head) == f"{what}, not read here: {todo}"
    assert container(head) is None
