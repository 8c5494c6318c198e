"""numpy's own files: ``.npy`` (one array) and ``.npz`` (named arrays in a zip archive).

Headers are parsed with ``numpy.lib.format`` and checked against the bytes there really are
before anything is allocated. An object array (``np.save`` of tuples or lists) is pickled
inside the file: it is rebuilt by the restricted unpickler, never by ``np.load(allow_pickle)``.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from nnreally.data.formats import read_at_most
from nnreally.data.unpickle import unpickle
from nnreally.errors import DataError

NPY_MAGIC = b"\x93NUMPY"
VERSIONS = {(1, 0): np.lib.format.read_array_header_1_0}  # 2.0 and 3.0 share one layout
KEYS = ("x_train", "y_train", "x_valid", "y_valid")  # the names an .npz is read by


def read_npy(stream: IO[bytes], size: int | None, what: str) -> object:
    """The array in a ``.npy`` stream of ``size`` bytes (None: unknown), or what it pickled."""
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise DataError(f"{what}: .npy format version {version[0]}.{version[1]} is not known")
    header = VERSIONS.get(version, np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = header(stream)
    if dtype.hasobject:
        return unpickle(stream)  # numpy stores object arrays as a pickle after the header
    nbytes = math.prod(shape) * dtype.itemsize
    data = read_at_most(stream, nbytes) if size is None or nbytes <= size else b""
    if len(data) != nbytes:
        raise DataError(
            f"{what}: the header says {shape} of {dtype} = {nbytes:,} bytes, more than the "
            "file holds (it is cut short)"
        )
    if not nbytes:
        return np.empty(shape, dtype)
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def read_npz(path: Path) -> dict[str, object]:
    """The arrays named ``KEYS`` (those present) in an ``.npz`` archive; others are not read."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            key = info.filename.removesuffix(".npy")
            if key in KEYS and key not in arrays:
                with archive.open(info) as member:
                    arrays[key] = read_npy(member, info.file_size, f"{path} ({info.filename})")
        if not arrays:
            names = sorted(archive.namelist())
            listed = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "") or "nothing"
            if not any(name.endswith(".npy") for name in names):
                raise DataError(
                    f"{path}: a zip archive of {listed}: unpack it, pass what is inside"
                )
            raise DataError(
                f"{path}: an .npz of {listed}; the data needs arrays named {', '.join(KEYS)} "
                "(or just x_train, y_train)"
            )
    return arrays
