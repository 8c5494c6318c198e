"""recording: what a stage's lesson calls report to while its file runs, and the epoch clock."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nnreally import recording
from nnreally.lesson import untimed
from nnreally.options import Output, Training
from nnreally.recording import Recording
from nnreally.registry import Stage


def fake_clock(monkeypatch: pytest.MonkeyPatch, *readings: float) -> None:
    """The epochs' clock reads these, in turn."""
    now = iter(readings)
    monkeypatch.setattr(recording, "clock", lambda: next(now))


def test_an_epoch_is_timed_from_the_stages_last_call_before_its_loop(monkeypatch, digits):
    """What a stage shows before training (a demo, the sample image) is not an epoch's time;
    after the first epoch, a line shown inside the loop is."""
    fake_clock(monkeypatch, 0.0, 5.0, 7.0, 8.0, 8.0, 20.0, 20.0)
    with recording.opened(Recording(out=io.StringIO())) as opened:  # 0: opened
        opened.picture(b"\x89PNG a sample image")  # 5: drawing it took 5 s
        opened.note_data(digits)  # 7: the last call before the loop
        opened.record([1.0], 0.6, 0.8)  # 8: the first epoch took 1 s; the next starts at 8
        opened.say("a line the loop prints")  # no reading: this counts within the second epoch
        opened.record([1.0], 0.5, 0.9)  # 20: the second took 12 s
    assert [e.seconds for e in opened.finish().history] == [1.0, 12.0]


def test_untimed_work_is_kept_out_of_the_epoch(monkeypatch):
    fake_clock(monkeypatch, 0.0, 1.0, 2.0, 3.0, 33.0, 33.0, 34.0)  # a reading per call below
    out = io.StringIO()
    with recording.opened(Recording(out=out)) as opened:  # 0: opened
        opened.record([1.0], 0.6, 0.8)  # 1 - 0: the first epoch took 1 s
        with untimed("compiling the step"):  # 2: started
            assert out.getvalue().endswith("compiling the step ...\n")  # said before the wait
        opened.record([1.0], 0.5, 0.9)  # 33 - 2 - 30 untimed: the second took 1 s too
    run = opened.finish()
    assert run.untimed == {"compiling the step": 30.0}
    assert [e.seconds for e in run.history] == [1.0, 1.0]
    assert "compiling the step: 30.0 s (not counted in the epochs' times)" in out.getvalue()
    assert run.to_json()["untimed_seconds"] == run.untimed


def test_an_epoch_keeps_its_batches_and_its_mean_train_loss():
    with recording.opened(Recording(out=io.StringIO())) as opened:
        first = opened.record([1.0, 2.0, 6.0], 0.5, 0.75)
        empty = opened.record([], 0.4, 0.8)  # a loop that trained no batch
    assert (first.epoch, first.train_loss, first.valid_loss, first.valid_acc) == (1, 3.0, 0.5, 0.75)
    assert (empty.epoch, empty.train_loss) == (2, None)
    run = opened.finish({"model": "the stage's variable"}, {"threads": 2})
    assert run.batch_losses == (1.0, 2.0, 6.0)
    assert run.variables == {"model": "the stage's variable"}
    assert run.ran_with == {"threads": 2}


def test_quiet_prints_nothing_and_keeps_everything():
    out = io.StringIO()
    with recording.opened(Recording(output=Output(quiet=True), out=out)) as opened:
        opened.say("a demo line")
        opened.record([1.0], 0.5, 0.9)
    run = opened.finish()
    assert out.getvalue() == ""
    assert [s.text for s in run.shown] == ["a demo line", run.history[0].line()]


def test_a_line_of_nnreallys_own_is_said_in_the_runs_language_and_kept_in_every_one():
    out = io.StringIO()
    with recording.opened(Recording(output=Output(lang="zh"), out=out)) as opened:
        opened.say(lambda lang: {"en": "data: digits", "zh": "数据：digits"}[lang])
        opened.say("print(xb.shape) of the stage's own")
    own, stages = opened.finish().shown
    assert out.getvalue() == "数据：digits\nprint(xb.shape) of the stage's own\n"
    assert (own.text, own.text_in("en")) == ("数据：digits", "data: digits")
    assert (stages.in_languages, stages.text_in("en")) == ({}, stages.text)


def test_what_is_shown_is_kept_with_the_stage_line_that_showed_it(tmp_path: Path):
    path = tmp_path / "99_lines.py"
    path.write_text(
        "def helper():\n    said('inside a function')\n\n\nsaid('at the top')\nhelper()\n"
    )
    opened = Recording(stage=Stage("99", "lines", path), out=io.StringIO())
    exec(compile(path.read_text(), str(path), "exec"), {"said": opened.say})
    header, top, inside = opened.finish().shown
    assert header.line == 0  # the runner's own, before the file runs
    assert (top.text, top.line) == ("at the top", 5)
    assert (inside.text, inside.line) == ("inside a function", 6)  # the call at the top level


def test_only_rank_0_of_a_launch_speaks(monkeypatch):
    for name, value in {"TORCHELASTIC_RUN_ID": "r", "RANK": "1", "WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    Recording(out=out).say("from rank 1")
    assert out.getvalue() == ""
    monkeypatch.setenv("RANK", "0")
    Recording(out=out).say("from rank 0")
    assert out.getvalue() == "from rank 0\n"


def test_a_process_that_hands_its_run_to_torchrun_leaves_the_speaking_to_rank_0():
    out = io.StringIO()
    Recording(Training(nproc=2), out=out).say("from the launcher")
    assert out.getvalue() == ""
    Recording(Training(nproc=1), out=out).say("from a run of its own")
    assert out.getvalue() == "from a run of its own\n"


def test_the_current_recording_is_the_innermost_opened_one(monkeypatch):
    monkeypatch.setattr(recording, "_current", None)
    outer, inner = Recording(out=io.StringIO()), Recording(out=io.StringIO())
    assert recording.current() is None
    with recording.opened(outer):
        with recording.opened(inner):
            assert recording.current() is inner
        assert recording.current() is outer
    assert recording.current() is None


def test_a_notebook_run_again_leaves_what_the_last_run_joined(monkeypatch):
    monkeypatch.setattr(recording, "_current", None)
    left = []
    first = recording.open_alone(Recording(out=io.StringIO()))
    first.exits.callback(left.append, "the first run's process group")
    second = recording.open_alone(Recording(out=io.StringIO()))
    assert recording.current() is second
    assert left == ["the first run's process group"]


def test_code_without_a_file_may_make_optimizers(tmp_path):
    """A notebook's namespace has no file to read: the import is paid."""
    assert recording.may_make_optimizers({})
    assert recording.may_make_optimizers({"__file__": str(tmp_path / "gone.py")})
    script = tmp_path / "by_hand.py"
    script.write_text("w -= w.grad * lr\n")
    assert not recording.may_make_optimizers({"__file__": str(script)})
    script.write_text("opt = torch.optim.SGD(model.parameters(), lr)\n")
    assert recording.may_make_optimizers({"__file__": str(script)})
