"""practice, check and hint as a learner types them, and practice.check() in a notebook."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnreally import cli, practice
from nnreally.practice.exercises import exercise


def call(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_start_check_and_hint(capsys, tmp_path: Path):
    folder = str(tmp_path / "practice")
    code, out, _ = call(capsys, "practice", "--dir", folder)
    assert code == 0
    assert out.count("not started") == 11
    code, out, _ = call(capsys, "practice", "05", "--dir", folder)
    assert code == 0
    assert "05_optim.py" in out
    assert "check 05" in out
    code, _, err = call(capsys, "practice", "05", "--dir", folder)
    assert code == 2
    assert "already exists" in err
    assert len(err.strip().splitlines()) == 1
    code, out, _ = call(capsys, "check", "05", "--dir", folder)
    assert code == 1
    assert "✗" in out
    assert "hint 05" in out
    code, out, _ = call(capsys, "hint", "05", "--dir", folder)
    assert code == 0
    assert "hint 1 of 3" in out
    (tmp_path / "practice" / "05_optim.py").write_text(exercise("05").stage.source)
    code, out, _ = call(capsys, "check", "05", "--dir", folder, "--json")
    assert code == 0
    assert json.loads(out)["passed"] is True
    code, out, _ = call(capsys, "practice", "--dir", folder)
    assert "passed" in out.splitlines()[3]
    assert out.count("not started") == 10


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("check", "13"), "no exercise '13'"),
        (("check", "05", "nowhere.py"), "no such file"),
        (("hint",), "the following arguments are required"),
        (("practice", "05", "--lang", "fr"), "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, _, err = call(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_practice_writes_nowhere_but_the_practice_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNREALLY_DATA")
    assert call(capsys, "practice", "05")[0] == 0
    assert call(capsys, "check", "05")[0] == 1
    assert call(capsys, "hint", "05")[0] == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert written == ["practice", "practice/.nnreally.json", "practice/05_optim.py"]


def test_practice_check_in_a_notebook(capsys, tmp_path: Path):
    path = tmp_path / "mine.py"
    path.write_text(exercise("02").stage.source)
    result = practice.check("02", path)
    assert result.passed
    assert "exercise 02 passed" in capsys.readouterr().out


@pytest.mark.slow
def test_watch_checks_again_at_every_save(tmp_path: Path):
    folder = tmp_path / "practice"
    subprocess.run(
        [sys.executable, "-m", "nnreally.stages", "practice", "05", "--dir", str(folder)],
        check=True,
        capture_output=True,
    )
    watcher = subprocess.Popen(
        [sys.executable, "-m", "nnreally.stages", "check", "05", "--dir", str(folder), "--watch"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in watcher.stdout], daemon=True).start()
    seen: list[str] = []

    def wait_for(text: str, seconds: float, save: bool = False) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if save:  # saved until the watcher, which may not be watching yet, sees it
                (folder / "05_optim.py").write_text(exercise("05").stage.source)
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
            if any(text in x for x in seen):
                return True
        return False

    try:
        assert wait_for("not passed", 60), seen
        assert wait_for("exercise 05 passed", 60, save=True), seen
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 130
    assert "watching" in err
    assert err.rstrip().endswith("interrupted")
    assert "Traceback" not in err
