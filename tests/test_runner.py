"""runner: a stage file run top to bottom in a fresh namespace, and the dispatcher's loop."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from nnreally.options import Output, Training
from nnreally.registry import Stage
from nnreally.runner import process_wide, run_stage, run_stages

# A stage of two epochs that trains nothing: what the runner does around a stage, in no time.
TINY = """\
from nnreally.lesson import load_data, report, settings

bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
data = load_data()
for epoch in range(epochs):
    report([1.0 / (epoch + 1)], 0.5 / (epoch + 1), 0.5 + epoch / 10)
"""


def tiny(tmp_path: Path, number: str = "98") -> Stage:
    path = tmp_path / f"{number}_tiny.py"
    path.write_text(TINY)
    return Stage(number, "tiny", path)


def test_a_run_holds_what_the_stage_did_and_its_variables(tmp_path: Path, digits):
    run = run_stage(tiny(tmp_path), Training(epochs=1), Output(quiet=True), io.StringIO(), digits)
    assert run.settings == {"bs": 64, "lr": 0.5, "epochs": 1}  # the option overrides the stage
    assert [(e.epoch, e.valid_loss) for e in run.history] == [(1, 0.5)]
    assert run.data is digits
    assert run.variables["epochs"] == 1
    assert "__builtins__" in run.variables  # the whole namespace, as runpy leaves it


def test_each_run_starts_in_a_fresh_namespace(tmp_path: Path, digits):
    stage = tiny(tmp_path)
    runs = [run_stage(stage, output=Output(quiet=True), out=io.StringIO(), data=digits)]
    runs.append(run_stage(stage, output=Output(quiet=True), out=io.StringIO(), data=digits))
    assert runs[0].variables is not runs[1].variables
    assert runs[0].variables["data"] is runs[1].variables["data"] is digits


def test_the_loop_prints_each_final_line_and_loads_the_data_once(tmp_path: Path, digits, capsys):
    stages = [tiny(tmp_path, "97"), tiny(tmp_path, "98")]
    out = io.StringIO()
    runs = run_stages(stages, Training(), Output(quiet=True, json=True), out)
    assert [r.stage for r in runs] == stages
    assert runs[0].data is runs[1].data  # the second stage got the first one's data
    finals = out.getvalue().splitlines()
    assert finals == [r.final_line() for r in runs]
    assert finals[0].startswith("stage 97 done: ")
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [r.to_json() for r in runs]


def test_a_stages_error_reaches_the_caller_as_it_was(tmp_path: Path):
    path = tmp_path / "96_broken.py"
    path.write_text("raise LookupError('the stage failed')\n")
    with pytest.raises(LookupError, match="the stage failed"):
        run_stage(Stage("96", "broken", path), out=io.StringIO())


@pytest.fixture
def restored():
    """The process-wide settings as they were before the test, whatever it does."""
    cudnn = torch.backends.cudnn
    before = torch.get_num_threads(), cudnn.deterministic, cudnn.benchmark
    yield
    torch.set_num_threads(before[0])
    cudnn.deterministic, cudnn.benchmark = before[1:]


def test_process_wide_sets_what_is_given_and_puts_everything_back(restored):
    cudnn = torch.backends.cudnn
    torch.set_num_threads(2)
    cudnn.deterministic, cudnn.benchmark = True, False
    with process_wide(threads=1, deterministic=False) as ended:
        assert torch.get_num_threads() == 1
        assert (cudnn.deterministic, cudnn.benchmark) == (False, False)  # None: left as it was
        cudnn.benchmark = True  # what the block itself changes is put back too
    assert ended == {"threads": 1, "deterministic": False, "benchmark": True}
    assert torch.get_num_threads() == 2
    assert (cudnn.deterministic, cudnn.benchmark) == (True, False)


def test_a_stage_cannot_change_the_next_stages_process_wide_settings(tmp_path, restored):
    """Thread count and cuDNN's choices are process-wide: what a stage sets, the runner undoes."""
    cudnn = torch.backends.cudnn
    path = tmp_path / "99_settings.py"
    path.write_text(
        "import torch\n\ntorch.set_num_threads(1)\nseen = torch.get_num_threads()\n"
        "torch.backends.cudnn.deterministic = torch.backends.cudnn.benchmark = True\n"
    )
    torch.set_num_threads(2)
    cudnn.deterministic = cudnn.benchmark = False
    run = run_stage(Stage("99", "settings", path))
    assert run.variables["seen"] == 1
    assert run.ran_with == {"threads": 1, "deterministic": True, "benchmark": True}
    assert torch.get_num_threads() == 2
    assert (cudnn.deterministic, cudnn.benchmark) == (False, False)
