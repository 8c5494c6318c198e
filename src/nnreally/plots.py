"""Pictures, written as PNG files (matplotlib's Agg backend: no window, no display needed).

Each function takes what it draws and a path, writes one figure of a fixed pixel size, and
returns the path: sample digits, loss curves, a stage comparison, the ten weight images of a
logistic model and the first-layer filters of a CNN. Figures are built with matplotlib's
object API, not pyplot: no global state, no backend switched under a notebook's feet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from matplotlib.figure import Figure
from torch import nn

from nnreally.data.digits import SIDE
from nnreally.data.files import CLASSES, Data
from nnreally.lesson import Session

DPI = 100
WIDE = (8.0, 4.5)  # inches: 800 x 450 pixels at DPI
GRID = (8.0, 4.0)  # 800 x 400


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def plot_samples(data: Data, path: Path, rows: int = 4, cols: int = 10) -> Path:
    """The first training images with their labels, as the tutorial's ``imshow``, in a grid."""
    fig = Figure(figsize=GRID)
    axes = fig.subplots(rows, cols)
    for i, ax in enumerate(axes.flat):
        ax.imshow(data.x_train[i].view(SIDE, SIDE).numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(str(int(data.y_train[i])), fontsize=9, pad=2)
        ax.axis("off")
    fig.suptitle(f"{data.name}: first {rows * cols} training images and their labels", fontsize=10)
    return _save(fig, path)


def plot_losses(runs: list[tuple[str, Session]], path: Path, batches: bool = True) -> Path:
    """Validation loss per epoch (dots) for each run, and training loss per batch (faint)."""
    return _save(losses_figure(runs, batches), path)


def losses_figure(runs: list[tuple[str, Session]], batches: bool = True) -> Figure:
    """The loss curves as a figure (a notebook shows it as the cell's output)."""
    fig = Figure(figsize=WIDE, dpi=DPI)
    ax = fig.subplots()
    for label, run in runs:
        epochs = [e.epoch for e in run.history]
        valid = [e.valid_loss for e in run.history]
        (line,) = ax.plot(epochs, valid, "o-", label=f"{label} valid")
        if batches:
            per_epoch = max(1, len(run.batch_losses) // max(1, run.epochs))
            steps = [i / per_epoch for i in range(1, len(run.batch_losses) + 1)]
            ax.plot(steps, run.batch_losses, alpha=0.25, linewidth=0.8, color=line.get_color())
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss (log scale)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    what = "training loss per batch (faint) and " if batches else ""
    ax.set_title(f"{what}validation loss after each epoch")
    fig.tight_layout()
    return fig


def plot_comparison(runs: list[tuple[str, Session]], path: Path) -> Path:
    """Every stage's final validation loss side by side, accuracy written on each bar."""
    fig = Figure(figsize=WIDE)
    ax = fig.subplots()
    labels = [label for label, _ in runs]
    losses = [run.history[-1].valid_loss for _, run in runs]
    bars = ax.bar(labels, losses, color="#4c72b0")
    for bar, (_, run) in zip(bars, runs, strict=True):
        ax.annotate(
            f"{run.history[-1].valid_acc:.1%}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xlabel("stage")
    ax.set_ylabel("validation loss after training")
    ax.set_title("every stage, same data and seed: validation loss (accuracy above each bar)")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def logistic_weights(model: Callable) -> torch.Tensor | None:
    """A logistic model's weights as ten 28x28 images, or None if it has no such weights.

    Works for ``nn.Linear`` (10 x 784), a hand-made ``nn.Parameter`` (784 x 10) and the
    plain-function models of stages 01-02, which read ``weights`` from the stage's variables.
    """
    tensors = list(model.parameters()) if isinstance(model, nn.Module) else _read_by(model)
    for t in tensors:
        if t.shape == (CLASSES, SIDE * SIDE):
            return t.detach().cpu().view(CLASSES, SIDE, SIDE)
        if t.shape == (SIDE * SIDE, CLASSES):
            return t.detach().cpu().T.reshape(CLASSES, SIDE, SIDE)
    return None


def _read_by(function: Callable) -> list[torch.Tensor]:
    """The tensors a plain function reads: its closure's, and the globals its code names."""
    found = [c.cell_contents for c in getattr(function, "__closure__", None) or ()]
    code, variables = getattr(function, "__code__", None), getattr(function, "__globals__", {})
    if code is not None:
        found += [variables.get(name) for name in code.co_names]
    return [t for t in found if isinstance(t, torch.Tensor)]


def first_conv_filters(model: Callable) -> torch.Tensor | None:
    """The first ``Conv2d`` layer's kernels, shape (out, in, k, k), or None."""
    if isinstance(model, nn.Module):
        for layer in model.modules():
            if isinstance(layer, nn.Conv2d):
                return layer.weight.detach().cpu()
    return None


def plot_weights(weights: torch.Tensor, path: Path) -> Path:
    """Ten weight images: red pixels raise a class's score, blue ones lower it."""
    fig = Figure(figsize=GRID)
    axes = fig.subplots(2, 5)
    limit = float(weights.abs().max())
    for digit, ax in enumerate(axes.flat):
        ax.imshow(weights[digit].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"class {digit}", fontsize=9)
        ax.axis("off")
    fig.suptitle("learned weights per class (red: evidence for, blue: against)", fontsize=10)
    return _save(fig, path)


def plot_filters(filters: torch.Tensor, path: Path) -> Path:
    """The first convolution's kernels, one small image each."""
    n = filters.shape[0]
    cols = 8
    rows = -(-n // cols)
    fig = Figure(figsize=GRID)
    axes = fig.subplots(rows, cols)
    limit = float(filters.abs().max())
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(filters[i, 0].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"{i}", fontsize=8)
    fig.suptitle(
        f"first-layer filters ({filters.shape[-2]}x{filters.shape[-1]} kernels)", fontsize=10
    )
    return _save(fig, path)


def plot_model(model: Callable, path: Path) -> Path | None:
    """The picture that explains a trained model: weight images or filters (None if neither)."""
    weights = logistic_weights(model)
    if weights is not None:
        return plot_weights(weights, path)
    filters = first_conv_filters(model)
    if filters is not None:
        return plot_filters(filters, path)
    return None
