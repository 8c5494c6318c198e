"""The built-in digits: deterministic, MNIST-shaped, balanced, and neither trivial nor noise."""

from __future__ import annotations

import torch

from nnreally.data import Data, load_digits
from nnreally.data.digits import make_digits


def test_same_seed_same_digits_other_seed_other_digits():
    x1, y1 = make_digits(300, seed=5)
    x2, y2 = make_digits(300, seed=5)
    x3, _ = make_digits(300, seed=6)
    assert torch.equal(x1, x2)
    assert torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_shapes_types_and_range(digits: Data):
    x_train, y_train, x_valid, y_valid = digits
    assert x_train.shape == (50_000, 784)
    assert x_valid.shape == (10_000, 784)
    assert x_train.dtype == torch.float32
    assert y_train.dtype == torch.int64
    assert float(x_train.min()) >= 0.0
    assert float(x_train.max()) <= 1.0
    assert set(y_valid.unique().tolist()) == set(range(10))


def test_classes_are_balanced(digits: Data):
    counts = torch.bincount(digits.y_train, minlength=10)
    assert int(counts.min()) >= 0.95 * len(digits.y_train) / 10


def test_digits_are_centred_like_mnist(digits: Data):
    """MNIST centres each digit's centre of mass in the 28x28 frame."""
    images = digits.x_valid[:2000].view(-1, 28, 28)
    coords = torch.arange(28, dtype=torch.float32)
    mass = images.sum(dim=(1, 2))
    rows = (images.sum(2) * coords).sum(1) / mass
    cols = (images.sum(1) * coords).sum(1) / mass
    assert abs(float(rows.mean()) - 13.5) < 1.0
    assert abs(float(cols.mean()) - 13.5) < 1.0
    assert float(images[:, :2, :].mean()) < 0.01  # the border is background, as in MNIST


def test_cache_round_trip_is_exact(tmp_path, digits: Data):
    first = load_digits(tmp_path)
    assert (tmp_path / "digits").is_dir()
    cached = load_digits(tmp_path)
    for a, b, c in zip(first, cached, digits, strict=True):
        assert torch.equal(a, b)
        assert torch.equal(a, c)


def test_logistic_regression_accuracy_in_band(trained):
    """Learnable, but not so easy that a linear model reaches 100% (MNIST: about 92%)."""
    assert 0.85 < trained("05").history[-1].valid_acc < 0.97
