"""Generate ``notebooks/NN_name.ipynb`` from the stage files: ``python -m nnreally.notebooks``.

The stage files stay the single source. jupytext reads each one (percent format: ``# %%``
starts a cell) and writes it as a notebook of exactly the stage's cells, so a learner can run it
cell by cell and stop anywhere to look at ``weights``, ``loss`` or ``model``. What jupytext
leaves to do is done here: the module docstring becomes the first markdown cell, under the
stage's title; jupytext's own metadata goes; cell ids are numbered. Notebooks are written
without outputs and byte for byte the same on every run, so ``--check`` finds a stale one.

``notebooks/zh/`` holds the same notebooks in Chinese: the same code cells, and each markdown
cell replaced by its translation from ``stages/zh/NN_name.md`` (see ``nnreally.translations``).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Sequence
from functools import cache, partial
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path
from typing import TYPE_CHECKING

from nnreally.errors import RunError, guarded
from nnreally.options import Parser
from nnreally.practice.exercises import making
from nnreally.reading import narrative_cells
from nnreally.registry import Stage, all_stages
from nnreally.texts import LANGUAGES, SOURCE, words

if TYPE_CHECKING:
    from nbformat import NotebookNode

NOTEBOOKS = Path("notebooks")
# A kernel and a language, so Jupyter opens the notebook ready to run and GitHub highlights it.
METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def _jupytext():
    try:
        import jupytext
    except ImportError:
        raise RunError(
            "the notebooks are made with jupytext: pip install 'nnreally[notebooks]'"
        ) from None
    return jupytext


def _docstring(code: str) -> tuple[str, str]:
    """A code cell's leading docstring (as ``ast.get_docstring`` cleans it) and the code after."""
    tree = ast.parse(code)
    docstring = ast.get_docstring(tree, clean=True)
    if docstring is None:
        return "", code
    after = code.splitlines()[tree.body[0].end_lineno :]
    return docstring, "\n".join(after).strip("\n")


def from_script(
    source: str,
    title: str,
    ids: str,
    prose: Sequence[str] | None = None,
    closing: str | None = None,
    setup: str | None = None,
) -> NotebookNode:
    """A percent-format script as a notebook: the docstring as a markdown cell under ``title``.

    Cell ids are ``ids`` and the cell's position (``stage05-00``, ``stage05-01``, ...). With
    ``prose``, its texts replace the docstring and the markdown cells, in order (a translation).
    ``closing`` is a last markdown cell; ``setup`` a first code cell, under the title.
    """
    jupytext = _jupytext()
    from nbformat import from_dict
    from nbformat.v4 import new_code_cell, new_markdown_cell

    nb = jupytext.reads(source, fmt="py:percent")
    cells = list(nb.cells)
    docstring, after = _docstring(cells[0].source) if cells else ("", "")
    if docstring:
        cells[:1] = [new_code_cell(after)] if after else []
    if prose is not None:
        docstring = _retell(docstring, [c for c in cells if c.cell_type == "markdown"], prose)
    heading = f"# {title}\n\n{docstring}" if docstring else f"# {title}"
    nb.cells = [new_markdown_cell(heading), *([new_code_cell(setup)] if setup else []), *cells]
    if closing:
        nb.cells.append(new_markdown_cell(closing))
    for i, cell in enumerate(nb.cells):
        cell.id = f"{ids}-{i:02d}"
    # In place of jupytext's own metadata, which would tie the file to a jupytext version.
    nb.metadata = from_dict(METADATA)
    return nb


def _retell(docstring: str, markdown: list[NotebookNode], prose: Sequence[str]) -> str:
    """Put ``prose`` in place of the docstring and the ``markdown`` cells; the new docstring."""
    wanted = bool(docstring) + len(markdown)
    if len(prose) != wanted:
        raise ValueError(f"{len(prose)} texts for {wanted} narrative cells")
    texts = iter(prose)
    new_docstring = next(texts) if docstring else ""
    for cell, text in zip(markdown, texts, strict=True):
        cell.source = text
    return new_docstring


def _title(stage: Stage, lang: str) -> str:
    said = words(lang)
    return said("notebook.title", number=stage.number, title=said.title(stage.name))


# A repository on GitHub, as pyproject.toml's [project.urls] names it: its notebooks open on Colab.
GITHUB = re.compile(
    r"https://github\.com/(?P<repo>[\w.-]+/[\w.-]+?)(?:\.git)?(?:/tree/(?P<branch>[\w./-]+))?/?"
)


@cache
def repository() -> str | None:
    """The project's repository URL (``Repository`` or ``Source`` in ``[project.urls]``)."""
    try:
        entries = metadata("nnreally").get_all("Project-URL") or []
    except PackageNotFoundError:  # run from a source tree that was never installed
        return None
    urls = dict(entry.split(", ", 1) for entry in entries if ", " in entry)
    return urls.get("Repository") or urls.get("Source")


