"""The runner: run a stage file top to bottom, in a fresh namespace, and return its ``Run``.

Everything that runs a stage goes through ``run_stage``: the dispatcher, the book, the
benchmark, practice and the tests. The stage reports to the recording the runner opens for it,
through its own calls (``settings``, ``load_data``, ``score``/``report``); the runner adds
nothing else, and afterwards puts back the process-wide settings the stage changed.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TextIO

import torch

from nnreally import recording
from nnreally.data import Data
from nnreally.distributed import as_rank_error, note_failure, rank
from nnreally.options import Output, Training
from nnreally.recording import Recording
from nnreally.registry import Stage
from nnreally.run import Run
from nnreally.script import Launched


def run_stage(
    stage: Stage,
    training: Training = Training(),
    output: Output = Output(),
    out: TextIO | None = None,
    data: Data | None = None,
    command: Sequence[str] | None = None,
) -> Run:
    """Run ``stage``'s file; the ``Run`` holds its history, data, what it showed and its
    variables.

    ``data`` already loaded is reused (``all`` loads it once); ``command`` is how to start the
    same run again, for a stage that asks for several processes.
    """
    opened = Recording(training, output, stage, out, data, command, by_runner=True)
    variables: dict[str, object] = {}
    # Launched: the processes torchrun started did the run, and their rank 0 reported it.
    with process_wide() as ran_with, recording.opened(opened), suppress(Launched):
        try:
            variables = runpy.run_path(str(stage.path), run_name=f"stage_{stage.number}")
        except BaseException as e:
            note_failure()  # a rank of a distributed run: say when, so the launcher names it
            said = as_rank_error(e)  # another rank is gone: the launcher names that one
            if said is not e:
                raise said from None
            raise
    return opened.finish(variables, ran_with)


def run_stages(
    stages: Sequence[Stage],
    training: Training,
    output: Output,
    out: TextIO,
    command: Sequence[str] | None = None,
) -> list[Run]:
    """The dispatcher's loop, which the book shares: each stage on data loaded once, its final
    line (and JSON with ``--json``) printed as it ends; the runs this process reported (rank
    0, not handed on to other processes)."""
    runs: list[Run] = []
    data = None
    for stage in stages:
        run = run_stage(stage, training, output, out, data, command)
        data = run.data
        if run.launched or rank() != 0:  # its processes reported it, or rank 0 does
            continue
        print(run.final_line(output.lang), file=out, flush=True)
        if output.json:
            print(json.dumps(run.to_json()), flush=True)
        runs.append(run)
    return runs


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
