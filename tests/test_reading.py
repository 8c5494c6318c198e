"""reading: ``show NN`` (a stage with its narrative in English or Chinese, the code unchanged) and
``diff NN MM``, as the dispatcher runs them."""

from __future__ import annotations

import ast
import io
import re
import shutil
import sys
from pathlib import Path

import pytest

from nnreally import reading, texts
from nnreally.cells import split_cells
from nnreally.cli import main
from nnreally.registry import Stage, all_stages, find
from nnreally.translations import narrative
from tests.conftest import run_cli

STAGES = pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
ENGLISH_LOCALE = "C.UTF-8"
CHINESE_LOCALE = "zh_CN.UTF-8"
USAGE = "python -m nnreally.stages: error: "


@pytest.fixture(autouse=True)
def _english_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from a reader whose environment asks for no language."""
    for name in (texts.LANG_VARIABLE, *texts.LOCALE_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", ENGLISH_LOCALE)


def shown(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What ``show ARGS`` printed; it must succeed and print nothing on stderr."""
    assert main(["show", *args]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def chinese(stage: Stage) -> str:
    """The first line of the stage's Chinese docstring: what says a stage is shown in Chinese."""
    return narrative(stage, "zh")[0].splitlines()[0]


def code_lines(source: str) -> list[str]:
    """The source's lines, each narrative cell (docstring, markdown) folded into one marker."""
    lines = source.splitlines(keepends=True)
    for cell in reversed([c for c in split_cells(source) if c.kind == "markdown"]):
        lines[cell.first - 1 : cell.last] = ["<narrative>\n"]
    return lines


def test_english_is_the_default_and_is_the_file_as_it_is(capsys):
    stage = find("05")
    out = shown(capsys, "05")
    assert out == f"# {stage.path.name}\n{stage.source}"
    assert shown(capsys, "05", "--lang", "en") == out
    assert chinese(stage) not in out


def test_lang_zh_shows_the_chinese_narrative_around_the_same_code(capsys):
    stage = find("08")
    out = shown(capsys, "08", "--lang", "zh")
    header, body = out.split("\n", 1)
    assert header == f"# {stage.path.name}"
    assert body.startswith(f'"""{chinese(stage)}\n')
    for text in narrative(stage, "zh")[1:]:
        assert "".join(f"# {line}\n" if line else "#\n" for line in text.splitlines()) in body
    assert stage.docstring.splitlines()[0] not in out
    # the library's trailer is the same as in English
    english = shown(capsys, "08")
    assert out.splitlines()[-3:] == english.splitlines()[-3:]


@STAGES
def test_the_chinese_stage_is_the_same_code_byte_for_byte(stage: Stage):
    source = reading.in_language(stage, "zh")
    zh = narrative(stage, "zh")
    assert code_lines(source) == code_lines(stage.source)
    tree = ast.parse(source)  # still Python, and the docstring is still its docstring
    assert ast.get_docstring(tree) == zh[0]
    assert [c.text for c in split_cells(source) if c.kind == "markdown"] == zh
    assert [c.text for c in split_cells(source) if c.kind == "code"] == [
        c.text for c in split_cells(stage.source) if c.kind == "code"
    ]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "en_GB.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW"}, "zh"),
        ({"LANG": "zh"}, "zh"),
        ({"LANG": "zu_ZA.UTF-8"}, "en"),  # Zulu: a "z" is not Chinese
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"),  # LC_ALL decides over LANG
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": ""}, "zh"),  # set but empty counts as unset
        ({"NNREALLY_LANG": "zh"}, "zh"),
        ({"NNREALLY_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),  # the variable wins
        ({"NNREALLY_LANG": "ZH ", "LANG": "C"}, "zh"),
        ({"NNREALLY_LANG": "", "LANG": "zh_CN.UTF-8"}, "zh"),
    ],
)
def test_default_language(environ: dict[str, str], expected: str):
    assert texts.default_language(environ) == expected


def test_the_variable_and_the_locale_switch_the_default(capsys, monkeypatch):
    stage = find("05")
    zh = shown(capsys, "05", "--lang", "zh")
    monkeypatch.setenv("NNREALLY_LANG", "zh")
    assert shown(capsys, "05") == zh
    monkeypatch.delenv("NNREALLY_LANG")
    monkeypatch.setenv("LANG", CHINESE_LOCALE)
    assert shown(capsys, "05") == zh
    assert chinese(stage) in zh


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({"NNREALLY_LANG": "zh"}, "en"),
        ({"LANG": CHINESE_LOCALE}, "en"),
        ({"NNREALLY_LANG": "en"}, "zh"),
        ({"NNREALLY_LANG": "fr"}, "en"),  # a bad default does not matter once --lang says
    ],
)
def test_lang_wins_over_the_environment(capsys, monkeypatch, environ: dict[str, str], lang: str):
    asked = shown(capsys, "05", "--lang", lang)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert shown(capsys, "05", "--lang", lang) == asked
    assert (chinese(find("05")) in asked) == (lang == "zh")


def test_a_bad_lang_is_one_line_and_exit_2(capsys):
    assert main(["show", "05", "--lang", "fr"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"{USAGE}argument --lang: invalid choice: 'fr'")
    assert re.search(r"\(choose from '?en'?, '?zh'?\)$", err.strip())


def test_a_bad_variable_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setenv("NNREALLY_LANG", "fr")
    assert main(["show", "05"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        f"{USAGE}NNREALLY_LANG='fr' is not a language here (choose from en, zh)\n",
    )


def test_a_stage_without_its_translation_is_one_line(tmp_path: Path, monkeypatch, capsys):
    stage = find("05")
    shutil.copy(stage.path, tmp_path / stage.path.name)
    alone = Stage(stage.number, stage.name, tmp_path / stage.path.name)  # no zh/ beside it
    monkeypatch.setattr(reading, "find", lambda number: alone)
    assert main(["show", "05", "--lang", "zh"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "stage 05 has no zh narrative" in err


def test_an_output_that_cannot_hold_chinese_is_one_line(monkeypatch, capsys):
    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    assert main(["show", "05", "--lang", "zh"]) == 1
    assert ascii_out.buffer.getvalue() == b""  # nothing half-printed
    assert capsys.readouterr().err == (
        "python -m nnreally.stages: error: the output's encoding (ascii) cannot show this "
        "text; set PYTHONIOENCODING=utf-8 (or use --lang en)\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        "一行。",
        "第一行。\n\n第二段。",
        'ends in a quote: "x"',
        'three """ quotes and four """" and a backslash \\n',
        'a\n"""',
        'a"""',
        'a""',
        '"',
        "",
    ],
)
def test_a_docstring_reads_back_as_its_text(text: str):
    literal = reading._docstring_literal(text)
    assert ast.get_docstring(ast.parse(literal + "\nx = 1\n")) == text


@pytest.mark.slow  # a subprocess
def test_a_chinese_locale_shows_chinese_from_the_command_line(monkeypatch):
    monkeypatch.setenv("LANG", CHINESE_LOCALE)
    stage = find("05")
    result = run_cli("show", "05", env={"PYTHONIOENCODING": "utf-8"})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"# {stage.path.name}\n{reading.in_language(stage, 'zh')}"
