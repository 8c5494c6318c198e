"""The built-in digits: deterministic, MNIST-shaped, balanced, and neither trivial nor noise."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nnreally.data import Data, load_digits
from nnreally.data.digits import SIDE, digits, made, make_digits

N_TRAIN, N_VALID = 8_000, 2_000  # enough to learn from in a second or two


@pytest.fixture(scope="module")
def some_digits() -> Data:
    return load_digits(None, n_train=N_TRAIN, n_valid=N_VALID)


def test_same_seed_same_digits_other_seed_other_digits():
    x1, y1 = make_digits(300, seed=5)
    x2, y2 = make_digits(300, seed=5)
    x3, _ = make_digits(300, seed=6)
    assert torch.equal(x1, x2)
    assert torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_each_size_is_made_once_per_process():
    assert not made(123, 45)
    first = digits(123, 45)
    assert made(123, 45)
    assert all(a is b for a, b in zip(first, digits(123, 45), strict=True))


def test_shapes_types_and_range(some_digits: Data):
    x_train, y_train, x_valid, y_valid = some_digits
    assert x_train.shape == (N_TRAIN, SIDE * SIDE)
    assert x_valid.shape == (N_VALID, SIDE * SIDE)
    assert x_train.dtype == torch.float32
    assert y_train.dtype == torch.int64
    assert float(x_train.min()) >= 0.0
    assert float(x_train.max()) <= 1.0
    assert set(y_valid.unique().tolist()) == set(range(10))
    assert torch.allclose(x_train * 255, (x_train * 255).round(), atol=1e-3)  # 8 bits, as MNIST


def test_classes_are_balanced(some_digits: Data):
    counts = torch.bincount(some_digits.y_train, minlength=10)
    assert int(counts.min()) >= 0.95 * len(some_digits.y_train) / 10


def test_digits_are_centred_like_mnist(some_digits: Data):
    """MNIST centres each digit's centre of mass in the 28x28 frame."""
    images = some_digits.x_valid.view(-1, SIDE, SIDE)
    coords = torch.arange(SIDE, dtype=torch.float32)
    mass = images.sum(dim=(1, 2))
    rows = (images.sum(2) * coords).sum(1) / mass
    cols = (images.sum(1) * coords).sum(1) / mass
    assert abs(float(rows.mean()) - 13.5) < 1.0
    assert abs(float(cols.mean()) - 13.5) < 1.0
    border = torch.cat([images[:, :2], images[:, -2:]], dim=1)  # the top and bottom two rows
    assert float(border.mean()) < 0.1 * float(images.mean())  # background, as in MNIST


def test_logistic_regression_accuracy_in_band(some_digits: Data):
    """Learnable, but not so easy that a linear model reaches 100% (MNIST: about 92%).

    Stage 05's model and settings (lr 0.5, batches of 64, 2 epochs), on a fifth of the data.
    """
    torch.manual_seed(0)
    x_train, y_train, x_valid, y_valid = some_digits
    weights = torch.zeros(SIDE * SIDE, 10, requires_grad=True)
    bias = torch.zeros(10, requires_grad=True)
    opt = torch.optim.SGD([weights, bias], lr=0.5)
    for _ in range(2):
        for batch in torch.randperm(len(x_train)).split(64):
            loss = F.cross_entropy(x_train[batch] @ weights + bias, y_train[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    accuracy = float(((x_valid @ weights + bias).argmax(1) == y_valid).float().mean())
    assert 0.85 < accuracy < 0.97
