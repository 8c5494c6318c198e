"""One run of one stage as a plain record: what the runner returns and every other part reads.

The dispatcher prints a run's final line and JSON, the plots draw its history, the book lays
out what it showed, the benchmark times its model again, practice compares it with the
reference stage's, and the tests read its numbers. Nothing here runs, prints or changes a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING
from unicodedata import east_asian_width

from nnreally.options import Training
from nnreally.registry import Stage
from nnreally.texts import SOURCE, words

if TYPE_CHECKING:
    from nnreally.data import Data

CHANCE = math.log(10)  # the loss of a model that guesses among ten classes
NEAR_CHANCE = 2.2  # a final validation loss from here up has barely left chance


@dataclass(frozen=True)
class Epoch:
    """Scores after one epoch of training."""

    epoch: int  # 1 for the first epoch
    train_loss: float | None  # mean of the epoch's batch losses
    valid_loss: float
    valid_acc: float
    seconds: float  # wall time of the epoch, validation included

    def line(self, lang: str = SOURCE) -> str:
        """``epoch 1: train loss 0.5157, valid loss 0.2948, valid acc 90.55% (1.92 s)``."""
        return words(lang)(
            "run.epoch",
            epoch=self.epoch,
            train="-" if self.train_loss is None else f"{self.train_loss:.4f}",
            valid_loss=f"{self.valid_loss:.4f}",
            valid_acc=f"{self.valid_acc:.2%}",
            seconds=f"{self.seconds:.2f}",
        )


@dataclass(frozen=True)
class Shown:
    """What a stage showed (a line of text or a PNG), and the line of the stage file that did.

    A line of nnreally's own (an epoch's scores, the data, the settings) is kept in every
    language too, so that the book's Chinese page shows it in Chinese whatever the run spoke.
    """

    line: int
    text: str = ""
    png: bytes = b""
    in_languages: dict[str, str] = field(default_factory=dict)

    def text_in(self, lang: str) -> str:
        return self.in_languages.get(lang, self.text)


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
        """How an error names it: ``stage 05`` (always English, as errors are)."""
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

    def hint(self, lang: str = SOURCE) -> str | None:
        """A run that ended near chance or above it (a CNN, or stage 01 at a high learning rate,
        after a quick run) is told to train longer."""
        if not self.history or self.last.valid_loss < NEAR_CHANCE:
            return None
        return words(lang)(
            "run.above_chance" if self.last.valid_loss > CHANCE else "run.near_chance",
            loss=f"{self.last.valid_loss:.4f}",
            chance=f"{CHANCE:.4f}",
            epochs=max(8, 4 * self.epochs),
        )

    def final_line(self, lang: str = SOURCE) -> str:
        """``stage 05 done: valid loss 0.2595, accuracy 91.75% on all 10,000 ...``, and the
        hint to train longer on a line of its own when the run ended near chance."""
        said, name = words(lang), label(self.stage, lang)
        if not self.history:
            return said("run.no_epoch", name=name)
        hint = self.hint(lang)
        return said(
            "run.done",
            name=name,
            valid_loss=f"{self.last.valid_loss:.4f}",
            valid_acc=f"{self.last.valid_acc:.2%}",
            valid=f"{len(self.data.x_valid):,}" if self.data else "0",
            seconds=f"{self.train_seconds:.1f}",
        ) + (f"\n{hint}" if hint else "")

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
            "hint": self.hint(),
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


def summary_table(runs: Sequence[Run], lang: str = SOURCE) -> str:
    """One row per stage; columns as wide as their widest entry, whatever the numbers."""
    head = tuple(words(lang).list("run.summary_heads"))
    rows = [head] + [
        (
            r.stage.number,
            words(lang).title(r.stage.name),
            f"{r.last.valid_loss:.4f}",
            f"{r.last.valid_acc:.2%}",
            f"{r.train_seconds:.1f}",
        )
        for r in runs
    ]
    widths = [max(display_width(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for row in rows:
        pads = [" " * (w - display_width(cell)) for cell, w in zip(row, widths, strict=True)]
        cells = [c + p if i < 2 else p + c for i, (c, p) in enumerate(zip(row, pads, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: a Chinese character takes two."""
    return sum(2 if east_asian_width(c) in "WF" else 1 for c in text)


def label(stage: Stage | None, lang: str = SOURCE) -> str:
    """How a run's lines name its stage: ``stage 05`` (``阶段 05``), or the file's name."""
    if stage is None:
        return "-"
    return words(lang)("run.label", number=stage.number) if stage.number else stage.path.name


def settings_line(settings: dict[str, object], seed: int, lang: str = SOURCE) -> str:
    """``bs 64, lr 0.5, epochs 2, seed 0``: the settings a stage runs with, in ``lang``."""
    said = words(lang)
    shown = said("settings.separator").join(
        f"{said(f'settings.{k}')} {v}" for k, v in settings.items()
    )
    return said("run.settings", settings=shown, seed=seed)


def data_line(data: Data, lang: str = SOURCE) -> str:
    """``data: digits: 50,000 train / 10,000 valid images (...)``, in ``lang``."""
    return words(lang)("run.data", data=describe_data(data, lang))


def device_line(device: object, lang: str = SOURCE) -> str:
    """``device: cpu (no GPU found)``: the device a stage runs on, in ``lang``."""
    missing = words(lang)("run.no_gpu") if str(device) == "cpu" else ""
    return words(lang)("run.device", device=f"{device}{missing}")


def describe_data(data: Data, lang: str = SOURCE) -> str:
    """One line about the data: name, sizes and origin, in ``lang``."""
    from nnreally.data.digits_cache import ORIGIN  # here: the digits' maker loads PyTorch

    origin = words(lang)("data.digits_origin") if data.origin == ORIGIN else data.origin
    return words(lang)(
        "data.line",
        name=data.name,
        train=f"{len(data.x_train):,}",
        valid=f"{len(data.x_valid):,}",
        origin=origin,
    )
