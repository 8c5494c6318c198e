"""A stage file as cells: its docstring and ``# %% [markdown]`` cells as prose, the rest as code.

The stage files use the percent format (``# %%`` starts a cell), which editors such as VS Code
and jupytext read as notebook cells. The book and the notebooks are both made from this split.
Each cell knows the lines of the stage file it comes from, so that what a line printed while
the stage ran can be shown under its cell.
"""

from __future__ import annotations

import ast
import linecache
import re
from dataclasses import dataclass
from functools import lru_cache

MARKER = re.compile(r"^# %%(?P<markdown> \[markdown\])?\s*$")


@dataclass(frozen=True)
class Cell:
    kind: str  # "markdown" or "code"
    text: str
    first: int = 0  # the stage file's lines the text comes from: 1-based, inclusive
    last: int = 0

    def holds(self, line: int) -> bool:
        return self.first <= line <= self.last


def _markdown(line: str) -> str:
    """A markdown cell's comment line without its ``# `` prefix."""
    return line[2:] if line.startswith("# ") else line.lstrip("#")


def code_lines(source: str) -> list[str]:
    """A stage's code without its docstring and markdown cells, a blank line between cells:
    what a diff of code only compares."""
    out: list[str] = []
    for cell in split_cells(source):
        if cell.kind == "code":
            out += ["", *cell.text.splitlines()] if out else cell.text.splitlines()
    return out


def split_cells(source: str) -> list[Cell]:
    """The docstring as the first markdown cell, then one cell per ``# %%`` block."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cells: list[Cell] = []
    start = 0
    docstring = ast.get_docstring(tree)
    if docstring:
        cells.append(Cell("markdown", docstring, tree.body[0].lineno, tree.body[0].end_lineno))
        start = tree.body[0].end_lineno
    kind, block = "code", []  # block: (line number, text) pairs
    numbered = list(enumerate(lines, start=1))[start:]
    for number, line in [*numbered, (len(lines) + 1, "# %%")]:  # a sentinel closes the last
        match = MARKER.match(line)
        if not match:
            block.append((number, _markdown(line) if kind == "markdown" else line))
            continue
        kept = [i for i, (_, text) in enumerate(block) if text]  # blank lines around are trimmed
        if kept and "\n".join(text for _, text in block).strip():
            body = block[kept[0] : kept[-1] + 1]
            cells.append(Cell(kind, "\n".join(t for _, t in body), body[0][0], body[-1][0]))
        kind, block = ("markdown" if match["markdown"] else "code"), []
    return cells


def arguments_at(filename: str, line: int, count: int) -> list[str | None]:
    """The code of each of the ``count`` arguments of the ``show(...)`` call running at
    ``line`` of the file, as ``f"{expr = }"`` writes it; None for a string (it says itself),
    and for every argument where the call cannot be read (no source, or code that changed).
    """
    linecache.checkcache(filename)  # a file edited since it was last read: read again
    source = "".join(linecache.getlines(filename))
    for node in _show_calls(source):
        if node.lineno <= line <= (node.end_lineno or node.lineno) and len(node.args) == count:
            return [
                None if isinstance(arg, (ast.Constant, ast.JoinedStr)) else ast.unparse(arg)
                for arg in node.args
            ]
    return [None] * count


@lru_cache(maxsize=16)
def _show_calls(source: str) -> list[ast.Call]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "show"
        and not any(isinstance(arg, ast.Starred) for arg in node.args)
    ]
