"""Reading data: the tutorial's pickle (safely), IDX folders, and every way they can be wrong."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from nnreally.data import DataError, load_data
from nnreally.data.files import read_idx, read_idx_dir, read_pickle

RNG = np.random.default_rng(0)


def write_pickle(path: Path, content: object, protocol: int = 2) -> Path:
    with gzip.open(path, "wb") as f:
        pickle.dump(content, f, protocol=protocol)
    return path


def tutorial_layout(n_train: int = 120, n_valid: int = 40) -> tuple:
    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        return RNG.random((n, 784), dtype=np.float32), RNG.integers(0, 10, n).astype(np.int64)

    return split(n_train), split(n_valid), split(10)


class RunsACommand:
    """A pickle payload that would create a file if it were ever unpickled naively."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_tutorial_pickle_round_trip(tmp_path: Path, protocol: int):
    content = tutorial_layout()
    data = read_pickle(write_pickle(tmp_path / "m.pkl.gz", content, protocol))
    (x_train, _), (_, y_valid), _ = content
    assert torch.equal(data.x_train, torch.from_numpy(x_train))
    assert torch.equal(data.y_valid, torch.from_numpy(y_valid))
    assert data.x_valid.dtype == torch.float32
    assert data.y_train.dtype == torch.int64


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path: Path):
    marker = tmp_path / "pwned"
    path = write_pickle(tmp_path / "evil.pkl.gz", ((RunsACommand(marker), None), None, None))
    with pytest.raises(DataError, match=r"refused to load (posix|os)\.system"):
        read_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("just a string", "not the tutorial's layout"),
        (((np.zeros((5, 100), np.float32), np.zeros(5, np.int64)),) * 3, r"shape \(5, 100\)"),
        (((np.zeros((5, 784), np.float32), np.zeros(4, np.int64)),) * 3, "5 images but labels"),
        (((np.zeros((5, 784), np.float32), np.full(5, 10)),) * 3, "labels must be integers 0-9"),
        (((np.full((5, 784), 3.0, np.float32), np.zeros(5, np.int64)),) * 3, r"floats in \[0, 1\]"),
        (((np.zeros((5, 784), np.float32), [0] * 5),) * 3, "expected numpy arrays"),
    ],
    ids=["not-a-tuple", "wrong-width", "count-mismatch", "label-range", "pixel-range", "lists"],
)
def test_wrong_layout_is_named(tmp_path: Path, content: object, message: str):
    with pytest.raises(DataError, match=message):
        read_pickle(write_pickle(tmp_path / "bad.pkl.gz", content))


def test_not_gzip_is_named(tmp_path: Path):
    path = tmp_path / "page.pkl.gz"
    path.write_text("<!DOCTYPE html><html>Not Found</html>")
    with pytest.raises(
        DataError, match=r"page\.pkl\.gz: an HTML page .*, not the tutorial's pickle"
    ):
        read_pickle(path)


def test_truncated_pickle_is_named(tmp_path: Path):
    path = write_pickle(tmp_path / "m.pkl.gz", tutorial_layout())
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=r"m\.pkl\.gz"):
        read_pickle(path)


def write_idx(path: Path, array: np.ndarray, shape: tuple[int, ...] | None = None) -> Path:
    shape = array.shape if shape is None else shape
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
    return path


def idx_folder(folder: Path, n: int = 10_100) -> Path:
    folder.mkdir(exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", RNG.integers(0, 256, (n, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", RNG.integers(0, 10, n))
    return folder


def test_idx_folder_is_split_like_the_pickle(tmp_path: Path):
    data = read_idx_dir(idx_folder(tmp_path / "idx"))
    assert data.x_train.shape == (100, 784)
    assert data.x_valid.shape == (10_000, 784)
    assert float(data.x_train.max()) <= 1.0
    raw = read_idx(tmp_path / "idx" / "train-images-idx3-ubyte.gz")
    assert torch.equal(data.x_valid[0], torch.from_numpy(raw[100].reshape(784) / np.float32(255)))


def test_idx_header_that_lies_is_named(tmp_path: Path):
    path = write_idx(tmp_path / "x.gz", np.zeros((3, 28, 28)), shape=(4, 28, 28))
    with pytest.raises(DataError, match=r"header says \(4, 28, 28\)"):
        read_idx(path)


def test_idx_bad_magic_is_named(tmp_path: Path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\x12\x34\x08\x01" + b"\0" * 8))
    with pytest.raises(DataError, match="bad magic number"):
        read_idx(path)


def test_idx_images_and_labels_must_agree(tmp_path: Path):
    folder = idx_folder(tmp_path / "idx")
    write_idx(folder / "train-labels-idx1-ubyte.gz", RNG.integers(0, 10, 10_050))
    with pytest.raises(DataError, match="10,100 images but 10,050 labels"):
        read_idx_dir(folder)


def test_auto_without_mnist_falls_back_with_a_note(tmp_path: Path, digits):
    data = load_data("auto", tmp_path)  # conftest points the MNIST URL at a closed port
    assert data.name == "digits"
    assert "using the built-in digits" in data.note
    assert len(data.note.replace(str(tmp_path), "")) < 130  # short; the README says the rest
    assert "(connection refused)" in data.note
    assert "python -m nnreally.data download" in data.note
    assert torch.equal(data.x_valid, digits.x_valid)


def test_missing_sources_are_named(tmp_path: Path):
    with pytest.raises(DataError, match="no such data source"):
        load_data(str(tmp_path / "nope.pkl.gz"), tmp_path)


def test_head_limits_training_samples_only(digits):
    small = digits.head(100)
    assert len(small.x_train) == len(small.y_train) == 100
    assert len(small.x_valid) == len(digits.x_valid)
