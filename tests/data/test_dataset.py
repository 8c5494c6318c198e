"""``as_tensors`` and the split rule: each legitimate form of images and labels, each bad value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnreally.data.dataset import N_TRAIN, N_VALID, Data, as_tensors, split_sizes
from nnreally.errors import DataError
from tests.data.makers import split


def converted(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return as_tensors(x, y, "f (train)")


def test_floats_stay_and_labels_become_int64():
    x, y = split(20)
    images, labels = converted(x, y)
    assert images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert torch.equal(images, torch.from_numpy(x))
    assert torch.equal(labels, torch.from_numpy(y))


@pytest.mark.parametrize("dtype", ["u1", ">u2", "<i4", ">i8", "u8", "i2"])
def test_whole_numbers_of_any_dtype_are_grey_levels(dtype: str):
    levels = np.random.default_rng(0).integers(0, 256, (6, 784))
    images, _ = converted(levels.astype(dtype), np.arange(6))
    assert torch.equal(images, torch.from_numpy(levels.astype(np.float32) / np.float32(255)))


@pytest.mark.parametrize("dtype", ["f2", ">f4", "f8", ">f8"])
def test_floats_of_any_width_and_byte_order(dtype: str):
    x, y = split(5)
    images, _ = converted(x.astype(dtype), y)
    assert torch.allclose(images, torch.from_numpy(x), atol=1e-3)


@pytest.mark.parametrize("shape", [(784,), (28, 28), (1, 28, 28), (28, 28, 1)])
def test_image_shapes(shape: tuple[int, ...]):
    x, y = split(4)
    images, _ = converted(np.asfortranarray(x.reshape(4, *shape)), y)
    assert torch.equal(images, torch.from_numpy(x))


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", "u4", ">i8", "f4", "f8"])
def test_labels_of_any_whole_number_dtype(dtype: str):
    x, y = split(8)
    assert torch.equal(converted(x, y.astype(dtype))[1], torch.from_numpy(y))


def test_labels_one_hot_or_as_a_column():
    x, y = split(8)
    assert torch.equal(converted(x, np.eye(10, dtype=np.float32)[y])[1], torch.from_numpy(y))
    assert torch.equal(converted(x, y[:, None])[1], torch.from_numpy(y))


def test_binarised_images():
    x, y = split(3)
    images, _ = converted(x > 0.5, y)
    assert torch.equal(images, torch.from_numpy((x > 0.5).astype(np.float32)))


def with_value(where: tuple[int, int], value: float, dtype: str = "f4") -> np.ndarray:
    x = split(30)[0].astype(dtype)
    x[where] = value
    return x


BAD_IMAGES = {
    "nan": (with_value((7, 300), np.nan), r"image 7 has pixel 300 = nan"),
    "inf": (with_value((3, 5), np.inf), r"image 3 has pixel 5 = inf"),
    "negative": (with_value((0, 0), -0.5), r"image 0 has pixel 0 = -0.5"),
    "above-one": (with_value((29, 783), 1.5), r"image 29 has pixel 783 = 1.5; floats must be"),
    "float64-overflow": (with_value((4, 4), 1e300, "f8"), r"image 4 has pixel 4 = inf"),
    "level-256": (with_value((2, 9), 256, "i4"), r"image 2 has pixel 9 = 256; whole numbers"),
    "level-negative": (with_value((1, 1), -1, "i2"), r"image 1 has pixel 1 = -1"),
    "complex": (split(30)[0].astype("c8"), r"images are complex64"),
    "strings": (split(30)[0].astype("U3"), r"images are <U3"),
    "wrong-width": (np.zeros((30, 100), np.float32), r"images have shape \(30, 100\)"),
    "empty": (np.zeros((0, 784), np.float32), "holds no images"),
}


@pytest.mark.parametrize("case", BAD_IMAGES, ids=list(BAD_IMAGES))
def test_bad_images_are_named(case: str):
    x, message = BAD_IMAGES[case]
    with pytest.raises(DataError, match=rf"^f \(train\): {message}"):
        converted(x, np.zeros(len(x), np.int64))


BAD_LABELS = {
    "label-10": (np.full(30, 10), r"label 0 is 10; labels must be whole numbers 0-9"),
    "label-negative": (np.r_[np.zeros(2, int), -1, np.zeros(27, int)], r"label 2 is -1"),
    "fraction": (np.r_[np.zeros(5), 3.5, np.zeros(24)], r"label 5 is 3.5"),
    "nan": (np.full(30, np.nan), r"label 0 is nan"),
    "bool": (np.zeros(30, bool), r"labels are bool"),
    "count": (np.zeros(29, int), r"30 images but labels of shape \(29,\)"),
    "two-hot": (np.ones((30, 10)), r"30 images but labels of shape \(30, 10\)"),
}


@pytest.mark.parametrize("case", BAD_LABELS, ids=list(BAD_LABELS))
def test_bad_labels_are_named(case: str):
    y, message = BAD_LABELS[case]
    with pytest.raises(DataError, match=rf"^f \(train\): {message}"):
        converted(split(30)[0], y)


def test_the_split_rule_keeps_mnist_as_the_tutorial_has_it():
    assert split_sizes(N_TRAIN + N_VALID, "f") == (N_TRAIN, N_VALID)


@pytest.mark.parametrize("n", [2, 3, 7, 11, 12, 1_200, 10_001, 60_000, 123_457])
def test_the_split_rule_validates_on_the_last_sixth(n: int):
    n_train, n_valid = split_sizes(n, "f")
    assert n_train + n_valid == n
    assert min(n_train, n_valid) >= 1
    assert n_valid == max(1, n // 6)


def test_the_split_rule_needs_two_images():
    with pytest.raises(DataError, match=r"^f: 1 training image"):
        split_sizes(1, "f")


def test_head_limits_training_samples_only():
    x, y = converted(*split(50))
    data = Data("d", "here", x, y, x[:10], y[:10])
    small = data.head(20)
    assert len(small.x_train) == len(small.y_train) == 20
    assert len(small.x_valid) == 10
    assert data.head(None) is data
    assert small.describe() == "d: 20 train / 10 valid images (here)"
    assert [t.shape[0] for t in small] == [20, 20, 10, 10]
