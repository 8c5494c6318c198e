"""The checker run on learners' files: right ones pass, and each way of being wrong is said as
the learner's own, in the check where it belongs."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import torch

from nnreally.practice import checker
from nnreally.practice.checker import FAIL, NOTE, PASS, SKIP, Result, check
from nnreally.practice.exercises import exercise
from tests.practice.test_exercises import edit


def write(tmp_path: Path, source: str, name: str = "05_optim.py") -> Path:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return path


def outcomes(result: Result) -> dict[str, str]:
    return {c.name: c.outcome for c in result.checks}


def test_the_tutorial_s_step_passes_every_check(tmp_path: Path):
    result = check(exercise("05"), write(tmp_path, exercise("05").stage.source))
    assert result.passed
    assert set(outcomes(result).values()) == {PASS}
    assert list(outcomes(result)) == [
        "runs",
        "rule:optimizer",
        "rule:step",
        "rule:no_update",
        "trains",
        "numbers",
    ]
    as_json = json.loads(json.dumps(result.to_json()))
    assert as_json["exercise"] == "05"
    assert as_json["passed"] is True
    assert [c["outcome"] for c in as_json["checks"]] == [PASS] * 6


def test_equivalent_code_in_another_order_keeps_the_numbers(tmp_path: Path):
    """Gradients reset before backward() instead of after step(): the same computation."""
    source = edit(
        "05",
        (
            "        loss.backward()\n        opt.step()\n        opt.zero_grad()\n",
            "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n",
        ),
        (
            "model, opt = get_model()",
            "network, optimizer = get_model()\nmodel, opt = network, optimizer",
        ),
    )
    result = check(exercise("05"), write(tmp_path, source))
    assert result.passed, result.lines()
    assert result.checks[-1].outcome == PASS


def test_the_start_unchanged_fails_the_first_rule_and_checks_nothing_after(tmp_path: Path):
    result = check(exercise("05"), write(tmp_path, exercise("05").start.source))
    assert not result.passed
    assert outcomes(result) == {
        "runs": PASS,
        "rule:optimizer": FAIL,
        "rule:step": SKIP,
        "rule:no_update": SKIP,
        "trains": SKIP,
        "numbers": SKIP,
    }
    assert any("hint 05" in c.detail for c in result.checks)


def test_an_error_is_the_learner_s_with_their_line_and_only_their_frames(tmp_path: Path):
    source = edit("05", ("        opt.step()\n", "        opt.step(undefined_name)\n"))
    path = write(tmp_path, source)
    line = source.splitlines().index("        opt.step(undefined_name)") + 1
    failed = check(exercise("05"), path).checks[0]
    assert failed.outcome == FAIL
    assert f"line {line}" in failed.message
    assert "NameError: name 'undefined_name' is not defined" in failed.message
    assert str(path) in failed.detail
    assert "nnreally" not in failed.detail.replace(str(tmp_path), "")  # no frame of ours


def test_an_error_inside_pytorch_points_at_the_learner_s_call(tmp_path: Path):
    source = edit("05", ("nn.Linear(784, 10)", "nn.Linear(780, 10)"))
    failed = check(exercise("05"), write(tmp_path, source)).checks[0]
    assert failed.outcome == FAIL
    assert "RuntimeError" in failed.message
    assert "mat1 and mat2" in failed.message
    assert "return self.lin(xb)" in failed.detail


def test_a_syntax_error_is_shown_at_its_line(tmp_path: Path):
    source = edit("05", ("    def forward(self, xb):", "    def forward(self, xb)"))
    failed = check(exercise("05"), write(tmp_path, source)).checks[0]
    assert failed.outcome == FAIL
    assert "is not Python" in failed.message
    assert "def forward(self, xb)" in failed.detail


@pytest.mark.parametrize("ctrl_c", ["handled", "ignored"])
def test_a_file_that_hangs_is_stopped_and_said_so(tmp_path: Path, ctrl_c: str):
    """Also where Ctrl-C is ignored (started with nohup, or in a script's background)."""
    source = edit(
        "05",
        ("    score(model, losses)\n", "    score(model, losses)\n    while True:\n        pass\n"),
    )
    handler = signal.SIG_IGN if ctrl_c == "ignored" else signal.default_int_handler
    before = signal.signal(signal.SIGINT, handler)
    try:
        result = check(exercise("05"), write(tmp_path, source), time_limit=1.0)
        assert signal.getsignal(signal.SIGINT) is handler  # as it was before the check
    finally:
        signal.signal(signal.SIGINT, before)
    failed = result.checks[0]
    assert failed.outcome == FAIL
    assert "stopped after 1 s" in failed.message
    assert "while True" in failed.detail
    assert result.seconds < 30


def test_other_settings_change_the_numbers_and_the_check_says_where(tmp_path: Path):
    source = edit("05", ("settings(bs=64, lr=0.5, epochs=2)", "settings(bs=64, lr=0.4, epochs=2)"))
    result = check(exercise("05"), write(tmp_path, source))
    assert outcomes(result)["trains"] == PASS
    numbers = result.checks[-1]
    assert numbers.outcome == FAIL
    assert "epoch 1, train loss" in numbers.message
    assert "keeps the computation" in numbers.detail


def test_printing_the_reference_s_numbers_fails_at_the_other_seed(tmp_path: Path):
    """A file that reports stage 05's figures at the shown seed, and holds the right code where
    it never runs, passes every check but the second run."""
    reference = checker._reference(exercise("05"), checker.SHOWN_SEED, checker.checker_data())
    fake = "\n".join(
        f"report({list(reference.batch_losses[i * n : (i + 1) * n])!r}, {e.valid_loss!r}, "
        f"{e.valid_acc!r})"
        for i, e in enumerate(reference.history)
        for n in [len(reference.batch_losses) // len(reference.history)]
    )
    source = exercise("05").stage.source.replace(
        "\n# %%\nfor epoch", "\n# %%\nif False:\n for epoch"
    )
    body = source.split("\nif False:\n", 1)
    indented = body[1].replace("\n    ", "\n     ")
    source = body[0] + "\nfrom nnreally.lesson import report\n" + fake + "\nif False:\n" + indented
    result = check(exercise("05"), write(tmp_path, source))
    assert outcomes(result)["trains"] == PASS
    assert result.checks[-1].outcome == FAIL
    assert "not at another seed and data size" in result.checks[-1].message


def test_a_step_that_changes_the_numbers_says_how_far_and_why(tmp_path: Path):
    source = edit(
        "04", ("model = MnistLogistic()", "torch.manual_seed(1)\nmodel = MnistLogistic()")
    )
    result = check(exercise("04"), write(tmp_path, source, "04_linear.py"))
    assert result.passed
    numbers = result.checks[-1]
    assert numbers.outcome == NOTE
    assert "stage 04's is" in numbers.message
    assert "initialises" in numbers.message


def test_a_model_that_does_not_learn_fails_it_trains(tmp_path: Path):
    source = edit("05", ("lr=lr)", "lr=lr * 1e-4)"))
    result = check(exercise("05"), write(tmp_path, source))
    assert outcomes(result)["trains"] == FAIL
    assert outcomes(result)["numbers"] == SKIP


def test_the_learner_s_threads_are_given_back(tmp_path: Path):
    before = torch.get_num_threads()
    check(exercise("02"), write(tmp_path, exercise("02").stage.source, "02_functional.py"))
    assert torch.get_num_threads() == before


@pytest.mark.slow
@pytest.mark.parametrize("number", ["09", "10", "12"])
def test_the_cnn_steps_pass_on_the_checker_s_digits(tmp_path: Path, number: str):
    ex = exercise(number)
    result = check(ex, write(tmp_path, ex.stage.source, ex.file_name()))
    assert result.passed, result.lines()
