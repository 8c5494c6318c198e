"""The runner: run a stage file top to bottom, in a fresh namespace, under a session.

Everything that runs a stage goes through ``run_stage``: the dispatcher, the book, the
benchmark and the tests. The stage reports to the session through its own calls
(``settings``, ``load_data``, ``score``/``report``); the runner adds nothing else.
"""

from __future__ import annotations

import runpy
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TextIO

import torch

from nnreally.data import Data
from nnreally.distributed import note_failure
from nnreally.lesson import Launched, Session
from nnreally.options import Output, Training
from nnreally.registry import Stage


def run_stage(
    stage: Stage,
    training: Training = Training(),
    output: Output = Output(),
    out: TextIO | None = None,
    data: Data | None = None,
    command: Sequence[str] | None = None,
) -> Session:
    """Run ``stage``'s file; the returned session holds its history, data and variables.

    ``data`` already loaded is reused (``all`` loads it once); ``command`` is how to start the
    same run again, for a stage that asks for several processes.
    """
    session = Session(training, output, stage, out, data, command)
    restore = _process_wide_settings()
    # Launched: the processes torchrun started did the run, and their rank 0 reported it.
    with session.active(), suppress(Launched):
        try:
            session.namespace = runpy.run_path(str(stage.path), run_name=f"stage_{stage.number}")
        except BaseException:
            note_failure()  # a rank of a distributed run: say when, so the launcher names it
            raise
        finally:
            session.ran_with = restore()  # the next stage starts as this one did
    return session


def _process_wide_settings() -> Callable[[], dict]:
    """Put back what a stage may set for itself but would outlive it (13 sets cuDNN's).

    The returned function restores them and says what the stage ran with.
    """
    cudnn = torch.backends.cudnn
    before = torch.get_num_threads(), cudnn.deterministic, cudnn.benchmark

    def restore() -> dict:
        ran_with = {
            "threads": torch.get_num_threads(),
            "deterministic": cudnn.deterministic,
            "benchmark": cudnn.benchmark,
        }
        torch.set_num_threads(before[0])
        cudnn.deterministic, cudnn.benchmark = before[1:]
        return ran_with

    return restore
