"""Readers for the data formats: the tutorial's pickle (read safely) and IDX files.

Every reader returns the same ``Data``: float32 images in [0, 1] as rows of 784 pixels and
int64 labels 0-9, split 50,000 / 10,000 like the tutorial's ``mnist.pkl.gz``, and checks what
it reads, so a file in the wrong layout is a clear error rather than a confusing crash later.
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from nnreally.data.digits import LEVELS, SIDE
from nnreally.errors import RunError

PIXELS = SIDE * SIDE
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
IDX_MAGIC = bytes([0, 0, UBYTE])  # then the number of dimensions
HTML_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")
HEAD = 64  # bytes looked at to tell what a file is
CHUNK = 1 << 20
FRESH_COPY = "the file is corrupt: download it again or put a good copy in its place"


class DataError(RunError):
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
_EMPTY_BYTES = {("__builtin__", "bytes"), ("builtins", "bytes")}  # bytes(): an empty array's data


def _empty_bytes(*args: object) -> bytes:
    """``bytes()`` as a protocol-2 pickle of an empty array calls it; ``bytes(n)`` is refused."""
    if args:
        raise RefusedGlobal("refused to call bytes() with arguments: not part of an array")
    return b""


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a callable that is not part of an array; nothing was run."""


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _EMPTY_BYTES:
            return _empty_bytes
        if (module, name) not in _ARRAY_GLOBALS:
            raise RefusedGlobal(f"refused to load {module}.{name}: not part of an array")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):
            module = "numpy._core.multiarray"  # numpy 2 moved it; the old name warns
        return super().find_class(module, name)


def _looks_like(head: bytes) -> str | None:
    """What a file that should hold data holds instead, judged by its first bytes."""
    if head.lstrip()[:9].lower().startswith(HTML_STARTS):
        return "an HTML page (an error page saved by a download?)"
    if head[:3] == IDX_MAGIC:
        return "an IDX file (pass the folder that holds the IDX files)"
    return None


def read_pickle(path: Path, name: str | None = None) -> Data:
    """Read a ``.pkl.gz`` in the tutorial's layout: ((x_train, y_train), (x_valid, y_valid), _).

    The gzip layer is recognised by its magic number, so a plain pickle named ``.pkl.gz`` reads
    too. Every failure of the file (compression, pickle, layout, values) is a ``DataError``.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            head = raw.read(HEAD)
            if not head:
                raise DataError(f"{path}: the file is empty; {FRESH_COPY}")
            raw.seek(0)
            if head[:2] == GZIP_MAGIC:
                stream = gzip.GzipFile(fileobj=raw, mode="rb")
                head = stream.peek(HEAD)[:HEAD]
            else:
                stream = raw
            if _looks_like(head):
                raise DataError(f"{path}: {_looks_like(head)}, not the tutorial's pickle")
            try:
                content = ArrayUnpickler(stream, encoding="latin-1").load()
            except Exception:
                _drain(stream)  # a damaged gzip layer is the real cause: it raises its own error
                raise
            _drain(stream)  # to the end, so gzip checks its CRC and length
    except RefusedGlobal as e:
        raise DataError(f"{path}: unsafe pickle, {e}; nothing in it was run") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: {_damaged(e)}; {FRESH_COPY}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    except DataError:
        raise
    except Exception as e:  # the unpickler meets arbitrary bytes: any error means a broken file
        raise DataError(f"{path}: not a readable pickle ({_brief(e)}); {FRESH_COPY}") from None
    try:
        (x_train, y_train), (x_valid, y_valid), *_ = content
    except (TypeError, ValueError):
        raise DataError(
            f"{path}: not the tutorial's layout ((x_train, y_train), (x_valid, y_valid), ...)"
        ) from None
    train = _as_tensors(x_train, y_train, f"{path} (train)")
    valid = _as_tensors(x_valid, y_valid, f"{path} (valid)")
    return Data(name or path.name, str(path), *train, *valid)


def _drain(stream) -> None:
    """Read a stream to its end (a ``GzipFile`` checks its CRC there)."""
    while stream.read(CHUNK):
        pass


def _brief(e: BaseException) -> str:
    """An exception as a short reason: its message, else its type."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return text[:120] or type(e).__name__


