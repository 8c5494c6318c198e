"""Pictures, written as PNG files (matplotlib's Agg backend: no window, no display needed).

Each function takes what it draws and a path, writes one figure of a fixed pixel size, and
returns the path: sample digits, loss curves, a stage comparison, the ten weight images of a
logistic model and the first-layer filters of a CNN. Figures are built with matplotlib's
object API, not pyplot: no global state, no backend switched under a notebook's feet.

Labels come in English or Chinese (``lang``). Chinese needs a CJK font (Debian's
``fonts-noto-cjk``); where none is installed the labels stay English, so a figure never shows
boxes for missing glyphs. ``lang=None`` draws no words at all beyond digits, for a page that
captions the picture itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import torch
from matplotlib import colormaps, font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import LogFormatter, MaxNLocator
from torch import nn

from nnreally.data.digits import SIDE
from nnreally.data.files import CLASSES, Data
from nnreally.data.writes import write_file
from nnreally.options import PNG_METADATA
from nnreally.run import Run
from nnreally.texts import LANGUAGES, SOURCE, words

DPI = 100
WIDE = (8.0, 4.5)  # inches: 800 x 450 pixels at DPI
GRID = (8.0, 4.0)  # 800 x 400
SAMPLE_ROWS, SAMPLE_COLS = 4, 10  # the grid of sample images
# 14 stages need 14 curves told apart: ten colours, then the same colours again with another
# line style and marker, so no two curves share both.
COLOURS = tuple(f"C{i}" for i in range(10))  # matplotlib's default cycle ("tab10")
STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"))
LEGEND_INSIDE = 4  # curves whose legend fits inside the axes; more go beside them

# Family names of fonts that draw Simplified Chinese, best first: a "CJK" family (Noto, as
# Debian's fonts-noto-cjk installs it) for the Simplified Chinese region, then any CJK family.
CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Serif CJK SC")
CJK_MARK = "CJK"
FALLBACK_FONT = "DejaVu Sans"  # ships with matplotlib: draws whatever the CJK font lacks


class PlainLogFormatter(LogFormatter):
    """Log-axis labels as plain numbers (0.4, 2.305), not as 4e-01 or 2.305 x 10^0."""

    def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
        return f"{x:.4g}"


def choose_cjk(families: Iterable[str]) -> str | None:
    """The family among ``families`` that best draws Simplified Chinese, or None."""
    found = set(families)
    for family in CJK_FAMILIES:
        if family in found:
            return family
    cjk = sorted(f for f in found if CJK_MARK in f)
    return next((f for f in cjk if f.endswith(" SC")), cjk[0] if cjk else None)


@cache
def cjk_font() -> str | None:
    """The installed CJK font family matplotlib can use, or None.

    matplotlib lists the fonts it found when it built its cache; a font installed after that
    is missing from the list, so the font files themselves are looked for once as well.
    """
    manager = font_manager.fontManager
    family = choose_cjk(f.name for f in manager.ttflist)
    if family is None:
        for path in font_manager.findSystemFonts():
            if CJK_MARK.lower() in Path(path).name.lower():
                manager.addfont(path)
        family = choose_cjk(f.name for f in manager.ttflist)
    return family


def drawn_language(lang: str | None) -> str | None:
    """The language a figure asked for in ``lang`` is labelled in: Chinese only with a font."""
    if lang is None or lang == "en" or cjk_font() is None:
        return None if lang is None else "en"
    if lang not in LANGUAGES:
        raise ValueError(f"no labels in {lang!r} (there are {', '.join(LANGUAGES)})")
    return lang


def _words(lang: str | None) -> Callable[..., str]:
    """The labels' words in the language the figure is drawn in: ``_words(lang)("epoch")``."""
    catalog = words(drawn_language(lang) or SOURCE)
    return lambda key, **values: catalog(f"plots.{key}", **values)


