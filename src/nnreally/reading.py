"""Reading the stages: ``show NN`` prints a stage, ``diff NN MM`` what changed between two.

``show NN --lang zh`` prints the stage with its narrative in Chinese (``stages/zh/NN_name.md``):
the same code, byte for byte, under the translated docstring and markdown comment lines.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import shutil
import sys
from collections.abc import Sequence

from nnreally.cells import code_lines, split_cells
from nnreally.diffview import render_terminal
from nnreally.errors import RunError
from nnreally.options import Parser, positive_int
from nnreally.registry import LIBRARY, Stage, find
from nnreally.texts import LANG_VARIABLE, LANGUAGES, SOURCE, default_language
from nnreally.translations import narrative

DEFAULT_WIDTH = 160  # when the output is not a terminal


def narrative_cells(stage: Stage, lang: str) -> list[str]:
    """``stage``'s narrative in ``lang``, one text per English narrative cell, in order."""
    told, english = narrative(stage, lang), narrative(stage, SOURCE)
    if len(told) != len(english):
        raise RunError(
            f"stage {stage.number}: {len(told)} {lang} sections for {len(english)} English "
            "narrative cells (python -m nnreally.translations --check says which)"
        )
    return told


def _docstring_literal(text: str) -> str:
    """``text`` as a triple-quoted docstring that ``ast.get_docstring`` reads back as ``text``."""
    body = text.replace("\\", "\\\\")
    if "\n" in text:
        closing = '\n"""'
    else:
        closing = '"""'
        if body.endswith('"'):  # it would run into the closing quotes
            body = body[:-1] + '\\"'
    body = re.sub(r'"{3,}', lambda run: '\\"' * len(run[0]), body)  # would end the string
    return f'"""{body}{closing}'


def _comment(text: str) -> list[str]:
    """A markdown cell's text as the comment lines of a percent-format script."""
    return [f"# {line}\n" if line else "#\n" for line in text.splitlines()]


def in_language(stage: Stage, lang: str) -> str:
    """The stage file with its narrative in ``lang``: the code byte for byte, the docstring
    still a docstring and each markdown cell still ``# `` comment lines."""
    if lang == SOURCE:
        return stage.source
    told = narrative_cells(stage, lang)
    tree = ast.parse(stage.source)
    docstring = tree.body[0] if ast.get_docstring(tree) is not None else None
    lines = stage.source.splitlines(keepends=True)
    cells = [cell for cell in split_cells(stage.source) if cell.kind == "markdown"]
    # From the last cell up, so that the line numbers of the cells above stay true.
    for cell, text in reversed(list(zip(cells, told, strict=True))):
        if docstring is not None and cell.first == docstring.lineno:
            # Whatever shares the docstring's first or last line stays (columns are in bytes).
            head = lines[cell.first - 1].encode()[: docstring.col_offset].decode()
            tail = lines[cell.last - 1].encode()[docstring.end_col_offset :].decode()
            new = [head + _docstring_literal(text) + tail]
        else:
            new = _comment(text)
        lines[cell.first - 1 : cell.last] = new
    return "".join(lines)


def library_names(stage: Stage) -> list[str]:
    """Names the stage imports from ``nnreally`` that an earlier stage wrote (see LIBRARY)."""
    return [
        alias.name
        for node in ast.parse(stage.source).body
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nnreally")
        for alias in node.names
        if alias.name in LIBRARY
    ]


def show(stage: Stage, lang: str = SOURCE) -> str:
    """The stage's source, its narrative in ``lang``, and where the library code it imports
    was written."""
    parts = [f"# {stage.path.name}\n", in_language(stage, lang)]
    for name in library_names(stage):
        module, number = LIBRARY[name]
        parts.append(f"# {name} (from {module}) is stage {number}'s: show {number} prints it\n")
    return "".join(parts)


def _lines(stage: Stage, code_only: bool) -> list[str]:
    return code_lines(stage.source) if code_only else stage.source.splitlines()


def unified_diff(a: Stage, b: Stage, code_only: bool = False) -> str:
    """What changed from stage ``a`` to stage ``b``, as a unified diff (of their code alone,
    without docstrings and markdown cells, with ``code_only``)."""
    diff = difflib.unified_diff(
        _lines(a, code_only),
        _lines(b, code_only),
        fromfile=f"stages/{a.path.name}",
        tofile=f"stages/{b.path.name}",
        lineterm="",
    )
    return "".join(f"{line}\n" for line in diff)


def main(argv: Sequence[str], prog: str) -> int:
    """``show NN`` or ``diff NN MM``; errors propagate to the dispatcher."""
    command, rest = argv[0], argv[1:]
    parser = Parser(prog=f"{prog} {command}")
    if command == "show":
        parser.add_argument("stage", help="stage number, e.g. 05")
        parser.add_argument(
            "--lang",
            choices=LANGUAGES,
            help=f"the narrative's language (default {SOURCE}, or ${LANG_VARIABLE}, "
            "or zh under a zh_* locale such as LANG=zh_CN.UTF-8)",
        )
        args = parser.parse_args(rest)
        _write(show(find(args.stage), args.lang or default_language()))
        return 0
    parser.add_argument("a", help="first stage, e.g. 04")
    parser.add_argument("b", help="second stage, e.g. 05")
    parser.add_argument("--side-by-side", "-y", action="store_true", help="two columns")
    parser.add_argument("--width", type=positive_int, help="columns (default: the terminal's)")
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    parser.add_argument(
        "--code-only", action="store_true", help="the code alone, without docstrings and prose"
    )
    args = parser.parse_args(rest)
    a, b = find(args.a), find(args.b)
    if a.source == b.source:
        print(f"stages {a.number} and {b.number}: no difference")
        return 0
    if not args.side_by_side:
        sys.stdout.write(unified_diff(a, b, args.code_only))
        return 0
    width = args.width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    colour = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    titles = (f"stages/{a.path.name}", f"stages/{b.path.name}")
    lines = _lines(a, args.code_only), _lines(b, args.code_only)
    sys.stdout.write(render_terminal(*lines, width=width, colour=colour, titles=titles))
    return 0


def _write(text: str) -> None:
    """Print ``text``, or say in one line that the output's encoding cannot hold it."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "unknown"
        raise RunError(
            f"the output's encoding ({encoding}) cannot show this text; "
            "set PYTHONIOENCODING=utf-8 (or use --lang en)"
        ) from None
