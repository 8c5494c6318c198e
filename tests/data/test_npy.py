"""``.npy`` and ``.npz``: numpy's own files, read without ``np.load``'s pickle."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnreally.data import DataError
from nnreally.data.files import read_file
from nnreally.data.npy import read_npy
from tests.data.makers import split, tutorial_layout


def npy(array: np.ndarray, **kwargs) -> bytes:
    out = io.BytesIO()
    np.save(out, array, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=">i4").reshape(3, 4),
        np.asfortranarray(np.ones((3, 5))),
        np.zeros((0, 7)),
    ],
    ids=["big-endian", "fortran", "empty"],
)
def test_numeric_arrays_round_trip(array: np.ndarray):
    data = npy(array)
    read = read_npy(io.BytesIO(data), len(data), "a.npy")
    assert read.dtype == array.dtype
    assert np.array_equal(read, array)


@pytest.mark.parametrize("version", [(2, 0), (3, 0)])
def test_npy_versions_2_and_3(version: tuple[int, int]):
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = io.BytesIO()
    np.lib.format.write_array(out, array, version=version)
    read = read_npy(io.BytesIO(out.getvalue()), len(out.getvalue()), "a.npy")
    assert np.array_equal(read, array)


def test_header_claiming_more_than_the_file_is_named():
    data = npy(np.zeros((10, 784), np.float32))
    with pytest.raises(
        DataError, match=r"a\.npy: the header says \(10, 784\) of float32 = 31,360 bytes, more"
    ):
        read_npy(io.BytesIO(data[:-1]), len(data) - 1, "a.npy")


def test_object_array_of_the_tutorial_layout(tmp_path: Path):
    """``np.save`` of the tutorial's tuple: an object array, pickled after the header."""
    content = tutorial_layout(30, 10)
    path = tmp_path / "mnist.npy"
    path.write_bytes(npy(np.array(content, dtype=object), allow_pickle=True))
    data = read_file(path)
    assert torch.equal(data.x_train, torch.from_numpy(content[0][0]))
    assert torch.equal(data.y_valid, torch.from_numpy(content[1][1]))


def test_one_numeric_array_is_named(tmp_path: Path):
    path = tmp_path / "x.npy"
    path.write_bytes(npy(np.zeros((30, 784), np.float32)))
    with pytest.raises(DataError, match=r"it holds one array of shape \(30, 784\)"):
        read_file(path)


def savez(path: Path, compressed: bool = False, **arrays) -> Path:
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


@pytest.mark.parametrize("compressed", [False, True], ids=["savez", "savez_compressed"])
def test_npz_of_the_four_arrays(tmp_path: Path, compressed: bool):
    (xt, yt), (xv, yv) = split(30), split(10)
    path = savez(
        tmp_path / "m.npz",
        compressed,
        x_train=xt,
        y_train=yt.astype(np.uint8),
        x_valid=xv,
        y_valid=yv,
    )
    data = read_file(path)
    assert torch.equal(data.x_train, torch.from_numpy(xt))
    assert torch.equal(data.y_train, torch.from_numpy(yt))
    assert torch.equal(data.x_valid, torch.from_numpy(xv))


def test_npz_of_train_and_test_as_keras_saves_mnist(tmp_path: Path):
    images = np.random.default_rng(0).integers(0, 256, (60, 28, 28), dtype=np.uint8)
    labels = np.arange(60, dtype=np.uint8) % 10
    path = savez(
        tmp_path / "mnist.npz",
        True,
        x_train=images,
        y_train=labels,
        x_test=images[:6],
        y_test=labels[:6],
    )
    data = read_file(path)
    assert (len(data.x_train), len(data.x_valid)) == (50, 10)  # the last sixth validates
    assert torch.equal(
        data.x_valid, torch.from_numpy(images[50:].reshape(10, 784) / np.float32(255))
    )


def test_npz_without_the_names_says_them(tmp_path: Path):
    path = savez(tmp_path / "m.npz", images=np.zeros(3), labels=np.zeros(3))
    with pytest.raises(DataError) as caught:
        read_file(path)
    assert str(caught.value) == (
        f"{path}: an .npz of images.npy, labels.npy; the data needs arrays named x_train, "
        "y_train, x_valid, y_valid (or just x_train, y_train)"
    )


def test_npz_member_cut_short_is_named(tmp_path: Path):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", npy(np.zeros((5, 784), np.float32))[:-10])
        archive.writestr("y_train.npy", npy(np.zeros(5, np.int64)))
    with pytest.raises(DataError, match=rf"{path} \(x_train\.npy\): the header says"):
        read_file(path)
