"""The runner: run a stage file top to bottom, in a fresh namespace, under a session.

Everything that runs a stage goes through ``run_stage``: the dispatcher, the book, the
benchmark and the tests. The stage reports to the session through its own calls
(``settings``, ``load_data``, ``score``/``report``); the runner adds nothing else.
"""

from __future__ import annotations

import runpy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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
    # Launched: the processes torchrun started did the run, and their rank 0 reported it.
    with process_wide() as session.ran_with, session.active(), suppress(Launched):
        try:
            session.namespace = runpy.run_path(str(stage.path), run_name=f"stage_{stage.number}")
        except BaseException:
            note_failure()  # a rank of a distributed run: say when, so the launcher names it
            raise
    return session


def _settings() -> dict:
    cudnn = torch.backends.cudnn
    return {
        "threads": torch.get_num_threads(),
        "deterministic": cudnn.deterministic,
        "benchmark": cudnn.benchmark,
    }


def _apply(settings: dict) -> None:
    torch.set_num_threads(settings["threads"])
    torch.backends.cudnn.deterministic = settings["deterministic"]
    torch.backends.cudnn.benchmark = settings["benchmark"]


@contextmanager
def process_wide(
    threads: int | None = None, deterministic: bool | None = None, benchmark: bool | None = None
) -> Iterator[dict]:
    """Settings that outlive whoever sets them: the thread count and cuDNN's choices.

    Sets those given (None leaves one as it is), and afterwards puts back what was there
    before, so a stage that sets them for itself (13 sets cuDNN's) cannot change the next.
    The dict it yields is filled, on the way out, with what they were at the end.
    """
    before = _settings()
    wanted = {"threads": threads, "deterministic": deterministic, "benchmark": benchmark}
    _apply({k: before[k] if v is None else v for k, v in wanted.items()})
    ended: dict = {}
    try:
        yield ended
    finally:
        ended.update(_settings())
        _apply(before)
