"""The Chinese narrative beside the English: in step with it, complete, and its code names kept."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from nnreally import translations
from nnreally.registry import Stage, all_stages, find
from nnreally.translations import avoided, glossary, narrative, out_of_step, sidecar, stamp
from tests.conftest import CJK, WORDS_PER_CJK

STAGES = pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
CODE = re.compile(r"``(.+?)``", re.DOTALL)  # inline code, as the stage docstrings write it


def edited(monkeypatch: pytest.MonkeyPatch, number: str, old: str, new: str) -> Stage:
    """Stage ``number`` with ``old`` replaced by ``new`` in its (cached) source, file untouched."""
    stage = find(number)
    assert stage.source.count(old) == 1, f"stage {number} no longer holds {old!r}"
    monkeypatch.setitem(stage.__dict__, "source", stage.source.replace(old, new))
    return stage


@STAGES
def test_every_stage_is_in_step(stage: Stage):
    assert out_of_step(stage) == []


@STAGES
def test_each_chinese_cell_keeps_its_code_names(stage: Stage):
    pairs = zip(narrative(stage, "en"), narrative(stage, "zh"), strict=True)
    for number, (en, zh) in enumerate(pairs, 1):
        zh_code = {" ".join(c.split()) for c in CODE.findall(zh)}
        missing = {" ".join(c.split()) for c in CODE.findall(en)} - zh_code
        assert not missing, f"stage {stage.number} cell {number}: the Chinese lacks {missing}"


@STAGES
def test_each_chinese_narrative_is_complete(stage: Stage):
    english_words = sum(len(text.split()) for text in narrative(stage, "en"))
    cjk = sum(len(CJK.findall(text)) for text in narrative(stage, "zh"))
    assert cjk >= english_words / WORDS_PER_CJK, (stage.number, cjk, english_words)


@STAGES
def test_the_docstring_keeps_its_shape(stage: Stage):
    """A one-line summary (what the stage changes), a blank line, then the explanation."""
    en, zh = narrative(stage, "en")[0], narrative(stage, "zh")[0]
    assert en.split("\n")[1] == ""
    summary, blank, explanation = zh.split("\n", 2)
    assert CJK.search(summary)
    assert blank == ""
    assert CJK.search(explanation)


def test_stamp_is_the_sha1_prefix():
    assert stamp("") == "da39a3ee"
    assert stamp("张量") == "6168ccf1"  # UTF-8, not the platform's encoding


def test_an_edited_cell_is_named_with_its_new_marker(monkeypatch: pytest.MonkeyPatch):
    stage = edited(monkeypatch, "08", "is now three lines.", "takes just three lines.")
    new = stamp("The whole training run takes just three lines.")
    [problem] = out_of_step(stage)
    assert 'cell 4 "The whole training run takes just ..." was edited' in problem
    assert "(translated from en:82f2426b, now en:" + new + ")" in problem
    assert f"change its marker to <!-- en:{new} -->" in problem


def test_an_edited_docstring_is_cell_1(monkeypatch: pytest.MonkeyPatch):
    stage = edited(monkeypatch, "05", "takes over the parameter update.", "takes over updates.")
    [problem] = out_of_step(stage)
    assert problem.startswith("stage 05 (stages/zh/05_optim.md): cell 1 ")
    assert "was edited since it was translated" in problem


def test_an_added_cell_is_named(monkeypatch: pytest.MonkeyPatch):
    note = "# %% [markdown]\n# A new note for the learner.\n\n# %%\nfit()\n"
    after_fit = "fit()\n\n# %% [markdown]\n"  # stage 03's cell 4 follows fit()
    stage = edited(monkeypatch, "03", after_fit, f"fit()\n\n{note}\n# %% [markdown]\n")
    [problem] = out_of_step(stage)
    new = stamp("A new note for the learner.")
    assert 'cell 4 "A new note for the learner." is new and has no translation' in problem
    assert f"add a section <!-- en:{new} --> after the section for cell 3" in problem


def test_a_removed_cell_is_named(monkeypatch: pytest.MonkeyPatch):
    cell = "# %% [markdown]\n# The whole training run is now three lines.\n"
    stage = edited(monkeypatch, "08", cell, "")
    [problem] = out_of_step(stage)
    assert "the section at line " in problem
    assert "(en:82f2426b, " in problem
    assert "matches no English cell" in problem
    assert problem.endswith("delete the section")


def test_reordered_cells_are_named(monkeypatch: pytest.MonkeyPatch):
    stage = find("08")
    cells = stage.source.split("# %% [markdown]\n")  # cells 2 and 3 open parts 1 and 2
    notes = [part[: part.index("\n\n")] for part in cells[1:3]]
    swapped = stage.source.replace(notes[0], "@@").replace(notes[1], notes[0])
    monkeypatch.setitem(stage.__dict__, "source", swapped.replace("@@", notes[1]))
    assert narrative(stage, "en")[1].startswith("``fit`` trains")
    [problem] = out_of_step(stage)
    assert problem.startswith("stage 08 (stages/zh/08_validation.md): cell ")
    assert "is translated out of order: its section <!-- en:" in problem
    assert re.search(r"is number (\d) \(line \d+\); move it to be number (?!\1)\d", problem)


def test_a_missing_sidecar_is_named(tmp_path, monkeypatch: pytest.MonkeyPatch):
    real = find("06")
    copy = tmp_path / "stages" / real.path.name
    copy.parent.mkdir()
    copy.write_text(real.source, encoding="utf-8")
    stage = Stage(real.number, real.name, copy)
    [problem] = out_of_step(stage)
    assert "stage 06 has no zh narrative: stages/zh/06_dataset.md is missing" in problem
    assert "--stamps 06" in problem
    sidecar(stage, "zh").parent.mkdir()
    sidecar(stage, "zh").write_text("a stray line\n" + sidecar(real, "zh").read_text("utf-8"))
    [problem] = out_of_step(stage)
    assert "line 1: text before the first marker" in problem


def test_an_unknown_language_is_refused():
    with pytest.raises(translations.UsageError, match="unknown language 'fr'"):
        narrative(find("01"), "fr")


def test_check_exits_0_when_in_step(capsys: pytest.CaptureFixture[str]):
    assert translations.main(["--check"]) == 0
    assert "in step" in capsys.readouterr().out


def test_check_exits_1_and_lists_the_problems(monkeypatch, capsys: pytest.CaptureFixture[str]):
    stage = edited(monkeypatch, "08", "is now three lines.", "takes just three lines.")
    monkeypatch.setattr(translations, "all_stages", lambda: (find("01"), stage))
    assert translations.main(["--check"]) == 1
    assert capsys.readouterr().out.splitlines() == out_of_step(stage)


def test_stamps_prints_each_cells_marker_and_first_line(capsys: pytest.CaptureFixture[str]):
    assert translations.main(["--stamps", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(narrative(find("08"), "en"))
    assert lines[-1] == " 4  <!-- en:82f2426b -->  The whole training run is now three lines."


@pytest.mark.parametrize("argv", [["--stamps", "99"], [], ["--check", "--stamps", "01"]])
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]):
    assert translations.main(argv) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("python -m nnreally.translations: error: ")


@pytest.mark.slow  # starts a subprocess
def test_the_module_runs_as_a_command():
    done = subprocess.run(
        [sys.executable, "-m", "nnreally.translations", "--check"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


# One term per concept: stages/zh/glossary.toml gives each concept its Chinese term and the
# variants that must not appear in any Chinese narrative.


def test_the_glossary_parses_and_every_entry_is_complete():
    terms = glossary()
    assert len(terms) >= 31
    for term in terms:
        assert set(term) == {"en", "zh", "avoid"}, term
        assert isinstance(term["avoid"], list), term
        assert term["avoid"], term
        texts = [term["en"], term["zh"], *term["avoid"]]
        assert all(isinstance(text, str) for text in texts), term
        assert all(text.strip() for text in texts), term
        assert term["zh"] not in term["avoid"], term
    english = [term["en"] for term in terms]
    assert len(set(english)) == len(english), "an English term is in the glossary twice"


def test_the_glossary_covers_the_recurring_concepts():
    wanted = {
        "batch size", "mini-batch", "epoch", "learning rate", "loss", "validation set",
        "training set", "accuracy", "gradient", "parameter", "weight", "bias", "tensor",
        "model", "optimizer", "layer", "convolution", "activation function",
        "logistic regression", "log-likelihood", "device", "process", "rank", "seed", "step",
        "autograd", "in-place", "leaf tensor", "momentum", "data loader", "dataset",
    }  # fmt: skip
    english = {term["en"].split(" (")[0] for term in glossary()}
    assert not wanted - english, f"the glossary lacks {wanted - english}"


def test_no_term_is_another_terms_variant():
    terms = glossary()
    variants = {variant: term["zh"] for term in terms for variant in term["avoid"]}
    clashes = {term["zh"]: variants[term["zh"]] for term in terms if term["zh"] in variants}
    assert not clashes, f"terms that another entry avoids (term: whose variant): {clashes}"


@STAGES
def test_each_chinese_narrative_uses_the_glossary_terms(stage: Stage):
    assert translations.off_glossary(stage) == []


def test_check_names_a_narrative_off_the_glossary(monkeypatch):
    stage = find("05")
    texts = [*narrative(stage, "zh")]
    texts[0] = texts[0] + "每个批次有 64 张图片。"
    monkeypatch.setattr(translations, "narrative", lambda s, lang: texts)
    (problem,) = translations.off_glossary(stage)
    assert problem.startswith("stage 05 (stages/zh/05_optim.md) cell 1: use 小批量 for 批次, ")
    assert "图像 for 图片" in problem


def test_an_avoided_variant_is_caught():
    terms = glossary()
    text = "每个批次有 64 张图片，用 ``batch_size`` 设置；学习速率为 0.5。"
    assert avoided(text, terms) == [("批次", "小批量"), ("学习速率", "学习率"), ("图片", "图像")]
    assert ("批量大小", "批大小") in avoided("批量大小是 64", terms)
    # the terms themselves, and the same words inside code, are not caught
    assert avoided("小批量的批大小是 64，学习率为 0.5；``# 批量大小``", terms) == []
