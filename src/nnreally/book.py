"""The book: a static, offline HTML site with one page per stage, and the samples picture.

``book --out DIR`` trains every stage (seeded, on ``--data``) and writes ``index.html`` (the
stage table, a chart comparing the stages, sample images, all loss curves) and one page per
stage: its narrative and code cell by cell, highlighted by pygments, the side-by-side diff
against the previous stage, its epoch table and its pictures. Plain HTML and CSS: no script,
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
from nnreally.cli import Parser
from nnreally.data.files import Data
from nnreally.diffview import render_html
from nnreally.registry import Stage, all_stages
from nnreally.run import Run

STYLE = "friendly"  # the pygments colour scheme
INLINE_CODE = re.compile(r"``(.+?)``|`([^`]+)`")

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
code { font: .9em/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
p code, td code, li code { background: var(--tint); padding: .05em .3em; border-radius: 3px; }
.highlight { background: var(--tint); border: 1px solid var(--line); border-radius: 6px;
             margin: .8rem 0; overflow-x: auto; }
.highlight pre { margin: 0; padding: .75rem 1rem; font-size: .86rem; line-height: 1.45; }
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


def prose(text: str) -> str:
    """Paragraphs with inline code: the little markdown the stage files use."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = html.escape(" ".join(paragraph.split()))
        out.append(
            "<p>" + INLINE_CODE.sub(lambda m: f"<code>{m[1] or m[2]}</code>", escaped) + "</p>"
        )
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


def _figure(src: str, caption: str) -> str:
    alt = html.escape(caption)
    image = f'<img src="{src}" alt="{alt}" loading="lazy">'
    return f"<figure>{image}<figcaption>{alt}</figcaption></figure>"


def _epoch_table(run: Run) -> str:
    names = ("epoch", "train loss", "valid loss", "valid acc", "seconds")
    head = "<tr>" + "".join(f'<th class="num">{name}</th>' for name in names) + "</tr>"
    rows = []
    for e in run.history:
        train = "&ndash;" if e.train_loss is None else f"{e.train_loss:.4f}"
        rows.append(
            f'<tr><td class="num">{e.epoch}</td><td class="num">{train}</td>'
            f'<td class="num">{e.valid_loss:.4f}</td><td class="num">{e.valid_acc:.2%}</td>'
            f'<td class="num">{e.seconds:.2f}</td></tr>'
        )
    return f'<div class="scroll"><table class="results">{head}{"".join(rows)}</table></div>'


def stage_page(stage: Stage, run: Run, previous: Stage | None, following: Stage | None) -> str:
    """One stage: narrative and code cell by cell, the diff, the results and the pictures."""
    formatter = HtmlFormatter(style=STYLE)
    parts = [f"<h1>Stage {stage.number} · {html.escape(stage.title)}</h1>"]
    for i, cell in enumerate(split_cells(stage.source)):
        if cell.kind == "markdown":
            parts.append(prose(cell.text) if i else prose(cell.text.split("\n", 1)[-1]))
        else:
            parts.append(highlight(cell.text, PythonLexer(), formatter))
    parts.insert(1, f'<p class="lead">{html.escape(stage.summary)}</p>')
    if previous is not None:
        parts.append(f"<h2>What changed since stage {previous.number}</h2>")
        titles = (f"{previous.number} {previous.title}", f"{stage.number} {stage.title}")
        lines = previous.source.splitlines(), stage.source.splitlines()
        parts.append(f'<div class="scroll">{render_html(*lines, titles=titles)}</div>')
    last = run.history[-1]
    parts.append("<h2>Results</h2>")
    parts.append(
        f"<p>On {html.escape(run.data.describe())}, seed {run.seed}, batch size {run.bs}, "
        f"learning rate {run.lr}: validation loss <strong>{last.valid_loss:.4f}</strong>, "
        f"accuracy <strong>{last.valid_acc:.2%}</strong> on the whole validation set. "
        "Epoch 0 is the untrained model.</p>"
    )
    parts.append(_epoch_table(run))
    pictures = [_figure(f"img/{stage.number}_loss.png", "training and validation loss")]
    if plots.logistic_weights(run.model) is not None:
        pictures.append(_figure(f"img/{stage.number}_model.png", "the ten learned weight images"))
    elif plots.first_conv_filters(run.model) is not None:
        pictures.append(_figure(f"img/{stage.number}_model.png", "the first layer's filters"))
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


