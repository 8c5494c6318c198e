"""Pictures: loss curves of runs (matplotlib, written as PNG files, no window)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt

from nnreally.run import Run

DPI = 100
SIZE = (8, 4.5)  # inches


def plot_losses(runs: list[tuple[str, Run]], path: Path) -> Path:
    """Training loss per batch (faint) and validation loss per epoch (dots) for each run."""
    fig, ax = plt.subplots(figsize=SIZE, dpi=DPI)
    for label, run in runs:
        batches_per_epoch = max(1, len(run.batch_losses) // max(1, run.epochs))
        steps = [i / batches_per_epoch for i in range(1, len(run.batch_losses) + 1)]
        (line,) = ax.plot(steps, run.batch_losses, alpha=0.3, linewidth=0.8)
        epochs = [e.epoch for e in run.history]
        valid = [e.valid_loss for e in run.history]
        ax.plot(epochs, valid, "o-", color=line.get_color(), label=f"{label} valid")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    ax.set_title("training loss per batch (faint) and validation loss per epoch")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
