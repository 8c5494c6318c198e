"""What every reader returns: ``Data``, four checked tensors, or a ``DataError`` naming the file.

Images become float32 rows of 784 pixels in [0, 1] and labels int64 0-9, whatever legitimate
form a file held them in: floats in [0, 1] or whole numbers 0-255 of any dtype or byte order,
images as rows of 784 or as 28x28 (with or without a channel), labels of any integer dtype
(or whole-valued floats, or one-hot rows). Every value is checked, and an error names the
first bad image or label, so a broken file is a clear error rather than a confusing crash later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch

from nnreally.errors import DataError

SIDE = 28  # MNIST's image side
PIXELS = SIDE * SIDE
LEVELS = 255  # grey levels of a byte image: 0 is background, 255 full ink
CLASSES = 10
N_TRAIN, N_VALID = 50_000, 10_000  # the tutorial's split of MNIST's 60,000 training images
VALID_PART = (N_TRAIN + N_VALID) // N_VALID  # validation is the last sixth, as there
IMAGE_SHAPES = ((PIXELS,), (SIDE, SIDE), (1, SIDE, SIDE), (SIDE, SIDE, 1))


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


def split_sizes(n: int, what: str) -> tuple[int, int]:
    """How ``n`` training images without a validation set are split: the last sixth validates.

    MNIST's and Fashion-MNIST's 60,000 become the tutorial's 50,000 / 10,000; any set of at
    least two images gets at least one of each.
    """
    if n < 2:
        raise DataError(
            f"{what}: {n} training image(s); at least 2 are needed to split off validation"
        )
    n_valid = max(1, n // VALID_PART)
    return n - n_valid, n_valid


def as_tensors(
    x: np.ndarray, y: np.ndarray, what: str, labels_what: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check one split's arrays and convert them: images to float32 [0, 1], labels to int64."""
    labels_what = labels_what or what
    if x.shape[1:] not in IMAGE_SHAPES:
        raise DataError(
            f"{what}: images have shape {x.shape}, expected (N, {PIXELS}) or (N, 28, 28)"
        )
    if len(x) == 0:
        raise DataError(f"{what}: holds no images")
    y = _labels(y, len(x), labels_what)
    x = x.reshape(len(x), PIXELS)
    if x.dtype == np.bool_:  # binarised images: ink or none
        x = x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        bad = (x < 0) | (x > LEVELS)
        rule = f"whole numbers must be 0-{LEVELS}"
    elif np.issubdtype(x.dtype, np.floating):
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf: refused below
            x = x.astype(np.float32)
        bad = ~((x >= 0) & (x <= 1))  # NaN fails both comparisons
        rule = "floats must be finite, in [0, 1]"
    else:
        raise DataError(f"{what}: images are {x.dtype}; pixels must be floats in [0, 1] or 0-255")
    if bad.any():
        i, j = divmod(int(np.flatnonzero(bad)[0]), PIXELS)
        raise DataError(f"{what}: image {i:,} has pixel {j} = {x[i, j]}; {rule}")
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / np.float32(LEVELS)
    return torch.from_numpy(np.ascontiguousarray(x, np.float32)), torch.from_numpy(y)


def _labels(y: np.ndarray, n: int, what: str) -> np.ndarray:
    """Labels as int64 0-9: whole numbers of any dtype, or one-hot rows."""
    rule = f"labels must be whole numbers 0-{CLASSES - 1}"
    if y.shape == (n, CLASSES) and np.isin(y, (0, 1)).all() and (y.sum(1) == 1).all():
        y = y.argmax(1)  # one-hot rows
    elif y.shape == (n, 1):
        y = y[:, 0]
    if y.shape != (n,):
        raise DataError(f"{what}: {n:,} images but labels of shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        bad = ~np.isin(y, np.arange(CLASSES))
    elif np.issubdtype(y.dtype, np.integer):
        bad = (y < 0) | (y >= CLASSES)
    else:
        raise DataError(f"{what}: labels are {y.dtype}; {rule}")
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what}: label {i:,} is {y[i]}; {rule}")
    return y.astype(np.int64)
