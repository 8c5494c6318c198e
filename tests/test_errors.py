"""errors.guarded: expected errors become one line and an exit code; a closed pipe, none."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nnreally.errors import EXIT_BROKEN_PIPE, RunError, UsageError, guarded


@pytest.mark.parametrize(
    ("error", "code"),
    [(UsageError("bad option"), 2), (RunError("broken data"), 1), (OSError("disk full"), 1)],
)
def test_expected_errors_are_one_line(capsys, error: Exception, code: int):
    def body() -> int:
        raise error

    assert guarded("prog", body) == code
    assert capsys.readouterr().err == f"prog: error: {error}\n"


def test_a_bug_keeps_its_traceback():
    def body() -> int:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        guarded("prog", body)


LOUD = (
    "from nnreally.errors import guarded; import sys\n"
    "def body():\n"
    "    for _ in range(10_000):\n"
    "        print('x' * 1000)\n"
    "    return 0\n"
    "sys.exit(guarded('prog', body))\n"
)


def test_a_reader_that_went_away_ends_the_command_quietly():
    """``python -m nnreally.stages show 05 | head -1``: no 'Broken pipe' error, no traceback,
    and the exit code a shell tool has there (more output than a pipe holds, so it breaks)."""
    loud = subprocess.Popen(
        [sys.executable, "-c", LOUD], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    loud.stdout.readline()
    loud.stdout.close()  # as head does after its line
    assert loud.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert loud.stderr.read() == b""


def test_no_stdout_is_one_line_before_any_work(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", None)  # what Python gives a process started with >&-
    worked = []
    assert guarded("prog", lambda: worked.append(1) or 0) == 1
    assert worked == []
    assert capsys.readouterr().err == (
        "prog: error: stdout is closed (>&-): send it somewhere, e.g. >/dev/null\n"
    )
