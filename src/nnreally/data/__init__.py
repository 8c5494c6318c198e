"""The data: ``x_train, y_train, x_valid, y_valid`` from MNIST, Fashion-MNIST, a file or digits.

``sources`` knows the named sources and ``folder`` the data folder; ``files`` reads a data
file or folder by what its bytes are (``formats``), through ``unpickle``, ``npy`` and ``idx``,
into the arrays ``layout`` finds and ``dataset`` checks. ``download`` fetches and verifies
(``transfer`` for one URL, ``reasons`` for its failures, ``checksums`` for what is cached);
``digits`` generates the offline set and ``digits_cache`` keeps it; ``writes`` makes every
write atomic and leaves nothing behind.
"""

from __future__ import annotations

import importlib

from nnreally.errors import DataError

# Each name is imported from its module when it is first asked for, so that what only reads
# options (show, diff, a usage error) loads neither PyTorch nor matplotlib.
_HOMES = {
    "Data": "dataset",
    "DownloadError": "download",
    "check_data_dir": "folder",
    "data_dir_arg": "folder",
    "default_data_dir": "folder",
    "SYSTEM_FASHION": "sources",
    "load_data": "sources",
    "load_digits": "sources",
}
__all__ = [*_HOMES, "DataError"]


def __getattr__(name: str) -> object:
    """``nnreally.data.load_data`` and the rest, from their modules (imported on first use)."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
