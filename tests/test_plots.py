"""plots: the pictures a run draws, their sizes and their words in both languages."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib.image
import pytest
import torch
from matplotlib.text import Text
from torch import nn

from nnreally import cli, plots
from nnreally.data import Data
from nnreally.plots import (
    first_conv_filters,
    logistic_weights,
    plot_comparison,
    plot_filters,
    plot_losses,
    plot_samples,
    plot_weights,
)
from nnreally.run import Run
from nnreally.texts import words
from tests.conftest import train

SMALL = 500  # training samples for the runs these tests read


def png_shape(path: Path) -> tuple[int, ...]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape


@pytest.fixture(scope="module")
def small_runs(digits: Data) -> dict[str, Run]:
    small = digits.head(SMALL)
    return {n: train(n, small, epochs=1) for n in ("01", "11")}


def test_plots_have_the_expected_size(tmp_path: Path, digits: Data, small_runs):
    assert png_shape(plot_samples(digits, tmp_path / "s.png")) == (400, 800, 4)
    runs = [("01", small_runs["01"]), ("11", small_runs["11"])]
    assert png_shape(plot_losses(runs, tmp_path / "l.png")) == (450, 800, 4)
    assert png_shape(plot_comparison(runs, tmp_path / "c.png")) == (450, 800, 4)
    # Stage 01's model is a plain function that reads the stage's ``weights``.
    w = logistic_weights(small_runs["01"].variables["model"])
    assert w.shape == (10, 28, 28)
    assert png_shape(plot_weights(w, tmp_path / "w.png")) == (400, 800, 4)
    f = first_conv_filters(small_runs["11"].variables["model"])
    assert f.shape == (16, 1, 3, 3)
    assert png_shape(plot_filters(f, tmp_path / "f.png")) == (400, 800, 4)


def test_samples_command(tmp_path: Path, data_dir: Path):
    out = tmp_path / "samples.png"
    args = ["samples", "--data", "digits", "--data-dir", str(data_dir), "--out", str(out)]
    assert cli.main(args) == 0
    assert png_shape(out) == (400, 800, 4)


def _words_of(figure) -> str:
    return " ".join(t.get_text() for t in figure.findobj(Text) if t.get_text())


def _missing_glyphs(draw) -> list[str]:
    """What matplotlib warned about glyphs its fonts lack while ``draw()`` ran."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_a_cjk_font_is_chosen_by_family_name():
    assert plots.choose_cjk(["DejaVu Sans", "Noto Sans CJK JP", "Noto Sans CJK SC"]) == (
        "Noto Sans CJK SC"
    )
    assert plots.choose_cjk(["DejaVu Sans", "Noto Serif CJK TC", "Noto Serif CJK SC"]) == (
        "Noto Serif CJK SC"
    )
    assert plots.choose_cjk(["Some CJK KR"]) == "Some CJK KR"
    assert plots.choose_cjk(["DejaVu Sans", "STIXGeneral"]) is None


def test_chinese_labels_fall_back_to_english_without_a_cjk_font(
    tmp_path: Path, monkeypatch, small_runs
):
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    assert plots.drawn_language("zh") == "en"
    figure = plots.losses_figure([("01", small_runs["01"])], lang="zh")
    words = _words_of(figure)
    assert "epoch" in words
    assert not re.search(r"[\u4e00-\u9fff]", words)  # no Chinese to draw as boxes
    runs = [("01", small_runs["01"])]
    assert not _missing_glyphs(lambda: plot_comparison(runs, tmp_path / "c.png", lang="zh"))


@pytest.mark.filterwarnings("ignore:Glyph")  # the stand-in font has no Chinese glyphs
def test_chinese_labels_use_the_cjk_font_when_there_is_one(monkeypatch, small_runs):
    family = "DejaVu Sans"  # stands in for a CJK font: this test checks the wiring only
    monkeypatch.setattr(plots, "cjk_font", lambda: family)
    assert plots.drawn_language("zh") == "zh"
    figure = plots.losses_figure([("01", small_runs["01"])], lang="zh")
    assert figure.axes[0].get_xlabel() == words("zh")("plots.epoch")
    titled = [t for t in figure.findobj(Text) if re.search(r"[\u4e00-\u9fff]", t.get_text())]
    assert titled
    assert all(t.get_fontfamily()[0] == family for t in titled)


