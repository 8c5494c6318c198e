"""One run of one stage as a plain record: what the runner returns and every other part reads.

The dispatcher prints a run's final line and JSON, the plots draw its history, the book lays
out what it showed, the benchmark times its model again, practice compares it with the
reference stage's, and the tests read its numbers. Nothing here runs, prints or changes a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from nnreally.data import Data
from nnreally.options import Training
from nnreally.registry import Stage


@dataclass(frozen=True)
class Epoch:
    """Scores after one epoch of training."""

    epoch: int  # 1 for the first epoch
    train_loss: float | None  # mean of the epoch's batch losses
    valid_loss: float
    valid_acc: float
    seconds: float  # wall time of the epoch, validation included

    def line(self) -> str:
        train = "-" if self.train_loss is None else f"{self.train_loss:.4f}"
        return (
            f"epoch {self.epoch}: train loss {train}, valid loss {self.valid_loss:.4f}, "
            f"valid acc {self.valid_acc:.2%} ({self.seconds:.2f} s)"
        )


@dataclass(frozen=True)
class Shown:
    """What a stage showed (a line of text or a PNG), and the line of the stage file that did."""

    line: int
    text: str = ""
    png: bytes = b""


@dataclass(frozen=True)
class Run:
    """What one run of a stage file did: its settings, data, epochs and what it showed."""

    stage: Stage | None
    training: Training = Training()  # the options it ran with
    settings: dict[str, object] = field(default_factory=dict)  # bs, lr, epochs, ... as run
    data: Data | None = None
    device: str = "cpu"
    history: tuple[Epoch, ...] = ()
    batch_losses: tuple[float, ...] = ()  # every training batch's loss, in order
    shown: tuple[Shown, ...] = ()
    untimed: dict[str, float] = field(default_factory=dict)  # one-off work apart from epochs
    variables: dict[str, object] = field(default_factory=dict)  # the stage's, once it ended
    ran_with: dict[str, object] = field(default_factory=dict)  # threads, cuDNN's settings
    launched: bool = False  # the processes torchrun started did the work, and reported it

    @property
    def name(self) -> str:
        return self.stage.label if self.stage else "this stage"

    @property
    def epochs(self) -> int:
        return int(self.settings.get("epochs", len(self.history)))  # type: ignore[arg-type]

    @property
    def train_seconds(self) -> float:
        return sum(e.seconds for e in self.history)

    @property
    def last(self) -> Epoch:
        return self.history[-1]

    def final_line(self) -> str:
        if not self.history:
            return f"{self.name} done: no epoch trained"
        valid = len(self.data.x_valid) if self.data else 0
        return (
            f"{self.name} done: valid loss {self.last.valid_loss:.4f}, accuracy "
            f"{self.last.valid_acc:.2%} on all {valid:,} validation images, "
            f"{self.train_seconds:.1f} s training"
        )

    def to_json(self) -> dict:
        """The JSON object for this run (``--json``)."""
        last = self.history[-1] if self.history else None
        return {
            "stage": self.stage.number if self.stage else None,
            "title": self.stage.title if self.stage else None,
            "data": self.data.name if self.data else None,
            "n_train": len(self.data.x_train) if self.data else 0,
            "n_valid": len(self.data.x_valid) if self.data else 0,
            "device": self.device,
            **{k: v for k, v in self.settings.items() if k in ("epochs", "bs", "lr")},
            "seed": self.training.seed,
            "valid_loss": last.valid_loss if last else None,
            "valid_acc": last.valid_acc if last else None,
            "train_seconds": self.train_seconds,
            "untimed_seconds": self.untimed,
            "history": [asdict(e) for e in self.history],
        }


def markdown_table(runs: Sequence[Run]) -> str:
    """The README's table of stages: what each changes and how it scored."""
    lines = [
        "| # | stage | what it changes | valid loss | valid acc | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.stage.number} | {r.stage.title} | {r.stage.summary} | {r.last.valid_loss:.4f} "
            f"| {r.last.valid_acc:.2%} | {r.train_seconds:.1f} |"
        )
    return "\n".join(lines)


def summary_table(runs: Sequence[Run]) -> str:
    """One row per stage; columns as wide as their widest entry, whatever the numbers."""
    head = ("stage", "title", "valid loss", "valid acc", "train s")
    rows = [head] + [
        (
            r.stage.number,
            r.stage.title,
            f"{r.last.valid_loss:.4f}",
            f"{r.last.valid_acc:.2%}",
            f"{r.train_seconds:.1f}",
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
