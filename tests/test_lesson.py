"""lesson: the calls a stage makes, as a stage makes them."""

from __future__ import annotations

import pytest

from nnreally import recording
from tests.conftest import train


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
