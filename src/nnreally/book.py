"""The book: a static, offline HTML site with one page per stage, in English, Chinese or both.

``book --out DIR`` runs every stage file through the runner (seeded, on ``--data``, loaded
once) and writes ``index.html`` (the stage table, a chart comparing the stages, sample images,
all loss curves), ``summary.html`` (the tutorial's closing summary, each piece linked to the
stage that introduced it) and one page per stage: its narrative and code cell by cell, each
code cell followed by what it printed and the images it drew while it ran, then the
side-by-side diff against the stage it changes, its epoch table and its pictures, with links
to the matching section of the tutorial.

``--lang zh`` writes the Chinese book (the narratives of ``stages/zh/``, the interface and the
pictures' labels in Chinese; code and what it printed stay as they are); ``--lang all`` trains
each stage once and writes both, ``DIR/en/`` and ``DIR/zh/``, each page linking to its twin,
with ``DIR/index.html`` to choose. Plain HTML and CSS: no script, nothing loaded from the
network (links to the tutorial are only links), readable from a phone's width up.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from nnreally import plots, summary
from nnreally.cells import split_cells
from nnreally.data import Data, default_data_dir, load_data
from nnreally.data.digits_cache import DIGITS_SEED, ORIGIN
from nnreally.diffview import render_html
from nnreally.errors import RunError, UsageError
from nnreally.options import (
    Output,
    Parser,
    Training,
    add_training_options,
    check_png,
    training_options,
)
from nnreally.reading import default_language
from nnreally.registry import BUILDS_ON, Stage, all_stages
from nnreally.run import Run, Shown
from nnreally.runner import run_stages
from nnreally.translations import LANGUAGES, SOURCE, narrative, sections, stamp

STYLE = "friendly"  # the pygments colour scheme
INLINE_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
BULLET = re.compile(r"^\* ", re.MULTILINE)
# Characters written without spaces between them: a line break between two is no space.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
IMAGE_NOTE = "image: "  # the line a stage prints after drawing an image outside a notebook
ALL = "all"  # --lang all: every language, side by side
HTML_LANG = {"en": "en", "zh": "zh-CN"}
NATIVE_NAME = {"en": "English", "zh": "中文"}  # each language named in itself, for its link
SUMMARY_PAGE = "summary.html"

TUTORIAL = "https://pytorch.org/tutorials/beginner/nn_tutorial.html"
# The Chinese translation the project's seed text reposts (its "转载自" line).
TRANSLATION = "https://blog.csdn.net/weixin_36811328/article/details/87905208"
# The tutorial's sections each stage follows: (the section's id on the tutorial's page, title).
SECTIONS = {
    "01": (("neural-net-from-scratch-without-torch-nn", "Neural net from scratch"),),
    "02": (("using-torch-nn-functional", "Using torch.nn.functional"),),
    "03": (("refactor-using-nn-module", "Refactor using nn.Module"),),
    "04": (("refactor-using-nn-linear", "Refactor using nn.Linear"),),
    "05": (("refactor-using-torch-optim", "Refactor using torch.optim"),),
    "06": (("refactor-using-dataset", "Refactor using Dataset"),),
    "07": (("refactor-using-dataloader", "Refactor using DataLoader"),),
    "08": (
        ("add-validation", "Add validation"),
        ("create-fit-and-get-data", "Create fit() and get_data()"),
    ),
    "09": (("switch-to-cnn", "Switch to CNN"),),
    "10": (("using-nn-sequential", "Using nn.Sequential"),),
    "11": (("wrapping-dataloader", "Wrapping DataLoader"),),
    "12": (("using-your-gpu", "Using your GPU"),),
}
# The stages beyond the tutorial: PyTorch's own pages on what they use (url, title per language).
FURTHER = {
    "13": (
        (
            "https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs",
            {"en": "CUDA Graphs (CUDA semantics)", "zh": "CUDA 图（CUDA Graphs）"},
        ),
        (
            "https://pytorch.org/tutorials/recipes/recipes/tuning_guide.html",
            {"en": "Performance Tuning Guide", "zh": "性能调优指南（Performance Tuning Guide）"},
        ),
    ),
    "14": (
        (
            "https://pytorch.org/tutorials/intermediate/ddp_tutorial.html",
            {
                "en": "Getting Started with Distributed Data Parallel",
                "zh": "分布式数据并行入门（Distributed Data Parallel）",
            },
        ),
        (
            "https://pytorch.org/docs/stable/elastic/run.html",
            {"en": "torchrun (Elastic Launch)", "zh": "torchrun（Elastic Launch）"},
        ),
    ),
}

# Every word of the interface, per language. Values with {names} are filled in by format().
TEXT = {
    "en": {
        "site": "nnreally · stage by stage",
        "stage_title": "nnreally · stage {number} {title}",
        "stage_heading": "Stage {number} · {title}",
        "stage_link": "stage {number}",
        "all_stages": "all stages",
        "summary_link": "summary",
        "index_heading": "What is <code>torch.nn</code> really? — stage by stage",
        "index_lead": "PyTorch's tutorial refactors one training script a step at a time. Each "
        "stage below is one step: read its page for the code and what it printed, what changed "
        "since the stage before, and how it trained.",
        "index_run": "Every stage was run here on {data}, seed {seed}, batch size {bs}, {epochs}, "
        "and scored on the whole validation set.",
        "index_summary": 'The tutorial ends with <a href="{href}">a summary</a> of what '
        "<code>torch.nn</code>, <code>torch.optim</code>, <code>Dataset</code> and "
        "<code>DataLoader</code> each give you, linked to the stage that introduced each piece.",
        "heads": ("#", "stage", "what it changes", "lr", "valid loss", "valid acc", "time (s)"),
        "side_by_side": "The stages side by side",
        "data": "The data",
        "comparison": "validation loss of every stage after training (accuracy above each bar)",
        "losses": "validation loss of every stage, epoch by epoch",
        "samples": "the first {count} training images of {name}, each with its label",
        "changed": "What changed since stage {number}",
        "beyond": "Stage {number} goes beyond the tutorial and builds on {link}: this compares it "
        "with stage {base}.",
        "beyond_skips": "Stage {number} goes beyond the tutorial and builds on {link}: this "
        "compares it with stage {base}, not the stage before it ({previous}).",
        "tutorial": "In the tutorial: {links}.",
        "further": "PyTorch's own pages on what this stage uses: {links}.",
        "translation": "",
        "list_sep": ", ",
        "sentence_sep": " ",
        "results": "Results",
        "result": "On {data}, {settings}: validation loss <strong>{loss}</strong>, accuracy "
        "<strong>{acc}</strong> on the whole validation set after the last epoch.",
        "seed": "seed {seed}",
        "bs": "batch size {value}",
        "lr": "learning rate {value}",
        "epochs_one": "{n} epoch",
        "epochs_many": "{n} epochs",
        "epoch_heads": ("epoch", "train loss", "valid loss", "valid acc", "seconds"),
        "loss_caption": "training loss per batch (faint) and validation loss after each epoch",
        "weights_caption": "the ten learned weight images, one per class (red: evidence for the "
        "class, blue: against it)",
        "filters_caption": "the first layer's {count} filters ({size} kernels)",
        "drawn": "the image drawn by line {line}",
        "data_line": "{name}: {train:,} train / {valid:,} valid images ({origin})",
        "digits_origin": ORIGIN,
        "item_sep": ": ",
    },
    "zh": {
        "site": "nnreally · 逐阶段解读",
        "stage_title": "nnreally · 阶段 {number} {title}",
        "stage_heading": "阶段 {number} · {title}",
        "stage_link": "阶段 {number}",
        "all_stages": "所有阶段",
        "summary_link": "总结",
        "index_heading": "<code>torch.nn</code> 到底是什么？——逐阶段解读",
        "index_lead": "PyTorch 的这篇教程把一个训练脚本一步一步地重构。下面每个阶段就是其中一步："
        "打开它的页面，可以看到代码和它打印的内容、与上一阶段相比改了什么，以及训练的结果。",
        "index_run": "每个阶段都用同样的数据和设置运行，并在整个验证集上评分。数据：{data}；"
        "随机种子 {seed}，批大小 {bs}，{epochs}。",
        "index_summary": '教程最后有一段<a href="{href}">总结</a>，说明 <code>torch.nn</code>、'
        "<code>torch.optim</code>、<code>Dataset</code> 和 <code>DataLoader</code> "
        "各自为你做了什么，每个部件都链接到它登场的阶段。",
        "heads": ("#", "阶段", "改动", "学习率", "验证损失", "验证准确率", "用时（秒）"),
        "side_by_side": "各阶段对比",
        "data": "数据",
        "comparison": "各阶段训练后的验证损失（柱顶为准确率）",
        "losses": "各阶段每轮训练后的验证损失",
        "samples": "{name} 的前 {count} 张训练图像及其标签",
        "changed": "与阶段 {number} 相比的改动",
        "beyond": "阶段 {number} 超出了原教程，以{link} 为基础：这里把它与阶段 {base} 对比。",
        "beyond_skips": "阶段 {number} 超出了原教程，以{link} 为基础：这里把它与阶段 {base} "
        "对比，而不是与紧挨着的上一个阶段（{previous}）对比。",
        "tutorial": "原教程（英文）中的对应章节：{links}。",
        "further": "PyTorch 关于本阶段所用内容的页面（英文）：{links}。",
        "translation": '教程的<a href="{href}">中文译文</a>（CSDN 博客，整篇）。',
        "list_sep": "、",
        "sentence_sep": "",
        "results": "结果",
        "result": "数据：{data}；{settings}。最后一轮训练后，整个验证集上的验证损失为 "
        "<strong>{loss}</strong>，准确率为 <strong>{acc}</strong>。",
        "seed": "随机种子 {seed}",
        "bs": "批大小 {value}",
        "lr": "学习率 {value}",
        "epochs_one": "{n} 轮",
        "epochs_many": "{n} 轮",
        "epoch_heads": ("轮次", "训练损失", "验证损失", "验证准确率", "秒数"),
        "loss_caption": "每个小批量的训练损失（浅色）与每轮训练后的验证损失",
        "weights_caption": "学到的十张权重图，每个类别一张（红色：支持该类别，蓝色：反对）",
        "filters_caption": "第一层的 {count} 个卷积核（{size}）",
        "drawn": "第 {line} 行画出的图像",
        "data_line": "{name}（{train:,} 张训练图像，{valid:,} 张验证图像；{origin}）",
        "digits_origin": f"内置数据，用 matplotlib 自带的字体生成，生成种子 {DIGITS_SEED}",
        "item_sep": "：",
    },
}

CSS = """
:root { --ink: #1d2430; --muted: #5b6472; --line: #d9dee5; --paper: #fff; --tint: #f5f7fa;
        --del: #fde8e8; --del-strong: #f5b5b5; --add: #e5f6e8; --add-strong: #a8e0b4;
        --mono: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--ink); background: var(--paper); }
