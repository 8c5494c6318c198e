"""The named data sources: ``load_data(source)`` by name, or by path.

Named sources: ``mnist`` (the tutorial's pickle, else MNIST's IDX files, downloaded and verified
once into the data folder), ``fashion-mnist`` (Debian's copy, else downloaded), ``digits`` (the
built-in generated digits) and ``auto`` (MNIST if cached or downloadable, else the digits, with
a note). Anything else is a path: a data file (see ``files``) or a folder of IDX files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from nnreally.data.checksums import Remote, forget, is_verified
from nnreally.data.dataset import Data
from nnreally.data.digits_cache import load as load_digits
from nnreally.data.download import DownloadError, failure, fetch
from nnreally.data.files import FRESH_COPY, read_file, read_path
from nnreally.data.folder import FASHION, MNIST, SUBFOLDERS, check_data_dir, default_data_dir
from nnreally.data.idx import IDX_FILES, read_idx_dir
from nnreally.data.writes import sweep
from nnreally.errors import DataError

__all__ = ["check_data_dir", "default_data_dir", "load_data", "load_digits"]

URL_VARIABLE = "NNREALLY_MNIST_URL"  # one URL that replaces the MNIST mirror list

# The tutorial's file and its mirror; then MNIST's IDX files on PyTorch's dataset mirror.
MNIST_PICKLE = Remote(
    "mnist.pkl.gz",
    (
        "https://github.com/pytorch/tutorials/raw/main/_static/mnist.pkl.gz",
        "https://figshare.com/ndownloader/files/25635053",
    ),
    "md5",
    "a02cd19f81d51c426d7ca14024243ce9",
)


def _idx_set(
    base: str, algorithm: str, digests: Sequence[str], sizes: Sequence[int]
) -> tuple[Remote, ...]:
    """The four IDX files of a data set published at ``base``, with their checksums."""
    return tuple(
        Remote(f"{stem}.gz", (f"{base}{stem}.gz",), algorithm, digest, size)
        for stem, digest, size in zip(IDX_FILES, digests, sizes, strict=True)
    )


MNIST_IDX = _idx_set(
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "sha256",
    (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
    (9_912_422, 28_881, 1_648_877, 4_542),
)
# Fashion-MNIST's published location and checksums (github.com/zalandoresearch/fashion-mnist).
FASHION_IDX = _idx_set(
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "md5",
    (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
    (26_421_880, 29_515, 4_422_102, 5_148),
)
SYSTEM_FASHION = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
NAMED = ("auto", "mnist", "fashion-mnist", "digits")


def _read_cached(read: Callable[[], Data], files: Sequence[Path], name: str) -> Data:
    """Read files the cache had verified; if that fails they changed since: check them again."""
    try:
        return read()
    except DataError as e:
        for path in files:
            forget(path)  # the next look at them hashes them again
        what = str(e).removesuffix(f"; {FRESH_COPY}")
        raise DataError(
            f"{what}; this cached file had passed its checksum, so it was damaged since: "
            f"`python -m nnreally.data download {name}` replaces it "
            "(`python -m nnreally.data verify` checks the whole cache)"
        ) from None


def cached_mnist(data_dir: Path) -> Data | None:
    """MNIST from the data folder if a verified copy (pickle or IDX) is there."""
    folder = data_dir / MNIST
    pickle = folder / MNIST_PICKLE.filename
    if is_verified(pickle, MNIST_PICKLE):
        return _read_cached(lambda: read_file(pickle, name="mnist"), [pickle], "mnist")
    idx = [folder / r.filename for r in MNIST_IDX]
    if all(is_verified(path, r) for path, r in zip(idx, MNIST_IDX, strict=True)):
        return _read_cached(lambda: read_idx_dir(folder, name="mnist"), idx, "mnist")
    return None


def get_mnist(data_dir: Path, progress: bool, notes: list[str]) -> Data:
    """MNIST, downloaded and verified first if the data folder has no good copy.

    Files set aside on the way (a copy that failed its checksum) are named in ``notes``.
    """
    cached = cached_mnist(data_dir)
    if cached is not None:
        return cached
    folder = data_dir / MNIST
    url = os.environ.get(URL_VARIABLE, "").strip()
    urls = (url,) if url else None  # the user's one URL, or the built-in mirror list
    try:
        path = fetch(MNIST_PICKLE, folder, urls=urls, progress=progress, notes=notes)
    except DownloadError as pickle_error:
        if urls or not pickle_error.attempts:  # the user's one URL, or a local problem
            raise
        attempts = pickle_error.attempts
        try:
            for remote in MNIST_IDX:
                fetch(remote, folder, progress=progress, notes=notes)
        except DownloadError as idx_error:
            if not idx_error.attempts:
                raise
            attempts += idx_error.attempts
            aside = f" ({'; '.join(notes)})" if notes else ""
            raise DownloadError(
                f"{failure('MNIST', attempts)}{aside}. To place it by hand, save the tutorial's "
                f"{MNIST_PICKLE.filename} ({MNIST_PICKLE.algorithm} {MNIST_PICKLE.digest}) as "
                f"{folder / MNIST_PICKLE.filename}.",
                attempts,
            ) from None
        return read_idx_dir(folder, name="mnist")
    return read_file(path, "mnist")


def get_fashion(data_dir: Path, progress: bool, notes: list[str]) -> Data:
    """Fashion-MNIST: Debian's copy if installed, else downloaded and verified once."""
    if all((SYSTEM_FASHION / r.filename).is_file() for r in FASHION_IDX):
        return read_idx_dir(SYSTEM_FASHION, name="fashion-mnist")
    folder = data_dir / FASHION
    files = [folder / r.filename for r in FASHION_IDX]
    if all(is_verified(path, r) for path, r in zip(files, FASHION_IDX, strict=True)):
        return _read_cached(lambda: read_idx_dir(folder, "fashion-mnist"), files, "fashion-mnist")
    for remote in FASHION_IDX:
        fetch(remote, folder, progress=progress, notes=notes)
    return read_idx_dir(folder, name="fashion-mnist")


def load_data(source: str = "auto", data_dir: Path | None = None, progress: bool = False) -> Data:
    """Load a named source or a path; see the module docstring.

    ``progress`` shows downloads and the generation of the digits on stderr. Anything worth
    telling the user (a fallback, a file set aside, a cache remade) is in ``Data.note``.
    """
    data_dir = default_data_dir() if data_dir is None else Path(data_dir)
    if source not in NAMED:
        return read_path(source, hint=f" (use {', '.join(NAMED)}, a data file or an IDX folder)")
    check_data_dir(data_dir)
    for name in SUBFOLDERS:  # what killed writers left behind goes, whichever source is read
        sweep(data_dir / name)
    notes: list[str] = []
    if source == "digits":
        return load_digits(data_dir, progress)
    if source == "mnist":
        data = get_mnist(data_dir, progress, notes)
    elif source == "fashion-mnist":
        data = get_fashion(data_dir, progress, notes)
    else:
        try:
            data = get_mnist(data_dir, progress, notes)
        except DownloadError as e:
            why = "; ".join(dict.fromkeys(e.reasons)) or str(e)  # each reason once
            notes.append(  # short: --data mnist and the README's "Data" say the rest
                f"no MNIST in {data_dir / 'mnist'} and no download ({why}): using the built-in "
                "digits (python -m nnreally.data download gets MNIST)"
            )
            data = load_digits(data_dir, progress)
    return replace(data, note="\n".join([*notes, *filter(None, [data.note])]))
