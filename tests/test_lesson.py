"""lesson: the calls a stage makes, as a stage makes them."""

from __future__ import annotations

import io

import pytest

from nnreally import recording
from nnreally.lesson import untimed
from nnreally.recording import Recording
from tests.conftest import train


def test_untimed_work_is_kept_out_of_the_epoch(monkeypatch):
    now = iter([0.0, 1.0, 2.0, 3.0, 33.0, 33.0, 34.0])  # the clock at each reading below
    monkeypatch.setattr(recording, "clock", lambda: next(now))
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


def test_the_runs_own_lines_are_kept_in_every_language(digits):
    run = train("05", digits.head(500), epochs=1)
    (epoch,) = [s for s in run.shown if s.text.startswith("epoch 1: train loss")]
    assert epoch.text_in("zh").startswith("第 1 轮：训练损失")
    assert epoch.text_in("en") == epoch.text
    (data,) = [s for s in run.shown if s.text.startswith("data: digits: 500 train")]
    assert data.text_in("zh").startswith("数据：")
    demos = [s for s in run.shown if s.text.startswith("loss_func(model(xb), yb) = tensor(")]
    assert len(demos) == 2
    assert all(s.in_languages == {} and s.text_in("zh") == s.text for s in demos)


@pytest.mark.parametrize(("number", "pays"), [("01", False), ("04", False), ("05", True)])
def test_settings_pays_the_optimizers_import_only_for_a_stage_that_makes_one(
    monkeypatch, digits, number: str, pays: bool
):
    """Stages 01-04 update their weights by hand: their settings() skip PyTorch's one-off
    optimizer import (about 1 s of each run of them)."""
    paid = []
    monkeypatch.setattr(recording, "import_optimizers", lambda: paid.append(number))
    train(number, digits.head(100), epochs=1)
    assert paid == ([number] if pays else [])


def test_code_without_a_file_may_make_optimizers(tmp_path):
    """A notebook's namespace has no file to read: the import is paid."""
    assert recording.may_make_optimizers({})
    assert recording.may_make_optimizers({"__file__": str(tmp_path / "gone.py")})
    script = tmp_path / "by_hand.py"
    script.write_text("w -= w.grad * lr\n")
    assert not recording.may_make_optimizers({"__file__": str(script)})
    script.write_text("opt = torch.optim.SGD(model.parameters(), lr)\n")
    assert recording.may_make_optimizers({"__file__": str(script)})
