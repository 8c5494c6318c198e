"""run.Run: the final line, the JSON and the hint of a run that ended near chance or above it."""

from __future__ import annotations

import json

from nnreally.registry import find
from nnreally.run import Epoch, Run


def run_ending_at(valid_loss: float, epochs: int = 2) -> Run:
    history = tuple(Epoch(e, 2.3, valid_loss, 0.12, 1.0) for e in range(1, epochs + 1))
    return Run(stage=find("09"), settings={"epochs": epochs}, history=history)


def test_a_run_near_chance_is_told_to_train_longer():
    run = run_ending_at(2.2981)
    done, hint = run.final_line().splitlines()
    assert done.startswith("stage 09 done: valid loss 2.2981")
    assert hint == (
        "hint: a validation loss of 2.2981 is near chance (2.3026): train longer, e.g. --epochs 8"
    )
    assert json.loads(json.dumps(run.to_json()))["hint"] == hint
    assert "--epochs 8" in run.final_line("zh").splitlines()[1]


def test_a_run_worse_than_guessing_is_not_said_to_be_near_chance():
    """Stage 01 on 500 images for one epoch ends at 3.0 (lr 0.5 overshoots in 8 steps; eight
    epochs reach 0.58): told to train longer, but not that 3.0 is near 2.3."""
    hint = run_ending_at(3.0058, epochs=1).hint()
    assert hint == (
        "hint: a validation loss of 3.0058 is worse than guessing (2.3026): train longer, "
        "e.g. --epochs 8"
    )
    assert "比随机猜测（2.3026）还差" in run_ending_at(3.0058, epochs=1).hint("zh")


def test_the_hint_asks_for_more_than_was_run():
    assert "--epochs 20" in run_ending_at(2.25, epochs=5).hint()


def test_a_trained_run_has_one_line_and_no_hint():
    run = run_ending_at(0.35)
    assert len(run.final_line().splitlines()) == 1
    assert run.hint() is None
    assert run.to_json()["hint"] is None
