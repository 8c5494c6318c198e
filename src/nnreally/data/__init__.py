"""The data: ``x_train, y_train, x_valid, y_valid`` from MNIST, Fashion-MNIST, a file or digits.

``sources`` knows the named sources and the data folder, ``files`` reads the tutorial's pickle
and IDX files safely, ``download`` fetches and verifies, ``digits`` generates the offline set.
"""

from nnreally.data.download import DownloadError
from nnreally.data.files import Data, DataError
from nnreally.data.sources import SYSTEM_FASHION, default_data_dir, load_data, load_digits

__all__ = [
    "SYSTEM_FASHION",
    "Data",
    "DataError",
    "DownloadError",
    "default_data_dir",
    "load_data",
    "load_digits",
]
