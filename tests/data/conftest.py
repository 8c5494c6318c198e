"""The data tests make only the few digits each one needs, so they need no 60,000 made first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from nnreally.data import digits_cache
from nnreally.data.dataset import CLASSES, LEVELS, N_TRAIN, N_VALID, PIXELS

POSIX = pytest.mark.skipif(os.name != "posix", reason="symlinks, FIFOs and process ids as on POSIX")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty data folder, in place of the suite's one with the full digits cache."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def stand_in_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``digits`` folder whose default-size cache holds random images: none to generate.

    Link it into a data folder where a test needs the built-in digits at their full size only
    as a source to fall back on (``auto`` offline), not as digits.
    """
    folder = tmp_path_factory.mktemp("stand-in")
    gen = torch.Generator().manual_seed(0)

    def images(n: int) -> torch.Tensor:
        return torch.randint(0, LEVELS + 1, (n, PIXELS), generator=gen).float() / LEVELS

    def labels(n: int) -> torch.Tensor:
        return torch.randint(0, CLASSES, (n,), generator=gen)

    path = digits_cache.cache_path(folder)
    assert (
        digits_cache.save(path, images(N_TRAIN), labels(N_TRAIN), images(N_VALID), labels(N_VALID))
        is None
    )
    return path.parent


@pytest.fixture
def offline_digits(tmp_path: Path, stand_in_digits: Path) -> Path:
    """``tmp_path`` as a data folder whose digits are the stand-in ones; returns ``tmp_path``."""
    (tmp_path / digits_cache.FOLDER).symlink_to(stand_in_digits, target_is_directory=True)
    return tmp_path
