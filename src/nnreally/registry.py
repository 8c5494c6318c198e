"""Find the stage files and describe them without running them."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from nnreally.errors import UsageError

_HERE = Path(__file__).resolve().parent
# Installed from a wheel, the stage files ship inside nnreally/stages/ (beside the dispatcher's
# __main__.py); in a checkout they sit in stages/ at the top.
STAGE_DIRS = (_HERE / "stages", _HERE.parents[1] / "stages")
STAGE_FILE = re.compile(r"^(\d\d)_(\w+)\.py$")
# What the stages wrote for later stages, where the library keeps it, and which stage wrote it.
LIBRARY = {
    "accuracy": ("nnreally.train", "01"),
    "loss_batch": ("nnreally.train", "08"),
    "fit": ("nnreally.train", "08"),
    "get_data": ("nnreally.train", "08"),
    "Lambda": ("nnreally.layers", "10"),
    "WrappedDataLoader": ("nnreally.train", "11"),
}
BUILDS_ON = re.compile(r"Builds on stage (\d\d)\b")
TUTORIAL = "https://pytorch.org/tutorials/beginner/nn_tutorial.html"
# The Chinese translation the project's seed text reposts (its "转载自" line).
TRANSLATION = "https://blog.csdn.net/weixin_36811328/article/details/87905208"
# The tutorial's sections each stage follows: (the section's id on the tutorial's page, title).
SECTIONS = {
    "01": (("neural-net-from-scratch-without-torch-nn", "Neural net from scratch"),),
    "02": (("using-torch-nn-functional", "Using torch.nn.functional"),),
    "03": (("refactor-using-nn-module", "Refactor using nn.Module"),),
    "04": (("refactor-using-nn-linear", "Refactor using nn.Linear"),),
    "05": (("refactor-using-torch-optim", "Refactor using torch.optim"),),
    "06": (("refactor-using-dataset", "Refactor using Dataset"),),
    "07": (("refactor-using-dataloader", "Refactor using DataLoader"),),
    "08": (
        ("add-validation", "Add validation"),
        ("create-fit-and-get-data", "Create fit() and get_data()"),
    ),
    "09": (("switch-to-cnn", "Switch to CNN"),),
    "10": (("using-nn-sequential", "Using nn.Sequential"),),
    "11": (("wrapping-dataloader", "Wrapping DataLoader"),),
    "12": (("using-your-gpu", "Using your GPU"),),
}


class UnknownStageError(UsageError):
    """A stage number or selection that names no stage."""


@dataclass(frozen=True)
class Stage:
    """One stage file: ``stages/05_optim.py`` is number ``05``, name ``optim``."""

    number: str
    name: str
    path: Path

    @property
    def title(self) -> str:
        return self.name.replace("_", " ")

    @property
    def label(self) -> str:
        """How a line of output names it: ``stage 05``, or the file's name if it has no number."""
        return f"stage {self.number}" if self.number else self.path.name

    @cached_property
    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @cached_property
    def docstring(self) -> str:
        return ast.get_docstring(ast.parse(self.source)) or ""

    @property
    def summary(self) -> str:
        """The docstring's first line: what this stage changes."""
        return self.docstring.split("\n", 1)[0]

    @property
    def base(self) -> Stage | None:
        """The stage this one changes: the one before, or the one its docstring names
        ("Builds on stage 12.") for the stages beyond the tutorial."""
        named = BUILDS_ON.search(self.docstring)
        if named:
            return find(named[1])
        stages = all_stages()
        index = stages.index(self) if self in stages else 0
        return stages[index - 1] if index else None


def file_stage(path: Path) -> Stage:
    """The stage a file holds: ``05_optim.py`` is stage 05 wherever it is (a learner's copy
    too); a file named otherwise is a stage without a number."""
    path = Path(path).resolve()
    match = STAGE_FILE.match(path.name)
    return Stage(match[1], match[2], path) if match else Stage("", path.stem, path)


def stage_dir() -> Path:
    """The folder that holds the stage files."""
    for folder in STAGE_DIRS:
        if folder.is_dir() and any(STAGE_FILE.match(p.name) for p in folder.iterdir()):
            return folder
    raise FileNotFoundError(f"no stage files in {' or '.join(map(str, STAGE_DIRS))}")


@cache
def all_stages() -> tuple[Stage, ...]:
    """Every stage, in order."""
    found = (STAGE_FILE.match(p.name) for p in sorted(stage_dir().iterdir()))
    return tuple(Stage(m[1], m[2], stage_dir() / m[0]) for m in found if m)


def find(number: str) -> Stage:
    """The stage numbered ``number`` ("5" and "05" both work)."""
    key = number.strip().zfill(2)
    for stage in all_stages():
        if stage.number == key:
            return stage
    numbers = ", ".join(s.number for s in all_stages())
    raise UnknownStageError(
        f"unknown stage {number!r} (the stages are {numbers}; python -m nnreally.stages lists them)"
    )


def select(text: str) -> list[Stage]:
    """Stages from ``all``, ``05``, a range ``01-04``, or a list ``03,07,09-10``."""
    if text == "all":
        return list(all_stages())
    chosen: list[Stage] = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        if not dash:
            chosen.append(find(first))
            continue
        if not (first.strip() and last.strip()):
            raise UnknownStageError(f"half-open range {part!r}: give both ends, e.g. 01-04")
        lo, hi = find(first), find(last)
        if lo.number > hi.number:
            raise UnknownStageError(f"empty range {part!r}: the first stage must come first")
        chosen.extend(s for s in all_stages() if lo.number <= s.number <= hi.number)
    return chosen
