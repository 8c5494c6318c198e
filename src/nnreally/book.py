"""The book: a static, offline HTML site with one page per stage, in English, Chinese or both.

``book --out DIR`` runs every stage file through the dispatcher's loop (seeded, on ``--data``,
loaded once) and writes ``index.html`` (the stage table, a chart comparing the stages, sample
images, all loss curves), ``summary.html`` (the tutorial's closing summary, each piece linked to
the stage that introduced it) and one page per stage: its narrative and code cell by cell, each
code cell followed by what it printed and the images it drew while it ran, then the
side-by-side diff against the stage it changes, its epoch table and its pictures, with links
to the matching section of the tutorial.

The pages are Jinja2 templates (``templates/``) around one base template; the stylesheet is
``static/style.css``; every word comes from the catalogs (``nnreally.texts``). ``--lang zh``
writes the Chinese book (the narratives of ``stages/zh/``; code and what it printed stay as
they are); ``--lang all`` trains each stage once and writes both, ``DIR/en/`` and ``DIR/zh/``,
each page linking to its twin, with ``DIR/index.html`` to choose. Plain HTML and CSS: no
script, nothing loaded from the network (links to the tutorial are only links).
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from nnreally import notebooks, plots, summary
from nnreally.cells import code_lines, split_cells
from nnreally.data import Data
from nnreally.data.writes import folder_for, temp_path
from nnreally.diffview import render_html
from nnreally.errors import RunError, UsageError, WriteError
from nnreally.options import Output, Parser, Training, add_training_options, training_options
from nnreally.practice.exercises import making
from nnreally.registry import BUILDS_ON, SECTIONS, TRANSLATION, TUTORIAL, Stage, all_stages
from nnreally.run import Run, Shown, describe_data
from nnreally.runner import run_stages
from nnreally.texts import LANGUAGES, SOURCE, default_language, words
from nnreally.translations import narrative, sections, stamp

HERE = Path(__file__).parent
STYLE = "friendly"  # the pygments colour scheme
INLINE_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
BULLET = re.compile(r"^\* ", re.MULTILINE)
# Characters written without spaces between them: a line break between two is no space.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
IMAGE_NOTE = "image: "  # the line a stage prints after drawing an image outside a notebook
ALL = "all"  # --lang all: every language, side by side
SUMMARY_PAGE = "summary.html"
NO_TRAIN_LOSS = "\u2013"  # an en dash where an epoch reported no training batches
MARKER = ".nnreally-book"  # in a book's folder: its files and their SHA-256, as written

# The stages beyond the tutorial: PyTorch's own pages on what they use (url, catalog key).
FURTHER = {
    "13": (
        ("https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs", "further_cuda_graphs"),
        ("https://pytorch.org/tutorials/recipes/recipes/tuning_guide.html", "further_tuning"),
    ),
    "14": (
        ("https://pytorch.org/tutorials/intermediate/ddp_tutorial.html", "further_ddp"),
        ("https://pytorch.org/docs/stable/elastic/run.html", "further_torchrun"),
    ),
}


@cache
def environment() -> Environment:
    """The templates, escaping every value that is not marked as HTML already."""
    return Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _join_lines(text: str) -> str:
    """A paragraph's lines as one line: joined by a space, except between two CJK characters."""
    joined = ""
    for line in (" ".join(line.split()) for line in text.splitlines()):
        if not line:
            continue
        tight = joined and CJK.match(joined[-1]) and CJK.match(line[0])
        joined += line if not joined or tight else f" {line}"
    return joined


def inline(text: str) -> Markup:
    """One paragraph's text, escaped, with ``code`` marked."""
    escaped = html.escape(_join_lines(text))
    return Markup(INLINE_CODE.sub(lambda m: f"<code>{m[1] or m[2]}</code>", escaped))


