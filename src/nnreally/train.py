"""What the stages wrote for later stages: their training pieces, kept here to be imported.

``accuracy`` is stage 01's, ``loss_batch``, ``fit`` and ``get_data`` are stage 08's and
``WrappedDataLoader`` is stage 11's. Each is the stage's own code with type hints and a
docstring added; ``tests/test_library.py`` checks that, those aside, it is the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from nnreally.lesson import report

Batch = tuple[torch.Tensor, torch.Tensor]


def accuracy(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose highest score is the true label (stage 01)."""
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


def loss_batch(
    model: Callable,
    loss_func: Callable,
    xb: torch.Tensor,
    yb: torch.Tensor,
    opt: torch.optim.Optimizer | None = None,
) -> tuple[float, int]:
    """Loss on one batch and the batch's size; one optimisation step when ``opt`` is given."""
    loss = loss_func(model(xb), yb)

    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()

    return loss.item(), len(xb)


def fit(
    epochs: int,
    model: nn.Module,
    loss_func: Callable,
    opt: torch.optim.Optimizer,
    train_dl: Iterable[Batch],
    valid_dl: Iterable[Batch],
) -> None:
    """Train for ``epochs``; after each, score the whole validation set and report the epoch."""
    for epoch in range(epochs):  # noqa: B007  (the tutorial's loop; fit reports, not the index)
        model.train()
        losses = [loss_batch(model, loss_func, xb, yb, opt)[0] for xb, yb in train_dl]

        model.eval()
        with torch.no_grad():
            scores = [
                (*loss_batch(model, loss_func, xb, yb), accuracy(model(xb), yb).item())
                for xb, yb in valid_dl
            ]
        val_losses, nums, accs = zip(*scores)  # noqa: B905  (transposes rows: no strict= needed)
        val_loss = np.sum(np.multiply(val_losses, nums)) / np.sum(nums)
        val_acc = np.sum(np.multiply(accs, nums)) / np.sum(nums)

        report(losses, val_loss, val_acc)


def get_data(train_ds: Dataset, valid_ds: Dataset, bs: int) -> tuple[DataLoader, DataLoader]:
    """Shuffled training batches of ``bs``; validation batches twice as big (no gradients kept)."""
    return (
        DataLoader(train_ds, batch_size=bs, shuffle=True),
        DataLoader(valid_ds, batch_size=bs * 2),
    )


class WrappedDataLoader:
    """A data loader whose batches pass through ``func`` (reshape, move to a device, ...)."""

    def __init__(self, dl: Iterable[Batch], func: Callable[..., Batch]) -> None:
        self.dl = dl
        self.func = func

    def __len__(self) -> int:
        return len(self.dl)

    def __iter__(self) -> Iterator[Batch]:
        for b in self.dl:
            yield self.func(*b)