:lang(zh) body, body:lang(zh) { font-family: system-ui, -apple-system, "Noto Sans CJK SC",
       "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; line-height: 1.7; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem 1.25rem 4rem; overflow-wrap: break-word; }
nav { display: flex; justify-content: space-between; align-items: baseline; gap: .4rem 1rem;
      flex-wrap: wrap; padding: .6rem 0; border-bottom: 1px solid var(--line); font-size: .95rem; }
nav:last-child { border-bottom: 0; border-top: 1px solid var(--line); margin-top: 2rem; }
nav .middle { display: flex; gap: .4rem 1rem; flex-wrap: wrap; }
a { color: #1f5fbf; }
h1 { font-size: 1.7rem; margin: 1.2rem 0 .4rem; line-height: 1.25; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--line); }
p.lead { color: var(--muted); margin-top: 0; }
p.source { font-size: .92rem; }
code, pre { font: .9em/1.4 var(--mono); }
p code, td code, li code, dd code, h1 code { background: var(--tint); padding: .05em .3em;
                                             border-radius: 3px; }
.highlight { background: var(--tint); border: 1px solid var(--line); border-radius: 6px;
             margin: .8rem 0; overflow-x: auto; -webkit-overflow-scrolling: touch; }
.highlight pre { margin: 0; padding: .75rem 1rem; font-size: .86rem; line-height: 1.45;
                 white-space: pre; overflow-wrap: normal; width: max-content; min-width: 100%; }
.cell { margin: .8rem 0 1.2rem; }
.cell .highlight { margin: 0; }
.cell .highlight:not(:last-child) { border-radius: 6px 6px 0 0; }
.output { border: 1px solid var(--line); border-top: 0; border-radius: 0 0 6px 6px;
          padding: .3rem 1rem .5rem; }
.output::before { content: "output"; display: block; color: var(--muted); font-size: .75rem;
                  text-transform: uppercase; letter-spacing: .05em; }
:lang(zh) .output::before { content: "输出"; }
.output pre { margin: .2rem 0; overflow-x: auto; white-space: pre; overflow-wrap: normal;
              font-size: .82rem; line-height: 1.45; }
.output img { display: block; max-width: 100%; height: auto; margin: .4rem 0; }
.note { background: var(--tint); border-left: 3px solid #1f5fbf; padding: .5rem .9rem; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table.results { border-collapse: collapse; width: 100%; font-size: .95rem; }
table.results th, table.results td { padding: .35rem .6rem; border-bottom: 1px solid var(--line);
                                      text-align: left; vertical-align: top; }
table.results .num { text-align: right; font-variant-numeric: tabular-nums; }
table.results td.num, table.results th { white-space: nowrap; }
table.epochs { width: auto; min-width: 50%; }
table.diff { border-collapse: collapse; width: 100%; table-layout: fixed;
             font: .8rem/1.4 var(--mono); }
table.diff th { background: var(--tint); text-align: left; padding: .3rem .5rem;
                font-family: system-ui, sans-serif; overflow-wrap: anywhere; }
table.diff td { padding: 0 .5rem; height: 1.4em; vertical-align: top;
                border-left: 1px solid var(--line); }
table.diff .ind { float: left; white-space: pre; }
table.diff .src { display: flow-root; white-space: pre-wrap; overflow-wrap: normal;
                  word-break: normal; padding-left: 4ch; text-indent: -4ch; }
table.diff tr.change td:first-child, table.diff tr.del td:first-child { background: var(--del); }
table.diff tr.change td:last-child, table.diff tr.add td:last-child { background: var(--add); }
table.diff del { background: var(--del-strong); text-decoration: none; }
table.diff ins { background: var(--add-strong); text-decoration: none; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: .9rem; }
.pair { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(20rem, 100%), 1fr));
        gap: 1rem; }
