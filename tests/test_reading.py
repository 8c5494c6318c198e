"""Reading tools: cells, side-by-side diffs and the pictures (the book: test_book.py)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import matplotlib.image
import pytest
from matplotlib.text import Text

from nnreally import cli, plots
from nnreally.cells import split_cells
from nnreally.data import Data
from nnreally.diffview import render_html, render_terminal, rows
from nnreally.plots import (
    first_conv_filters,
    logistic_weights,
    plot_comparison,
    plot_filters,
    plot_losses,
    plot_samples,
    plot_weights,
)
from nnreally.registry import all_stages, find
from nnreally.run import Run
from nnreally.texts import words
from tests.conftest import train

ANSI = re.compile(r"\033\[[0-9;]*m")
OLD = ["def preprocess(x):", "    return x.view(-1, 1, 28, 28)", "same line", "gone"]
NEW = ["def preprocess(x, y):", "    return x.view(-1, 1, 28, 28), y", "same line"]
SMALL = 500  # training samples for the runs these tests read


# --- cells -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
def test_code_cells_know_their_lines(stage):
    lines = stage.source.splitlines()
    cells = split_cells(stage.source)
    assert cells[0].kind == "markdown"
    assert cells[0].first == 1
    for cell in cells:
        if cell.kind == "code":
            assert "\n".join(lines[cell.first - 1 : cell.last]) == cell.text
    firsts = [c.first for c in cells]
    assert firsts == sorted(firsts)


# --- diffs -------------------------------------------------------------------------------------


def test_rows_align_changes_deletions_and_equal_lines():
    kinds = [row.kind for row in rows(OLD, NEW)]
    assert kinds == ["change", "change", "same", "del"]
    left, right = rows(OLD, NEW)[0].left, rows(OLD, NEW)[0].right
    assert ("".join(t for t, _ in left), "".join(t for t, _ in right)) == (OLD[0], NEW[0])
    assert [t for t, changed in right if changed] == [", y"]


@pytest.mark.parametrize("width", [80, 160])
def test_side_by_side_fits_the_width(width: int):
    a, b = find("10").source.splitlines(), find("11").source.splitlines()
    for colour in (False, True):
        text = render_terminal(a, b, width=width, colour=colour, titles=("10", "11"))
        assert max(len(ANSI.sub("", line)) for line in text.splitlines()) <= width
    plain = render_terminal(a, b, width=width, colour=False)
    assert "\033" not in plain


def test_plain_text_marks_the_changed_words():
    text = render_terminal(OLD, NEW, width=100, colour=False)
    first = text.splitlines()[0]
    assert "def preprocess(x" in first
    assert "{+, y+}" in first
    assert " | " in first  # the gutter marks a changed row
    last = text.splitlines()[-1]
    assert last.startswith("gone")
    assert last.endswith("<")  # a line only the left side has


def test_colour_marks_the_changed_words():
    text = render_terminal(OLD, NEW, width=100, colour=True)
    assert "\033[1;37;42m" in text  # the added ", y" on a green background
    assert "{+" not in text


def test_diff_command_is_plain_when_not_a_terminal(capsys):
    assert cli.main(["diff", "04", "05", "--side-by-side", "--width", "80"]) == 0
    out = capsys.readouterr().out
    assert "\033" not in out
    assert out.startswith("stages/04_linear.py")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "{+, optim+}" in out


def test_html_diff_keeps_each_lines_indentation_apart_from_its_code():
    table = render_html(OLD, NEW, titles=("a <old>", "b"))
    assert "<th>a &lt;old&gt;</th>" in table
    # The indentation apart, so that the page can wrap the code beside it, never inside a word.
    assert (
        '<td><span class="ind">    </span><span class="src">return x.view(-1, 1, 28, 28)'
        "<ins>, y</ins></span></td>"
    ) in table
    # Runs of changed and of unchanged rows apart, so that a phone can stack old above new.
    groups = re.findall(r'<tbody class="(\w+)">\n(.*?)\n</tbody>', table, re.DOTALL)
    assert [(kind, re.findall(r'<tr class="(\w+)">', rows)) for kind, rows in groups] == [
        ("changed", ["change", "change"]),
        ("same", ["same"]),
        ("changed", ["del"]),
    ]
    assert (
        '<tr class="del"><td><span class="ind"></span><span class="src">gone</span></td>' in table
    )


# --- pictures ----------------------------------------------------------------------------------


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
