"""The run being recorded: where a stage's lesson calls report while the stage file runs.

The runner (or script mode, for a stage run on its own) opens a ``Recording`` before the stage
file starts and turns it into a plain ``Run`` when the file has ended. While it is open it is
the current recording, the one ``nnreally.lesson``'s calls report to: it prints what they show
(unless quiet), remembers it with the line of the stage file that showed it, and keeps and
times the epochs they report.

The epoch clock: an epoch's seconds run from the report of the epoch before (for the first
epoch, from the stage's last lesson call before it: its data, its device, its last demo) to
its own report, less any ``untimed`` work in between. Nothing a stage shows before its
training loop counts as training.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import TextIO

from nnreally.data import Data
from nnreally.distributed import launched, rank
from nnreally.errors import RunError
from nnreally.options import Output, Training
from nnreally.registry import Stage
from nnreally.run import Epoch, Run, Shown, label
from nnreally.texts import LANGUAGES, SOURCE, saying, words
from nnreally.translations import narrative

clock = time.perf_counter  # the epochs' clock


class Recording:
    """One stage run in progress: its options, what it loaded and showed, each epoch's score."""

    def __init__(
        self,
        training: Training = Training(),
        output: Output = Output(),
        stage: Stage | None = None,
        out: TextIO | None = None,
        data: Data | None = None,
        command: Sequence[str] | None = None,
        by_runner: bool = False,
    ) -> None:
        self.training = training
        self.stage = stage
        # Only rank 0 speaks; a process that hands the run to torchrun leaves it to rank 0.
        self.speaks = rank() == 0 and not (training.launches() and not launched())
        self.output = output if self.speaks else Output(quiet=True)
        self.out = out or sys.stdout
        self.data = data  # the data an earlier stage loaded, or None until load_data()
        self.command = command  # how to start this run again: [script, *args] or [-m, ...]
        self.by_runner = by_runner
        self.exits = ExitStack()  # what the stage joined and must leave (a process group)
        self.settings: dict[str, object] = {}
        self.device = "cpu"
        self.launched = False
        self._history: list[Epoch] = []
        self._batch_losses: list[float] = []
        self._shown: list[Shown] = []
        self._untimed: dict[str, float] = {}
        self.words = words(self.output.lang)
        self._mark = clock()
        if stage is not None:
            self.say(lambda lang: _header(stage, lang))

    @property
    def name(self) -> str:
        return self.stage.label if self.stage else "this stage"

    @property
    def epochs_done(self) -> int:
        return len(self._history)

    # --- what the lesson calls report ------------------------------------------------------

    def say(self, text: str | Callable[[str], str]) -> None:
        """Print a line (unless quiet) and remember it with the stage line that said it.

        ``text`` is the line, or for a line of nnreally's own the function that says it in a
        language: the line is then kept in every language (``Shown.in_languages``).
        """
        languages = {lang: text(lang) for lang in LANGUAGES} if callable(text) else {}
        text = languages.get(self.output.lang, text)
        self._shown.append(Shown(self._line(), text=text, in_languages=languages))
        if not self.output.quiet:
            print(text, file=self.out, flush=True)
        self._touch()

    def picture(self, png: bytes) -> int:
        """Remember a picture the stage drew; return how many things it has shown since."""
        self._shown.append(Shown(self._line(), png=png))
        self._touch()
        return len(self._shown)

    def note_settings(self, settings: Mapping[str, object]) -> None:
        self.settings = dict(settings)
        self._touch()

    def note_data(self, data: Data) -> None:
        self.data = data
        self._touch()

    def note_device(self, device: str) -> None:
        self.device = device
        self._touch()

    def note_launched(self) -> None:
        self.launched = True

    def record(self, losses: Sequence[float], valid_loss: float, valid_acc: float) -> Epoch:
        """Keep one epoch: its training batches' losses and the validation set's score."""
        losses = [float(loss) for loss in losses]
        valid_loss, valid_acc = float(valid_loss), float(valid_acc)
        train_loss = sum(losses) / len(losses) if losses else None
        seconds = clock() - self._mark
        epoch = Epoch(len(self._history) + 1, train_loss, valid_loss, valid_acc, seconds)
        self._history.append(epoch)
        self._batch_losses.extend(losses)
        self.say(epoch.line)
        self._mark = clock()
        return epoch

    @contextmanager
    def untimed(self, what: str) -> Iterator[None]:
        """Time a block of one-off work apart from the epochs' times."""
        self.say(saying("run.untimed_start", what=what))
        start = clock()
        yield
        seconds = clock() - start
        self._untimed[what] = self._untimed.get(what, 0.0) + seconds
        self._mark += seconds
        self.say(saying("run.untimed_end", what=what, seconds=f"{seconds:.1f}"))

    def _touch(self) -> None:
        """Before the first epoch, every lesson call restarts the clock (see the docstring)."""
        if not self._history:
            self._mark = clock()

    def _line(self) -> int:
        """The stage file's top-level line that is running now (0 outside a stage file).

        The outermost frame in the stage file: a line printed inside one of the stage's
        functions belongs to the statement that called it, as in a notebook.
        """
        path = str(self.stage.path) if self.stage else None
        frame, line = sys._getframe(1), 0
        while frame is not None:
            if frame.f_code.co_filename == path:
                line = frame.f_lineno
            frame = frame.f_back
        return line

    # --- the end -----------------------------------------------------------------------------

    def finish(
        self, variables: Mapping[str, object] | None = None, ran_with: Mapping | None = None
    ) -> Run:
        """The run as recorded so far, with the stage's variables and the process-wide
        settings it ended with."""
        return Run(
            stage=self.stage,
            training=self.training,
            settings=dict(self.settings),
            data=self.data,
            device=self.device,
            history=tuple(self._history),
            batch_losses=tuple(self._batch_losses),
            shown=tuple(self._shown),
            untimed=dict(self._untimed),
            variables=dict(variables or {}),
            ran_with=dict(ran_with or {}),
            launched=self.launched,
        )


