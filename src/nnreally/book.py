"""The book: a static, offline HTML site with one page per stage, and the samples picture.

``book --out DIR`` runs every stage file through the runner (seeded, on ``--data``, loaded
once) and writes ``index.html`` (the stage table, a chart comparing the stages, sample images,
all loss curves) and one page per stage: its narrative and code cell by cell, each code cell
followed by what it printed and the images it drew while it ran, then the side-by-side diff
against the stage it changes, its epoch table and its pictures. Plain HTML and CSS: no script,
no font or file from the network, readable from a phone's width up.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from nnreally import plots
from nnreally.cells import split_cells
from nnreally.data import Data, default_data_dir, load_data
from nnreally.diffview import render_html
from nnreally.errors import RunError, UsageError
from nnreally.lesson import Session, Shown
from nnreally.options import (
    Output,
    Parser,
    Training,
    add_training_options,
    check_png,
    training_options,
)
from nnreally.registry import BUILDS_ON, Stage, all_stages
from nnreally.runner import run_stage

STYLE = "friendly"  # the pygments colour scheme
INLINE_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
BULLET = re.compile(r"^\* ", re.MULTILINE)
IMAGE_NOTE = "image: "  # the line a stage prints after drawing an image outside a notebook

CSS = """
:root { --ink: #1d2430; --muted: #5b6472; --line: #d9dee5; --paper: #fff; --tint: #f5f7fa;
        --del: #fde8e8; --del-strong: #f5b5b5; --add: #e5f6e8; --add-strong: #a8e0b4; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: var(--paper); }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; }
nav { display: flex; justify-content: space-between; gap: 1rem; flex-wrap: wrap;
      padding: .6rem 0; border-bottom: 1px solid var(--line); font-size: .95rem; }
a { color: #1f5fbf; }
h1 { font-size: 1.7rem; margin: 1.2rem 0 .4rem; line-height: 1.25; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--line); }
p.lead { color: var(--muted); margin-top: 0; }
code, pre { font: .9em/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
p code, td code, li code { background: var(--tint); padding: .05em .3em; border-radius: 3px; }
.highlight { background: var(--tint); border: 1px solid var(--line); border-radius: 6px;
             margin: .8rem 0; overflow-x: auto; }
.highlight pre { margin: 0; padding: .75rem 1rem; font-size: .86rem; line-height: 1.45; }
.cell { margin: .8rem 0 1.2rem; }
.cell .highlight { margin: 0; }
.cell .highlight:not(:last-child) { border-radius: 6px 6px 0 0; }
.output { border: 1px solid var(--line); border-top: 0; border-radius: 0 0 6px 6px;
          padding: .3rem 1rem .5rem; }
.output::before { content: "output"; display: block; color: var(--muted); font-size: .75rem;
                  text-transform: uppercase; letter-spacing: .05em; }
.output pre { margin: .2rem 0; overflow-x: auto; white-space: pre; font-size: .82rem;
              line-height: 1.45; }
.output img { display: block; max-width: 100%; height: auto; margin: .4rem 0; }
.note { background: var(--tint); border-left: 3px solid #1f5fbf; padding: .5rem .9rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table.results { border-collapse: collapse; width: 100%; font-size: .95rem; }
table.results th, table.results td { padding: .35rem .6rem; border-bottom: 1px solid var(--line);
                                      text-align: left; vertical-align: top; }
table.results .num { text-align: right; font-variant-numeric: tabular-nums; }
table.diff { border-collapse: collapse; width: 100%; table-layout: fixed; min-width: 44rem;
             font: .8rem/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
table.diff th { background: var(--tint); text-align: left; padding: .3rem .5rem;
                font-family: system-ui, sans-serif; }
table.diff td { white-space: pre-wrap; word-break: break-all; padding: 0 .5rem; height: 1.4em;
                vertical-align: top; border-left: 1px solid var(--line); }
table.diff tr.change td:first-child, table.diff tr.del td:first-child { background: var(--del); }
table.diff tr.change td:last-child, table.diff tr.add td:last-child { background: var(--add); }
table.diff del { background: var(--del-strong); text-decoration: none; }
table.diff ins { background: var(--add-strong); text-decoration: none; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .9rem; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1rem; }
@media (max-width: 40rem) { body { font-size: 15px; } h1 { font-size: 1.4rem; } }
"""


def _inline(text: str) -> str:
    """One paragraph's text, escaped, with ``code`` marked."""
    escaped = html.escape(" ".join(text.split()))
    return INLINE_CODE.sub(lambda m: f"<code>{m[1] or m[2]}</code>", escaped)


def prose(text: str) -> str:
    """Paragraphs and ``* `` lists with inline code: the little markdown the stage files use."""
    out = []
    for block in (b.strip() for b in re.split(r"\n\s*\n", text)):
        if block.startswith("* "):
            items = "".join(f"<li>{_inline(item)}</li>" for item in BULLET.split(block)[1:])
            out.append(f"<ul>{items}</ul>")
        elif block:
            out.append(f"<p>{_inline(block)}</p>")
    return "\n".join(out)


def _page(title: str, body: str, nav: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<link rel="stylesheet" href="style.css">\n</head>\n<body>\n<main>\n'
        f"<nav>{nav}</nav>\n{body}\n<nav>{nav}</nav>\n</main>\n</body>\n</html>\n"
    )


def page_name(stage: Stage) -> str:
    return f"{stage.number}_{stage.name}.html"


def shown_image(stage: Stage, index: int) -> str:
    """Where the image ``session.shown[index]`` of ``stage`` is written, relative to the site."""
    return f"img/{stage.number}_shown{index}.png"


def _figure(src: str, caption: str) -> str:
    alt = html.escape(caption)
    image = f'<img src="{src}" alt="{alt}" loading="lazy">'
    return f"<figure>{image}<figcaption>{alt}</figcaption></figure>"


def _link(stage: Stage) -> str:
    return f'<a href="{page_name(stage)}">stage {stage.number}</a>'


def cell_outputs(stage: Stage, session: Session) -> dict[int, list[int]]:
    """For each code cell (by position in ``split_cells``), the indices of ``session.shown``
    that its lines printed or drew, in order.

    Lines said outside the stage file (the runner's title line) belong to no cell, and so
    does the "image: ..." note printed after an image, which the page shows instead.
    """
    cells = split_cells(stage.source)
    found: dict[int, list[int]] = {}
    for index, shown in enumerate(session.shown):
        before = session.shown[index - 1] if index else None
        if before and before.png and before.line == shown.line and _is_image_note(shown):
            continue
        line = shown.line
        for position, cell in enumerate(cells):
            if cell.kind == "code" and cell.holds(line):
                found.setdefault(position, []).append(index)
                break
    return found


def _is_image_note(shown: Shown) -> bool:
    return not shown.png and shown.text.startswith(IMAGE_NOTE)


def _output(stage: Stage, session: Session, indices: list[int]) -> str:
    """What one cell showed: runs of printed lines as one block each, images as pictures."""
    parts: list[str] = []
    text: list[str] = []
    for index in [*indices, None]:  # None flushes the last run of lines
        shown = session.shown[index] if index is not None else None
        if text and (shown is None or shown.png):
            parts.append(f"<pre>{html.escape(chr(10).join(text))}</pre>")
            text = []
        if shown is None:
            continue
        if shown.png:
            alt = f"the image drawn by line {shown.line}"
            parts.append(f'<img src="{shown_image(stage, index)}" alt="{alt}">')
        else:
            text.append(shown.text)
    return f'<div class="output">{"".join(parts)}</div>'


def _cells(stage: Stage, session: Session) -> list[str]:
    """The narrative and the code, cell by cell, each code cell followed by what it showed."""
    formatter = HtmlFormatter(style=STYLE)
    outputs = cell_outputs(stage, session)
    parts = []
    for position, cell in enumerate(split_cells(stage.source)):
        if cell.kind == "markdown":
            # The docstring's first line is the page's lead paragraph already.
            parts.append(prose(cell.text if position else cell.text.split("\n", 1)[-1]))
            continue
        code = highlight(cell.text, PythonLexer(), formatter)
        shown = _output(stage, session, outputs[position]) if position in outputs else ""
        parts.append(f'<div class="cell">{code}{shown}</div>')
    return parts


def _diff(stage: Stage, previous: Stage | None) -> list[str]:
    """The side-by-side diff against the stage this one changes, and which stage that is."""
    base = stage.base
    if base is None:
        return []
    parts = [f"<h2>What changed since stage {base.number}</h2>"]
    if BUILDS_ON.search(stage.docstring):
        instead = f", not the stage before it ({_link(previous)})" if previous != base else ""
        parts.append(
            f'<p class="note">Stage {stage.number} goes beyond the tutorial and builds on '
            f"{_link(base)}: this compares it with stage {base.number}{instead}.</p>"
        )
    titles = (f"{base.number} {base.title}", f"{stage.number} {stage.title}")
    lines = base.source.splitlines(), stage.source.splitlines()
    parts.append(f'<div class="scroll">{render_html(*lines, titles=titles)}</div>')
    return parts


def _epoch_table(session: Session) -> str:
    names = ("epoch", "train loss", "valid loss", "valid acc", "seconds")
    head = "<tr>" + "".join(f'<th class="num">{name}</th>' for name in names) + "</tr>"
    rows = []
    for e in session.history:
        train = "&ndash;" if e.train_loss is None else f"{e.train_loss:.4f}"
        rows.append(
            f'<tr><td class="num">{e.epoch}</td><td class="num">{train}</td>'
            f'<td class="num">{e.valid_loss:.4f}</td><td class="num">{e.valid_acc:.2%}</td>'
            f'<td class="num">{e.seconds:.2f}</td></tr>'
        )
    return f'<div class="scroll"><table class="results">{head}{"".join(rows)}</table></div>'


def _settings(session: Session) -> str:
    named = {"bs": "batch size", "lr": "learning rate", "epochs": "epochs"}
    chosen = [f"{named[k]} {v}" for k, v in session.settings.items() if k in named]
    return ", ".join([f"seed {session.training.seed}", *chosen])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _model_caption(session: Session) -> str | None:
    model = session.namespace.get("model")
    if model is None:
        return None
    if plots.logistic_weights(model) is not None:
        return "the ten learned weight images"
    if plots.first_conv_filters(model) is not None:
        return "the first layer's filters"
    return None


def stage_page(
    stage: Stage, session: Session, previous: Stage | None, following: Stage | None
) -> str:
    """One stage: narrative, code and outputs cell by cell, the diff, results and pictures."""
    parts = [
        f"<h1>Stage {stage.number} · {html.escape(stage.title)}</h1>",
        f'<p class="lead">{html.escape(stage.summary)}</p>',
        *_cells(stage, session),
        *_diff(stage, previous),
    ]
    last = session.history[-1]
    parts.append("<h2>Results</h2>")
    parts.append(
        f"<p>On {html.escape(session.data.describe())}, {_settings(session)}: validation loss "
        f"<strong>{last.valid_loss:.4f}</strong>, accuracy <strong>{last.valid_acc:.2%}"
        "</strong> on the whole validation set after the last epoch.</p>"
    )
    parts.append(_epoch_table(session))
    pictures = [_figure(f"img/{stage.number}_loss.png", "training and validation loss")]
    caption = _model_caption(session)
    if caption:
        pictures.append(_figure(f"img/{stage.number}_model.png", caption))
    parts.append(f'<div class="pair">{"".join(pictures)}</div>')
    return _page(
        f"nnreally · stage {stage.number} {stage.title}",
        "\n".join(parts),
        _nav(previous, following),
    )


def _nav(previous: Stage | None, following: Stage | None) -> str:
    back = (
        f'<a href="{page_name(previous)}">← {previous.number} {html.escape(previous.title)}</a>'
        if previous
        else "<span></span>"
    )
    ahead = (
        f'<a href="{page_name(following)}">{following.number} {html.escape(following.title)} →</a>'
        if following
        else "<span></span>"
    )
    return f'{back}<a href="index.html">all stages</a>{ahead}'


def index_page(sessions: list[tuple[Stage, Session]], data: Data) -> str:
    """The table of stages with their results, and the pictures that compare them."""
    rows = []
    for stage, session in sessions:
        last = session.history[-1]
        rows.append(
            f'<tr><td><a href="{page_name(stage)}">{stage.number}</a></td>'
            f'<td><a href="{page_name(stage)}">{html.escape(stage.title)}</a></td>'
            f"<td>{html.escape(stage.summary)}</td>"
            f'<td class="num">{session.settings.get("lr", "")}</td>'
            f'<td class="num">{last.valid_loss:.4f}</td><td class="num">{last.valid_acc:.2%}</td>'
            f'<td class="num">{session.train_seconds:.1f}</td></tr>'
        )
    first = sessions[0][1]
    body = f"""<h1>What is <code>torch.nn</code> really? — stage by stage</h1>
<p class="lead">PyTorch's tutorial refactors one training script a step at a time. Each stage
below is one step: read its page for the code and what it printed, what changed since the stage
before, and how it trained.</p>
<p>Every stage was run here on {html.escape(data.describe())}, seed {first.training.seed},
batch size {first.settings.get("bs")}, {_count(first.epochs, "epoch")}, and scored on the whole
validation set.</p>
<div class="scroll"><table class="results">
<tr><th>#</th><th>stage</th><th>what it changes</th><th class="num">lr</th>
<th class="num">valid loss</th><th class="num">valid acc</th><th class="num">time (s)</th></tr>
{"".join(rows)}
</table></div>
<h2>The stages side by side</h2>
{_figure("img/comparison.png", "validation loss of every stage after training")}
{_figure("img/losses.png", "validation loss of every stage, epoch by epoch")}
<h2>The data</h2>
{_figure("img/samples.png", f"the first training images of {data.name}")}"""
    return _page(
        "nnreally · stage by stage",
        body,
        '<span></span><a href="index.html">all stages</a><span></span>',
    )


def build(sessions: list[tuple[Stage, Session]], out: Path) -> Path:
    """Write the site for the stages' ``sessions`` into ``out``; return the index page's path."""
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    (out / "style.css").write_text(CSS + HtmlFormatter(style=STYLE).get_style_defs(".highlight"))
    data = sessions[0][1].data
    numbered = [(stage.number, session) for stage, session in sessions]
    plots.plot_samples(data, img / "samples.png")
    plots.plot_comparison(numbered, img / "comparison.png")
    plots.plot_losses(numbered, img / "losses.png", batches=False)
    ordered = list(all_stages())
    for stage, session in sessions:
        i = ordered.index(stage)
        previous = ordered[i - 1] if i else None
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        for index, shown in enumerate(session.shown):
            if shown.png:
                (out / shown_image(stage, index)).write_bytes(shown.png)
        plots.plot_losses([(stage.number, session)], img / f"{stage.number}_loss.png")
        if "model" in session.namespace:
            plots.plot_model(session.namespace["model"], img / f"{stage.number}_model.png")
        (out / page_name(stage)).write_text(stage_page(stage, session, previous, following))
    index = out / "index.html"
    index.write_text(index_page(sessions, data))
    return index


def run_all(training: Training, stages: Sequence[Stage]) -> list[tuple[Stage, Session]]:
    """Run each stage file quietly, on data loaded once; print each one's final line."""
    sessions: list[tuple[Stage, Session]] = []
    for stage in stages:
        data = sessions[-1][1].data if sessions else None
        session = run_stage(stage, training, Output(quiet=True), sys.stdout, data)
        if not session.history:
            raise RunError(f"stage {stage.number} trained no epoch: the book needs one or more")
        session.finish()
        sessions.append((stage, session))
    return sessions


def _check_book(training: Training) -> None:
    """Options that only one stage has cannot apply to the whole book."""
    if training.cuda_graph:
        raise UsageError("--cuda-graph is stage 13's alone: run it with python -m nnreally.stages")
    if training.nproc:
        raise UsageError("--nproc is stage 14's alone: run it with python -m nnreally.stages")
    if training.epochs == 0:
        raise UsageError("--epochs 0: the book shows training; give 1 or more")


def main(argv: Sequence[str], prog: str) -> int:
    """``book --out DIR [training options]`` or ``samples --out FILE [--data ...]``."""
    command, rest = argv[0], argv[1:]
    parser = Parser(prog=f"{prog} {command}")
    parser.add_argument("--out", type=Path, required=True, help="output folder (book) or PNG file")
    add_training_options(parser)
    args = parser.parse_args(rest)
    training = training_options(args)
    if command == "samples":
        check_png(args.out, "--out")
        data_dir = training.data_dir or default_data_dir()
        data = load_data(training.data, data_dir, progress=sys.stderr.isatty())
        for note in data.note.splitlines():
            print(f"note: {note}", file=sys.stderr)
        print(f"samples: {plots.plot_samples(data.head(training.limit), args.out)}")
        return 0
    _check_book(training)
    stages = all_stages()
    print(f"book: running {len(stages)} stages", flush=True)
    index = build(run_all(training, stages), args.out)
    print(f"book: open {index}")
    return 0
