"""A stage file as cells: its docstring and ``# %% [markdown]`` cells as prose, the rest as code.

The stage files use the percent format (``# %%`` starts a cell), which editors such as VS Code
and jupytext read as notebook cells. The book and the notebooks are both made from this split.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")


@dataclass(frozen=True)
class Cell:
    kind: str  # "markdown" or "code"
    text: str


def _markdown(lines: list[str]) -> str:
    """A markdown cell's comment lines without their ``# `` prefix."""
    return "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in lines)


def split_cells(source: str) -> list[Cell]:
    """The docstring as the first markdown cell, then one cell per ``# %%`` block."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cells: list[Cell] = []
    start = 0
    docstring = ast.get_docstring(tree)
    if docstring:
        cells.append(Cell("markdown", docstring))
        start = tree.body[0].end_lineno
    kind, block = "code", []
    for line in [*lines[start:], "# %%"]:  # a sentinel marker closes the last cell
        match = MARKER.match(line)
        if not match:
            block.append(line)
            continue
        text = _markdown(block) if kind == "markdown" else "\n".join(block)
        if text.strip():
            cells.append(Cell(kind, text.strip("\n")))
        kind, block = ("markdown" if match["markdown"] else "code"), []
    return cells