def _damaged(e: BaseException) -> str:
    """What a failing gzip stream says about the file."""
    if isinstance(e, EOFError):
        return "the file is cut short (it ends in the middle of the data)"
    return f"damaged gzip data ({_brief(e)})"


def _as_tensors(
    x: object, y: object, what: str, labels_what: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check one split's arrays and convert them: images to float32 [0, 1], labels to int64.

    Shapes, dtypes and every value are checked; an error names the first bad image or label.
    """
    labels_what = labels_what or what
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise DataError(f"{what}: expected numpy arrays, got {type(x).__name__}/{type(y).__name__}")
    if x.ndim != 2 or x.shape[1] != PIXELS:
        raise DataError(f"{what}: images have shape {x.shape}, expected (N, {PIXELS})")
    if len(x) == 0:
        raise DataError(f"{what}: holds no images")
    if y.shape != (len(x),):
        raise DataError(f"{what}: {len(x):,} images but labels of shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{labels_what}: labels are {y.dtype}; labels must be integers 0-{CLASSES - 1}"
        )
    if y.min() < 0 or y.max() >= CLASSES:
        i = int(np.flatnonzero((y < 0) | (y >= CLASSES))[0])
        raise DataError(
            f"{labels_what}: label {i:,} is {y[i]}; labels must be integers 0-{CLASSES - 1}"
        )
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(LEVELS)
    elif not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            f"{what}: images are {x.dtype}; pixel values must be floats in [0, 1] or bytes"
        )
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: caught below
        x = np.ascontiguousarray(x, np.float32)
    if not (x.min() >= 0 and x.max() <= 1):  # NaN fails both comparisons
        i, j = divmod(int(np.flatnonzero(~((x >= 0) & (x <= 1)))[0]), PIXELS)
        raise DataError(
            f"{what}: image {i:,} has pixel {j} = {x[i, j]}; "
            "pixel values must be finite floats in [0, 1] or bytes"
        )
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


# --- IDX files (MNIST's original format, also Fashion-MNIST's) --------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or not), checking its header against its size."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: {_damaged(e)}; {FRESH_COPY}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror or e})") from None
    if not raw:
        raise DataError(f"{path}: the file is empty; {FRESH_COPY}")
    if len(raw) < 4 or raw[:3] != IDX_MAGIC or not 1 <= raw[3] <= 3:
        instead = _looks_like(raw[:HEAD])
        if instead:
            raise DataError(f"{path}: {instead}, not an IDX file")
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header cut short")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(shape)
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header says {shape} = {expected:,} bytes, file holds {len(raw) - header:,}"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def find_idx(folder: Path, stem: str) -> Path:
    """The IDX file ``stem`` in ``folder``, gzipped or not."""
    try:
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.exists():
                return candidate
        pickles = sorted(p.name for p in folder.glob("*.pkl*"))
    except OSError as e:
        raise DataError(f"{folder}: cannot read the folder ({e.strerror or e})") from None
    needed = " and ".join(f"{s}.gz" for s in IDX_FILES[:2])
    hint = f"; to use {pickles[0]}, pass the file itself" if pickles else ""
    raise DataError(f"{folder}: no {stem}.gz here (an IDX folder needs {needed}){hint}")


def read_idx_dir(folder: Path, name: str | None = None) -> Data:
    """Read a folder of IDX files; its training images are split into train and validation."""
    folder = Path(folder)
    images_path = find_idx(folder, IDX_FILES[0])
    labels_path = find_idx(folder, IDX_FILES[1])
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise DataError(f"{images_path}: expected {SIDE}x{SIDE} images, got shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected 1-D labels, got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images):,} images but {len(labels):,} labels")
    if len(images) <= N_VALID:
        raise DataError(f"{folder}: {len(images):,} training images; need over {N_VALID:,}")
    x, y = _as_tensors(
        images.reshape(len(images), PIXELS), labels, str(images_path), str(labels_path)
    )
    cut = len(x) - N_VALID
    return Data(name or folder.name, str(folder), x[:cut], y[:cut], x[cut:], y[cut:])
