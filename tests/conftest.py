"""Shared fixtures: the built-in digits, made once per test session, and a data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from nnreally.data import Data, load_digits
from nnreally.registry import find
from nnreally.run import Run, train_stage


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the digits cache, so subprocesses skip generating them."""
    folder = tmp_path_factory.mktemp("data")
    load_digits(folder)
    return folder


@pytest.fixture(scope="session")
def digits(data_dir: Path) -> Data:
    return load_digits(data_dir)


# Nothing listens on the discard port: a download that a test did not arrange is refused at once.
CLOSED_URL = "http://127.0.0.1:9/mnist.pkl.gz"


@pytest.fixture(autouse=True)
def _isolated_data(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests off the checkout's data/ folder and off the internet."""
    monkeypatch.setenv("NNREALLY_DATA", str(data_dir))
    monkeypatch.setenv("NNREALLY_MNIST_URL", CLOSED_URL)


def train(number: str, data: Data, **settings) -> Run:
    """Train one stage in this process, seeded, with its defaults unless ``settings`` say."""
    module = find(number).load()
    return train_stage(module.main, Run(data, settings.pop("lr", module.LR), **settings))


@pytest.fixture(scope="session")
def trained(digits: Data) -> Callable[[str], Run]:
    """Each stage trained once per session with the defaults, shared by the tests that read it."""
    return cache(lambda number: train(number, digits))


def run_cli(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """``python -m nnreally.stages ARGS`` in a subprocess, as a user would type it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}  # fixtures' vars too
    return subprocess.run(
        [sys.executable, "-m", "nnreally.stages", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        **kwargs,
    )
