"""Find the stage files, describe them without running them, and load them."""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from types import ModuleType

_HERE = Path(__file__).resolve().parent
# Installed from a wheel, the stages ship inside the package; in a checkout they sit at the top.
STAGE_DIRS = (_HERE / "stage_files", _HERE.parents[1] / "stages")
STAGE_FILE = re.compile(r"^(\d\d)_(\w+)\.py$")


class UnknownStageError(Exception):
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
    def uses_device(self) -> bool:
        return "run.device" in self.source

    @property
    def distributed(self) -> bool:
        """Whether the stage joins a process group (and so runs under torchrun)."""
        return "init_process_group" in self.source

    def load(self) -> ModuleType:
        """Import the stage file as a module (this defines things and runs nothing)."""
        return _load(self.path, f"nnreally_stage_{self.number}")


@cache
def _load(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stage_dir() -> Path:
    """The folder that holds the stage files."""
    for folder in STAGE_DIRS:
        if folder.is_dir():
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
        first, _, last = part.partition("-")
        if not last:
            chosen.append(find(first))
            continue
        lo, hi = find(first), find(last)
        if lo.number > hi.number:
            raise UnknownStageError(f"empty range {part!r}: the first stage must come first")
        chosen.extend(s for s in all_stages() if lo.number <= s.number <= hi.number)
    return chosen
