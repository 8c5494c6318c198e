"""What a notebook's last cell calls: train the stage defined above it, print, plot."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure

from nnreally.data import load_data
from nnreally.run import EPOCHS, Epoch, Run, resolve_device, train_stage


class Picture:
    """A figure a notebook shows as PNG, with no pyplot backend involved."""

    def __init__(self, fig: Figure) -> None:
        self.fig = fig

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png")
        return buffer.getvalue()


@dataclass
class NotebookRun(Run):
    """A run that can draw its own loss curves."""

    def figure(self) -> Picture:
        from nnreally.plots import losses_figure

        return Picture(losses_figure([("this stage", self)]))


def _print_epoch(e: Epoch) -> None:
    train = "-" if e.train_loss is None else f"{e.train_loss:.4f}"
    print(
        f"epoch {e.epoch}: train loss {train}, valid loss {e.valid_loss:.4f}, "
        f"valid acc {e.valid_acc:.2%} ({e.seconds:.2f} s)"
    )


def train_here(main: Callable, lr: float) -> NotebookRun:
    """Train a stage's ``main`` with its learning rate; the environment may shrink the run.

    ``NNREALLY_LIMIT`` (training samples), ``NNREALLY_EPOCHS`` and ``NNREALLY_SOURCE`` (the
    ``--data`` of the command line) let CI execute every notebook in seconds.
    """
    limit = os.environ.get("NNREALLY_LIMIT")
    data = load_data(os.environ.get("NNREALLY_SOURCE", "auto")).head(int(limit) if limit else None)
    if data.note:
        print(f"note: {data.note}")
    print(data.describe())
    epochs = int(os.environ.get("NNREALLY_EPOCHS", EPOCHS))
    run = NotebookRun(data, lr, epochs=epochs, device=resolve_device("auto"), on_epoch=_print_epoch)
    train_stage(main, run)
    last = run.history[-1]
    print(
        f"done: valid loss {last.valid_loss:.4f}, accuracy {last.valid_acc:.2%} "
        f"on all {len(data.x_valid):,} validation images"
    )
    return run
