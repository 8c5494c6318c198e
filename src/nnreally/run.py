"""One run of a stage: its settings, its data, and the record of every epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import torch
import torch.nn.functional as F

from nnreally.data import Data
from nnreally.distributed import group_of_one
from nnreally.train import evaluate

BS = 64  # the tutorial's batch size
EPOCHS = 2  # the tutorial's epoch count
SEED = 0
DEVICES = ("auto", "cpu", "cuda", "mps")


class DivergedError(Exception):
    """The loss stopped being a finite number."""


class DeviceError(Exception):
    """A device that was asked for and is not there."""


@dataclass(frozen=True)
class Epoch:
    """Scores after one epoch; epoch 0 is the untrained model."""

    epoch: int
    train_loss: float | None  # mean of the epoch's batch losses; None for epoch 0
    valid_loss: float
    valid_acc: float
    seconds: float  # wall time of the epoch, validation included


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; a named device must exist."""
    has_mps = torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    elif name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda: no CUDA device is available to this PyTorch")
    elif name == "mps" and not has_mps:
        raise DeviceError("--device mps: no Apple MPS device is available to this PyTorch")
    return torch.device(name)


@dataclass
class Run:
    """What a stage gets from outside: settings, data, device; it reports each epoch back."""

    data: Data
    lr: float
    bs: int = BS
    epochs: int = EPOCHS
    seed: int = SEED
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    cuda_graph: bool = False  # stage 13: replay each training step as a captured CUDA graph
    on_epoch: Callable[[Epoch], None] | None = None
    history: list[Epoch] = field(default_factory=list)
    batch_losses: list[float] = field(default_factory=list)  # every training batch, for plots
    model: Callable | None = None  # the trained model, once the stage has run
    _mark: float = field(default_factory=time.perf_counter, repr=False)

    def valid_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The whole validation set in batches of ``2 * bs``, for stages that have no loader yet."""
        size = 2 * self.bs
        x, y = self.data.x_valid, self.data.y_valid
        return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]

    def score(self, model: Callable, losses: list[float] = ()) -> None:
        """Score a model that takes flat images on the whole validation set, then log it.

        Cross-entropy scores every stage alike: for stage 01, whose model already returns
        log-probabilities, it equals the hand-written negative log-likelihood.
        """
        self.log(list(losses), *evaluate(model, F.cross_entropy, self.valid_batches()))

    def log(self, losses: list[float], valid_loss: float, valid_acc: float) -> None:
        """Record one epoch (the first call is epoch 0, the untrained model)."""
        now = time.perf_counter()
        train_loss = sum(losses) / len(losses) if losses else None
        entry = Epoch(len(self.history), train_loss, valid_loss, valid_acc, now - self._mark)
        for value in (train_loss, valid_loss):
            if value is not None and not math.isfinite(value):
                raise DivergedError(
                    f"loss became {value} in epoch {entry.epoch} with lr {self.lr}; "
                    "try a smaller --lr"
                )
        self.history.append(entry)
        self.batch_losses.extend(losses)
        if self.on_epoch is not None:
            self.on_epoch(entry)
        self._mark = time.perf_counter()

    @property
    def train_seconds(self) -> float:
        """Wall time of the training epochs (epoch 0's scoring excluded)."""
        return sum(e.seconds for e in self.history[1:])


@cache
def warm_up() -> None:
    """Pay PyTorch's one-off costs before any clock starts.

    The first optimizer a process builds imports ``torch._dynamo`` lazily (about a second on a
    small CPU); without this, whichever stage ran first would look that much slower.
    """
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)


def train_stage(main: Callable[[Run], Callable], run: Run) -> Run:
    """Seed, then call a stage's ``main``; the run's history and model hold the result.

    Outside torchrun, the stage sees the environment of a process group of one, so stage 14
    runs alone like any other stage.
    """
    warm_up()
    torch.manual_seed(run.seed)
    run._mark = time.perf_counter()
    with group_of_one():
        run.model = main(run)
    if not run.history:
        raise RuntimeError(f"{main.__module__}.main logged no epoch")
    return run
