"""Reading tools: cells, side-by-side diffs, the pictures and the offline book."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from nnreally import cli
from nnreally.cells import split_cells
from nnreally.data import Data
from nnreally.diffview import render_terminal, rows
from nnreally.lesson import Session
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


# --- pictures ----------------------------------------------------------------------------------


def png_shape(path: Path) -> tuple[int, ...]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return matplotlib.image.imread(path).shape


@pytest.fixture(scope="module")
def small_runs(digits: Data) -> dict[str, Session]:
    small = digits.head(SMALL)
    return {n: train(n, small, epochs=1) for n in ("01", "11")}


def test_plots_have_the_expected_size(tmp_path: Path, digits: Data, small_runs):
    assert png_shape(plot_samples(digits, tmp_path / "s.png")) == (400, 800, 4)
    runs = [("01", small_runs["01"]), ("11", small_runs["11"])]
    assert png_shape(plot_losses(runs, tmp_path / "l.png")) == (450, 800, 4)
    assert png_shape(plot_comparison(runs, tmp_path / "c.png")) == (450, 800, 4)
    # Stage 01's model is a plain function that reads the stage's ``weights``.
    w = logistic_weights(small_runs["01"].namespace["model"])
    assert w.shape == (10, 28, 28)
    assert png_shape(plot_weights(w, tmp_path / "w.png")) == (400, 800, 4)
    f = first_conv_filters(small_runs["11"].namespace["model"])
    assert f.shape == (16, 1, 3, 3)
    assert png_shape(plot_filters(f, tmp_path / "f.png")) == (400, 800, 4)


def test_samples_command(tmp_path: Path, data_dir: Path):
    out = tmp_path / "samples.png"
    args = ["samples", "--data", "digits", "--data-dir", str(data_dir), "--out", str(out)]
    assert cli.main(args) == 0
    assert png_shape(out) == (400, 800, 4)


# --- the book ----------------------------------------------------------------------------------


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.refs.append((tag, value))


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def cells_of(page: str) -> list[tuple[str, str]]:
    """Each code cell of a stage page: its code as text, and its output's HTML ("" if none)."""
    found = []
    for chunk in page.split('<div class="cell">')[1:]:
        code, _, rest = chunk.partition('<div class="output">')
        if not rest:  # no output: the cell ends where the next part of the page starts
            code = chunk.split("</pre></div>")[0]
        found.append((text_of(code), rest.split("</div>")[0]))
    return found


def output_of(page: str, code: str) -> str:
    """The output shown right after the code cell that contains ``code``."""
    matches = [output for text, output in cells_of(page) if code in text]
    assert len(matches) == 1, f"{len(matches)} cells contain {code!r}"
    return matches[0]


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("book")
    args = ["book", "--out", str(out), "--data", "digits", "--data-dir", str(data_dir)]
    assert cli.main([*args, "--limit", str(SMALL), "--epochs", "1"]) == 0
    return out


def test_book_has_a_page_per_stage(book: Path):
    pages = sorted(p.name for p in book.glob("*.html"))
    assert "index.html" in pages
    assert len(pages) == len(all_stages()) + 1
    index = (book / "index.html").read_text()
    for stage in all_stages():
        assert f'href="{stage.number}_{stage.name}.html"' in index
    page = (book / "05_optim.html").read_text()
    assert "What changed since stage 04" in page
    assert '<span class="n">opt</span><span class="o">.</span><span class="n">step</span>' in page
    assert "<ins>, optim</ins>" in page
    assert 'href="04_linear.html"' in page
    assert 'href="06_dataset.html"' in page


def test_stage_01_shows_what_each_cell_printed_and_drew(book: Path):
    page = (book / "01_raw_tensors.html").read_text()
    preds = text_of(output_of(page, "show(preds[0], preds.shape)"))
    assert preds.startswith("tensor([")
    assert "grad_fn=<SelectBackward0>" in preds
    assert "torch.Size([64, 10])" in preds
    drawn = output_of(page, "show_image(x_train[0]")
    image = re.search(r'<img src="(img/[^"]+\.png)"', drawn)
    assert image, "the sample image is not under the cell that drew it"
    assert png_shape(book / image[1])[:2] == (260, 240)
    assert "--plot" not in text_of(drawn)  # the book shows the image, not the note about it
    assert "data: digits: 500 train" in text_of(drawn)
    assert text_of(output_of(page, "for epoch in range(epochs)")).startswith("epoch 1: train loss")
    assert not output_of(page, "import math")  # a cell that printed nothing has no output


def test_stage_08_shows_its_epochs_after_the_cell_that_calls_fit(book: Path):
    page = (book / "08_validation.html").read_text()
    epochs = text_of(output_of(page, "\nfit(epochs, model, loss_func, opt, train_dl, valid_dl)"))
    assert re.fullmatch(r"epoch 1: train loss [\d.]+, valid loss [\d.]+, .*", epochs)
    assert not output_of(page, "def fit(")  # where fit is defined, nothing ran yet


@pytest.mark.parametrize("number", ["13", "14"])
def test_stages_beyond_the_tutorial_diff_against_stage_12(book: Path, number: str):
    stage = find(number)
    page = (book / f"{stage.number}_{stage.name}.html").read_text()
    assert "What changed since stage 12" in page
    assert "<thead><tr><th>12 gpu</th><th>" in page
    assert 'builds on <a href="12_gpu.html">stage 12</a>' in page
    if number == "14":
        assert "not the stage before it" in page


def test_book_shows_epochs_from_one_and_no_untrained_epoch(book: Path):
    pages = "".join(p.read_text() for p in book.glob("*.html")).lower()
    assert "epoch 0" not in pages
    assert "untrained" not in pages
    table = (book / "09_cnn.html").read_text().split('<table class="results">')[1]
    assert re.findall(r'<tr><td class="num">(\d+)</td>', table) == ["1"]
    assert (book / "img" / "09_model.png").is_file()  # the first layer's filters


def test_book_links_resolve_and_nothing_is_remote(book: Path):
    for page in book.glob("*.html"):
        parser = Links()
        parser.feed(page.read_text())
        assert parser.refs, page
        for tag, ref in parser.refs:
            assert not re.match(r"^(https?:)?//|data:", ref), f"{page.name} loads {ref}"
            assert (book / ref).is_file(), f"{page.name}: {tag} {ref} does not resolve"
    assert "<script" not in "".join(p.read_text() for p in book.glob("*.html"))
    assert "url(" not in (book / "style.css").read_text()  # no web fonts or remote images


@pytest.mark.parametrize(
    ("option", "says"),
    [("--cuda-graph", "stage 13's alone"), ("--epochs=0", "give 1 or more")],
)
def test_book_refuses_options_it_cannot_apply(tmp_path: Path, capsys, option: str, says: str):
    assert cli.main(["book", "--out", str(tmp_path / "book"), option]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "book").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")
@pytest.mark.parametrize(
    ("page", "width"),
    [("index.html", 1280), ("01_raw_tensors.html", 1280), ("05_optim.html", 390)],
)
def test_book_renders_in_headless_chromium(book: Path, tmp_path: Path, page: str, width: int):
    shot = tmp_path / "shot.png"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={width},1200",
        f"--screenshot={shot}",
        (book / page).as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120, check=False)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1200, width)
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.05, "the screenshot is blank"
    assert (grey < 0.5).mean() > 0.01  # some dark text was drawn
    assert np.isclose(grey[0, 0], 1.0)  # on a white page