ul.pieces > li { margin: .9rem 0; }
ul.pieces ul { padding-left: 1.2rem; }
ul.pieces ul > li { margin: .6rem 0; }
.piece { font-weight: 600; }
/* A narrow screen: the diff becomes one column, each run of changed lines old above new,
   scrolling sideways as a whole instead of wrapping; the stage table becomes a list. */
@media (max-width: 60rem) {
  table.diff, table.diff thead, table.diff tr { display: block; }
  table.diff { width: max-content; min-width: 100%; }
  /* a run of changed rows: every old line (left cells), then every new one (right cells) */
  table.diff tbody { display: flex; flex-direction: column; }
  table.diff tbody tr { display: contents; }
  table.diff tbody td:last-child { order: 1; }
  table.diff th, table.diff td { display: block; border-left: 0; }
  table.diff .ind { float: none; }
  table.diff .src { display: inline; white-space: pre; padding-left: 0; }
  table.diff td::before, table.diff th::before { display: inline-block; width: 2ch;
                                                color: var(--muted); }
  table.diff tr.same td:last-child { display: none; } /* the same line as on the left */
  table.diff tr.del td:last-child, table.diff tr.add td:first-child { display: none; } /* empty */
  table.diff th:first-child::before, table.diff tr.change td:first-child::before,
  table.diff tr.del td:first-child::before { content: "-"; }
  table.diff th:last-child::before, table.diff tr.change td:last-child::before,
  table.diff tr.add td:last-child::before { content: "+"; }
  table.diff tr.same td:first-child::before { content: " "; white-space: pre; }
}
@media (max-width: 40rem) {
  body { font-size: 15px; }
  main { padding: .5rem .9rem 3rem; }
  h1 { font-size: 1.4rem; }
  nav .middle { order: -1; flex-basis: 100%; justify-content: center; }
  table.results th, table.results td { padding: .3rem .4rem; }
  table.results th { white-space: normal; }
  :lang(zh) table.results th { word-break: keep-all; } /* 训练损失, never 训练损 / 失 */
  table.stages thead { display: none; } /* each figure is labelled in its row instead */
  table.stages, table.stages tbody { display: block; }
  table.stages tr { display: flex; flex-wrap: wrap; gap: .1rem .9rem; padding: .6rem 0;
                    border-bottom: 1px solid var(--line); }
  table.stages td { display: block; border: 0; padding: 0; }
  table.stages td.what { flex-basis: 100%; }
  table.stages td.num { text-align: left; }
  table.stages td.num::before { content: attr(data-label) " "; color: var(--muted); }
  table.stages td:nth-child(2) { font-weight: 600; }
}
"""


def _join_lines(text: str) -> str:
    """A paragraph's lines as one line: joined by a space, except between two CJK characters."""
    joined = ""
    for line in (" ".join(line.split()) for line in text.splitlines()):
        if not line:
            continue
        tight = joined and CJK.match(joined[-1]) and CJK.match(line[0])
        joined += line if not joined or tight else f" {line}"
    return joined


