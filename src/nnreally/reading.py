"""Reading the stages: ``show NN`` prints a stage, ``diff NN MM`` what changed between two."""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import os
import shutil
import sys
from collections.abc import Sequence

from nnreally.cli import Parser, positive_int
from nnreally.diffview import render_terminal
from nnreally.registry import Stage, all_stages, find

DEFAULT_WIDTH = 160  # when the output is not a terminal
HARNESS = {"Run"}  # imported by every stage to run it; not part of any lesson


def imported_names(stage: Stage) -> list[tuple[str, str]]:
    """``(module, name)`` for every name the stage imports from ``nnreally``."""
    tree = ast.parse(stage.source)
    return [
        (node.module, alias.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nnreally")
        for alias in node.names
        if alias.name not in HARNESS
    ]


def introduced(stage: Stage) -> list[tuple[str, str]]:
    """Library names this stage imports that the previous stage did not, with what they call."""
    stages = list(all_stages())
    index = stages.index(stage)
    before = set(imported_names(stages[index - 1])) if index else set()
    new = [pair for pair in imported_names(stage) if pair not in before]
    seen: list[tuple[str, str]] = []
    while new:
        module_name, name = new.pop(0)
        if (module_name, name) in seen:
            continue
        seen.append((module_name, name))
        module = importlib.import_module(module_name)
        for called in _names_used(getattr(module, name)):
            target = getattr(module, called, None)
            if inspect.isfunction(target) and target.__module__ == module_name:
                new.append((module_name, called))
    return seen


def _names_used(obj: object) -> list[str]:
    """Global names a function's code refers to, its comprehensions' code included."""
    codes = [getattr(obj, "__code__", None)]
    names: list[str] = []
    while codes:
        code = codes.pop()
        if code is not None:
            names.extend(code.co_names)
            codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
    return names


def show(stage: Stage) -> str:
    """The stage's source, followed by the library code it introduces."""
    parts = [f"# {stage.path.name}\n", stage.source]
    for module_name, name in introduced(stage):
        source = inspect.getsource(getattr(importlib.import_module(module_name), name))
        parts.append(f"\n# --- introduced here, from {module_name}: {name} ---\n{source}")
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
    if not args.side_by_side:
        sys.stdout.write(unified_diff(a, b))
        return 0
    width = args.width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    colour = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    titles = (f"stages/{a.path.name}", f"stages/{b.path.name}")
    lines = a.source.splitlines(), b.source.splitlines()
    sys.stdout.write(render_terminal(*lines, width=width, colour=colour, titles=titles))
    return 0
