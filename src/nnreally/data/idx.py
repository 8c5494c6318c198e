"""IDX files, MNIST's original format (Fashion-MNIST's too), and the folders that hold them.

A folder needs the training images and labels, ``train-images-idx3-ubyte`` and
``train-labels-idx1-ubyte`` (``.`` for the ``-`` before ``idx`` as well), each plain or
compressed with gzip, xz or bzip2. The ``t10k`` files are MNIST's test set, which the tutorial
does not use either, so they are not read: the last sixth of the training images validates
(50,000 / 10,000 of MNIST's 60,000, as the tutorial's pickle). Every header is checked against
the bytes that follow it, and images against labels.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

import numpy as np

from nnreally.data import formats
from nnreally.data.dataset import Data, as_tensors, split_sizes
from nnreally.errors import DataError

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
COMPRESSED = r"(\.gz|\.xz|\.bz2)?"  # told apart by their bytes; the name only finds the file


def read_idx(path: Path, what: str | None = None) -> np.ndarray:
    """Read one IDX file (plain or compressed), checking its header against its size."""
    path = Path(path)
    what = what or str(path)
    with formats.reading(what), open(path, "rb") as raw:
        kind = formats.compression(raw.read(formats.HEAD))
    with formats.reading(what, kind), open(path, "rb") as raw:
        stream = formats.decompress(kind, raw) if kind else raw
        magic = stream.read(4)
        if not magic:
            raise DataError(f"{what}: the file is empty")
        if (
            len(magic) < 4
            or magic[:2] != b"\0\0"
            or magic[2] not in TYPES
            or not 1 <= magic[3] <= 4
        ):
            instead = formats.other(magic + stream.read(formats.HEAD))
            if not instead.startswith("no format"):
                raise DataError(f"{what}: {instead.split(';')[0]}, not an IDX file")
            raise DataError(f"{what}: not an IDX file (bad magic number {magic.hex()})")
        ndim = magic[3]
        dims = stream.read(4 * ndim)
        if len(dims) < 4 * ndim:
            raise DataError(f"{what}: IDX header cut short")
        shape = struct.unpack(f">{ndim}I", dims)
        dtype = np.dtype(TYPES[magic[2]])
        expected = math.prod(shape) * dtype.itemsize
        body = formats.read_at_most(stream, expected + 1)
    if len(body) != expected:
        raise DataError(
            f"{what}: header says {shape} = {expected:,} bytes, file holds {len(body):,}"
        )
    return np.frombuffer(body, dtype).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    """The IDX file ``stem`` in ``folder`` (``.`` or ``-`` before ``idx``, compressed or not)."""
    pattern = re.compile(re.escape(stem).replace(r"\-idx", r"[-.]idx") + COMPRESSED + "$")
    try:
        found = sorted(p for p in folder.iterdir() if pattern.match(p.name))
    except OSError as e:
        raise DataError(f"{folder}: cannot read the folder ({e.strerror or e})") from None
    if found:
        return min(found, key=lambda p: (p.suffix != ".gz", p.name))  # as MNIST publishes them
    needed = " and ".join(f"{s}.gz" for s in IDX_FILES[:2])
    raise DataError(f"{folder}: no {stem}.gz here (an IDX folder needs {needed}){_hint(folder)}")


def _hint(folder: Path) -> str:
    """Where the files the user may have meant are: a pickle here, IDX files a level or two down."""
    try:
        pickles = sorted(p.name for p in folder.glob("*.pkl*"))
        deeper = sorted({p.parent for p in folder.glob("*/train-images*")})
        deeper = deeper or sorted({p.parent for p in folder.glob("*/*/train-images*")})
    except OSError:
        return ""
    if pickles:
        return f"; to use {pickles[0]}, pass the file itself"
    return f"; {deeper[0]} has IDX files: pass that folder" if deeper else ""


def read_idx_dir(folder: Path, name: str | None = None) -> Data:
    """A folder of IDX files: its training images, the last sixth of them for validation."""
    folder = Path(folder)
    images_path = find_idx(folder, IDX_FILES[0])
    labels_path = find_idx(folder, IDX_FILES[1])
    images, labels = read_idx(images_path), read_idx(labels_path)
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected 1-D labels, got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images):,} images but {len(labels):,} labels")
    x, y = as_tensors(images, labels, str(images_path), str(labels_path))
    cut, _ = split_sizes(len(x), str(folder))
    return Data(name or folder.name, str(folder), x[:cut], y[:cut], x[cut:], y[cut:])
