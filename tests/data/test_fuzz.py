"""The readers fuzzed: files of every supported format, valid and broken at every layer.

Each generated file either loads with exactly the arrays that were written (where nothing broke
them, or a checksum would have caught what did) or raises a ``DataError`` that names the file:
no other exception, and each within the deadline. The default run tries 100 of each kind, the
same each time; the slow one 500 more, drawn afresh, so that every run of the whole suite tries
cases no earlier run did (``pytest --hypothesis-show-statistics`` counts them by format).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nnreally.data import DataError, digits_cache
from nnreally.data.files import read_path
from tests.data.makers import idx_bytes

COMPRESSIONS = {"none": bytes, "gzip": gzip.compress, "xz": lzma.compress, "bzip2": bz2.compress}
IMAGE_DTYPES = ("f4", ">f4", "f8", "f2", "u1", ">i2", "i8", "?")
LABEL_DTYPES = ("i8", "u1", ">i4", "i2", "u8", "f4")
SHAPES = ((784,), (28, 28), (1, 28, 28))
QUICK = settings(
    max_examples=100,
    deadline=timedelta(seconds=3),  # a loaded 2-core machine; the files are tiny
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the quick run is the same run each time
)
FULL = settings(QUICK, max_examples=500, derandomize=False, database=None)


@dataclass
class Split:
    """One split as written (``x``, ``y`` in their dtypes) and as it must be read back."""

    x: np.ndarray
    y: np.ndarray

    def expected(self) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.x.reshape(len(self.x), 784)
        scale = 255 if x.dtype.kind in "iu" else 1
        return torch.from_numpy(x.astype(np.float32) / np.float32(scale)), torch.from_numpy(
            self.y.astype(np.int64)
        )


@st.composite
def splits(draw, n: int, image_dtype: str, label_dtype: str, shape) -> Split:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = np.dtype(image_dtype)
    if dtype.kind in "iu":
        x = rng.integers(0, 256, (n, 784))
    elif dtype.kind == "b":
        x = rng.random((n, 784)) < 0.3
    else:
        x = rng.integers(0, 256, (n, 784)) / 255  # representable in float16 closely enough
    x = x.astype(dtype).reshape(n, *shape)
    if draw(st.booleans()):
        x = np.asfortranarray(x)
    y = rng.integers(0, 10, n).astype(label_dtype)
    return Split(x, y)


@st.composite
def data_sets(draw) -> tuple[Split, Split]:
    image_dtype = draw(st.sampled_from(IMAGE_DTYPES))
    label_dtype = draw(st.sampled_from(LABEL_DTYPES))
    shape = draw(st.sampled_from(SHAPES))
    train = draw(splits(draw(st.integers(1, 12)), image_dtype, label_dtype, shape))
    valid = draw(splits(draw(st.integers(1, 6)), image_dtype, label_dtype, shape))
    return train, valid


# --- the bytes of each format --------------------------------------------------------------------


def pickle_file(draw, train: Split, valid: Split) -> bytes:
    layout = draw(st.sampled_from(["tuple", "lists", "dict", "successive", "npy-object"]))
    protocol = draw(st.integers(0, 5))
    event(f"pickle: {layout}")
    parts = ((train.x, train.y), (valid.x, valid.y), (valid.x[:1], valid.y[:1]))
    if layout == "lists":
        return pickle.dumps([list(p) for p in parts[:2]], protocol=protocol)
    if layout == "dict":
        names = {"x_train": train.x, "y_train": train.y, "x_valid": valid.x, "y_valid": valid.y}
        return pickle.dumps(names, protocol=protocol)
    if layout == "successive":
        return b"".join(pickle.dumps(p, protocol=protocol) for p in parts)
    if layout == "npy-object":
        out = io.BytesIO()
        table = np.empty((3, 2), dtype=object)  # what np.array(parts, dtype=object) makes
        for i, (x, y) in enumerate(parts):
            table[i, 0], table[i, 1] = x, y
        np.save(out, table, allow_pickle=True)
        return out.getvalue()
    return pickle.dumps(parts, protocol=protocol)


def npz_file(draw, train: Split, valid: Split) -> bytes:
    out = io.BytesIO()
    arrays = {"x_train": train.x, "y_train": train.y, "x_valid": valid.x, "y_valid": valid.y}
    (np.savez_compressed if draw(st.booleans()) else np.savez)(out, **arrays)
    return out.getvalue()


def torch_file(draw, train: Split, valid: Split) -> bytes:
    out = io.BytesIO()
    native = [np.ascontiguousarray(a, a.dtype.newbyteorder("=")) for a in (train.x, train.y)]
    native += [np.ascontiguousarray(a, a.dtype.newbyteorder("=")) for a in (valid.x, valid.y)]
    x_train, y_train, x_valid, y_valid = map(torch.from_numpy, native)
    torch.save(((x_train, y_train), (x_valid, y_valid)), out)
    return out.getvalue()


FORMATS = {"pickle": pickle_file, "npz": npz_file, "torch": torch_file}


# --- breaking them -------------------------------------------------------------------------------


def broken(draw, data: bytes) -> tuple[bytes, str]:
    """``data`` with nothing changed, or cut, flipped, overwritten, extended or emptied."""
    how = draw(
        st.sampled_from(["none", "none", "truncate", "flip", "overwrite", "append", "empty"])
    )
    if how == "none" or not data:
        return data, "none"
    head = draw(st.booleans())  # headers are a few bytes of a file: aim at them half the time
    at = draw(st.integers(0, min(len(data), 64) - 1 if head else len(data) - 1))
    if how == "truncate":
        return data[:at], how
    if how == "flip":
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :], how
    if how == "overwrite":
        junk = draw(st.binary(min_size=1, max_size=16))
        return data[:at] + junk + data[at + len(junk) :], how
    if how == "append":
        return data + draw(st.binary(min_size=1, max_size=64)), how
    return b"", how


def bad_values(draw, train: Split) -> str:
    """Break a value in place (a pixel out of range, a label that is no digit), or none."""
    how = draw(st.sampled_from(["none"] * 4 + ["pixel", "label", "count"]))
    x = train.x
    if how == "pixel" and (x.dtype.kind == "f" or (x.dtype.kind == "i" and x.itemsize > 1)):
        values = [np.nan, -1.0, 2.0, np.inf] if x.dtype.kind == "f" else [-1, 300]
        where = np.unravel_index(draw(st.integers(0, x.size - 1)), x.shape)
        x[where] = draw(st.sampled_from(values))
        return "pixel"
    if how == "label":
        train.y[draw(st.integers(0, len(train.y) - 1))] = 10
        return "label"
    if how == "count" and len(train.y) > 1:
        train.y = train.y[:-1]
        return "count"
    return "none"


# --- the properties ------------------------------------------------------------------------------


def check(path: Path, train: Split, valid: Split, must_load: bool, exact: bool) -> None:
    """``path`` loads with the arrays written (``exact``), or it raises a DataError naming it."""
    try:
        data, refused = read_path(path), None
    except DataError as e:
        data, refused = None, str(e)
    if refused is not None:
        assert str(path) in refused
        assert "\n" not in refused
        assert not must_load, f"refused a valid file: {refused}"
        event("refused")
        return
    event("loaded")
    x_train, y_train = data.x_train, data.y_train
    for x, y in ((x_train, y_train), (data.x_valid, data.y_valid)):  # sound in any case
        assert x.dtype == torch.float32
        assert y.dtype == torch.int64
        assert x.shape == (len(y), 784)
        assert bool(((x >= 0) & (x <= 1)).all())
        assert bool(((y >= 0) & (y <= 9)).all())
    if exact:
        want_train, want_valid = train.expected(), valid.expected()
        assert torch.allclose(x_train, want_train[0], atol=1e-3)
        assert torch.equal(y_train, want_train[1])
        assert torch.allclose(data.x_valid, want_valid[0], atol=1e-3)
        assert torch.equal(data.y_valid, want_valid[1])


@st.composite
def files(draw) -> tuple[str, bytes, Split, Split, bool, bool]:
    """(format, bytes, what was written, whether it must load, whether it must load exactly)."""
    train, valid = draw(data_sets())
    values = bad_values(draw, train)
    kind = draw(st.sampled_from(["pickle", "pickle", "npz", "torch"]))  # pickles have layers
    inner = FORMATS[kind](draw, train, valid)
    compressions = draw(st.lists(st.sampled_from(list(COMPRESSIONS)), min_size=0, max_size=2))
    if kind != "pickle":  # a zip is read only uncompressed
        compressions = []
    inner_broken, inner_how = broken(draw, inner) if compressions else (inner, "none")
    packed = inner_broken
    for name in compressions:
        packed = COMPRESSIONS[name](packed)
    outer, outer_how = broken(draw, packed)
    event(f"format: {kind} in {'+'.join(compressions) or 'nothing'}")
    event(f"broken: values {values}, inside {inner_how}, outside {outer_how}")
    intact = values == inner_how == outer_how == "none"
    # damage outside the compressed bytes is caught by the compression's checksum (CRC)
    caught = outer_how == "none" or any(name != "none" for name in compressions)
    exact = values == inner_how == "none" and caught
    return kind, outer, train, valid, intact, exact


def run_files(case) -> None:
    _kind, data, train, valid, must_load, exact = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.pkl.gz"
        path.write_bytes(data)
        check(path, train, valid, must_load, exact)


@QUICK
@given(files())
def test_data_files(case):
    run_files(case)


@pytest.mark.slow
@FULL
@given(files())
def test_data_files_at_length(case):
    run_files(case)


@st.composite
def idx_folders(draw) -> tuple[dict[str, bytes], Split, bool, bool]:
    """(file names and bytes, what was written, whether it must load, whether exactly)."""
    dtype = draw(st.sampled_from(["u1", "i1", ">i2", ">i4", ">f4", ">f8"]))
    n = draw(st.integers(2, 14))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    images = rng.integers(0, 128, (n, 28, 28))
    images = (images / 127 if np.dtype(dtype).kind == "f" else images).astype(dtype)
    labels = rng.integers(0, 10, n).astype(draw(st.sampled_from(["u1", ">i4"])))
    written = Split(images, labels)
    values = bad_values(draw, written)
    compression = draw(st.sampled_from(list(COMPRESSIONS)))
    raw = [idx_bytes(written.x), idx_bytes(written.y)]
    which = draw(st.integers(0, 1))  # the file broken, if any
    raw[which], inner_how = broken(draw, raw[which])
    packed = [COMPRESSIONS[compression](b) for b in raw]
    packed[which], outer_how = broken(draw, packed[which])
    sep = draw(st.sampled_from(["-", "."]))  # as published, or as Kaggle names them
    names = [f"train-images{sep}idx3-ubyte.gz", f"train-labels{sep}idx1-ubyte.gz"]
    event(f"idx: {dtype} in {compression}; broken: values {values}, {inner_how}, {outer_how}")
    intact = values == inner_how == outer_how == "none"
    caught = outer_how == "none" or compression != "none"
    exact = values == inner_how == "none" and caught
    return dict(zip(names, packed, strict=True)), written, intact, exact


def run_idx(case) -> None:
    named, written, must_load, exact = case
    with tempfile.TemporaryDirectory() as folder:
        for name, data in named.items():
            (Path(folder) / name).write_bytes(data)
        cut = len(written.y) - max(1, len(written.y) // 6)  # the last sixth validates
        train = Split(written.x[:cut], written.y[:cut])
        valid = Split(written.x[cut:], written.y[cut:])
        check(Path(folder), train, valid, must_load, exact)


@QUICK
@given(idx_folders())
def test_idx_folders(case):
    run_idx(case)


@pytest.mark.slow
@FULL
@given(idx_folders())
def test_idx_folders_at_length(case):
    run_idx(case)


@st.composite
def digits_caches(draw) -> tuple[bytes, dict, bool]:
    n_train, n_valid = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    tensors = [torch.randint(0, 256, (n, 784), generator=gen) / 255 for n in (n_train, n_valid)]
    labels = [torch.randint(0, 10, (n,), generator=gen) for n in (n_train, n_valid)]
    with tempfile.TemporaryDirectory() as folder:
        path = digits_cache.cache_path(Path(folder), n_train, n_valid)
        assert digits_cache.save(path, tensors[0], labels[0], tensors[1], labels[1]) is None
        data = path.read_bytes()
    data, how = broken(draw, data)
    event(f"digits cache: broken {how}")
    written = {"x_train": tensors[0], "y_train": labels[0], "sizes": (n_train, n_valid)}
    return data, written, how == "none"


def run_digits_cache(case) -> None:
    data, written, must_load = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digits.pt"
        path.write_bytes(data)
        try:
            saved = digits_cache.check(path, *written["sizes"])
        except digits_cache.BrokenCacheError:
            assert not must_load
            event("refused")
            return
    event("loaded")
    assert torch.equal(saved["x_train"].float() / 255, written["x_train"])  # the checksum held
    assert torch.equal(saved["y_train"].long(), written["y_train"])


@QUICK
@given(digits_caches())
def test_digits_caches(case):
    run_digits_cache(case)


@pytest.mark.slow
@FULL
@given(digits_caches())
def test_digits_caches_at_length(case):
    run_digits_cache(case)
