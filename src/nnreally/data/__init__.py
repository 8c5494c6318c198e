"""The data: ``x_train, y_train, x_valid, y_valid`` from MNIST, Fashion-MNIST, a file or digits.

``sources`` knows the named sources and the data folder, ``files`` reads the tutorial's pickle
and IDX files safely, ``download`` fetches and verifies, ``digits`` generates the offline set
and ``digits_cache`` keeps it; ``writes`` makes every write atomic and leaves nothing behind.
"""

from nnreally.data.download import DownloadError
from nnreally.data.files import Data, DataError
from nnreally.data.sources import (
    SYSTEM_FASHION,
    check_data_dir,
    default_data_dir,
    load_data,
    load_digits,
)

__all__ = [
    "SYSTEM_FASHION",
    "Data",
    "DataError",
    "DownloadError",
    "check_data_dir",
    "default_data_dir",
    "load_data",
    "load_digits",
]
