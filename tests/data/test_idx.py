"""IDX files and folders: MNIST's format as published, as Kaggle names it, as others write it."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest
import torch

from nnreally.data import DataError
from nnreally.data.idx import read_idx, read_idx_dir
from tests.data.makers import idx_bytes, idx_folder, tutorial_layout, write_idx, write_pickle

RNG = np.random.default_rng(5)


def folder_of(
    folder: Path, images: np.ndarray, labels: np.ndarray, names=None, pack=gzip.compress
) -> Path:
    folder.mkdir(exist_ok=True)
    names = names or ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    (folder / names[0]).write_bytes(pack(idx_bytes(images)))
    (folder / names[1]).write_bytes(pack(idx_bytes(labels)))
    return folder


def test_training_set_is_split_on_its_last_sixth(tmp_path: Path):
    images = RNG.integers(0, 256, (1_200, 28, 28), dtype=np.uint8)
    labels = RNG.integers(0, 10, 1_200, dtype=np.uint8)
    data = read_idx_dir(folder_of(tmp_path / "idx", images, labels))
    assert (len(data.x_train), len(data.x_valid)) == (1_000, 200)
    expected = torch.from_numpy(images.reshape(-1, 784) / np.float32(255))
    assert torch.equal(torch.cat([data.x_train, data.x_valid]), expected)
    assert torch.equal(
        torch.cat([data.y_train, data.y_valid]), torch.from_numpy(labels.astype(np.int64))
    )


def test_small_and_odd_sizes_both_train_and_validate(tmp_path: Path):
    """A set of 1,000 and 200 test images, and one of 10,001, once refused, now read."""
    folder = idx_folder(tmp_path / "idx", n=1_000)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", RNG.integers(0, 256, (200, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", RNG.integers(0, 10, 200))
    data = read_idx_dir(folder)
    assert (len(data.x_train), len(data.x_valid)) == (834, 166)
    data = read_idx_dir(idx_folder(tmp_path / "big", n=10_001))
    assert (len(data.x_train), len(data.x_valid)) == (8_335, 1_666)


@pytest.mark.parametrize(
    ("names", "pack"),
    [
        (("train-images.idx3-ubyte", "train-labels.idx1-ubyte"), bytes),  # Kaggle's names
        (("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), bytes),  # torchvision's raw/
        (("train-images-idx3-ubyte.xz", "train-labels-idx1-ubyte.xz"), lzma.compress),
        (("train-images-idx3-ubyte.bz2", "train-labels-idx1-ubyte.bz2"), bz2.compress),
        (("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), bytes),  # named .gz, plain
    ],
    ids=["kaggle", "plain", "xz", "bzip2", "misnamed"],
)
def test_names_and_compressions(tmp_path: Path, names, pack):
    images = RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    data = read_idx_dir(
        folder_of(tmp_path / "idx", images, (np.arange(12) % 10).astype(np.uint8), names, pack)
    )
    assert torch.equal(
        data.x_valid, torch.from_numpy(images[10:].reshape(-1, 784) / np.float32(255))
    )


@pytest.mark.parametrize("dtype", ["i1", ">i2", ">i4", ">f4", ">f8"])
def test_other_idx_element_types(tmp_path: Path, dtype: str):
    images = RNG.integers(0, 128, (6, 28, 28)).astype(dtype)
    if images.dtype.kind == "f":
        images = images / 127
    data = read_idx_dir(folder_of(tmp_path / "idx", images, (np.arange(6) % 10).astype(dtype)))
    assert torch.allclose(
        data.x_train,
        torch.from_numpy(
            images[:5].reshape(5, 784).astype(np.float32) / (1 if images.dtype.kind == "f" else 255)
        ),
    )


def test_idx_header_that_lies_is_named(tmp_path: Path):
    path = write_idx(tmp_path / "x.gz", np.zeros((3, 28, 28)), shape=(4, 28, 28))
    with pytest.raises(
        DataError, match=r"header says \(4, 28, 28\) = 3,136 bytes, file holds 2,352"
    ):
        read_idx(path)


def test_idx_header_claiming_a_huge_file_allocates_nothing(tmp_path: Path):
    path = write_idx(tmp_path / "x.gz", np.zeros((3, 28, 28)), shape=(2**31, 2**31, 2**31))
    with pytest.raises(DataError, match=r"file holds 2,352"):
        read_idx(path)


def test_idx_bad_magic_is_named(tmp_path: Path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\x12\x34\x08\x01" + b"\0" * 8))
    with pytest.raises(DataError, match=r"bad magic number 12340801"):
        read_idx(path)


def test_html_in_place_of_an_idx_file(tmp_path: Path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"<!DOCTYPE html><html>Not Found</html>")
    with pytest.raises(DataError, match=r"x\.gz: an HTML page .*, not an IDX file$"):
        read_idx(path)


def test_empty_idx_file(tmp_path: Path):
    (tmp_path / "empty.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.gz: the file is empty"):
        read_idx(tmp_path / "empty.gz")


def test_idx_images_and_labels_must_agree(tmp_path: Path):
    folder = idx_folder(tmp_path / "idx")
    write_idx(folder / "train-labels-idx1-ubyte.gz", RNG.integers(0, 10, 100))
    with pytest.raises(DataError, match="120 images but 100 labels"):
        read_idx_dir(folder)


def test_bad_label_in_an_idx_file_is_named(tmp_path: Path):
    folder = idx_folder(tmp_path / "idx")
    labels = RNG.integers(0, 10, 120)
    labels[43] = 11
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: label 43 is 11"):
        read_idx_dir(folder)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: raw[: len(raw) // 2], "the file is cut short"),
        (lambda raw: raw[:100] + bytes(b ^ 0x55 for b in raw[100:200]) + raw[200:], "damaged gzip"),
    ],
    ids=["truncated-gzip", "damaged-gzip"],
)
def test_damaged_idx_gzip_is_named(tmp_path: Path, damage, message: str):
    path = write_idx(tmp_path / "x.gz", RNG.integers(0, 256, (50, 28, 28)))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=rf"x\.gz: {message}"):
        read_idx(path)


def test_folder_without_idx_files_says_what_it_needs(tmp_path: Path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_pickle(folder / "mnist.pkl.gz", tutorial_layout(30, 10))
    with pytest.raises(DataError) as caught:
        read_idx_dir(folder)
    assert str(caught.value) == (
        f"{folder}: no train-images-idx3-ubyte.gz here (an IDX folder needs "
        "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz); to use mnist.pkl.gz, "
        "pass the file itself"
    )


def test_folder_above_the_idx_files_points_to_them(tmp_path: Path):
    """torchvision keeps them in MNIST/raw/ under the root it is given."""
    idx_folder(tmp_path / "MNIST" / "raw")
    with pytest.raises(
        DataError, match=rf"; {tmp_path / 'MNIST' / 'raw'} has IDX files: pass that folder$"
    ):
        read_idx_dir(tmp_path)