def _inline(text: str) -> str:
    """One paragraph's text, escaped, with ``code`` marked."""
    escaped = html.escape(_join_lines(text))
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


def page_name(stage: Stage) -> str:
    return f"{stage.number}_{stage.name}.html"


def shown_image(stage: Stage, index: int) -> str:
    """Where the image ``session.shown[index]`` of ``stage`` is written, relative to the site."""
    return f"img/{stage.number}_shown{index}.png"


def _figure(src: str, caption: str) -> str:
    alt = html.escape(caption)
    image = f'<img src="{src}" alt="{alt}" loading="lazy">'
    return f"<figure>{image}<figcaption>{alt}</figcaption></figure>"


def _outside(href: str, text: str) -> str:
    """A link to a page on the web: followed only when the reader clicks it."""
    return f'<a href="{html.escape(href)}" rel="external">{html.escape(text)}</a>'


def cell_outputs(stage: Stage, session: Run) -> dict[int, list[int]]:
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


def _previous_and_next(stage: Stage) -> tuple[Stage | None, Stage | None]:
    ordered = list(all_stages())
    i = ordered.index(stage)
    return (ordered[i - 1] if i else None), (ordered[i + 1] if i + 1 < len(ordered) else None)


class Site:
    """The pages of the book in one language; ``twin`` is the folder of the other language's
    site relative to this one (``../zh/``), or None when there is none."""

    def __init__(self, lang: str, twin: str | None = None, twin_lang: str | None = None):
        self.lang = lang
        self.text = TEXT[lang]
        self.twin = twin
        self.twin_lang = twin_lang
        self.notes: list[str] = []  # what a reader of the build's output should know

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
        note = (
            f"stage {stage.number}: {missing} of {len(english)} narrative cells have no "
            f"{self.lang} translation yet; the {self.lang} book shows them in English "
            "(python -m nnreally.translations --check)"
        )
        if missing and note not in self.notes:
            self.notes.append(note)
        return told

    def in_own_language(self, lang: str) -> str:
        """The attribute that marks text in ``lang`` on a page in another language."""
        return "" if lang == self.lang else f' lang="{HTML_LANG[lang]}"'

    def __call__(self, key: str, **values: object) -> str:
        return self.text[key].format(**values)

    # --- pieces shared by the pages ----------------------------------------------------------

    def count_epochs(self, n: int) -> str:
        return self("epochs_one" if n == 1 else "epochs_many", n=n)

    def describe(self, data: Data) -> str:
        """One line about the data, as ``Data.describe`` says it, in this language."""
        origin = self("digits_origin") if data.origin == ORIGIN else data.origin
        line = self(
            "data_line",
            name=data.name,
            train=len(data.x_train),
            valid=len(data.x_valid),
            origin=origin,
        )
        return html.escape(line)

    def link(self, stage: Stage) -> str:
        return f'<a href="{page_name(stage)}">{self("stage_link", number=stage.number)}</a>'

    def summary_line(self, stage: Stage) -> str:
        """The first line of the stage's docstring in this language, marked up."""
        text, lang = self.told(stage)[0]
        line = _inline(text.split("\n", 1)[0])
        return f"<span{self.in_own_language(lang)}>{line}</span>" if lang != self.lang else line

    def page(self, title: str, body: str, nav: str, name: str) -> str:
        return (
            f'<!DOCTYPE html>\n<html lang="{HTML_LANG[self.lang]}">\n<head>\n'
            '<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n"
            f"{self.twin_head(name)}"
            '<link rel="stylesheet" href="style.css">\n</head>\n<body>\n<main>\n'
            f"<nav>{nav}</nav>\n{body}\n<nav>{nav}</nav>\n</main>\n</body>\n</html>\n"
        )

    def twin_head(self, name: str) -> str:
        if self.twin is None:
            return ""
        lang = HTML_LANG[self.twin_lang]
        return f'<link rel="alternate" hreflang="{lang}" href="{self.twin}{name}">\n'

    def twin_link(self, name: str) -> str:
        """The same page in the other language, named in that language."""
        if self.twin is None:
            return ""
        lang = HTML_LANG[self.twin_lang]
        return (
            f'<a href="{self.twin}{name}" hreflang="{lang}" lang="{lang}">'
            f"{NATIVE_NAME[self.twin_lang]}</a>"
        )

    def nav(self, name: str, previous: Stage | None = None, following: Stage | None = None) -> str:
        back = (
            f'<a href="{page_name(previous)}">← {previous.number} {html.escape(previous.title)}</a>'
            if previous
            else "<span></span>"
        )
        ahead = (
            f'<a href="{page_name(following)}">'
            f"{following.number} {html.escape(following.title)} →</a>"
            if following
            else "<span></span>"
        )
        middle = [
            f'<a href="index.html">{self("all_stages")}</a>',
            f'<a href="{SUMMARY_PAGE}">{self("summary_link")}</a>',
            self.twin_link(name),
        ]
        return f'{back}<span class="middle">{"".join(middle)}</span>{ahead}'

    # --- a stage's page ----------------------------------------------------------------------

    def output(self, stage: Stage, session: Run, indices: list[int]) -> str:
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
                alt = html.escape(self("drawn", line=shown.line))
                parts.append(f'<img src="{shown_image(stage, index)}" alt="{alt}">')
            else:
                text.append(shown.text)
        return f'<div class="output">{"".join(parts)}</div>'

    def cells(self, stage: Stage, session: Run) -> list[str]:
        """The narrative (in this language) and the code, cell by cell, each code cell followed
        by what it showed."""
        formatter = HtmlFormatter(style=STYLE)
        outputs = cell_outputs(stage, session)
        told = iter(self.told(stage))
        parts = []
        for position, cell in enumerate(split_cells(stage.source)):
            if cell.kind == "markdown":
                text, lang = next(told)
                # The docstring's first line is the page's lead paragraph already.
                body = prose(text if position else text.split("\n", 1)[-1])
                parts.append(f'<div class="prose"{self.in_own_language(lang)}>{body}</div>')
                continue
            code = highlight(cell.text, PythonLexer(), formatter)
            shown = self.output(stage, session, outputs[position]) if position in outputs else ""
            parts.append(f'<div class="cell">{code}{shown}</div>')
        return parts

    def sources(self, stage: Stage) -> str:
        """Links to the tutorial's sections this stage follows (PyTorch's pages beyond it)."""
        sep = self("list_sep")
        if stage.number in SECTIONS:
            links = [_outside(f"{TUTORIAL}#{id_}", title) for id_, title in SECTIONS[stage.number]]
            said = self("tutorial", links=sep.join(links))
            if self.text["translation"]:
                said += self("sentence_sep") + self("translation", href=html.escape(TRANSLATION))
        elif stage.number in FURTHER:
            links = [_outside(url, titles[self.lang]) for url, titles in FURTHER[stage.number]]
            said = self("further", links=sep.join(links))
        else:
            return ""
        return f'<p class="source">{said}</p>'

    def diff(self, stage: Stage, previous: Stage | None) -> list[str]:
        """The side-by-side diff against the stage this one changes, and which stage that is."""
        base = stage.base
        if base is None:
            return []
        parts = [f"<h2>{self('changed', number=base.number)}</h2>"]
        if BUILDS_ON.search(stage.docstring):
            said = dict(number=stage.number, link=self.link(base), base=base.number)
            if previous != base:
                said = self("beyond_skips", previous=self.link(previous), **said)
            else:
                said = self("beyond", **said)
            parts.append(f'<p class="note">{said}</p>')
        titles = (f"{base.number} {base.title}", f"{stage.number} {stage.title}")
        lines = base.source.splitlines(), stage.source.splitlines()
        parts.append(f'<div class="scroll">{render_html(*lines, titles=titles)}</div>')
        return parts

    def epoch_table(self, session: Run) -> str:
        names = self.text["epoch_heads"]
        head = "".join(f'<th class="num">{name}</th>' for name in names)
        rows = []
        for e in session.history:
            train = "&ndash;" if e.train_loss is None else f"{e.train_loss:.4f}"
            rows.append(
                f'<tr><td class="num">{e.epoch}</td><td class="num">{train}</td>'
                f'<td class="num">{e.valid_loss:.4f}</td><td class="num">{e.valid_acc:.2%}</td>'
                f'<td class="num">{e.seconds:.2f}</td></tr>'
            )
        return (
            f'<div class="scroll"><table class="results epochs"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )

    def settings(self, session: Run) -> str:
        """The seed and the stage's settings, as a sentence says them."""
        chosen = [self("seed", seed=session.training.seed)]
        for key, value in session.settings.items():
            if key == "epochs":
                chosen.append(self.count_epochs(session.epochs))
            elif key in ("bs", "lr"):
                chosen.append(self(key, value=value))
        return self("list_sep").join(chosen)

    def model_caption(self, session: Run) -> str | None:
        model = session.variables.get("model")
        if model is None:
            return None
        if plots.logistic_weights(model) is not None:
            return self("weights_caption")
        filters = plots.first_conv_filters(model)
        if filters is not None:
            size = "x".join(map(str, filters.shape[-2:]))
            return self("filters_caption", count=filters.shape[0], size=size)
        return None

    def stage_page(self, stage: Stage, session: Run) -> str:
        """One stage: narrative, code and outputs cell by cell, the diff, results and pictures."""
        previous, following = _previous_and_next(stage)
        heading = self("stage_heading", number=stage.number, title=html.escape(stage.title))
        parts = [
            f"<h1>{heading}</h1>",
            f'<p class="lead">{self.summary_line(stage)}</p>',
            self.sources(stage),
            *self.cells(stage, session),
            *self.diff(stage, previous),
        ]
        last = session.history[-1]
        parts.append(f"<h2>{self('results')}</h2>")
        result = self(
            "result",
            data=self.describe(session.data),
            settings=html.escape(self.settings(session)),
            loss=f"{last.valid_loss:.4f}",
            acc=f"{last.valid_acc:.2%}",
        )
        parts.append(f"<p>{result}</p>")
        parts.append(self.epoch_table(session))
        pictures = [_figure(f"img/{stage.number}_loss.png", self("loss_caption"))]
        caption = self.model_caption(session)
        if caption:
            pictures.append(_figure(f"img/{stage.number}_model.png", caption))
        parts.append(f'<div class="pair">{"".join(pictures)}</div>')
        name = page_name(stage)
        return self.page(
            self("stage_title", number=stage.number, title=stage.title),
            "\n".join(p for p in parts if p),
            self.nav(name, previous, following),
            name,
        )

    # --- the index and the summary -----------------------------------------------------------

    def index_page(self, sessions: list[tuple[Stage, Run]], data: Data) -> str:
        """The table of stages with their results, and the pictures that compare them."""
        heads = self.text["heads"]
        rows = []
        for stage, session in sessions:
            last = session.history[-1]
            figures = (
                session.settings.get("lr", ""),
                f"{last.valid_loss:.4f}",
                f"{last.valid_acc:.2%}",
                f"{session.train_seconds:.2f}",
            )
            numbers = "".join(
                f'<td class="num" data-label="{html.escape(label)}">{value}</td>'
                for label, value in zip(heads[3:], figures, strict=True)
            )
            rows.append(
                f'<tr><td><a href="{page_name(stage)}">{stage.number}</a></td>'
                f'<td><a href="{page_name(stage)}">{html.escape(stage.title)}</a></td>'
                f'<td class="what">{self.summary_line(stage)}</td>{numbers}</tr>'
            )
        head = "".join(
            f'<th class="num">{h}</th>' if i >= 3 else f"<th>{h}</th>" for i, h in enumerate(heads)
        )
        first = sessions[0][1]
        run = self(
            "index_run",
            data=self.describe(data),
            seed=first.training.seed,
            bs=first.settings.get("bs"),
            epochs=self.count_epochs(first.epochs),
        )
        count = plots.SAMPLE_ROWS * plots.SAMPLE_COLS
        body = f"""<h1>{self("index_heading")}</h1>
<p class="lead">{self("index_lead")}</p>
<p>{run}</p>
<p>{self("index_summary", href=SUMMARY_PAGE)}</p>
<div class="scroll"><table class="results stages">
<thead><tr>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody>
</table></div>
<h2>{self("side_by_side")}</h2>
{_figure("img/comparison.png", self("comparison"))}
{_figure("img/losses.png", self("losses"))}
<h2>{self("data")}</h2>
{_figure("img/samples.png", self("samples", name=data.name, count=count))}"""
        return self.page(self("site"), body, self.nav("index.html"), "index.html")

    def summary_page(self) -> str:
        """The tutorial's closing summary: each piece, what it gives you, and its stage."""
        stages = {stage.number: stage for stage in all_stages()}

        def item(piece: summary.Piece) -> str:
            name = f'<code class="piece">{html.escape(piece.name)}</code>'
            where = f" · {self.link(stages[piece.stage])}" if piece.stage else ""
            inner = "".join(item(part) for part in piece.parts)
            nested = f"<ul>{inner}</ul>" if inner else ""
            said = _inline(piece.text(self.lang))
            return f"<li>{name}{where}{self('item_sep')}{said}{nested}</li>"

        parts = [
            f"<h1>{html.escape(summary.TITLE[self.lang])}</h1>",
            f'<p class="lead">{_inline(summary.INTRO[self.lang])}</p>',
        ]
        for group in summary.GROUPS:
            parts.append(f"<h2>{_inline(group.heading(self.lang))}</h2>")
            parts.append(f'<ul class="pieces">{"".join(item(p) for p in group.pieces)}</ul>')
        parts.append(f"<h2>{html.escape(summary.CLOSING_HEADING[self.lang])}</h2>")
        parts.append(f"<p>{_inline(summary.CLOSING[self.lang])}</p>")
        title = f"nnreally · {summary.TITLE[self.lang]}"
        return self.page(title, "\n".join(parts), self.nav(SUMMARY_PAGE), SUMMARY_PAGE)


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
    sessions: list[tuple[Stage, Run]],
    out: Path,
    lang: str = "en",
    twin: tuple[str, str] | None = None,
    drawn: dict[tuple[str, str | None], Path] | None = None,
    notes: list[str] | None = None,
) -> Path:
    """Write the site in ``lang`` for the stages' ``sessions`` into ``out``; return the index
    page's path. ``twin``: (the other language, its site's folder relative to this one);
    ``notes`` gets what the reader of the build's output should know."""
    site = Site(lang, twin[1], twin[0]) if twin else Site(lang)
    img = out / "img"
    img.mkdir(parents=True, exist_ok=True)
    (out / "style.css").write_text(CSS + HtmlFormatter(style=STYLE).get_style_defs(".highlight"))
    pictures = Pictures(out, {} if drawn is None else drawn)
    data = sessions[0][1].data
    numbered = [(stage.number, session) for stage, session in sessions]
    pictures.draw("img/samples.png", None, lambda p: plots.plot_samples(data, p, lang=None))
    pictures.draw("img/comparison.png", lang, lambda p: plots.plot_comparison(numbered, p, lang))
    pictures.draw(
        "img/losses.png", lang, lambda p: plots.plot_losses(numbered, p, batches=False, lang=lang)
    )
    for stage, session in sessions:
        for index, shown in enumerate(session.shown):
            if shown.png:
                (out / shown_image(stage, index)).write_bytes(shown.png)
        run = [(stage.number, session)]
        loss = f"img/{stage.number}_loss.png"
        pictures.draw(loss, lang, lambda p, run=run: plots.plot_losses(run, p, lang=lang))
        model = session.variables.get("model")
        if model is not None:
            picture = f"img/{stage.number}_model.png"
            pictures.draw(picture, None, lambda p, m=model: plots.plot_model(m, p, lang=None))
        (out / page_name(stage)).write_text(site.stage_page(stage, session), encoding="utf-8")
    (out / SUMMARY_PAGE).write_text(site.summary_page(), encoding="utf-8")
    index = out / "index.html"
    index.write_text(site.index_page(sessions, data), encoding="utf-8")
    if notes is not None:
        notes += site.notes
    return index


