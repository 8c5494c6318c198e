"""A data file or folder, read by what its bytes say it is, never by what its name says.

A file may be compressed (gzip, xz, bzip2, even twice, as a gzip-encoded download saved
as it came) around a pickle in the tutorial's layout (read by the restricted unpickler, also
as successive pickles) or an ``.npy``; or be an ``.npz`` or a ``torch.save`` archive (read
with ``weights_only=True``). A folder holds IDX files. Anything else is named, with what to
do instead; every failure is a one-line ``DataError`` that names the file.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import torch

from nnreally.data import formats
from nnreally.data.dataset import CLASSES, Data
from nnreally.data.folder import why
from nnreally.data.formats import FRESH_COPY, brief
from nnreally.data.idx import read_idx_dir
from nnreally.data.layout import to_data
from nnreally.data.npy import read_npy, read_npz
from nnreally.data.unpickle import RefusedGlobal, unpickle
from nnreally.errors import DataError

__all__ = ["CLASSES", "FRESH_COPY", "Data", "DataError", "read_file", "read_path"]

MAX_LAYERS = 3  # compressions inside each other
MAX_PICKLES = 3  # successive pickles in one file: train, valid and test dumped one by one


def read_path(source: str | os.PathLike, hint: str = "") -> Data:
    """A data set named by its path: a data file or a folder of IDX files."""
    path = Path(source)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"no such data source: {str(source)!r}{hint}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be used as data ({why(e, path)})") from None
    if stat.S_ISDIR(info.st_mode):
        return read_idx_dir(path)
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: not a regular file (a data file or an IDX folder is needed)")
    return read_file(path)


def read_file(path: Path, name: str | None = None) -> Data:
    """The data in one file, whatever legitimate form it is in (see the module docstring)."""
    path, what = Path(path), str(path)
    with formats.reading(what), open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        layers, head = _layers(raw, what)
        kind = formats.container(head)
        if not head:
            empty = "the file is empty" if not layers else f"its {layers[-1]} data is empty"
            raise DataError(f"{what}: {empty}; {FRESH_COPY}")
        if kind == "zip" and not layers:
            content = _archive(path)
        elif kind in ("npy", "pickle"):
            with formats.reading(what, layers[-1] if layers else None):
                stream = _opened(raw, layers)
                with _parsing(what, "pickle" if kind == "pickle" else ".npy file", stream):
                    if kind == "npy":
                        content = read_npy(stream, None if layers else size, what)
                    else:
                        content = _pickles(stream, what)
        else:
            if layers:  # a damaged compression, rather than what it seems to hold, if it is one
                with formats.reading(what, layers[-1]):
                    _drain(_opened(raw, layers))
            inside = f"inside its {' and '.join(layers)} compression, " if layers else ""
            found = "a zip archive: decompress it first" if kind else formats.other(head)
            raise DataError(f"{what}: {inside}{found}")
    return to_data(content, what, name or path.name)


def _opened(raw: IO[bytes], layers: list[str]) -> IO[bytes]:
    """``raw`` from its start, through each compression in ``layers``."""
    raw.seek(0)
    stream = raw
    for kind in layers:
        stream = formats.decompress(kind, stream)
    return stream


def _drain(stream: IO[bytes]) -> None:
    """Read ``stream`` to its end: a decompressor checks its data there."""
    while stream.read(formats.CHUNK):
        pass


def _layers(raw: IO[bytes], what: str) -> tuple[list[str], bytes]:
    """The compressions around the content, outermost first, and the content's first bytes."""
    layers: list[str] = []
    while True:
        with formats.reading(what, layers[-1] if layers else None):
            head = _opened(raw, layers).read(formats.HEAD)
        kind = formats.compression(head)
        if kind is None or len(layers) == MAX_LAYERS:
            return layers, head
        layers.append(kind)


def _pickles(stream: IO[bytes], what: str) -> object:
    """The pickle in ``stream`` (a list of them if several follow one another), read safely."""
    objects = [unpickle(stream)]
    while stream.peek(1)[:1]:
        if len(objects) == MAX_PICKLES:
            raise DataError(f"{what}: more than {MAX_PICKLES} pickles, or bytes after them")
        objects.append(unpickle(stream))
    return objects[0] if len(objects) == 1 else objects


@contextlib.contextmanager
def _parsing(what: str, format_name: str, stream: IO[bytes] | None = None) -> Iterator[None]:
    """Say why a file's content could not be parsed, as a ``DataError``."""
    try:
        yield
    except RefusedGlobal as e:
        raise DataError(f"{what}: unsafe pickle, {e}; nothing in it was run") from None
    except (OSError, EOFError, DataError):
        raise  # the file or its compression: said by ``formats.reading``
    except Exception as e:  # a parser meets arbitrary bytes: any error means a broken file
        if stream is not None:
            _drain(stream)  # a damaged compression is the real cause, if any: it says so
        raise DataError(
            f"{what}: not a readable {format_name} ({brief(e)}); {FRESH_COPY}"
        ) from None


def _archive(path: Path) -> object:
    """An ``.npz`` or a ``torch.save`` file; any other zip archive is named."""
    with _parsing(str(path), "zip archive"):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if not any(name.endswith("data.pkl") for name in names):
            return read_npz(path)
    return _torch(path)


def _torch(path: Path) -> object:
    """What ``torch.save`` wrote, loaded with ``weights_only=True`` (tensors and containers)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's message is pages long: the point is this
        raise DataError(
            f"{path}: a torch.save file holding more than tensors, which torch.load refuses "
            "with weights_only=True; save the tensors alone, in a tuple or a dict"
        ) from None
    except Exception as e:  # torch's reader reports a damaged archive as it sees fit
        raise DataError(f"{path}: torch.load cannot read it ({brief(e)}); {FRESH_COPY}") from None