def _save(fig: Figure, path: Path, lang: str | None = "en") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _use_font(fig, lang)
    write_file(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png", metadata=PNG_METADATA))
    return path


def save_png(png: bytes, path: Path) -> Path:
    """An image already drawn (``png``, as a stage's ``show_image`` made it) into ``path``."""
    write_file(path, lambda tmp: tmp.write_bytes(png))
    return path


def _use_font(fig: Figure, lang: str | None) -> None:
    """Draw the figure's words with the CJK font when they are Chinese (digits and Latin
    letters fall back to the default font, glyph by glyph)."""
    if drawn_language(lang) != "zh":
        return
    families = [cjk_font(), FALLBACK_FONT]
    for text in fig.findobj(Text):
        text.set_fontfamily(families)


def plot_samples(data: Data, path: Path, lang: str | None = "en") -> Path:
    """The first training images with their labels, as the tutorial's ``imshow``, in a grid."""
    count = min(SAMPLE_ROWS * SAMPLE_COLS, len(data.x_train))
    fig = Figure(figsize=GRID)
    images = data.x_train[:count].view(count, SIDE, SIDE)
    labels = [str(int(y)) for y in data.y_train[:count]]
    _tiled(fig, images, labels, SAMPLE_COLS, "gray", 0.0, 1.0, titled=lang is not None)
    if lang is not None:
        title = _words(lang)("samples", name=data.name, count=count)
        fig.suptitle(title, fontsize=10)
    return _save(fig, path, lang)


def tiles(images: torch.Tensor, cols: int) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """``images`` (n x h x w) as one image: a grid of ``cols`` columns with a gap around each
    (NaN, drawn as the page's white) and room above it for a label; and each image's top-left
    corner in it, as (row, column)."""
    n, height, width = images.shape
    gap = max(2, 3 * height // 7)  # 12 pixels between two digits, 2 between 3x3 kernels
    rows = -(-n // cols)
    grid = torch.full((rows * (height + gap), cols * (width + gap)), float("nan"))
    corners = []
    for i, image in enumerate(images):
        top = (i // cols) * (height + gap) + gap
        left = (i % cols) * (width + gap) + gap // 2
        grid[top : top + height, left : left + width] = image
        corners.append((top, left))
    return grid, corners


def _tiled(fig, images, labels, cols, cmap, vmin, vmax, titled, fontsize=9) -> None:
    """Draw ``tiles(images, cols)`` on ``fig`` with ``labels`` above the images, row 0 of each
    image at its top; below the figure's title when it has one (``titled``).

    One image with text on it rather than an axes per picture: forty axes take matplotlib a
    second and a half to draw, this a tenth of a second."""
    grid, corners = tiles(images, cols)
    ax = fig.add_axes((0.05, 0.02, 0.9, 0.86 if titled else 0.96))
    for (top, left), label in zip(corners, labels, strict=True):
        x = left + (images.shape[-1] - 1) / 2
        ax.text(x, top - 1, label, ha="center", va="bottom", fontsize=fontsize)
    colours = colormaps[cmap].with_extremes(bad="white")
    ax.imshow(grid.numpy(), cmap=colours, vmin=vmin, vmax=vmax, origin="upper")
    ax.axis("off")


def curve_style(index: int) -> dict[str, str]:
    """Colour, line style and marker of the ``index``-th curve: unique up to 40 curves."""
    line, marker = STYLES[index // len(COLOURS) % len(STYLES)]
    return {"color": COLOURS[index % len(COLOURS)], "linestyle": line, "marker": marker}


def plot_losses(
    runs: list[tuple[str, Run]], path: Path, batches: bool = True, lang: str = "en"
) -> Path:
    """Validation loss per epoch (dots) for each run, and training loss per batch (faint)."""
    return _save(losses_figure(runs, batches, lang), path, lang)


def losses_figure(runs: list[tuple[str, Run]], batches: bool = True, lang: str = "en") -> Figure:
    """The loss curves as a figure (a notebook shows it as the cell's output)."""
    said = _words(lang)
    fig = Figure(figsize=WIDE, dpi=DPI)
    ax = fig.subplots()
    for index, (label, run) in enumerate(runs):
        style = curve_style(index)
        epochs = [e.epoch for e in run.history]
        valid = [e.valid_loss for e in run.history]
        ax.plot(epochs, valid, label=said("valid", label=label), **style)
        if batches:
            per_epoch = max(1, len(run.batch_losses) // max(1, run.epochs))
            steps = [i / per_epoch for i in range(1, len(run.batch_losses) + 1)]
            faint = {"color": style["color"], "linestyle": style["linestyle"]}
            ax.plot(steps, run.batch_losses, alpha=0.4, linewidth=0.8, **faint)
    ax.set_xlabel(said("epoch"))
    ax.set_xlim(left=0)  # training starts at epoch 0: one epoch's curve spans 0 to 1
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole; batches between
    ax.set_ylabel(said("loss"))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.grid(alpha=0.3)
    beside = {"loc": "upper left", "bbox_to_anchor": (1.01, 1)}  # where it hides no curve
    ax.legend(fontsize="small", **(beside if len(runs) > LEGEND_INSIDE else {}))
    ax.set_title(said("title_batches" if batches else "title"))
    _use_font(fig, lang)  # before tight_layout, which measures the words in their font
    fig.tight_layout()
    return fig


def plot_comparison(runs: list[tuple[str, Run]], path: Path, lang: str = "en") -> Path:
    """Every stage's final validation loss side by side, accuracy written on each bar."""
    said = _words(lang)
    fig = Figure(figsize=WIDE)
    ax = fig.subplots()
    labels = [label for label, _ in runs]
    losses = [run.history[-1].valid_loss for _, run in runs]
    bars = ax.bar(labels, losses, color="#4c72b0")
    for bar, (_, run) in zip(bars, runs, strict=True):
        top = (bar.get_x() + bar.get_width() / 2, bar.get_height())
        ax.annotate(f"{run.history[-1].valid_acc:.1%}", top, ha="center", va="bottom", fontsize=8)
    ax.set_xlabel(said("stage"))
    ax.set_ylabel(said("final"))
    ax.set_title(said("comparison"))
    ax.grid(axis="y", alpha=0.3)
    _use_font(fig, lang)  # before tight_layout, which measures the words in their font
    fig.tight_layout()
    return _save(fig, path, lang)


def logistic_weights(model: Callable) -> torch.Tensor | None:
    """A logistic model's weights as ten 28x28 images, or None if it has no such weights.

    Works for ``nn.Linear`` (10 x 784), a hand-made ``nn.Parameter`` (784 x 10) and the
    plain-function models of stages 01-02, which read ``weights`` from the stage's variables.
    """
    tensors = list(model.parameters()) if isinstance(model, nn.Module) else _read_by(model)
    for t in tensors:
        if t.shape == (CLASSES, SIDE * SIDE):
            return t.detach().cpu().view(CLASSES, SIDE, SIDE)
        if t.shape == (SIDE * SIDE, CLASSES):
            return t.detach().cpu().T.reshape(CLASSES, SIDE, SIDE)
    return None


def _read_by(function: Callable) -> list[torch.Tensor]:
    """The tensors a plain function reads: its closure's, and the globals its code names."""
    found = [c.cell_contents for c in getattr(function, "__closure__", None) or ()]
    code, variables = getattr(function, "__code__", None), getattr(function, "__globals__", {})
    if code is not None:
        found += [variables.get(name) for name in code.co_names]
    return [t for t in found if isinstance(t, torch.Tensor)]


def first_conv_filters(model: Callable) -> torch.Tensor | None:
    """The first ``Conv2d`` layer's kernels, shape (out, in, k, k), or None."""
    if isinstance(model, nn.Module):
        for layer in model.modules():
            if isinstance(layer, nn.Conv2d):
                return layer.weight.detach().cpu()
    return None


def plot_weights(weights: torch.Tensor, path: Path, lang: str | None = "en") -> Path:
    """Ten weight images: red pixels raise a class's score, blue ones lower it."""
    return _save(weights_figure(weights, lang), path, lang)


def weights_figure(weights: torch.Tensor, lang: str | None = "en") -> Figure:
    """The figure ``plot_weights`` saves: image row 0 at the top, as the digits are drawn."""
    fig = Figure(figsize=GRID)
    limit = float(weights.abs().max())
    said = _words(lang)
    labels = [str(d) if lang is None else said("class", digit=d) for d in range(len(weights))]
    _tiled(fig, weights, labels, 5, "RdBu_r", -limit, limit, titled=lang is not None)
    if lang is not None:
        fig.suptitle(said("weights"), fontsize=10)
    return fig


def plot_filters(filters: torch.Tensor, path: Path, lang: str | None = "en") -> Path:
    """The first convolution's kernels, one small image each."""
    fig = Figure(figsize=GRID)
    limit = float(filters.abs().max())
    labels = [str(i) for i in range(len(filters))]
    _tiled(fig, filters[:, 0], labels, 8, "RdBu_r", -limit, limit, lang is not None, 8)
    if lang is not None:
        size = "x".join(map(str, filters.shape[-2:]))
        fig.suptitle(_words(lang)("filters", size=size), fontsize=10)
    return _save(fig, path, lang)


def plot_model(model: Callable, path: Path, lang: str | None = "en") -> Path | None:
    """The picture that explains a trained model: weight images or filters (None if neither)."""
    weights = logistic_weights(model)
    if weights is not None:
        return plot_weights(weights, path, lang)
    filters = first_conv_filters(model)
    if filters is not None:
        return plot_filters(filters, path, lang)
    return None
