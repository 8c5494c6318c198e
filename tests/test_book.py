"""The offline book: both languages from one run, every page linked, read in a real browser.

One small book (``--limit 500 --epochs 1 --lang all``) is built once for this module; the tests
read it. The browser tests (marked slow) open its pages in headless Chromium at a phone's
width and a desktop's, and skip without Chromium.
"""

from __future__ import annotations

import errno
import html
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from nnreally import book, cli, notebooks, plots, summary
from nnreally.data import Data
from nnreally.errors import UsageError
from nnreally.registry import all_stages, find
from nnreally.run import Run
from nnreally.texts import words
from nnreally.translations import narrative
from tests.conftest import CJK, WORDS_PER_CJK, train
from tests.test_plots import SMALL, png_shape

STAGES = pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
LANGS = ("en", "zh")
PHONE, DESKTOP = 390, 1280  # window widths, CSS pixels
HEIGHT = 1200
# English interface words that must not be left on a Chinese page (outside code and output).
ENGLISH_INTERFACE = (
    "all stages",
    "summary",
    "Results",
    "What changed",
    "In the tutorial",
    "valid loss",
    "train loss",
    "seconds",
    "validation loss",
    "epoch",
)


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
        code, _, rest = chunk.partition('<div class="output"')
        if not rest:  # no output: the cell ends where the next part of the page starts
            code = chunk.split("</pre></div>")[0]
        found.append((text_of(code), rest.partition(">")[2].split("</div>")[0]))
    return found


def output_of(page: str, code: str) -> str:
    """The output shown right after the code cell that contains ``code``."""
    matches = [output for text, output in cells_of(page) if code in text]
    assert len(matches) == 1, f"{len(matches)} cells contain {code!r}"
    return matches[0]


def narrative_of(page: str) -> str:
    """The text of a stage page's narrative: its lead paragraph and its prose cells."""
    parts = re.findall(r'<p class="lead">(.*?)</p>', page, re.DOTALL)
    parts += re.findall(r'<div class="prose">(.*?)</div>', page, re.DOTALL)
    return text_of("\n".join(parts))


def prose_of(page: str) -> str:
    """A page's text without its code, outputs and diff: what a reader reads as prose."""
    page = re.sub(r"<pre\b.*?</pre>", "", page, flags=re.DOTALL)
    page = re.sub(r'<table class="diff">.*?</table>', "", page, flags=re.DOTALL)
    page = re.sub(r"<(title|style)>.*?</\1>", "", page, flags=re.DOTALL)
    return text_of(page)


def pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The book in both languages: ``built/en/``, ``built/zh/`` and ``built/index.html``."""
    out = tmp_path_factory.mktemp("book")
    args = ["book", "--out", str(out), "--data", "digits", "--data-dir", str(data_dir)]
    assert cli.main([*args, "--limit", str(SMALL), "--epochs", "1", "--lang", "all"]) == 0
    return out


@pytest.fixture(scope="module")
def en(built: Path) -> Path:
    return built / "en"


@pytest.fixture(scope="module")
def zh(built: Path) -> Path:
    return built / "zh"


def read(site: Path, name: str) -> str:
    return (site / name).read_text(encoding="utf-8")


# --- the English book, as it always was --------------------------------------------------------


def test_book_has_a_page_per_stage(en: Path):
    names = [p.name for p in pages(en)]
    assert "index.html" in names
    assert "summary.html" in names
    assert len(names) == len(all_stages()) + 2
    index = read(en, "index.html")
    for stage in all_stages():
        assert f'href="{stage.number}_{stage.name}.html"' in index
    page = read(en, "05_optim.html")
    assert "What changed since stage 04" in page
    assert '<span class="n">opt</span><span class="o">.</span><span class="n">step</span>' in page
    assert "<ins>, optim</ins>" in page
    assert 'href="04_linear.html"' in page
    assert 'href="06_dataset.html"' in page


def test_stage_01_shows_what_each_cell_printed_and_drew(en: Path):
    page = read(en, "01_raw_tensors.html")
    preds = text_of(output_of(page, "show(preds[0], preds.shape)"))
    assert preds.startswith("preds[0] = tensor([")
    assert "grad_fn=<SelectBackward0>" in preds
    assert "\npreds.shape = torch.Size([64, 10])" in preds
    drawn = output_of(page, "show_image(x_train[0]")
    image = re.search(r'<img src="(img/[^"]+\.png)"', drawn)
    assert image, "the sample image is not under the cell that drew it"
    assert png_shape(en / image[1])[:2] == (260, 240)
    assert "--plot" not in text_of(drawn)  # the book shows the image, not the note about it
    assert "data: digits: 500 train" in text_of(drawn)
    assert text_of(output_of(page, "for epoch in range(epochs)")).startswith("epoch 1: train loss")
    assert not output_of(page, "import math")  # a cell that printed nothing has no output


def test_stage_08_shows_its_epochs_after_the_cell_that_calls_fit(en: Path):
    page = read(en, "08_validation.html")
    epochs = text_of(output_of(page, "\nfit(epochs, model, loss_func, opt, train_dl, valid_dl)"))
    assert re.fullmatch(r"epoch 1: train loss [\d.]+, valid loss [\d.]+, .*", epochs)
    assert not output_of(page, "def fit(")  # where fit is defined, nothing ran yet


@pytest.mark.parametrize("number", ["13", "14"])
def test_stages_beyond_the_tutorial_diff_against_stage_12(en: Path, zh: Path, number: str):
    stage = find(number)
    page = read(en, f"{stage.number}_{stage.name}.html")
    assert "What changed since stage 12" in page
    assert "<thead><tr><th>12 gpu</th><th>" in page
    assert 'builds on <a href="12_gpu.html">stage 12</a>' in page
    assert ("not the stage before it" in page) == (number == "14")
    chinese = read(zh, f"{stage.number}_{stage.name}.html")
    assert "与阶段 12 相比的改动" in chinese
    assert '以<a href="12_gpu.html">阶段 12</a> 为基础' in chinese


def test_book_shows_epochs_from_one_and_no_untrained_epoch(en: Path):
    text = "".join(p.read_text() for p in pages(en)).lower()
    assert "epoch 0" not in text
    assert "untrained" not in text
    table = read(en, "09_cnn.html").split('<table class="results epochs">')[1]
    assert re.findall(r'<tr><td class="num">(\d+)</td>', table) == ["1"]
    assert (en / "img" / "09_model.png").is_file()  # the first layer's filters


def test_plurals_are_right():
    english, chinese = book.Site("en"), book.Site("zh")
    assert [english.count_epochs(n) for n in (1, 2)] == ["1 epoch", "2 epochs"]
    assert [chinese.count_epochs(n) for n in (1, 2)] == ["1 轮", "2 轮"]


def test_a_one_epoch_book_says_one_epoch(en: Path):
    text = prose_of(read(en, "index.html")) + prose_of(read(en, "05_optim.html"))
    assert "1 epoch," in text or "1 epoch:" in text
    assert "1 epochs" not in text
    assert "epochs 1" not in text


# --- two languages, one run --------------------------------------------------------------------


def test_both_languages_have_the_same_pages_and_a_page_to_choose(built: Path, en: Path, zh: Path):
    assert [p.name for p in pages(en)] == [p.name for p in pages(zh)]
    chooser = read(built, "index.html")
    assert 'href="en/index.html"' in chooser
    assert 'href="zh/index.html"' in chooser


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_links_its_twin_and_says_its_language(built: Path, lang: str):
    other = next(o for o in LANGS if o != lang)
    for page in pages(built / lang):
        text = page.read_text(encoding="utf-8")
        assert f'<html lang="{words(lang)("book.html_lang")}">' in text, page
        assert f'href="../{other}/{page.name}"' in text, f"{lang}/{page.name} lacks its twin"


@pytest.mark.parametrize("name", ["index.html", "summary.html", "05_optim.html", "14_ddp.html"])
def test_chinese_pages_leave_no_english_interface(zh: Path, name: str):
    text = prose_of(read(zh, name))
    assert CJK.search(text)
    for english in ENGLISH_INTERFACE:
        # Code names such as ``epochs`` may stay; interface words may not.
        assert not re.search(rf"(?<![\w_.]){english}(?![\w_(])", text), (name, english)


@STAGES
def test_chinese_stage_pages_carry_the_chinese_narrative_and_the_same_code(
    en: Path, zh: Path, stage
):
    name = f"{stage.number}_{stage.name}.html"
    english, chinese = read(en, name), read(zh, name)
    assert [code for code, _ in cells_of(chinese)] == [code for code, _ in cells_of(english)]
    outputs = {
        lang: "".join(out for _, out in cells_of(page))
        for lang, page in (("en", english), ("zh", chinese))
    }
    assert len(cells_of(chinese)) == len(cells_of(english))
    # the run's own lines are in the page's language, though the run was made once, in English
    assert "epoch 1: train loss" in outputs["en"]
    assert "第 1 轮：训练损失" in outputs["zh"]
    assert "epoch 1:" not in outputs["zh"]
    lead = narrative(stage, "zh")[0].split("\n", 1)[0]
    assert text_of(book.inline(lead)) in narrative_of(chinese)
    words = len(narrative_of(english).split())
    characters = len(CJK.findall(narrative_of(chinese)))
    assert characters >= words / WORDS_PER_CJK, (characters, words)


def test_a_cell_not_yet_translated_is_shown_in_english_with_a_note(monkeypatch):
    stage = find("05")
    added = "\n# %% [markdown]\n# A cell the translators have not seen yet.\n"
    monkeypatch.setitem(stage.__dict__, "source", stage.source + added)
    site = book.Site("zh")
    told = site.told(stage)
    assert told[-1] == ("A cell the translators have not seen yet.", "en")
    assert {lang for _, lang in told[:-1]} == {"zh"}
    assert site.notes == [
        "stage 05: 1 of 2 narrative cells have no zh translation yet; the zh book shows them "
        "in English (python -m nnreally.translations --check)"
    ]
    cell = site.cells(stage, Run(stage))[-1]
    assert (cell["prose"], cell["lang_attr"]) == (
        "<p>A cell the translators have not seen yet.</p>",
        ' lang="en"',
    )


@pytest.mark.parametrize(("font", "drawn_twice"), [(None, False), ("Noto Sans CJK SC", True)])
def test_a_picture_is_drawn_again_only_when_its_words_differ(
    tmp_path: Path, monkeypatch, font: str | None, drawn_twice: bool
):
    monkeypatch.setattr(plots, "cjk_font", lambda: font)
    drawn: dict = {}
    made: list[Path] = []

    def make(path: Path) -> None:
        made.append(path)
        path.write_bytes(path.parent.parent.name.encode())

    for lang in LANGS:
        (tmp_path / lang / "img").mkdir(parents=True)
        pictures = book.Pictures(tmp_path / lang, drawn)
        pictures.draw("img/loss.png", lang, make)  # words: Chinese only with a CJK font
        pictures.draw("img/model.png", None, make)  # no words: the same in every language
    assert (tmp_path / "zh" / "img" / "model.png").read_text() == "en"
    assert (tmp_path / "zh" / "img" / "loss.png").read_text() == ("zh" if drawn_twice else "en")
    assert len(made) == (3 if drawn_twice else 2)


# --- links out, and the summary ----------------------------------------------------------------


@STAGES
def test_each_stage_page_links_its_part_of_the_tutorial(en: Path, zh: Path, stage):
    name = f"{stage.number}_{stage.name}.html"
    english, chinese = read(en, name), read(zh, name)
    if stage.number in book.SECTIONS:
        for section, _ in book.SECTIONS[stage.number]:
            href = f'href="{book.TUTORIAL}#{section}"'
            assert href in english
            assert href in chinese
        assert f'href="{book.TRANSLATION}"' in chinese
    else:
        assert stage.number in ("13", "14")
        for url, _ in book.FURTHER[stage.number]:
            assert f'href="{url}"' in english
            assert url.startswith("https://pytorch.org/")


def test_tutorial_sections_are_the_tutorials_own_ids():
    ids = [section for sections in book.SECTIONS.values() for section, _ in sections]
    assert ids == [
        "neural-net-from-scratch-without-torch-nn",
        "using-torch-nn-functional",
        "refactor-using-nn-module",
        "refactor-using-nn-linear",
        "refactor-using-torch-optim",
        "refactor-using-dataset",
        "refactor-using-dataloader",
        "add-validation",
        "create-fit-and-get-data",
        "switch-to-cnn",
        "using-nn-sequential",
        "wrapping-dataloader",
        "using-your-gpu",
    ]


@pytest.mark.parametrize("lang", LANGS)
def test_the_summary_links_each_piece_to_the_stage_that_introduced_it(built: Path, lang: str):
    site = built / lang
    assert 'href="summary.html"' in read(site, "index.html")
    page = read(site, "summary.html")
    items = re.findall(r'<code class="piece">([^<]+)</code> · <a href="([^"]+)"', page)
    assert ("Module", "03_module.html") in items
    assert ("Parameter", "03_module.html") in items
    assert ("functional", "02_functional.html") in items
    assert ("torch.optim", "05_optim.html") in items
    assert ("Dataset", "06_dataset.html") in items
    assert ("DataLoader", "07_dataloader.html") in items
    assert len(items) == len(summary.pieces())
    cjk = len(CJK.findall(prose_of(page)))
    twin_links = 2 * len(words("zh")("book.language"))
    assert cjk > 200 if lang == "zh" else cjk == twin_links  # the English page: its twin links


@pytest.mark.parametrize("lang", LANGS)
def test_no_rest_markup_is_left_in_the_prose(built: Path, lang: str):
    for page in pages(built / lang):
        text = prose_of(page.read_text(encoding="utf-8"))
        assert "``" not in text, page.name
        assert not re.search(r"(?<!\w)\*\*?\w", text), page.name  # no *emphasis* left raw


def test_book_links_resolve_and_nothing_is_loaded_from_the_network(built: Path):
    every = [built / "index.html", *pages(built / "en"), *pages(built / "zh")]
    for page in every:
        parser = Links()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.refs, page
        for tag, ref in parser.refs:
            if re.match(r"^(https?:)?//", ref):
                # Only a link the reader follows may leave the book: to PyTorch or the translation.
                assert tag == "a", f"{page} loads {ref}"
                assert ref.startswith(("https://pytorch.org/", book.TRANSLATION)), ref
                continue
            assert not ref.startswith("data:"), f"{page} embeds {ref[:40]}"
            assert (page.parent / ref).resolve().is_file(), f"{page}: {tag} {ref} does not resolve"
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text
        assert "@import" not in text
    for css in built.glob("*/style.css"):
        assert "url(" not in css.read_text()  # no web fonts or remote images
        assert "break-all" not in css.read_text()  # code wraps at spaces, never inside a word


@pytest.fixture(scope="module")
def one_stage(digits: Data) -> list:
    """Stage 01 trained on a few samples: enough for a book of one stage."""
    return [train("01", digits.head(SMALL), epochs=1)]


def test_a_single_language_book_has_no_twin_links(tmp_path: Path, one_stage: list):
    index = book.write_book(one_stage, tmp_path / "zh-only", "zh")
    text = index.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in text
    assert "../en/" not in text
    assert (tmp_path / "zh-only" / "summary.html").is_file()


@pytest.mark.parametrize(
    ("environment", "lang"),
    [({}, "en"), ({"NNREALLY_LANG": "zh"}, "zh-CN"), ({"LANG": "zh_CN.UTF-8"}, "zh-CN")],
)
def test_the_readers_language_is_the_books_default(
    tmp_path: Path, monkeypatch, one_stage: list, environment: dict, lang: str
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(book, "run_all", lambda training, stages: one_stage)
    assert cli.main(["book", "--out", str(tmp_path / "book")]) == 0
    assert f'<html lang="{lang}">' in (tmp_path / "book" / "index.html").read_text()


def test_a_bad_language_in_the_environment_stops_the_book_before_training(
    tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.setenv("NNREALLY_LANG", "fr")
    monkeypatch.setattr(book, "run_all", lambda training, stages: pytest.fail("it trained"))
    assert cli.main(["book", "--out", str(tmp_path / "book")]) == 2
    assert "NNREALLY_LANG" in capsys.readouterr().err
    assert not (tmp_path / "book").exists()


@pytest.mark.parametrize(
    ("option", "says"),
    [
        ("--cuda-graph", "unrecognized arguments: --cuda-graph"),
        ("--epochs=0", "give 1 or more"),
        ("--lang=fr", "invalid choice"),
    ],
)
def test_book_refuses_options_it_cannot_apply(tmp_path: Path, capsys, option: str, says: str):
    assert cli.main(["book", "--out", str(tmp_path / "book"), option]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "book").exists()


# --- in a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# What the test's frame page reads from each book page it holds, once all have loaded: the
# page's width against its frame's, the words of the diff that wrapped inside themselves, how
# each run of changed lines is laid out (old beside new, or old above new), and the rendered
# text of the narrative. The book page itself holds no script.
MEASURE = """<script>
function measure(doc) {
  var broken = [];
  doc.querySelectorAll("table.diff .src").forEach(function (src) {
    var walk = doc.createTreeWalker(src, NodeFilter.SHOW_TEXT), node, word, range;
    while ((node = walk.nextNode())) {
      var words = /\\S+/g;
      while ((word = words.exec(node.data))) {
        range = doc.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        if (range.getClientRects().length > 1) broken.push(word[0]);
      }
    }
  });
  var blocks = {stacked: 0, side_by_side: 0, other: 0};
  doc.querySelectorAll("table.diff tbody.changed").forEach(function (block) {
    var old = [], now = [];
    block.querySelectorAll("tr").forEach(function (row) {
      var cells = row.querySelectorAll("td");
      if (cells[0].textContent) old.push(cells[0].getBoundingClientRect());
      if (cells[1].textContent) now.push(cells[1].getBoundingClientRect());
    });
    if (!old.length || !now.length) return;
    // side by side: the old lines in a column left of the new ones (a line beside the line it
    // became, or, for lines unlike each other, the old ones removed above the new ones added);
    // stacked: the old lines above the new ones, in the same column
    var left = Math.max.apply(null, old.map(function (r) { return r.right; }));
    var right = Math.min.apply(null, now.map(function (r) { return r.left; }));
    if (left <= right) blocks.side_by_side++;
    else if (old[old.length - 1].bottom <= now[0].top) blocks.stacked++;
    else blocks.other++;
  });
  var told = Array.prototype.map.call(doc.querySelectorAll(".lead, .prose"), function (e) {
    return e.innerText;
  });
  return {
    width: doc.documentElement.scrollWidth, window: doc.documentElement.clientWidth,
    broken: broken, blocks: blocks, narrative: told.join("\\n")
  };
}
addEventListener("load", function () {
  var seen = Array.prototype.map.call(document.querySelectorAll("iframe"), function (frame) {
    return measure(frame.contentDocument);
  });
  var out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>"""


def chromium(tmp_path: Path, width: int, height: int, *args: str) -> subprocess.CompletedProcess:
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
        "--allow-file-access-from-files",  # the frame page reads the book pages it holds
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--window-size={width},{height}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


SHOWN = [  # the pages read in the browser: (page, language, frame width)
    (name, lang, width)
    for name in ("index.html", "09_cnn.html", "summary.html")
    for lang in LANGS
    for width in (PHONE, DESKTOP)
]


@pytest.fixture(scope="module")
def in_chromium(built: Path, tmp_path_factory) -> dict[tuple[str, str, int], tuple]:
    """Every page of ``SHOWN`` in a frame of its width, one above the other in one window (one
    browser start for all): each one's part of the screenshot and what MEASURE read from it."""
    if CHROMIUM is None:
        pytest.skip("no chromium (apt-get install chromium)")
    folder = tmp_path_factory.mktemp("chromium")
    frame, shot = folder / "frame.html", folder / "shot.png"
    frames = "".join(
        f'<iframe src="{(built / lang / name).as_uri()}" '
        f'style="display:block;width:{width}px;height:{HEIGHT}px;border:0"></iframe>'
        for name, lang, width in SHOWN
    )
    frame.write_text(
        f'<!DOCTYPE html>\n<html><body style="margin:0">{frames}{MEASURE}</body></html>'
    )
    window, height = DESKTOP, HEIGHT * len(SHOWN)
    command = (f"--screenshot={shot}", "--dump-dom", frame.as_uri())
    dom = chromium(folder, window, height, *command).stdout
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.DOTALL)
    assert found, f"the pages did not load in Chromium: {dom[-300:]!r}"
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (height, window)
    seen = json.loads(html.unescape(found[1]))
    return {
        shown: (pixels[i * HEIGHT : (i + 1) * HEIGHT, : shown[2]], seen[i])
        for i, shown in enumerate(SHOWN)
    }


@pytest.mark.slow
@pytest.mark.parametrize(("name", "lang", "width"), SHOWN)
def test_book_reads_in_headless_chromium(
    in_chromium: dict, built: Path, name: str, lang: str, width: int
):
    pixels, seen = in_chromium[name, lang, width]
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.05, "the screenshot is blank"
    assert (grey < 0.5).mean() > 0.01  # some dark text was drawn
    assert np.isclose(grey[0, 0], 1.0)  # on a white page
    assert seen["window"] == width
    assert seen["width"] <= width, f"{lang}/{name} is {seen['width']} px wide in {width} px"
    assert not seen["broken"], f"words of the diff wrapped inside themselves: {seen['broken']}"
    if name[:2].isdigit():  # the diff: changes side by side, or old above new on a phone
        layout = "stacked" if width == PHONE else "side_by_side"
        assert seen["blocks"][layout] > 0
        assert sum(seen["blocks"].values()) == seen["blocks"][layout], seen["blocks"]
    if lang == "zh" and name[:2].isdigit():  # a stage page: its narrative as the reader sees it
        words = len(narrative_of(read(built / "en", name)).split())
        characters = len(CJK.findall(seen["narrative"]))
        assert characters >= words / WORDS_PER_CJK, (characters, words)


@STAGES
def test_each_step_of_the_tutorial_ends_with_try_it_yourself(en: Path, zh: Path, stage):
    name = f"{stage.number}_{stage.name}.html"
    english, chinese = read(en, name), read(zh, name)
    if "02" <= stage.number <= "12":
        assert "Try it yourself" in english
        assert f"python -m nnreally.stages practice {stage.number}\n" in english
        assert f"python -m nnreally.stages check {stage.number}</pre>" in english
        assert "自己动手试试" in chinese
        assert f"python -m nnreally.stages practice {stage.number} --lang zh" in chinese
    else:
        assert "Try it yourself" not in english
        assert "自己动手试试" not in chinese


# --- the output folder: nothing of the user's replaced, nothing half-written ----------------------


def no_training(monkeypatch) -> None:
    monkeypatch.setattr(book, "run_all", lambda training, stages: pytest.fail("it trained"))


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_folder_of_the_users_files_is_refused_before_training(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    (site / "img").mkdir(parents=True)
    (site / "img" / "samples.png").write_bytes(b"the user's own picture")
    no_training(monkeypatch)
    assert cli.main(["book", "--out", str(site)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "img/samples.png" in err
    assert "--force" in err
    assert (site / "img" / "samples.png").read_bytes() == b"the user's own picture"


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_that_cannot_be_a_folder_is_refused_before_training(
    tmp_path, monkeypatch, capsys, where: str
):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    no_training(monkeypatch)
    out = afile if where == "a file" else afile / "site"
    assert cli.main(["book", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is a file" in err
    assert afile.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_parent_is_refused_before_training(tmp_path, monkeypatch, capsys):
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    no_training(monkeypatch)
    assert cli.main(["book", "--out", str(parent / "site")]) == 2
    assert "cannot be written to" in capsys.readouterr().err


def test_a_book_replaces_the_book_it_wrote_and_no_other_folder(tmp_path, monkeypatch, one_stage):
    site = tmp_path / "site"
    monkeypatch.setattr(book, "run_all", lambda training, stages: one_stage)
    assert cli.main(["book", "--out", str(site)]) == 0
    first = contents(site)
    assert book.MARKER in first
    assert "index.html" in first
    assert book.foreign_file(site) is None  # its list names every file, as written
    assert cli.main(["book", "--out", str(site)]) == 0  # its own book: replaced
    assert contents(site).keys() == first.keys()
    (site / "style.css").write_text("/* the user's edit */")
    with pytest.raises(UsageError, match=r"style\.css.*--force"):
        book.check_out(site, force=False)
    assert cli.main(["book", "--out", str(site), "--force"]) == 0
    assert "the user's edit" not in (site / "style.css").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary folder left


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), "Ctrl-C"])
def test_a_book_that_fails_part_way_leaves_the_old_one_as_it_was(
    tmp_path, monkeypatch, capsys, one_stage, failure
):
    site = tmp_path / "site"
    book.write_book(one_stage, site, "en")
    before = contents(site)
    written = []

    def failing(self):  # the stage pages and pictures are written by now; the index is not
        written.append(sorted(p.name for p in tmp_path.glob(".site.*/*")))
        if failure == "Ctrl-C":
            raise KeyboardInterrupt
        raise OSError(failure.errno, failure.strerror, str(tmp_path / ".x" / "summary.html"))

    monkeypatch.setattr(book.Site, "summary_page", failing)
    monkeypatch.setattr(book, "run_all", lambda training, stages: one_stage)
    code = cli.main(["book", "--out", str(site)])
    assert written
    assert "01_raw_tensors.html" in written[0]
    err = capsys.readouterr().err
    if failure == "Ctrl-C":
        assert (code, err) == (130, "python -m nnreally.stages: interrupted\n")
    else:
        assert code == 1
        assert err.count("\n") == 1
        assert "No space left on device" in err
        assert f"{site} is as it was" in err
    assert contents(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_book_in_a_new_folder_makes_its_parents_and_says_where_it_is(tmp_path, one_stage):
    index = book.write_book(one_stage, tmp_path / "a" / "b" / "site", "en")
    assert index == tmp_path / "a" / "b" / "site" / "index.html"
    assert index.is_file()


def test_a_fenced_code_block_in_the_prose_is_shown_as_code():
    """Stage 08 quotes the tutorial's hand-written validation loop as a block that is not run."""
    html_text = str(
        book.prose("Before ``x``.\n\n```python\nfor xb in dl:\n    pass\n```\n\nAfter.")
    )
    assert "```" not in html_text
    assert '<div class="highlight"><pre>' in html_text
    assert '<span class="k">for</span>' in html_text
    assert html_text.startswith("<p>Before <code>x</code>.</p>")
    assert html_text.endswith("<p>After.</p>")


def test_stage_08s_page_shows_the_tutorials_validation_loop_as_code(en: Path, zh: Path):
    for site in (en, zh):
        page = read(site, "08_validation.html")
        assert "```" not in prose_of(page)  # the fence is gone from the narrative ...
        quoted = '<span class="n">valid_loss</span> <span class="o">/</span> <span class="nb">len'
        assert quoted in page  # ... and the loop it held is highlighted code


@STAGES
def test_each_page_offers_its_stage_file_and_notebook_to_download(en: Path, zh: Path, stage):
    for site, edition in ((en, ""), (zh, "zh")):
        page = read(site, f"{stage.number}_{stage.name}.html")
        notebook = f"{stage.number}_{stage.name}.ipynb"
        assert f'href="files/{stage.path.name}" download' in page
        assert f'href="files/{notebook}" download' in page
        assert (site / "files" / stage.path.name).read_text() == stage.source
        expected = (notebooks.NOTEBOOKS / edition / notebook).read_text(encoding="utf-8")
        assert (site / "files" / notebook).read_text(encoding="utf-8") == expected
        assert "colab.research.google.com" not in page  # no repository is named


def test_a_repository_on_github_gives_each_page_a_colab_link(monkeypatch, one_stage):
    url = "https://github.com/teacher/nnreally/tree/spring"
    monkeypatch.setattr(notebooks, "repository", lambda: url)
    for lang, path in (("en", "notebooks/01"), ("zh", "notebooks/zh/01")):
        page = book.Site(lang).stage_page(one_stage[0])
        colab = f"https://colab.research.google.com/github/teacher/nnreally/blob/spring/{path}"
        assert f'<a href="{colab}_raw_tensors.ipynb">{words(lang)("book.colab")}</a>' in page
    monkeypatch.setattr(notebooks, "repository", lambda: "https://example.org/nnreally")
    assert "colab" not in book.Site("en").stage_page(one_stage[0])  # Colab opens GitHub's