def index_page(runs: list[tuple[Stage, Run]], data: Data) -> str:
    """The table of stages with their results, and the pictures that compare them."""
    rows = []
    for stage, run in runs:
        last = run.history[-1]
        rows.append(
            f'<tr><td><a href="{page_name(stage)}">{stage.number}</a></td>'
            f'<td><a href="{page_name(stage)}">{html.escape(stage.title)}</a></td>'
            f"<td>{html.escape(stage.summary)}</td>"
            f'<td class="num">{last.valid_loss:.4f}</td><td class="num">{last.valid_acc:.2%}</td>'
            f'<td class="num">{run.train_seconds:.1f}</td></tr>'
        )
    first = runs[0][1]
    body = f"""<h1>What is <code>torch.nn</code> really? — stage by stage</h1>
<p class="lead">PyTorch's tutorial refactors one training script a step at a time. Each stage
below is one step: read its page for the code, what changed since the stage before, and how it
trained.</p>
<p>Every stage was trained here on {html.escape(data.describe())}, seed {first.seed}, batch size
{first.bs}, {first.epochs} epochs, and scored on the whole validation set.</p>
<div class="scroll"><table class="results">
<tr><th>#</th><th>stage</th><th>what it changes</th><th class="num">valid loss</th>
<th class="num">valid acc</th><th class="num">time (s)</th></tr>
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


def build(runs: list[tuple[Stage, Run]], data: Data, out: Path, log=print) -> Path:
    """Write the site for trained ``runs`` into ``out``; return the index page's path."""
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    (out / "style.css").write_text(CSS + HtmlFormatter(style=STYLE).get_style_defs(".highlight"))
    plots.plot_samples(data, img / "samples.png")
    plots.plot_comparison([(s.number, r) for s, r in runs], img / "comparison.png")
    plots.plot_losses([(s.number, r) for s, r in runs], img / "losses.png", batches=False)
    ordered = list(all_stages())
    for stage, run in runs:
        i = ordered.index(stage)
        previous = ordered[i - 1] if i else None
        following = ordered[i + 1] if i + 1 < len(ordered) else None
        plots.plot_losses([(stage.number, run)], img / f"{stage.number}_loss.png")
        plots.plot_model(run.model, img / f"{stage.number}_model.png")
        (out / page_name(stage)).write_text(stage_page(stage, run, previous, following))
        log(f"book: wrote {out / page_name(stage)}")
    index = out / "index.html"
    index.write_text(index_page(runs, data))
    return index


def main(argv: Sequence[str], prog: str) -> int:
    """``book --out DIR [training options]`` or ``samples --out FILE [--data ...]``."""
    from nnreally.stages import add_training_options, prepare, train_all

    command, rest = argv[0], argv[1:]
    parser = Parser(prog=f"{prog} {command}")
    parser.add_argument("--out", type=Path, required=True, help="output folder (book) or PNG file")
    add_training_options(parser)
    args = parser.parse_args(rest)
    data, device = prepare(args)
    if command == "samples":
        print(f"samples: {plots.plot_samples(data, args.out)}")
        return 0
    stages = list(all_stages())
    print(f"book: training {len(stages)} stages on {data.describe()}", flush=True)
    runs = train_all(args, stages, data, device, sys.stdout)
    index = build(runs, data, args.out)
    print(f"book: open {index}")
    return 0
