"""Shared fixtures: the built-in digits, made once per test session, and stage runs."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from nnreally.data import Data, load_digits
from nnreally.options import Output, Training
from nnreally.registry import find
from nnreally.run import Run
from nnreally.runner import run_stage


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding the digits cache, so subprocesses skip generating them."""
    folder = tmp_path_factory.mktemp("data")
    load_digits(folder)
    return folder


@pytest.fixture(scope="session")
def digits(data_dir: Path) -> Data:
    return load_digits(data_dir)


# Chinese text, told by its characters (CJK unified ideographs and extension A).
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
WORDS_PER_CJK = 3  # a Chinese narrative has at least one CJK character per 3 English words

# Nothing listens on the discard port: a download that a test did not arrange is refused at once.
CLOSED_URL = "http://127.0.0.1:9/mnist.pkl.gz"


@pytest.fixture(autouse=True)
def _isolated_data(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests off the checkout's data/ folder and off the internet, and in English."""
    monkeypatch.setenv("NNREALLY_DATA", str(data_dir))
    monkeypatch.setenv("NNREALLY_MNIST_URL", CLOSED_URL)
    for name in ("NNREALLY_LANG", "LC_ALL", "LC_MESSAGES"):  # a reader's Chinese locale
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def train(number: str, data: Data, **training) -> Run:
    """Run one stage file in this process (seeded, quiet), on ``data``, with these options."""
    return run_stage(
        find(number), Training(**training), Output(quiet=True), out=io.StringIO(), data=data
    )


# The threshold trainings' share of the digits: 20,000 training images (all 10,000 to validate)
# train a CNN stage to half the loss it starts at, in 5 s here where all 50,000 take 13 s.
TRAINED_ON = 20_000


@pytest.fixture(scope="session")
def trained(digits: Data) -> Callable[[str], Run]:
    """Each stage trained once per session with its defaults on the first ``TRAINED_ON``
    training digits, shared by the tests that read it."""
    return cache(lambda number: train(number, digits.head(TRAINED_ON)))


def run_cli(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """``python -m nnreally.stages ARGS`` in a subprocess, as a user would type it."""
    return run_python("-m", "nnreally.stages", *args, timeout=timeout, **kwargs)


def run_python(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """``python ARGS`` in a subprocess, with the fixtures' environment."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
        **kwargs,
    )


BOOK_FIXTURES = {"built", "en", "zh"}  # tests/test_book.py: a whole book, all 14 stages trained


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that reads the whole book is slow, wherever it is, whether or not it says so:
    ``-m "not slow"`` trains no book."""
    for item in items:
        if BOOK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