def _on_github() -> re.Match | None:
    return GITHUB.fullmatch(repository() or "")


def colab_url(stage: Stage, lang: str) -> str | None:
    """The stage's notebook in ``lang``, opened on Colab from the project's repository; None
    where the repository is not on GitHub or not named."""
    found = _on_github()
    if found is None:
        return None
    path = path_for(stage, NOTEBOOKS, "" if lang == SOURCE else lang).as_posix()
    branch = found["branch"] or "main"
    return f"https://colab.research.google.com/github/{found['repo']}/blob/{branch}/{path}"


def install_source() -> str:
    """What a kernel outside a checkout installs: the GitHub repository, else nnreally by name."""
    return f"git+{repository()}" if _on_github() else "nnreally"


# The first code cell of every stage notebook: what a fresh kernel, in any folder or on Colab,
# needs before the stage's own cells. Not part of the stage.
SETUP = """\
# Setup (not part of the stage): the package, the data folder and the options.
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

here = Path.cwd()
folders = [here, *here.parents]
checkout = next((p for p in folders if (p / "stages" / "01_raw_tensors.py").is_file()), None)
if importlib.util.find_spec("nnreally") is None:  # a fresh kernel (Colab): install it
    package = str(checkout or "{source}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)
if checkout:  # the checkout's data/ folder, whichever folder this kernel started in
    os.environ.setdefault("NNREALLY_DATA", str(checkout / "data"))
# The stage's options, as on the command line (a value set before Jupyter started wins):
os.environ.setdefault("NNREALLY_ARGS", "")  # e.g. "--epochs 1 --data digits"
"""
SETUP = SETUP.format(source=install_source())


def _practice(stage: Stage, lang: str) -> str | None:
    """The closing "Try it yourself" cell of a stage that an exercise makes (02-12)."""
    ex = making(stage)
    if ex is None:
        return None
    said = words(lang)
    text = said("book.try_text", start=ex.start.number)
    return said("notebook.practice", text=text, commands=ex.commands(lang), number=ex.number)


def notebook(stage: Stage, lang: str = SOURCE) -> NotebookNode:
    """The notebook for one stage: ``# Stage 05 · optim`` (``# 阶段 05 · torch.optim``), then
    the stage's cells, the code as it is and the narrative in ``lang``."""
    prose = None if lang == SOURCE else narrative_cells(stage, lang)
    closing, ids = _practice(stage, lang), f"stage{stage.number}"
    return from_script(stage.source, _title(stage, lang), ids, prose, closing, SETUP)


# Each edition of the notebooks: its folder under notebooks/ and how it makes a stage's notebook.
EDITIONS: dict[str, Callable[[Stage], NotebookNode]] = {
    "" if lang == SOURCE else lang: partial(notebook, lang=lang) for lang in LANGUAGES
}


def render(nb: NotebookNode) -> str:
    """A notebook file's exact text: nbformat's JSON (sorted keys, indent 1), a final newline."""
    return _jupytext().writes(nb, fmt="ipynb") + "\n"


def path_for(stage: Stage, folder: Path = NOTEBOOKS, edition: str = "") -> Path:
    return folder / edition / f"{stage.number}_{stage.name}.ipynb"


def expected(folder: Path = NOTEBOOKS) -> dict[Path, str]:
    """Every notebook file under ``folder`` and the text the stage files make for it."""
    return {
        path_for(stage, folder, edition): render(make(stage))
        for edition, make in EDITIONS.items()
        for stage in all_stages()
    }


def stale(folder: Path = NOTEBOOKS) -> list[Path]:
    """Notebooks that are missing or differ from what their stage file makes."""
    return [
        path
        for path, text in expected(folder).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: Sequence[str] | None = None, prog: str = "python -m nnreally.notebooks") -> int:
    """Write every notebook (each language), or with ``--check`` list the stale ones (exit 1)."""
    parser = Parser(prog=prog, description="Generate the notebooks from the stage files.")
    parser.add_argument(
        "--out",
        type=Path,
        default=NOTEBOOKS,
        help="folder to write to, the Chinese notebooks in its zh/ (default: notebooks)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list stale or missing notebooks (exit 1 if any)",
    )
    return guarded(prog, lambda: _generate(parser.parse_args(argv), prog))


def _generate(args, prog: str) -> int:
    if args.check:
        outdated = stale(args.out)
        again = prog if args.out == NOTEBOOKS else f"{prog} --out {args.out}"
        for path in outdated:
            state = "stale" if path.is_file() else "missing"
            print(f"{state}: {path} (regenerate with: {again})")
        return 1 if outdated else 0
    for path, text in expected(args.out).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
