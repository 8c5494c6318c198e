"""Side-by-side diffs: two texts aligned row by row, with the changed parts inside lines marked.

``rows`` does the aligning once; ``render_terminal`` fits it to a terminal (ANSI colour or
plain markers) and ``render_html`` makes a table for the book.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import groupby, zip_longest

Span = tuple[str, bool]  # a piece of a line, and whether it changed

# ANSI colours: changed lines dim red/green, their changed parts bold on a stronger background.
_RESET = "\033[0m"
_COLOURS = {
    ("del", False): "\033[31m",
    ("del", True): "\033[1;37;41m",
    ("add", False): "\033[32m",
    ("add", True): "\033[1;37;42m",
}
_GUTTER = {"same": " ", "change": "|", "del": "<", "add": ">"}
_PLAIN_MARKS = {"del": ("[-", "-]"), "add": ("{+", "+}")}
MIN_COLUMN = 20
TOKEN = re.compile(r"\w+|\s+|[^\w\s]")  # words, runs of space, single punctuation marks
WORD = re.compile(r"\w+")
SIMILAR = 0.5  # below this share of common words, a changed line is marked whole


@dataclass(frozen=True)
class Row:
    """One row of the side-by-side view: ``kind`` is same, change, del (left only) or add."""

    kind: str
    left: list[Span]
    right: list[Span]


def similar(a: str, b: str) -> bool:
    """Whether two lines share enough of their words to be one line changed."""
    words = SequenceMatcher(None, WORD.findall(a), WORD.findall(b), autojunk=False)
    return words.ratio() >= SIMILAR


def _inline(a: str, b: str) -> tuple[list[Span], list[Span]]:
    """Split two versions of a line into spans, marking the words that differ.

    Lines that have little in common are marked whole: fragments of a rewritten sentence
    would be noise.
    """
    if not similar(a, b):
        return [(a, True)] if a else [], [(b, True)] if b else []
    ta, tb = TOKEN.findall(a), TOKEN.findall(b)
    matcher = SequenceMatcher(None, ta, tb, autojunk=False)
    left: list[Span] = []
    right: list[Span] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            left.append(("".join(ta[i1:i2]), op != "equal"))
        if j2 > j1:
            right.append(("".join(tb[j1:j2]), op != "equal"))
    return left, right


def rows(a: list[str], b: list[str]) -> list[Row]:
    """Align two lists of lines (no line endings) into rows."""
    out: list[Row] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out += [Row("same", [(line, False)], [(line, False)]) for line in a[i1:i2]]
            continue
        out += _paired(a[i1:i2], b[j1:j2])
    return out


def _paired(old: list[str], new: list[str]) -> list[Row]:
    """A block of changed lines: a line beside the one it became where they are alike;
    otherwise the old one removed and the new one added (``class Lambda`` is not shown as
    having become ``def preprocess``)."""
    out: list[Row] = []
    removed: list[Row] = []
    added: list[Row] = []
    for a, b in zip_longest(old, new):
        if a is not None and b is not None and similar(a, b):
            out += [*removed, *added, Row("change", *_inline(a, b))]
            removed, added = [], []
            continue
        if a is not None:
            removed.append(Row("del", [(a, True)], []))
        if b is not None:
            added.append(Row("add", [], [(b, True)]))
    return [*out, *removed, *added]


def _styled(spans: list[Span], side: str, kind: str, colour: bool) -> list[tuple[str, str, str]]:
    """Characters with the escape codes around them: (char, before, after) per visible char."""
    chars = []
    for text, changed in spans:
        if colour and kind != "same":
            code = _COLOURS[(side, changed and kind == "change")]
            chars += [(c, code, _RESET) for c in text]
            continue
        if changed and kind == "change":  # plain text: the changed part between markers
            start, end = _PLAIN_MARKS[side]
            text = f"{start}{text}{end}"
        chars += [(c, "", "") for c in text]
    return chars


def _wrap(chars: list[tuple[str, str, str]], width: int) -> list[str]:
    """Hard-wrap styled characters into lines of ``width`` visible characters, padded."""
    pieces = [chars[i : i + width] for i in range(0, len(chars), width)] or [[]]
    return [
        "".join(f"{before}{c}{after}" for c, before, after in piece) + " " * (width - len(piece))
        for piece in pieces
    ]


def render_terminal(
    a: list[str], b: list[str], width: int, colour: bool, titles: tuple[str, str] = ("", "")
) -> str:
    """The two texts in two columns that fit ``width``; long lines wrap within their column."""
    column = max(MIN_COLUMN, (width - 3) // 2)
    out = []
    if any(titles):
        out.append(f"{titles[0][:column]:<{column}}   {titles[1][:column]}".rstrip())
        out.append(f"{'-' * column}   {'-' * column}")
    for row in rows([line.expandtabs() for line in a], [line.expandtabs() for line in b]):
        left = _wrap(_styled(row.left, "del", row.kind, colour), column)
        right = _wrap(_styled(row.right, "add", row.kind, colour), column)
        for i, (old, new) in enumerate(zip_longest(left, right, fillvalue=" " * column)):
            gutter = _GUTTER[row.kind] if i == 0 else " "
            out.append(f"{old} {gutter} {new}".rstrip())
    return "\n".join(out) + "\n"


def _html_spans(spans: list[Span], kind: str, tag: str) -> str:
    parts = []
    for text, changed in spans:
        escaped = html.escape(text)
        parts.append(f"<{tag}>{escaped}</{tag}>" if changed and kind == "change" else escaped)
    return "".join(parts)


def _split_at(spans: list[Span], at: int) -> tuple[list[Span], list[Span]]:
    """The spans of a line cut in two at character ``at``."""
    head: list[Span] = []
    tail: list[Span] = []
    for text, changed in spans:
        cut = max(0, min(at, len(text)))
        if text[:cut]:
            head.append((text[:cut], changed))
        if text[cut:]:
            tail.append((text[cut:], changed))
        at -= cut
    return head, tail


def _html_line(spans: list[Span], kind: str, tag: str) -> str:
    """One side of a row: its indentation and its code apart, so that the page can wrap a long
    line at its spaces and start the continuation under the code, not at the margin."""
    text = "".join(t for t, _ in spans)
    indent, code = _split_at(spans, len(text) - len(text.lstrip(" ")))
    return (
        f'<span class="ind">{_html_spans(indent, kind, tag)}</span>'
        f'<span class="src">{_html_spans(code, kind, tag)}</span>'
    )


def render_html(a: list[str], b: list[str], titles: tuple[str, str]) -> str:
    """A two-column HTML table; changed rows and the changed parts of lines are marked.

    Each cell holds a line's indentation (``span.ind``) and its code (``span.src``), so that the
    book's style sheet can wrap the code at its spaces beside the indentation on a wide screen.
    Each run of unchanged rows, and each run of changed ones, is a ``tbody`` of its own: on a
    narrow screen a run of changes shows its old lines above its new ones.
    """
    head = f"<tr><th>{html.escape(titles[0])}</th><th>{html.escape(titles[1])}</th></tr>"
    body = []
    aligned = rows([line.expandtabs() for line in a], [line.expandtabs() for line in b])
    for same, group in groupby(aligned, key=lambda row: row.kind == "same"):
        cells = []
        for row in group:
            left = _html_line(row.left, row.kind, "del") if row.left else ""
            right = _html_line(row.right, row.kind, "ins") if row.right else ""
            cells.append(f'<tr class="{row.kind}"><td>{left}</td><td>{right}</td></tr>')
        body.append(f'<tbody class="{"same" if same else "changed"}">\n' + "\n".join(cells))
    return (
        f'<table class="diff">\n<thead>{head}</thead>\n'
        + "\n</tbody>\n".join(body)
        + "\n</tbody></table>"
    )
