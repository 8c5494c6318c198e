"""The named data sources and the data folder: ``load_data(source)`` by name or by path.

Named sources: ``mnist`` (the tutorial's pickle, else MNIST's IDX files, downloaded and verified
once into the data folder), ``fashion-mnist`` (Debian's copy, else downloaded), ``digits`` (the
built-in generated digits) and ``auto`` (MNIST if cached or downloadable, else the digits, with
a note). Anything else is a path: a ``.pkl.gz`` in the tutorial's layout or a folder of IDX files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch

from nnreally.data.digits import DIGITS_SEED, LEVELS, digits
from nnreally.data.download import DownloadError, Remote, fetch, is_verified
from nnreally.data.files import (
    IDX_FILES,
    N_TRAIN,
    N_VALID,
    Data,
    DataError,
    read_idx_dir,
    read_pickle,
)

DIGITS_VERSION = 1  # bump when the generator changes, so stale caches are not reused
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


def default_data_dir() -> Path:
    """``$NNREALLY_DATA`` if set, else ``data/`` under the current directory (as the tutorial)."""
    return Path(os.environ.get("NNREALLY_DATA", "data"))


def mnist_urls() -> tuple[str, ...] | None:
    """The one URL from ``$NNREALLY_MNIST_URL``, or None for the built-in mirror list."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    return (url,) if url else None


def cached_mnist(data_dir: Path) -> Data | None:
    """MNIST from the data folder if a verified copy (pickle or IDX) is there."""
    folder = data_dir / "mnist"
    if is_verified(folder / MNIST_PICKLE.filename, MNIST_PICKLE):
        return read_pickle(folder / MNIST_PICKLE.filename, name="mnist")
    if all(is_verified(folder / r.filename, r) for r in MNIST_IDX):
        return read_idx_dir(folder, name="mnist")
    return None


def get_mnist(data_dir: Path, progress: bool = False) -> Data:
    """MNIST, downloaded and verified first if the data folder has no good copy."""
    cached = cached_mnist(data_dir)
    if cached is not None:
        return cached
    folder = data_dir / "mnist"
    urls = mnist_urls()
    try:
        return read_pickle(fetch(MNIST_PICKLE, folder, urls=urls, progress=progress), "mnist")
    except DownloadError as pickle_error:
        if urls:  # the user chose one source: no fallback behind their back
            raise
        try:
            for remote in MNIST_IDX:
                fetch(remote, folder, progress=progress)
        except DownloadError as idx_error:
            raise DownloadError(
                f"{pickle_error} Then: {idx_error}", pickle_error.reasons + idx_error.reasons
            ) from None
    return read_idx_dir(folder, name="mnist")


def get_fashion(data_dir: Path, progress: bool = False) -> Data:
    """Fashion-MNIST: Debian's copy if installed, else downloaded and verified once."""
    if all((SYSTEM_FASHION / r.filename).is_file() for r in FASHION_IDX):
        return read_idx_dir(SYSTEM_FASHION, name="fashion-mnist")
    folder = data_dir / "fashion-mnist"
    for remote in FASHION_IDX:
        fetch(remote, folder, progress=progress)
    return read_idx_dir(folder, name="fashion-mnist")


def load_data(source: str = "auto", data_dir: Path | None = None, progress: bool = False) -> Data:
    """Load a named source or a path; see the module docstring."""
    data_dir = default_data_dir() if data_dir is None else Path(data_dir)
    if source == "digits":
        return load_digits(data_dir)
    if source == "mnist":
        return get_mnist(data_dir, progress)
    if source == "fashion-mnist":
        return get_fashion(data_dir, progress)
    if source == "auto":
        try:
            return get_mnist(data_dir, progress)
        except DownloadError as e:
            why = "; ".join(dict.fromkeys(e.reasons)) or str(e)  # each reason once
            note = (
                f"MNIST is not in {data_dir / 'mnist'} and could not be downloaded ({why}), "
                "so this run uses the built-in digits. To get MNIST: "
                "`python -m nnreally.data download` when online (--data mnist shows the details)"
            )
            return replace(load_digits(data_dir), note=note)
    path = Path(source)
    if path.is_dir():
        return read_idx_dir(path)
    if path.exists():
        return read_pickle(path)
    raise DataError(
        f"no such data source: {source!r} (use {', '.join(NAMED)}, a .pkl.gz file or an IDX folder)"
    )


def load_digits(data_dir: Path | None = None) -> Data:
    """The built-in digits, cached as bytes under ``data_dir/digits`` when it is writable."""
    cache = None if data_dir is None else data_dir / "digits" / f"digits-v{DIGITS_VERSION}.pt"
    if cache is not None and cache.exists():
        saved = torch.load(cache, weights_only=True)
        x_train, x_valid = (saved[k].float() / LEVELS for k in ("x_train", "x_valid"))
        y_train, y_valid = (saved[k].long() for k in ("y_train", "y_valid"))
    else:
        x_train, y_train, x_valid, y_valid = digits(N_TRAIN, N_VALID, DIGITS_SEED)
        if cache is not None:
            _save_quietly(cache, x_train, y_train, x_valid, y_valid)
    origin = f"built-in, generated from matplotlib's fonts, seed {DIGITS_SEED}"
    return Data("digits", origin, x_train, y_train, x_valid, y_valid)


def _save_quietly(path: Path, x_train, y_train, x_valid, y_valid) -> None:
    """Cache the digits as uint8; a folder we cannot write to only costs the cache."""
    as_bytes = {
        "x_train": (x_train * LEVELS).round().to(torch.uint8),
        "y_train": y_train.to(torch.uint8),
        "x_valid": (x_valid * LEVELS).round().to(torch.uint8),
        "y_valid": y_valid.to(torch.uint8),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(as_bytes, tmp)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