def chooser_page() -> str:
    """The page above the language sites of ``--lang all``: one link per language."""
    links = "".join(
        f'<li lang="{HTML_LANG[lang]}"><a href="{lang}/index.html" hreflang="{HTML_LANG[lang]}">'
        f"{TEXT[lang]['index_heading']}</a> ({NATIVE_NAME[lang]})</li>"
        for lang in LANGUAGES
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{TEXT['en']['site']} · {TEXT['zh']['site']}</title>\n"
        f'<link rel="stylesheet" href="{LANGUAGES[0]}/style.css">\n</head>\n<body>\n<main>\n'
        f'<h1>nnreally</h1>\n<ul class="pieces">{links}</ul>\n</main>\n</body>\n</html>\n'
    )


def write_book(
    sessions: list[tuple[Stage, Run]], out: Path, lang: str, notes: list[str] | None = None
) -> Path:
    """The book in ``lang`` in ``out``, or with ``all`` every language in ``out/LANG/`` (the
    stages trained once for all) and a page to choose; return the page to open."""
    if lang != ALL:
        return build(sessions, out, lang, notes=notes)
    drawn: dict[tuple[str, str | None], Path] = {}
    for this in LANGUAGES:
        other = next(other for other in LANGUAGES if other != this)
        twin = (other, f"../{other}/")
        build(sessions, out / this, this, twin=twin, drawn=drawn, notes=notes)
    index = out / "index.html"
    index.write_text(chooser_page(), encoding="utf-8")
    return index


