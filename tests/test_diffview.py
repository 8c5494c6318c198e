"""diffview: the rows of a diff, side by side in a terminal, in plain text and in HTML."""

from __future__ import annotations

import re

import pytest

from nnreally import cli
from nnreally.diffview import render_html, render_terminal, rows
from nnreally.registry import find

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


def test_unlike_lines_are_not_paired_as_one_changed_line():
    """10 -> 11: ``class Lambda`` did not become ``def preprocess``; a changed line did."""
    old = ["class Lambda(nn.Module):", "    def __init__(self, func):", "x = 1"]
    new = ["def preprocess(x, y):", "    return x.view(-1, 1, 28, 28), y", "x = 2"]
    kinds = [r.kind for r in rows(old, new)]
    assert kinds == ["del", "del", "add", "add", "change"]


def test_stage_10_to_11_pairs_no_class_with_a_function():
    for row in rows(find("10").source.splitlines(), find("11").source.splitlines()):
        if row.kind == "change":
            left, right = "".join(t for t, _ in row.left), "".join(t for t, _ in row.right)
            assert left.lstrip().split(" ")[0] == right.lstrip().split(" ")[0] or (
                not left.lstrip().startswith(("class ", "def "))
            ), (left, right)


def test_a_diff_of_code_only_leaves_the_prose_out(capsys):
    assert cli.main(["diff", "07", "08", "--code-only"]) == 0
    code_only = capsys.readouterr().out
    assert cli.main(["diff", "07", "08"]) == 0
    whole = capsys.readouterr().out
    assert "# %% [markdown]" in whole
    assert whole.splitlines()[3].startswith('-"""DataLoader')  # the docstring changed
    assert "# %%" not in code_only
    assert '"""' not in code_only
    assert "+    return (\n" in code_only or "+def get_data" in code_only  # the code changes
