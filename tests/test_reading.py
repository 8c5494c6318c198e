"""Reading tools: side-by-side diffs, the offline book, and the pictures."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from nnreally import stages
from nnreally.diffview import render_terminal, rows
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
from nnreally.run import Run, train_stage

ANSI = re.compile(r"\033\[[0-9;]*m")
OLD = ["def preprocess(x):", "    return x.view(-1, 1, 28, 28)", "same line", "gone"]
NEW = ["def preprocess(x, y):", "    return x.view(-1, 1, 28, 28), y", "same line"]


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
    assert stages.main(["diff", "04", "05", "--side-by-side", "--width", "80"]) == 0
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
def trained(digits) -> dict[str, Run]:
    small = digits.head(500)
    return {
        n: train_stage(find(n).load().main, Run(small, find(n).load().LR, epochs=1))
        for n in ("01", "11")
    }


def test_plots_have_the_expected_size(tmp_path: Path, digits, trained):
    assert png_shape(plot_samples(digits, tmp_path / "s.png")) == (400, 800, 4)
    runs = [("01", trained["01"]), ("11", trained["11"])]
    assert png_shape(plot_losses(runs, tmp_path / "l.png")) == (450, 800, 4)
    assert png_shape(plot_comparison(runs, tmp_path / "c.png")) == (450, 800, 4)
    w = logistic_weights(trained["01"].model)  # stage 01's model is a plain function
    assert w.shape == (10, 28, 28)
    assert png_shape(plot_weights(w, tmp_path / "w.png")) == (400, 800, 4)
    f = first_conv_filters(trained["11"].model)
    assert f.shape == (16, 1, 3, 3)
    assert png_shape(plot_filters(f, tmp_path / "f.png")) == (400, 800, 4)


def test_samples_command(tmp_path: Path, capsys):
    out = tmp_path / "samples.png"
    assert stages.main(["samples", "--data", "digits", "--out", str(out)]) == 0
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


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    args = ["book", "--out", str(out), "--data", "digits", "--limit", "500", "--epochs", "1"]
    assert stages.main(args) == 0
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


def test_book_links_resolve_and_nothing_is_remote(book: Path):
    for page in book.glob("*.html"):
        parser = Links()
        parser.feed(page.read_text())
        assert parser.refs, page
        for tag, ref in parser.refs:
            assert not re.match(r"^(https?:)?//", ref), f"{page.name} loads {ref} from the network"
            assert (book / ref).is_file(), f"{page.name}: {tag} {ref} does not resolve"
    assert "<script" not in "".join(p.read_text() for p in book.glob("*.html"))
    assert "url(" not in (book / "style.css").read_text()  # no web fonts or remote images


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")
@pytest.mark.parametrize(("page", "width"), [("index.html", 1280), ("05_optim.html", 390)])
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
