"""The training pieces the tutorial introduces with validation (stage 08) and uses from then on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

Batch = tuple[torch.Tensor, torch.Tensor]
Log = Callable[[list[float], float, float], None]


def accuracy(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose highest score is the true label."""
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


def loss_batch(
    model: Callable, loss_func: Callable, xb: torch.Tensor, yb: torch.Tensor, opt=None
) -> tuple[float, int]:
    """Loss on one batch, and one optimisation step when ``opt`` is given."""
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def evaluate(
    model: Callable, loss_func: Callable, valid_dl: Iterable[Batch]
) -> tuple[float, float]:
    """Loss and accuracy over every batch of ``valid_dl``, weighted by batch size."""
    if isinstance(model, nn.Module):
        model.eval()
    total_loss = total_correct = 0.0
    count = 0
    with torch.no_grad():
        for xb, yb in valid_dl:
            out = model(xb)
            total_loss += loss_func(out, yb).item() * len(xb)
            total_correct += accuracy(out, yb).item() * len(xb)
            count += len(xb)
    return total_loss / count, total_correct / count


def fit(
    epochs: int,
    model: nn.Module,
    loss_func: Callable,
    opt: torch.optim.Optimizer,
    train_dl: Iterable[Batch],
    valid_dl: Iterable[Batch],
    log: Log | None = None,
) -> None:
    """Train for ``epochs``, scoring the whole validation set before training and after each epoch.

    ``log(train_losses, valid_loss, valid_acc)`` receives each score; the first call, with no
    training losses, describes the untrained model.
    """
    if log is not None:
        log([], *evaluate(model, loss_func, valid_dl))
    for _ in range(epochs):
        model.train()
        losses = [loss_batch(model, loss_func, xb, yb, opt)[0] for xb, yb in train_dl]
        valid_loss, valid_acc = evaluate(model, loss_func, valid_dl)
        if log is not None:
            log(losses, valid_loss, valid_acc)


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