FENCED = re.compile(r"^```\w*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def prose(text: str) -> Markup:
    """Paragraphs, ``* `` lists with inline code, and fenced code blocks (highlighted, not
    run): the little markdown the stage files use."""
    parts = FENCED.split(text)  # text, code, text, code, ..., text
    out = [
        highlight(part, PythonLexer(), HtmlFormatter(style=STYLE)) if i % 2 else _paragraphs(part)
        for i, part in enumerate(parts)
    ]
    return Markup("\n".join(p for p in out if p))


def _paragraphs(text: str) -> str:
    out = []
    for block in (b.strip() for b in re.split(r"\n\s*\n", text)):
        if block.startswith("* "):
            items = "".join(f"<li>{inline(item)}</li>" for item in BULLET.split(block)[1:])
            out.append(f"<ul>{items}</ul>")
        elif block:
            out.append(f"<p>{inline(block)}</p>")
    return "\n".join(out)


def page_name(stage: Stage) -> str:
    return f"{stage.number}_{stage.name}.html"


def shown_image(stage: Stage, index: int) -> str:
    """Where the image ``run.shown[index]`` of ``stage`` is written, relative to the site."""
    return f"img/{stage.number}_shown{index}.png"


def _outside(href: str, text: str) -> Markup:
    """A link to a page on the web: followed only when the reader clicks it."""
    return Markup('<a href="{}" rel="external">{}</a>').format(href, text)


def cell_outputs(stage: Stage, run: Run) -> dict[int, list[int]]:
    """For each code cell (by position in ``split_cells``), the indices of ``run.shown``
    that its lines printed or drew, in order.

    Lines said outside the stage file (the runner's title line) belong to no cell, and so
    does the "image: ..." note printed after an image, which the page shows instead.
    """
    cells = split_cells(stage.source)
    found: dict[int, list[int]] = {}
    for index, shown in enumerate(run.shown):
        before = run.shown[index - 1] if index else None
        if before and before.png and before.line == shown.line and _is_image_note(shown):
            continue
        for position, cell in enumerate(cells):
            if cell.kind == "code" and cell.holds(shown.line):
                found.setdefault(position, []).append(index)
                break
    return found


def _is_image_note(shown: Shown) -> bool:
    return not shown.png and shown.text_in(SOURCE).startswith(IMAGE_NOTE)


def _previous_and_next(stage: Stage) -> tuple[Stage | None, Stage | None]:
    ordered = list(all_stages())
    i = ordered.index(stage)
    return (ordered[i - 1] if i else None), (ordered[i + 1] if i + 1 < len(ordered) else None)


@dataclass(frozen=True)
class Twin:
    """The same book in another language: its folder relative to this one (``../zh/``)."""

    lang: str
    folder: str

    @property
    def html_lang(self) -> str:
        return words(self.lang)("book.html_lang")

    @property
    def name(self) -> str:
        return words(self.lang)("book.language")

    @property
    def heading(self) -> Markup:
        return Markup(words(self.lang)("book.index_heading"))


class Site:
    """The pages of the book in one language, rendered from the templates."""

    def __init__(self, lang: str, twin: Twin | None = None) -> None:
        self.lang = lang
        self.words = words(lang)
        self.twin = twin
        self.html_lang = self.words("book.html_lang")
        self.notes: list[str] = []  # what a reader of the build's output should know
        self.downloads: dict[str, list[str]] = {}  # each stage's files under files/

    def __call__(self, key: str, **values: object) -> Markup:
        """A catalog text that may hold HTML, with ``values`` escaped into it."""
        return Markup(self.words(key)).format(**values)

    def render(self, template: str, page: str, title: str, **context: object) -> str:
        return (
            environment()
            .get_template(template)
            .render(site=self, words=self.words, page=page, title=title, **context)
        )

    def told(self, stage: Stage) -> list[tuple[str, str]]:
        """Each narrative cell of ``stage`` as (text, its language): in this language where it
        is translated, else in English with a note, so that the book still builds while a
        translation catches up (``python -m nnreally.translations --check`` says what lags)."""
        english = narrative(stage, SOURCE)
        if self.lang == SOURCE:
            return [(text, SOURCE) for text in english]
        found = sections(stage, self.lang)
        if len(found) == len(english):  # in step, or a cell edited since: its translation
            return [(section.text, self.lang) for section in found]
        translated = {section.stamp: section.text for section in found}
        told = [
            (translated[stamp(text)], self.lang) if stamp(text) in translated else (text, SOURCE)
            for text in english
        ]
        missing = sum(lang == SOURCE for _, lang in told)
        note = (  # for whoever builds the book: English, as the tools' messages are
            f"stage {stage.number}: {missing} of {len(english)} narrative cells have no "
            f"{self.lang} translation yet; the {self.lang} book shows them in English "
            "(python -m nnreally.translations --check)"
        )
        if missing and note not in self.notes:
            self.notes.append(note)
        return told

    def lang_attr(self, lang: str) -> Markup:
        """The attribute that marks text in ``lang`` on a page in another language."""
        if lang == self.lang:
            return Markup("")
        return Markup(' lang="{}"').format(words(lang)("book.html_lang"))

    # --- pieces shared by the pages ----------------------------------------------------------

    def count_epochs(self, n: int) -> str:
        return self.words("book.epochs_one" if n == 1 else "book.epochs_many", n=n)

    def title(self, stage: Stage) -> str:
        return self.words.title(stage.name)

    def link(self, stage: Stage) -> Markup:
        text = self.words("book.stage_link", number=stage.number)
        return Markup('<a href="{}">{}</a>').format(page_name(stage), text)

    def summary_line(self, stage: Stage) -> Markup:
        """The first line of the stage's docstring in this language, marked up."""
        text, lang = self.told(stage)[0]
        line = inline(text.split("\n", 1)[0])
        if lang == self.lang:
            return line
        return Markup("<span{}>{}</span>").format(self.lang_attr(lang), line)

    def neighbour(self, stage: Stage | None, key: str) -> dict | None:
        if stage is None:
            return None
        text = self.words(key, number=stage.number, title=self.title(stage))
        return {"href": page_name(stage), "text": text}

    # --- a stage's page ----------------------------------------------------------------------

    def output(self, stage: Stage, run: Run, indices: list[int]) -> list[dict]:
        """What one cell showed: runs of printed lines as one block each, images as pictures."""
        parts: list[dict] = []
        text: list[str] = []
        for index in [*indices, None]:  # None flushes the last run of lines
            shown = run.shown[index] if index is not None else None
            if text and (shown is None or shown.png):
                parts.append({"text": "\n".join(text)})
                text = []
            if shown is None:
                continue
            if shown.png:
                alt = self.words("book.drawn", line=shown.line)
                parts.append({"image": shown_image(stage, index), "alt": alt})
            else:
                text.append(shown.text_in(self.lang))
        return parts

    def cells(self, stage: Stage, run: Run) -> list[dict]:
        """The narrative (in this language) and the code, cell by cell, each code cell with
        what it showed."""
        formatter = HtmlFormatter(style=STYLE)
        outputs = cell_outputs(stage, run)
        told = iter(self.told(stage))
        found = []
        for position, cell in enumerate(split_cells(stage.source)):
            if cell.kind == "markdown":
                text, lang = next(told)
                # The docstring's first line is the page's lead paragraph already.
                body = prose(text if position else text.split("\n", 1)[-1])
                found.append({"prose": body, "lang_attr": self.lang_attr(lang)})
                continue
            code = Markup(highlight(cell.text, PythonLexer(), formatter))
            shown = self.output(stage, run, outputs[position]) if position in outputs else []
            found.append({"code": code, "output": shown})
        return found

    def sources(self, stage: Stage) -> Markup:
        """Links to the tutorial's sections this stage follows (PyTorch's pages beyond it)."""
        sep = self.words("book.list_sep")
        if stage.number in SECTIONS:
            links = [_outside(f"{TUTORIAL}#{id_}", title) for id_, title in SECTIONS[stage.number]]
            said = self("book.tutorial", links=Markup(sep).join(links))
            if self.words("book.translation"):
                said += self.words("book.sentence_sep")
                said += self("book.translation", href=TRANSLATION)
            return said
        if stage.number in FURTHER:
            links = [_outside(url, self.words(f"book.{key}")) for url, key in FURTHER[stage.number]]
            return self("book.further", links=Markup(sep).join(links))
        return Markup("")

    def diff(self, stage: Stage, previous: Stage | None) -> dict | None:
        """The side-by-side diff against the stage this one changes, and which stage that is."""
        base = stage.base
        if base is None:
            return None
        note = None
        if BUILDS_ON.search(stage.docstring):
            said = dict(number=stage.number, link=self.link(base), base=base.number)
            if previous != base:
                note = self("book.beyond_skips", previous=self.link(previous), **said)
            else:
                note = self("book.beyond", **said)
        titles = (f"{base.number} {self.title(base)}", f"{stage.number} {self.title(stage)}")
        # Code only: the prose of both stages is on their pages, and would crowd out the change
        table = render_html(code_lines(base.source), code_lines(stage.source), titles=titles)
        heading = self.words("book.changed", number=base.number)
        return {"heading": heading, "note": note, "table": Markup(table)}

    def practice(self, stage: Stage) -> dict | None:
        """The exercise that makes this stage, for its "Try it yourself": the two commands."""
        ex = making(stage)
        if ex is None:
            return None
        text = self("book.try_text", start=ex.start.number)
        return {"text": text, "commands": ex.commands(self.lang)}

    def settings(self, run: Run) -> str:
        """The seed and the stage's settings, as a sentence says them."""
        chosen = [self.words("book.seed", seed=run.training.seed)]
        for key, value in run.settings.items():
            if key == "epochs":
                chosen.append(self.count_epochs(run.epochs))
            elif key in ("bs", "lr"):
                chosen.append(self.words(f"book.{key}", value=value))
        return self.words("book.list_sep").join(chosen)

    def model_caption(self, run: Run) -> str | None:
        model = run.variables.get("model")
        if model is None:
            return None
        if plots.logistic_weights(model) is not None:
            return self.words("book.weights_caption")
        filters = plots.first_conv_filters(model)
        if filters is not None:
            size = "x".join(map(str, filters.shape[-2:]))
            return self.words("book.filters_caption", count=filters.shape[0], size=size)
        return None

    def stage_page(self, run: Run) -> str:
        """One stage: narrative, code and outputs cell by cell, the diff, results and pictures."""
        stage = run.stage
        previous, following = _previous_and_next(stage)
        figures = [
            {"src": f"img/{stage.number}_loss.png", "caption": self.words("book.loss_caption")}
        ]
        caption = self.model_caption(run)
        if caption:
            figures.append({"src": f"img/{stage.number}_model.png", "caption": caption})
        epochs = [
            {
                "epoch": e.epoch,
                "train": NO_TRAIN_LOSS if e.train_loss is None else f"{e.train_loss:.4f}",
                "valid_loss": f"{e.valid_loss:.4f}",
                "valid_acc": f"{e.valid_acc:.2%}",
                "seconds": f"{e.seconds:.2f}",
            }
            for e in run.history
        ]
        result = self(
            "book.result",
            data=describe_data(run.data, self.lang),
            settings=self.settings(run),
            loss=f"{run.last.valid_loss:.4f}",
            acc=f"{run.last.valid_acc:.2%}",
        )
        return self.render(
            "stage.html",
            page_name(stage),
            self.words("book.stage_title", number=stage.number, title=self.title(stage)),
            previous=self.neighbour(previous, "book.previous"),
            following=self.neighbour(following, "book.next"),
            heading=self.words("book.stage_heading", number=stage.number, title=self.title(stage)),
            lead=self.summary_line(stage),
            sources=self.sources(stage),
            cells=self.cells(stage, run),
            practice=self.practice(stage),
            downloads=self.downloads.get(stage.number, []),
            colab=notebooks.colab_url(stage, self.lang),
            diff=self.diff(stage, previous),
            result=result,
            hint=run.hint(self.lang),
            epochs=epochs,
            figures=figures,
        )

    # --- the index and the summary -----------------------------------------------------------

    def index_page(self, runs: Sequence[Run], data: Data) -> str:
        """The table of stages with their results, and the pictures that compare them."""
        heads = self.words.list("book.heads")
        rows = []
        for run in runs:
            figures = (
                run.settings.get("lr", ""),
                f"{run.last.valid_loss:.4f}",
                f"{run.last.valid_acc:.2%}",
                f"{run.train_seconds:.2f}",
            )
            rows.append(
                {
                    "href": page_name(run.stage),
                    "number": run.stage.number,
                    "title": self.title(run.stage),
                    "what": self.summary_line(run.stage),
                    "figures": list(zip(heads[3:], figures, strict=True)),
                }
            )
        first = runs[0]
        count = plots.SAMPLE_ROWS * plots.SAMPLE_COLS
        figure = lambda src, key, **values: {"src": src, "caption": self.words(key, **values)}  # noqa: E731
        return self.render(
            "index.html",
            "index.html",
            self.words("book.site"),
            heads=heads,
            rows=rows,
            run_line=self.words(
                "book.index_run",
                data=describe_data(data, self.lang),
                seed=first.training.seed,
                bs=first.settings.get("bs"),
                epochs=self.count_epochs(first.epochs),
            ),
            summary_line=self("book.index_summary", href=SUMMARY_PAGE),
            comparisons=[
                figure("img/comparison.png", "book.comparison"),
                figure("img/losses.png", "book.losses"),
            ],
            samples=figure("img/samples.png", "book.samples", name=data.name, count=count),
        )

    def summary_page(self) -> str:
        """The tutorial's closing summary: each piece, what it gives you, and its stage."""
        stages = {stage.number: stage for stage in all_stages()}

        def item(piece: summary.Piece) -> dict:
            return {
                "name": piece.name,
                "link": self.link(stages[piece.stage]) if piece.stage else None,
                "text": inline(piece.text(self.lang)),
                "parts": [item(part) for part in piece.parts],
            }

        groups = [
            {"heading": inline(g.heading(self.lang)), "pieces": [item(p) for p in g.pieces]}
            for g in summary.GROUPS
        ]
        return self.render(
            "summary.html",
            SUMMARY_PAGE,
            f"nnreally · {self.words('summary.title')}",
            intro=inline(self.words("summary.intro")),
            groups=groups,
            closing=inline(self.words("summary.closing")),
        )


class Pictures:
    """Writes a site's pictures; one that an earlier site drew the same is copied, not drawn.

    ``drawn`` maps (file name, language of its words) to the file that has it: pass the same
    dict to each language's site, and a picture without words, or with English words because
    no CJK font is installed, is drawn once.
    """

    def __init__(self, folder: Path, drawn: dict[tuple[str, str | None], Path]) -> None:
        self.folder = folder
        self.drawn = drawn

    def draw(self, name: str, lang: str | None, make: Callable[[Path], object]) -> None:
        path = self.folder / name
        key = (name, plots.drawn_language(lang))
        if key in self.drawn:
            shutil.copyfile(self.drawn[key], path)
        else:
            make(path)
            self.drawn[key] = path


def build(
    runs: Sequence[Run],
    out: Path,
    lang: str = SOURCE,
    twin: Twin | None = None,
    drawn: dict[tuple[str, str | None], Path] | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write the site in ``lang`` for the stages' ``runs`` into ``out``; return the index
    page's path. ``notes`` gets what the reader of the build's output should know."""
    site = Site(lang, twin)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "static" / "style.css", out / "style.css")
    pygments = HtmlFormatter(style=STYLE).get_style_defs(".highlight")
    (out / "pygments.css").write_text(pygments + "\n", encoding="utf-8")
    pictures = Pictures(out, {} if drawn is None else drawn)
    data = runs[0].data
    numbered = [(run.stage.number, run) for run in runs]
    pictures.draw("img/samples.png", None, lambda p: plots.plot_samples(data, p, lang=None))
    pictures.draw("img/comparison.png", lang, lambda p: plots.plot_comparison(numbered, p, lang))
    pictures.draw(
        "img/losses.png", lang, lambda p: plots.plot_losses(numbered, p, batches=False, lang=lang)
    )
    for run in runs:
        stage = run.stage
        for index, shown in enumerate(run.shown):
            if shown.png:
                (out / shown_image(stage, index)).write_bytes(shown.png)
        one = [(stage.number, run)]
        loss = f"img/{stage.number}_loss.png"
        pictures.draw(loss, lang, lambda p, one=one: plots.plot_losses(one, p, lang=lang))
        model = run.variables.get("model")
        if model is not None:
            picture = f"img/{stage.number}_model.png"
            pictures.draw(picture, None, lambda p, m=model: plots.plot_model(m, p, lang=None))
        site.downloads[stage.number] = write_downloads(stage, out, lang)
        (out / page_name(stage)).write_text(site.stage_page(run), encoding="utf-8")
    (out / SUMMARY_PAGE).write_text(site.summary_page(), encoding="utf-8")
    index = out / "index.html"
    index.write_text(site.index_page(runs, data), encoding="utf-8")
    if notes is not None:
        notes += site.notes
    return index


def write_downloads(stage: Stage, out: Path, lang: str) -> list[str]:
    """Copy the stage's file, and its notebook in ``lang`` where jupytext is there to make it,
    into the site's ``files/``, so that the page offers them offline; their names."""
    files = out / "files"
    files.mkdir(exist_ok=True)
    shutil.copyfile(stage.path, files / stage.path.name)
    names = [stage.path.name]
    try:
        text = notebooks.render(notebooks.notebook(stage, lang))
    except RunError:  # no jupytext (the notebooks extra): the .py alone
        return names
    notebook = notebooks.path_for(stage, Path(), "").name
    (files / notebook).write_text(text, encoding="utf-8")
    return [*names, notebook]


def chooser_page() -> str:
    """The page above the language sites of ``--lang all``: one link per language."""
    sites = [Twin(lang, f"{lang}/") for lang in LANGUAGES]
    title = " · ".join(words(lang)("book.site") for lang in LANGUAGES)
    return (
        environment()
        .get_template("chooser.html")
        .render(title=title, first=LANGUAGES[0], sites=sites)
    )


def write_book(runs: Sequence[Run], out: Path, lang: str, notes: list[str] | None = None) -> Path:
    """The book in ``lang`` in ``out``, or with ``all`` every language in ``out/LANG/`` (the
    stages trained once for all) and a page to choose; return the page to open.

    The whole book is written into a new folder beside ``out`` first, which then takes
    ``out``'s place: a failure part-way (a full disk, Ctrl-C) leaves ``out`` as it was.
    """
    target = Path(os.path.abspath(out))  # "." too has a name to put a new folder beside
    with folder_for(target.parent):  # parents made for it are removed again if it fails
        new = temp_path(target)
        try:
            new.mkdir()
            page = _write_book(runs, new, lang, notes)
            (new / MARKER).write_text(manifest(new), encoding="utf-8")
            _replace(target, new)
        except WriteError as e:
            raise _not_written(out, new, e.path, e.reason) from None
        except OSError as e:
            raise _not_written(out, new, Path(e.filename or new), e.strerror or str(e)) from None
        finally:
            shutil.rmtree(new, ignore_errors=True)
    return out / page.relative_to(new)


def _write_book(runs: Sequence[Run], out: Path, lang: str, notes: list[str] | None) -> Path:
    if lang != ALL:
        return build(runs, out, lang, notes=notes)
    drawn: dict[tuple[str, str | None], Path] = {}
    for this in LANGUAGES:
        other = next(other for other in LANGUAGES if other != this)
        build(runs, out / this, this, Twin(other, f"../{other}/"), drawn, notes)
    index = out / "index.html"
    index.write_text(chooser_page(), encoding="utf-8")
    return index


def _not_written(out: Path, new: Path, path: Path, reason: str) -> RunError:
    name = path.relative_to(new) if path.is_relative_to(new) else path
    return RunError(f"--out {out}: the book was not written ({name}: {reason}); {out} is as it was")


def manifest(folder: Path) -> str:
    """Every file in ``folder`` with its SHA-256, as ``sha256sum`` prints them (it can check)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER)
    sums = ((hashlib.sha256(p.read_bytes()).hexdigest(), p.relative_to(folder)) for p in files)
    return "".join(f"{digest}  {name}\n" for digest, name in sums)


def foreign_file(folder: Path) -> Path | None:
    """A file in ``folder`` that is not the book nnreally wrote there: added, or changed since."""
    try:
        written = set((folder / MARKER).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):  # no book's list: every file is the user's
        written = set()
    for line in manifest(folder).splitlines():
        if line not in written:
            return folder / line.split("  ", 1)[1]
    return None


def check_out(out: Path, force: bool) -> None:
    """Before any training: ``out`` can be written, and replacing it loses none of the user's
    files (it is new or empty, a book nnreally wrote and nobody changed, or ``--force``)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder for the book")
    above = next((p for p in out.parents if p.exists()), Path("."))
    if not above.is_dir():
        raise UsageError(f"--out {out}: {above} is a file, not a folder")
    for folder in (above, out) if out.exists() else (above,):
        if not os.access(folder, os.W_OK):
            raise UsageError(f"--out {out}: the folder {folder} cannot be written to")
    if force or not out.exists() or not any(out.iterdir()):
        return
    found = foreign_file(out)
    if found:
        raise UsageError(
            f"--out {out}: the book would replace {found}, which nnreally did not write there; "
            "give a new or empty folder, or add --force to replace it"
        )


def _replace(out: Path, new: Path) -> None:
    """Put the folder ``new`` in the place of ``out``; the old ``out`` goes only afterwards."""
    if not out.exists():
        os.rename(new, out)
        return
    old = temp_path(out, ".old")
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:  # Ctrl-C too: the old book goes back
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def run_all(training: Training, stages: Sequence[Stage]) -> list[Run]:
    """Run each stage quietly through the dispatcher's loop, printing each one's final line."""
    runs = run_stages(stages, training, Output(quiet=True), sys.stdout)
    for run in runs:
        if not run.history:
            raise RunError(f"{run.name} trained no epoch: the book needs one or more")
    return runs


def main(argv: Sequence[str], prog: str) -> int:
    """``book --out DIR [--lang en|zh|all] [training options]``."""
    parser = Parser(prog=f"{prog} book")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the folder to write the book in: a new or empty one, or a book nnreally wrote "
        f"(it keeps a list of its files in {MARKER}); it is replaced when the book is done",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace --out even if it holds other files"
    )
    parser.add_argument(
        "--lang",
        choices=(*LANGUAGES, ALL),
        help="the book's language; all: every language side by side, in DIR/LANG/ "
        "(default: $NNREALLY_LANG, else zh under a Chinese locale, else en)",
    )
    add_training_options(parser, stage_settings=False)
    args = parser.parse_args(argv[1:])
    training = training_options(args)
    if training.epochs == 0:
        raise UsageError("--epochs 0: the book shows training; give 1 or more")
    stages = all_stages()
    lang = args.lang or default_language()  # before training: a bad $NNREALLY_LANG stops here
    check_out(args.out, args.force)
    print(f"book: running {len(stages)} stages", flush=True)
    notes: list[str] = []
    index = write_book(run_all(training, stages), args.out, lang, notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"book: open {index}")
    return 0