def _header(stage: Stage, lang: str) -> str:
    """The run's first line: the stage and its docstring's first line, translated where it is."""
    summary = stage.summary
    if lang != SOURCE:
        with suppress(RunError):  # a file without a translation (a learner's) keeps its own
            summary = narrative(stage, lang)[0].split("\n", 1)[0]
    return words(lang)("run.header", label=label(stage, lang), summary=summary)


_current: Recording | None = None


@cache
def import_optimizers() -> None:
    """Pay PyTorch's one-off cost of a process's first optimizer, which imports
    ``torch._dynamo`` lazily (about 2 s on a small CPU), before any clock runs: a stage's
    ``settings()`` pays it before its epochs, the practice checker before a learner's time
    limit starts."""
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)


def may_make_optimizers(namespace: Mapping[str, object]) -> bool:
    """Whether the code of a module namespace may make a ``torch.optim`` optimizer: its file
    names ``optim`` (stages 05-14), or there is no file to read (a notebook). Stages 01-04
    update their weights by hand and need not pay ``import_optimizers``."""
    path = namespace.get("__file__")
    try:
        return not isinstance(path, str) or "optim" in Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return True


def current() -> Recording | None:
    """The recording the lesson calls report to now, if one is open."""
    return _current


@contextmanager
def opened(recording: Recording) -> Iterator[Recording]:
    """Make ``recording`` the current one while the block runs (the runner's way)."""
    global _current
    previous, _current = _current, recording
    try:
        with recording.exits:
            yield recording
    finally:
        _current = previous


def open_alone(recording: Recording) -> Recording:
    """Make ``recording`` the current one until the next (a script's or a notebook's way).

    A notebook run again leaves first what the last run joined (a process group).
    """
    global _current
    if _current is not None:
        _current.exits.close()
    _current = recording
    return recording
