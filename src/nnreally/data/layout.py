"""The tutorial's layout, and the other arrangements a program may save the same arrays in.

The tutorial's pickle holds ``((x_train, y_train), (x_valid, y_valid), (x_test, y_test))``.
Read just as well: lists for tuples, without the test part, with arrays as nested lists; a
dict (or ``.npz``) of arrays named ``x_train``, ``y_train``, ``x_valid``, ``y_valid``; an
object array (``np.save`` of the tuple); tensors (``torch.save``). Where only a training set
is there (``(x_train, y_train)``, or Keras's ``mnist.npz`` of train and test), the last sixth
of the training images validates, as ``split_sizes`` says.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from nnreally.data.dataset import Data, as_tensors, split_sizes
from nnreally.errors import DataError

LAYOUT = "((x_train, y_train), (x_valid, y_valid), ...) or a dict of x_train, y_train, ..."
_SEQUENCES = (tuple, list)


def to_data(content: object, what: str, name: str) -> Data:
    """``content`` (what a file held) as ``Data``, or a ``DataError`` naming ``what``."""
    train, valid = _splits(_unwrap(content), what)
    x, y = (_array(v, f"{what} (train)") for v in train)
    x_train, y_train = as_tensors(x, y, f"{what} (train)")
    if valid is None:
        cut, _ = split_sizes(len(x_train), what)
        return Data(name, what, x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:])
    x, y = (_array(v, f"{what} (valid)") for v in valid)
    return Data(name, what, x_train, y_train, *as_tensors(x, y, f"{what} (valid)"))


def _unwrap(value: object) -> object:
    """An object array (what ``np.save`` makes of a tuple or a dict) as the objects it holds."""
    if isinstance(value, np.ndarray) and value.dtype == object:
        return value.item() if value.ndim == 0 else value.tolist()
    return value


def _is_pair(value: object) -> bool:
    value = _unwrap(value)
    return isinstance(value, _SEQUENCES) and len(value) == 2


def _splits(content: object, what: str) -> tuple[tuple, tuple | None]:
    """The (images, labels) of training and of validation (None if there is none)."""
    if isinstance(content, Mapping):
        if "x_train" not in content or "y_train" not in content:
            keys = ", ".join(sorted(map(str, content))[:6]) or "nothing"
            raise DataError(f"{what}: a dict of {keys}; expected {LAYOUT}")
        train = (content["x_train"], content["y_train"])
        if "x_valid" in content and "y_valid" in content:
            return train, (content["x_valid"], content["y_valid"])
        return train, None
    if isinstance(content, _SEQUENCES) and content and _is_pair(content[0]):
        parts = [_unwrap(part) for part in content[:2]]
        if len(parts) == 2 and not _is_pair(parts[1]):
            raise DataError(f"{what}: its second part is not (x_valid, y_valid); expected {LAYOUT}")
        return tuple(parts[0]), (tuple(parts[1]) if len(parts) == 2 else None)
    if isinstance(content, _SEQUENCES) and len(content) == 2:
        return tuple(content), None  # (x_train, y_train) alone
    kind = f"a {type(content).__name__}"
    if isinstance(content, np.ndarray):
        kind = f"one array of shape {content.shape}"
    raise DataError(f"{what}: not the tutorial's layout: it holds {kind}; expected {LAYOUT}")


def _array(value: object, what: str) -> np.ndarray:
    """A numeric array from an array, a tensor or nested lists of numbers."""
    value = _unwrap(value)
    try:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            return value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
        if isinstance(value, np.ndarray):
            return np.asarray(value)
        if isinstance(value, _SEQUENCES):
            array = np.asarray(value)
            if array.dtype != object:
                return array
    except (ValueError, TypeError, RuntimeError, OverflowError):
        pass  # ragged lists, tensors numpy cannot see: said below
    raise DataError(f"{what}: expected arrays of numbers, got {_kind(value)}")


def _kind(value: object) -> str:
    if isinstance(value, _SEQUENCES):
        return f"a {type(value).__name__} of {len(value)} items that do not form one array"
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor numpy cannot read"
    return f"a {type(value).__name__}"
