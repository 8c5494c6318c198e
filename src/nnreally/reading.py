"""Reading the stages: ``show NN`` prints a stage, ``diff NN MM`` what changed between two."""

from __future__ import annotations

import ast
import difflib
import os
import shutil
import sys
from collections.abc import Sequence

from nnreally.diffview import render_terminal
from nnreally.options import Parser, positive_int
from nnreally.registry import LIBRARY, Stage, find

DEFAULT_WIDTH = 160  # when the output is not a terminal


def library_names(stage: Stage) -> list[str]:
    """Names the stage imports from ``nnreally`` that an earlier stage wrote (see LIBRARY)."""
    return [
        alias.name
        for node in ast.parse(stage.source).body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nnreally")
        for alias in node.names
        if alias.name in LIBRARY
    ]


def show(stage: Stage) -> str:
    """The stage's source, and where the library code it imports was written."""
    parts = [f"# {stage.path.name}\n", stage.source]
    for name in library_names(stage):
        module, number = LIBRARY[name]
        parts.append(f"# {name} (from {module}) is stage {number}'s: show {number} prints it\n")
    return "".join(parts)


def unified_diff(a: Stage, b: Stage) -> str:
    """What changed from stage ``a`` to stage ``b``, as a unified diff."""
    return "".join(
        difflib.unified_diff(
            a.source.splitlines(keepends=True),
            b.source.splitlines(keepends=True),
            fromfile=f"stages/{a.path.name}",
            tofile=f"stages/{b.path.name}",
        )
    )


def main(argv: Sequence[str], prog: str) -> int:
    """``show NN`` or ``diff NN MM``; errors propagate to the dispatcher."""
    command, rest = argv[0], argv[1:]
    parser = Parser(prog=f"{prog} {command}")
    if command == "show":
        parser.add_argument("stage", help="stage number, e.g. 05")
        args = parser.parse_args(rest)
        sys.stdout.write(show(find(args.stage)))
        return 0
    parser.add_argument("a", help="first stage, e.g. 04")
    parser.add_argument("b", help="second stage, e.g. 05")
    parser.add_argument("--side-by-side", "-y", action="store_true", help="two columns")
    parser.add_argument("--width", type=positive_int, help="columns (default: the terminal's)")
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    args = parser.parse_args(rest)
    a, b = find(args.a), find(args.b)
    if a.source == b.source:
        print(f"stages {a.number} and {b.number}: no difference")
        return 0
    if not args.side_by_side:
        sys.stdout.write(unified_diff(a, b))
        return 0
    width = args.width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    colour = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    titles = (f"stages/{a.path.name}", f"stages/{b.path.name}")
    lines = a.source.splitlines(), b.source.splitlines()
    sys.stdout.write(render_terminal(*lines, width=width, colour=colour, titles=titles))
    return 0