@pytest.mark.skipif(plots.cjk_font() is None, reason="no CJK font (apt-get install fonts-noto-cjk)")
def test_an_installed_cjk_font_draws_every_chinese_label(tmp_path: Path, small_runs):
    runs = [("01", small_runs["01"])]

    def draw() -> None:
        plot_losses(runs, tmp_path / "l.png", lang="zh")
        plot_comparison(runs, tmp_path / "c.png", lang="zh")

    assert not _missing_glyphs(draw)
    assert png_shape(tmp_path / "l.png") == (450, 800, 4)


def test_fourteen_curves_are_told_apart(small_runs):
    runs = [(f"{n:02d}", small_runs["01"]) for n in range(1, 15)]
    lines = [
        line
        for line in plots.losses_figure(runs, batches=False).axes[0].get_lines()
        if line.get_label().endswith("valid")
    ]
    assert len(lines) == 14
    looks = {(line.get_color(), line.get_linestyle(), line.get_marker()) for line in lines}
    assert len(looks) == 14
    assert len({(line.get_color(), line.get_linestyle()) for line in lines}) == 14


def test_pictures_for_a_page_that_captions_them_have_no_words(monkeypatch, digits, small_runs):
    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, lang="en": drawn.append(fig) or path)
    plot_samples(digits, Path("s.png"), lang=None)
    plot_weights(logistic_weights(small_runs["01"].variables["model"]), Path("w.png"), lang=None)
    plot_filters(first_conv_filters(small_runs["11"].variables["model"]), Path("f.png"), lang=None)
    assert len(drawn) == 3
    for figure in drawn:
        assert re.fullmatch(r"[\d ]+", _words_of(figure))  # digits only: labels and indices


def _one_hot_weights(shape: tuple[int, int]) -> tuple[torch.Tensor, dict[int, tuple[int, int]]]:
    """Weights in which class k has a single pixel of weight 1, at a place of its own."""
    where = {k: (3 + 2 * k, 20 - k) for k in range(10)}
    w = torch.zeros(784, 10)
    for k, (row, col) in where.items():
        w[row * 28 + col, k] = 1.0
    return (w if shape == (784, 10) else w.T.contiguous()), where


class _Params:  # the plain-function model of stages 01-02 reads ``weights`` as a global
    pass


def test_weight_pictures_put_each_pixel_where_the_image_has_it():
    """Row r, column c of class k's picture is the weight of input pixel r * 28 + c, for the
    hand-made (784 x 10) weights of stages 01-03 and nn.Linear's (10 x 784) alike, and the
    drawn picture shows image row 0 at the top."""
    for shape in ((784, 10), (10, 784)):
        weights, where = _one_hot_weights(shape)
        layer = nn.Linear(784, 10)
        if shape == (10, 784):
            layer.weight.data = weights
            images = logistic_weights(layer)
        else:
            images = logistic_weights(nn.ParameterList([nn.Parameter(weights)]))
        for k, (row, col) in where.items():
            assert images[k, row, col] == 1.0
            assert images[k].sum() == 1.0
    figure = plots.weights_figure(images, lang=None)
    drawn = figure.axes[0].get_images()[0]
    assert drawn.origin == "upper"  # row 0 of the array at the top of the picture
    grid, corners = plots.tiles(images, 5)
    shown = torch.as_tensor(drawn.get_array().filled(float("nan")))
    torch.testing.assert_close(shown, grid, rtol=0, atol=0, equal_nan=True)
    for k, (row, col) in where.items():  # each class's pixel, in its own tile, in its place
        top, left = corners[k]
        assert grid[top + row, left + col] == 1.0
    assert int(torch.nansum(grid)) == 10  # and nothing else drawn there
