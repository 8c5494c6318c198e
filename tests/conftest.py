"""Shared fixtures: the built-in digits, made once per test session, and a data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnreally.data import Data, load_digits


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the digits cache, so subprocesses skip generating them."""
    folder = tmp_path_factory.mktemp("data")
    load_digits(folder)
    return folder


@pytest.fixture(scope="session")
def digits(data_dir: Path) -> Data:
    return load_digits(data_dir)


@pytest.fixture(autouse=True)
def _isolated_data(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the default data folder at the session's, so no test writes into the checkout."""
    monkeypatch.setenv("NNREALLY_DATA", str(data_dir))


def run_cli(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """``python -m nnreally.stages ARGS`` in a subprocess, as a user would type it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
    return subprocess.run(
        [sys.executable, "-m", "nnreally.stages", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        **kwargs,
    )