def run_all(training: Training, stages: Sequence[Stage]) -> list[tuple[Stage, Run]]:
    """Run each stage quietly through the dispatcher's loop, printing each one's final line."""
    runs = run_stages(stages, training, Output(quiet=True), sys.stdout)
    for run in runs:
        if not run.history:
            raise RunError(f"{run.name} trained no epoch: the book needs one or more")
    return [(run.stage, run) for run in runs]


def _check_book(training: Training) -> None:
    """Options that only one stage has cannot apply to the whole book."""
    if training.cuda_graph:
        raise UsageError("--cuda-graph is stage 13's alone: run it with python -m nnreally.stages")
    if training.nproc:
        raise UsageError("--nproc is stage 14's alone: run it with python -m nnreally.stages")
    if training.epochs == 0:
        raise UsageError("--epochs 0: the book shows training; give 1 or more")


def main(argv: Sequence[str], prog: str) -> int:
    """``book --out DIR [--lang en|zh|all] [training options]`` or
    ``samples --out FILE [--data ...]``."""
    command, rest = argv[0], argv[1:]
    parser = Parser(prog=f"{prog} {command}")
    parser.add_argument("--out", type=Path, required=True, help="output folder (book) or PNG file")
    if command == "book":
        parser.add_argument(
            "--lang",
            choices=(*LANGUAGES, ALL),
            help="the book's language; all: every language side by side, in DIR/LANG/ "
            "(default: $NNREALLY_LANG, else zh under a Chinese locale, else en)",
        )
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
    lang = args.lang or default_language()  # before training: a bad $NNREALLY_LANG stops here
    notes: list[str] = []
    index = write_book(run_all(training, stages), args.out, lang, notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"book: open {index}")
    return 0
