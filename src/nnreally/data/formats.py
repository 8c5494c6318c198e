"""What a file is, by its first bytes (never by its name): what is read, and what is only named.

Read: gzip, xz and bzip2 around what they compress; a pickle (protocol 0-5); ``.npy``; a zip
archive (``.npz``, or ``torch.save``'s). Named with what to do instead: other compressions and
archives, HDF5, Parquet, images, text, an HTML page, a lone IDX file.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import string
import zlib
from collections.abc import Callable, Iterator
from typing import IO

from nnreally.errors import DataError

HEAD = 512  # bytes looked at: a tar header's magic sits at offset 257
CHUNK = 1 << 20

COMPRESSIONS: dict[bytes, tuple[str, Callable[[IO[bytes]], IO[bytes]]]] = {
    b"\x1f\x8b": ("gzip", lambda raw: gzip.GzipFile(fileobj=raw, mode="rb")),
    b"\xfd7zXZ\x00": ("xz", lzma.LZMAFile),
    b"BZh": ("bzip2", bz2.BZ2File),
}
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # an archive, or an empty one
HTML_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")
IDX_TYPES = (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)  # the element types of the IDX format
# A pickle of protocol 2-5 opens with PROTO; one of protocol 0-1 holding a tuple, a list or a
# dict with MARK, EMPTY_LIST, EMPTY_DICT, EMPTY_TUPLE, or GLOBAL (an array at the top).
PICKLE_STARTS = b"(]})c"
FRESH_COPY = "the file is corrupt: download it again or put a good copy in its place"
SUPPORTED = (
    "a pickle in the tutorial's layout (plain, or compressed with gzip, xz or bzip2), an .npz "
    "or .npy of the arrays, a torch.save file, or a folder of IDX files"
)

TEXT = frozenset(string.printable.encode())
UNPACK = "unpack it and pass the file or folder inside"
OTHERS = (  # (offset, magic, what it is, what to do with it)
    (0, b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it (zstd -d) first"),
    (0, b"\x04\x22\x4d\x18", "lz4-compressed", "decompress it (lz4 -d) first"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", UNPACK),
    (0, b"Rar!\x1a\x07", "a RAR archive", UNPACK),
    (257, b"ustar", "a tar archive", f"{UNPACK} (tar xf FILE)"),
    (0, b"\x89HDF\r\n\x1a\n", "an HDF5 file", "save its arrays with np.savez"),
    (0, b"PAR1", "a Parquet file", "save its arrays with np.savez"),
    (0, b"\x89PNG", "a PNG image", "a data set is needed, not one image"),
    (0, b"\xff\xd8\xff", "a JPEG image", "a data set is needed, not one image"),
)


def compression(head: bytes) -> str | None:
    """The name of the compression ``head`` starts with, if it is one that is read."""
    return next((name for magic, (name, _) in COMPRESSIONS.items() if head.startswith(magic)), None)


def decompress(name: str, raw: IO[bytes]) -> IO[bytes]:
    """A stream of what the ``name`` compression in ``raw`` holds."""
    return next(opener for magic, (n, opener) in COMPRESSIONS.items() if n == name)(raw)


def container(head: bytes) -> str | None:
    """``"npy"``, ``"zip"`` or ``"pickle"`` if ``head`` starts a format that is read."""
    if any(head[at : at + len(magic)] == magic for at, magic, _, _ in OTHERS):
        return None  # zstd's magic, say, opens like a protocol-0 pickle
    if head.startswith(NPY_MAGIC):
        return "npy"
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if head[:1] and head[:1] in PICKLE_STARTS:
        return "pickle"
    return None


def other(head: bytes) -> str:
    """What a file that is not read holds, and what to do with it, as a phrase."""
    for offset, magic, what, todo in OTHERS:
        if head[offset : offset + len(magic)] == magic:
            return f"{what}, not read here: {todo}"
    if head.lstrip()[:9].lower().startswith(HTML_STARTS):
        return "an HTML page (an error page saved by a download?)"
    if len(head) >= 4 and head[:2] == b"\0\0" and head[2] in IDX_TYPES and 1 <= head[3] <= 3:
        return "one IDX file: pass the folder that holds the IDX files"
    if all(byte in TEXT for byte in head):
        return f"a text file (CSV?), not read here; expected {SUPPORTED}"
    return f"no format read here; expected {SUPPORTED}"


@contextlib.contextmanager
def reading(what: str, kind: str | None = None) -> Iterator[None]:
    """Say what a failing read or decompression (of ``kind``) means, as a ``DataError``."""
    data = f"{kind} data" if kind else "data"
    try:
        yield
    except EOFError:
        raise DataError(
            f"{what}: the file is cut short (it ends in the middle); {FRESH_COPY}"
        ) from None
    except (zlib.error, lzma.LZMAError) as e:
        raise DataError(f"{what}: damaged {data} ({brief(e)}); {FRESH_COPY}") from None
    except OSError as e:
        if e.errno is None:  # gzip's and bzip2's errors about their data carry no errno
            raise DataError(f"{what}: damaged {data} ({brief(e)}); {FRESH_COPY}") from None
        raise DataError(f"{what}: cannot read it ({e.strerror or e})") from None


def read_at_most(stream: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes, read in chunks, so that a header's claim allocates nothing by itself."""
    chunks, total = [], 0
    while total < n and (chunk := stream.read(min(CHUNK, n - total))):
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def brief(e: BaseException) -> str:
    """An exception as a short reason: the first line of its message, else its type."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text[:120] or type(e).__name__
