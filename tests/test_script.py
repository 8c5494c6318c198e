"""A command's exit, and script mode: a stage file run on its own, its options from the command
line or $NNREALLY_ARGS."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from nnreally.errors import UsageError
from nnreally.script import ARGS_VARIABLE, options_from_variable
from tests.conftest import run_python

# The smallest stage: settings and one reported epoch, no data and no model (a few seconds).
TINY = """\
from nnreally.lesson import report, settings

bs, lr, epochs = settings(bs=64, lr=0.5, epochs=1)
for epoch in range(epochs):
    report([2.0, 1.0], 0.5, 0.9)
"""
STAGES = Path(__file__).parents[1] / "stages"


@pytest.mark.parametrize(
    ("text", "says"),
    [('--data "oops', "No closing quotation"), ("--epochs x", "'x' is not a whole number")],
)
def test_a_bad_nnreally_args_names_the_variable(text: str, says: str):
    with pytest.raises(UsageError) as raised:
        options_from_variable(text)
    message = str(raised.value)
    assert message.startswith(f"${ARGS_VARIABLE}={text!r}: ")
    assert says in message


def test_nnreally_args_are_the_options_of_a_notebooks_run():
    training, output = options_from_variable("--epochs 1 --limit 100 --quiet")
    assert (training.epochs, training.limit, output.quiet) == (1, 100, True)


def tiny(tmp_path: Path, source: str = TINY) -> Path:
    script = tmp_path / "tiny.py"
    script.write_text(source)
    return script


@pytest.mark.slow
def test_a_ctrl_c_while_the_script_ends_is_one_line_and_130(tmp_path: Path):
    """The final line is printed from an atexit function, where Python would report an
    interrupt as "Exception ignored in atexit callback" and exit 0."""
    interrupt_at_the_end = (
        "import nnreally.recording as r\n"
        "def finish(self, variables):\n"
        "    raise KeyboardInterrupt\n"
        "r.Recording.finish = finish\n"
    )
    script = tiny(tmp_path, interrupt_at_the_end + TINY)
    result = run_python(str(script), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (130, f"python {script}: interrupted\n")


@pytest.mark.slow
def test_no_plot_without_an_epoch_says_why(tmp_path: Path):
    result = run_python(str(tiny(tmp_path)), "--epochs", "0", "--plot", "e0.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "no plot written to e0.png: no epoch was trained\n"
    assert not (tmp_path / "e0.png").exists()


@pytest.mark.slow
def test_a_script_without_stdout_says_so_and_exits_1(tmp_path: Path):
    script = tiny(tmp_path)
    result = run_python(str(script), cwd=tmp_path, preexec_fn=lambda: os.close(1))
    assert result.returncode == 1
    assert result.stderr == (
        f"python {script}: error: stdout is closed (>&-): send it somewhere, e.g. >/dev/null\n"
    )


@pytest.mark.slow
def test_with_json_a_copy_of_a_stage_prints_only_json_on_stdout(tmp_path: Path):
    mine = tmp_path / "my_optim.py"
    shutil.copy(STAGES / "05_optim.py", mine)
    args = ["--json", "--plot", "x.png", "--epochs", "1", "--limit", "500", "--data", "digits"]
    result = run_python(str(mine), *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["epochs"] == 1
    assert "plot: x.png" in result.stderr
    assert (tmp_path / "x.png").is_file()


# --- exit_with: how every command ends ---


# A Ctrl-C once the command's work is done: here as the process's exit runs its atexit
# functions, where Python's own handler would print "Exception ignored ..." and exit 0.
LATE_CTRL_C = (
    "import atexit, os, signal\n"
    "from nnreally.script import exit_with\n"
    "atexit.register(lambda: [os.kill(os.getpid(), signal.SIGINT), print('not reached')])\n"
    "exit_with('prog', lambda: 0)\n"
)


def test_a_ctrl_c_as_the_process_exits_is_one_line_and_130():
    result = run_python("-c", LATE_CTRL_C)
    assert (result.returncode, result.stderr, result.stdout) == (130, "prog: interrupted\n", "")


def test_a_ctrl_c_before_the_commands_guard_is_up_is_one_line_and_130():
    importing = (  # as a __main__ is while torch loads
        "from nnreally.script import exit_with\n"
        "def main():\n"
        "    raise KeyboardInterrupt\n"
        "exit_with('prog', main)\n"
    )
    result = run_python("-c", importing)
    assert (result.returncode, result.stderr) == (130, "prog: interrupted\n")


def test_a_command_ends_with_its_code_after_its_atexit_functions_and_output():
    ending = (
        "import atexit\n"
        "from nnreally.script import exit_with\n"
        "atexit.register(print, 'atexit ran')\n"
        "exit_with('prog', lambda: print('done', end=' ') or 3)\n"  # unflushed: a pipe buffers
    )
    result = run_python("-c", ending)
    assert (result.returncode, result.stdout, result.stderr) == (3, "done atexit ran\n", "")
