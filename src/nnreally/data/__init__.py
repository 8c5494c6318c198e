"""The data: ``x_train, y_train, x_valid, y_valid`` from MNIST, Fashion-MNIST, a file or digits.

``sources`` knows the named sources and ``folder`` the data folder; ``files`` reads a data
file or folder by what its bytes are (``formats``), through ``unpickle``, ``npy`` and ``idx``,
into the arrays ``layout`` finds and ``dataset`` checks. ``download`` fetches and verifies
(``transfer`` for one URL, ``reasons`` for its failures, ``checksums`` for what is cached);
``digits`` generates the offline set and ``digits_cache`` keeps it; ``writes`` makes every
write atomic and leaves nothing behind.
"""

from nnreally.data.dataset import Data, DataError
from nnreally.data.download import DownloadError
from nnreally.data.folder import check_data_dir, data_dir_arg, default_data_dir
from nnreally.data.sources import SYSTEM_FASHION, load_data, load_digits

__all__ = [
    "SYSTEM_FASHION",
    "Data",
    "DataError",
    "DownloadError",
    "check_data_dir",
    "data_dir_arg",
    "default_data_dir",
    "load_data",
    "load_digits",
]
