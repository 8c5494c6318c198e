"""Generate ``notebooks/NN_name.ipynb`` from the stage files: ``python -m nnreally.notebooks``.

The stage files stay the single source: each notebook is their cells (docstring and markdown
cells as markdown, the rest as code) plus a last cell that trains the stage and shows the
result. Notebooks are written without outputs, byte for byte the same on every run, so a
stale one shows up as a diff; ``--check`` fails if any notebook differs from what the stage
file makes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from nnreally.cells import split_cells
from nnreally.cli import Parser, guarded
from nnreally.registry import Stage, all_stages

NOTEBOOKS = Path("notebooks")
LAST_CELL = """\
# Train this stage (seeded, the stage's defaults) and show the loss curves.
# NNREALLY_LIMIT=N trains on the first N samples only; NNREALLY_EPOCHS and NNREALLY_SOURCE
# (auto, mnist, fashion-mnist, digits or a path) change the epochs and the data.
from nnreally.notebook import train_here

run = train_here(main, LR)
run.figure()"""
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def _lines(text: str) -> list[str]:
    """Notebook JSON stores a cell's source as lines that keep their newlines."""
    return text.splitlines(keepends=True)


def notebook(stage: Stage) -> dict:
    """The notebook for one stage, as a JSON-ready dict (nbformat 4.5)."""
    cells = split_cells(stage.source)
    title = f"# Stage {stage.number} · {stage.title}\n\n"
    contents = [("markdown", title + cells[0].text)] + [(c.kind, c.text) for c in cells[1:]]
    contents.append(("code", LAST_CELL))
    out = []
    for i, (kind, text) in enumerate(contents):
        cell = {"cell_type": kind, "id": f"stage{stage.number}-{i:02d}", "metadata": {}}
        cell["source"] = _lines(text)
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out, "metadata": METADATA, "nbformat": 4, "nbformat_minor": 5}


def render(stage: Stage) -> str:
    """The notebook file's exact text (stable key order, one space indent, final newline)."""
    return json.dumps(notebook(stage), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def path_for(stage: Stage, folder: Path = NOTEBOOKS) -> Path:
    return folder / f"{stage.number}_{stage.name}.ipynb"


def stale(folder: Path = NOTEBOOKS) -> list[Path]:
    """Notebooks that are missing or differ from what their stage file makes."""
    return [
        path_for(s, folder)
        for s in all_stages()
        if not path_for(s, folder).is_file() or path_for(s, folder).read_text() != render(s)
    ]


def main(argv: Sequence[str] | None = None, prog: str = "python -m nnreally.notebooks") -> int:
    """Write every notebook, or with ``--check`` only report the stale ones (exit 1)."""
    parser = Parser(prog=prog, description="Generate the notebooks from the stage files.")
    parser.add_argument("--out", type=Path, default=NOTEBOOKS, help="folder (default notebooks/)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    return guarded(prog, lambda: _generate(parser.parse_args(argv), prog))


def _generate(args, prog: str) -> int:
    if args.check:
        outdated = stale(args.out)
        for path in outdated:
            print(f"stale: {path} (regenerate with: {prog})")
        return 1 if outdated else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for stage in all_stages():
        path_for(stage, args.out).write_text(render(stage))
        print(f"wrote {path_for(stage, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
