"""Readers for the data formats: the tutorial's pickle (read safely) and IDX files.

Every reader returns the same ``Data``: float32 images in [0, 1] as rows of 784 pixels and
int64 labels 0-9, split 50,000 / 10,000 like the tutorial's ``mnist.pkl.gz``, and checks what
it reads, so a file in the wrong layout is a clear error rather than a confusing crash later.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from nnreally.data.digits import LEVELS

PIXELS = 28 * 28
CLASSES = 10
N_TRAIN, N_VALID = 50_000, 10_000  # the tutorial's split; IDX training sets are cut the same way
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08  # the IDX type code for unsigned bytes, the only one MNIST-style files use


class DataError(Exception):
    """A data source that is missing, unreadable or not in the expected layout."""


@dataclass(frozen=True)
class Data:
    """The four tensors plus where they came from; unpacks like the tutorial's tuple."""

    name: str
    origin: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    note: str = ""  # a warning worth one line to the user, e.g. why the fallback was used

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter((self.x_train, self.y_train, self.x_valid, self.y_valid))

    def head(self, limit: int | None) -> Data:
        """The same data with only the first ``limit`` training samples (all when None)."""
        if limit is None:
            return self
        return replace(self, x_train=self.x_train[:limit], y_train=self.y_train[:limit])

    def describe(self) -> str:
        """One line: name, sizes and origin."""
        return (
            f"{self.name}: {len(self.x_train):,} train / {len(self.x_valid):,} valid "
            f"images ({self.origin})"
        )


# --- the tutorial's pickle, read safely -------------------------------------------------------

# Unpickling runs whatever callables the file names. An array needs only these; anything else
# (os.system, eval, ...) is refused before it can run.
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 pickles bytes at protocol 2
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: not part of an array")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):
            module = "numpy._core.multiarray"  # numpy 2 moved it; the old name warns
        return super().find_class(module, name)


def read_pickle(path: Path, name: str | None = None) -> Data:
    """Read a ``.pkl.gz`` in the tutorial's layout: ((x_train, y_train), (x_valid, y_valid), _)."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            content = ArrayUnpickler(f, encoding="latin-1").load()
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: unsafe or broken pickle: {e}") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError) as e:
        raise DataError(f"{path}: not a readable gzip pickle ({e})") from None
    try:
        (x_train, y_train), (x_valid, y_valid), *_ = content
    except (TypeError, ValueError):
        raise DataError(
            f"{path}: not the tutorial's layout ((x_train, y_train), (x_valid, y_valid), ...)"
        ) from None
    train = _as_tensors(x_train, y_train, f"{path} (train)")
    valid = _as_tensors(x_valid, y_valid, f"{path} (valid)")
    return Data(name or path.name, str(path), *train, *valid)


def _as_tensors(x: object, y: object, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check one split's arrays and convert them: images to float32 [0, 1], labels to int64."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise DataError(f"{what}: expected numpy arrays, got {type(x).__name__}/{type(y).__name__}")
    if x.ndim != 2 or x.shape[1] != PIXELS:
        raise DataError(f"{what}: images have shape {x.shape}, expected (N, {PIXELS})")
    if y.shape != (len(x),):
        raise DataError(f"{what}: {len(x)} images but labels of shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= CLASSES)):
        raise DataError(f"{what}: labels must be integers 0-{CLASSES - 1}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / LEVELS
    if not np.issubdtype(x.dtype, np.floating) or (len(x) and (x.min() < 0 or x.max() > 1)):
        raise DataError(f"{what}: pixel values must be floats in [0, 1] or bytes")
    x = np.ascontiguousarray(x, np.float32)
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


# --- IDX files (MNIST's original format, also Fashion-MNIST's) --------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not), checking its header against its size."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != UBYTE or not 1 <= raw[3] <= 3:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header cut short")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header says {shape} = {expected:,} bytes, file holds {len(raw) - header:,}"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    """The IDX file ``stem`` in ``folder``, gzipped or not."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError(f"{folder}: missing {stem}.gz (an IDX folder needs {', '.join(IDX_FILES)})")


def read_idx_dir(folder: Path, name: str | None = None) -> Data:
    """Read a folder of IDX files; its 60,000 training images are split 50,000 / 10,000."""
    folder = Path(folder)
    images = read_idx(find_idx(folder, IDX_FILES[0]))
    labels = read_idx(find_idx(folder, IDX_FILES[1]))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise DataError(f"{folder}: expected 28x28 images and 1-D labels, got {images.shape}")
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images):,} images but {len(labels):,} labels")
    if len(images) <= N_VALID:
        raise DataError(f"{folder}: {len(images):,} training images; need over {N_VALID:,}")
    x, y = _as_tensors(images.reshape(len(images), PIXELS), labels, str(folder))
    cut = len(x) - N_VALID
    return Data(name or folder.name, str(folder), x[:cut], y[:cut], x[cut:], y[cut:])
