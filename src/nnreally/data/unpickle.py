"""A restricted unpickler: it rebuilds numpy arrays, as numpy 1 or 2 pickles them, and nothing else.

Unpickling runs whatever callables the file names. An array needs only the few below, at any
pickle protocol (0-5); anything else (``os.system``, ``eval``, ...) is refused before it can run.
"""

from __future__ import annotations

import pickle
from typing import IO

import numpy as np

# (module, name) as numpy 2 names them; numpy 1 writes ``numpy.core`` for ``numpy._core``.
_ARRAY_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),  # protocols 0-4
    ("numpy._core.multiarray", "scalar"),  # a numpy number (a list of labels, say)
    ("numpy._core.numeric", "_frombuffer"),  # protocol 5
    ("numpy", "ndarray"),
    ("numpy", "memmap"),  # an array that was memory-mapped when it was pickled
    ("numpy", "dtype"),
}
_OLD_NAMES = {"numpy.core": "numpy._core", "numpy._core.memmap": "numpy"}
_BUILTINS = ("builtins", "__builtin__")


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a callable that is not part of an array; nothing was run."""


def _bytes(*args: object) -> bytes:
    """``bytes()`` (an empty array's data, at protocol 2); anything more is refused."""
    if args:
        raise RefusedGlobal("refused to call bytes() with arguments: not part of an array")
    return b""


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode(text, "latin1")``: how protocols 0-2 store bytes; no other codec."""
    if not isinstance(text, str) or str(encoding).lower().replace("-", "") != "latin1":
        raise RefusedGlobal(f"refused to encode with {encoding!r}: not part of an array")
    return text.encode("latin1")


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> object:
        if module in _BUILTINS and name == "bytes":
            return _bytes
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        for old, new in _OLD_NAMES.items():
            if module == old or module.startswith(f"{old}."):
                module = new + module[len(old) :]
        if (module, name) not in _ARRAY_GLOBALS:
            raise RefusedGlobal(f"refused to load {module}.{name}: not part of an array")
        if not hasattr(np, "_core"):  # numpy 1 reads numpy 2's names under their old ones
            module = module.replace("numpy._core", "numpy.core")
        return super().find_class(module, name)


def unpickle(stream: IO[bytes]) -> object:
    """One object from ``stream``, rebuilt by ``ArrayUnpickler`` (bytes of Python 2 as latin-1)."""
    return ArrayUnpickler(stream, encoding="latin-1").load()
