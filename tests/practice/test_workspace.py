"""The practice folder: the learner's file written once and never overwritten, what passed,
and the hints shown."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nnreally.errors import UsageError
from nnreally.practice.exercises import exercise
from nnreally.practice.workspace import NOT_STARTED, PASSED, STARTED, State, start, starting_file


def test_the_file_is_the_stage_before_with_the_task_as_its_docstring():
    ex = exercise("05")
    text = starting_file(ex, "en")
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring.startswith("Exercise 05 · Refactor using torch.optim")
    assert "This file is stage 04" in docstring
    assert "optim.SGD(model.parameters()" in docstring
    assert "#refactor-using-torch-optim" in docstring
    assert "check 05" in docstring
    body = ex.start.source.split('"""\n', 1)[1]  # the stage's code after its docstring
    assert text.endswith(body)


def test_the_task_is_in_the_learner_s_language():
    docstring = ast.get_docstring(ast.parse(starting_file(exercise("05"), "zh")))
    assert "练习 05" in docstring
    assert "optim.SGD" in docstring


def test_a_learner_s_file_is_never_overwritten(tmp_path: Path):
    path, kept = start(exercise("05"), tmp_path, "en")
    assert kept is None
    assert path == tmp_path / "05_optim.py"
    path.write_text("# my work\n")
    with pytest.raises(UsageError, match=r"already exists.*--restart"):
        start(exercise("05"), tmp_path, "en")
    assert path.read_text() == "# my work\n"


def test_a_restart_keeps_every_earlier_file(tmp_path: Path):
    path, _ = start(exercise("05"), tmp_path, "en")
    path.write_text("# try 1\n")
    _, kept = start(exercise("05"), tmp_path, "en", restart=True)
    assert kept == tmp_path / "05_optim.try1.py"
    assert kept.read_text() == "# try 1\n"
    path.write_text("# try 2\n")
    _, kept = start(exercise("05"), tmp_path, "en", restart=True)
    assert kept.name == "05_optim.try2.py"
    assert kept.read_text() == "# try 2\n"
    assert path.read_text() == starting_file(exercise("05"), "en")


def test_the_state_of_each_exercise(tmp_path: Path):
    ex = exercise("05")
    assert State(tmp_path).status(ex) == NOT_STARTED
    path, _ = start(ex, tmp_path, "en")
    assert State(tmp_path).status(ex) == STARTED
    State(tmp_path).record(ex, path, passed=True)
    assert State(tmp_path).status(ex) == PASSED
    path.write_text(path.read_text() + "\n# changed after passing\n")
    assert State(tmp_path).status(ex) == STARTED


def test_hints_come_one_after_another_and_are_remembered(tmp_path: Path):
    start(exercise("05"), tmp_path, "en")
    seen = [State(tmp_path).next_hint(exercise("05"), "en") for _ in range(4)]
    assert [(n, total) for n, total, _ in seen] == [(1, 3), (2, 3), (3, 3), (3, 3)]
    assert "opt.step()" in seen[2][2]
    assert State(tmp_path).hints == {"05": 3}


def test_a_broken_state_file_is_read_as_empty(tmp_path: Path):
    (tmp_path / ".nnreally.json").write_text("{not json")
    assert State(tmp_path).hints == {}
    assert State(tmp_path).passed == {}


def test_a_file_that_cannot_be_written_whole_is_not_written_at_all(tmp_path, monkeypatch):
    """A full disk part-way: no half-written exercise file (which would then block a start)
    and no temporary file are left."""

    def full(self, text, encoding=None):
        Path.write_bytes(self, text.encode()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left"):
        start(exercise("05"), tmp_path, "en")
    assert list(tmp_path.iterdir()) == []
