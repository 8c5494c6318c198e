"""The restricted unpickler: arrays as numpy 1 and 2 pickle them, at protocols 0-5; nothing else."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest

from nnreally.data.unpickle import RefusedGlobal, unpickle

ARRAYS = {
    "float32": np.random.default_rng(0).random((3, 784), dtype=np.float32),
    "big-endian": np.arange(12, dtype=">f8").reshape(3, 4),
    "fortran": np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)),
    "uint8": np.arange(256, dtype=np.uint8),
    "empty": np.zeros((0, 784), np.float32),
    "object": np.array([np.arange(3), "text", None], dtype=object),
    "scalars": [np.int64(3), np.float32(0.5)],
    "memmap-like": np.arange(5, dtype=np.float32).view(np.memmap),
}
# numpy 1 names its modules numpy.core.*, numpy 2 numpy._core.* (at protocol 4-5 with lengths)
NUMPY_1_NAMES = [
    (b"numpy._core.multiarray", b"numpy.core.multiarray"),
    (b"numpy._core.numeric", b"numpy.core.numeric"),
]


def as_numpy_1(data: bytes) -> bytes:
    """The pickle numpy 1 writes for the same array: its module names, framed again."""
    for new, old in NUMPY_1_NAMES:
        data = data.replace(bytes([0x8C, len(new)]) + new, bytes([0x8C, len(old)]) + old)
        data = data.replace(new, old)  # protocols 0-3 write names as lines of text
    return pickletools.optimize(data)


def same(a: object, b: object) -> bool:
    if isinstance(a, list):
        return all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) and a.dtype == object:
        return all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):  # numpy itself unpickles big-endian as native below protocol 5
        kind = (a.dtype.kind, a.dtype.itemsize) == (b.dtype.kind, b.dtype.itemsize)
        return kind and a.shape == b.shape and np.array_equal(a, b)
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("numpy_1", [False, True], ids=["numpy2", "numpy1"])
@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("kind", ARRAYS)
def test_arrays_round_trip(kind: str, protocol: int, numpy_1: bool):
    data = pickle.dumps(ARRAYS[kind], protocol=protocol)
    if numpy_1:
        data = as_numpy_1(data)
        assert b"numpy._core" not in data
    assert same(
        unpickle(io.BytesIO(data)),
        np.asarray(ARRAYS[kind]) if kind == "memmap-like" else ARRAYS[kind],
    )


class RunsACommand:
    """A pickle payload that would create a file if it were ever unpickled naively."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_other_callables_are_refused_and_run_nothing(tmp_path: Path, protocol: int):
    marker = tmp_path / "pwned"
    data = pickle.dumps(((RunsACommand(marker), None), None), protocol=protocol)
    with pytest.raises(RefusedGlobal, match=r"refused to load (posix|os)\.system"):
        unpickle(io.BytesIO(data))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("data", "refused"),
    [
        (b"c_codecs\nencode\n(Vx\nVbz2_codec\ntR.", "refused to encode with 'bz2_codec'"),
        (b"c__builtin__\nbytes\n(I100000000\ntR.", r"refused to call bytes\(\) with arguments"),
        (b"cnumpy\nload\n(Vx\ntR.", "refused to load numpy.load"),
        (
            b"cnumpy.core.multiarray\nfrombuffer\n.",
            "refused to load numpy._core.multiarray.frombuffer",
        ),
    ],
    ids=["other-codec", "bytes-n", "np-load", "frombuffer"],
)
def test_the_few_allowed_callables_do_only_what_an_array_needs(data: bytes, refused: str):
    with pytest.raises(RefusedGlobal, match=refused):
        unpickle(io.BytesIO(data))
