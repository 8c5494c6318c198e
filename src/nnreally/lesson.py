"""What a stage file calls: its settings, its data, its device, what it shows, each epoch's score.

A stage runs three ways, and these calls work the same in each:

* under the runner (``python -m nnreally.stages 05``, the tests, the book, the benchmark),
  which opens a ``Session`` with the options already parsed, then runs the file;
* as a script (``python stages/05_optim.py --epochs 1``): ``settings(...)`` opens a session
  from the command line, and the final line (and ``--json``, ``--plot``) comes when it ends;
* in a notebook or a REPL: ``settings(...)`` opens a session from ``$NNREALLY_ARGS`` (the same
  options, for example ``--limit 1000 --epochs 1``; none by default).

Nothing here changes a model's mode or state: ``score`` only reads the model.
"""

from __future__ import annotations

import atexit
import gc
import io
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from functools import cache, partial
from typing import TextIO

import torch
import torch.nn.functional as F

from nnreally.data import Data, default_data_dir
from nnreally.data import load_data as _load_data
from nnreally.distributed import group_of_one, launch, launched, note_failure, rank
from nnreally.errors import DivergedError, UsageError, exit_code
from nnreally.errors import report as report_error
from nnreally.options import (
    STAGE_SETTINGS,
    Output,
    Parser,
    Training,
    add_output_options,
    add_training_options,
    output_options,
    resolve_device,
    training_options,
)
from nnreally.registry import Stage, script_stage

ARGS_VARIABLE = "NNREALLY_ARGS"  # the options of a run in a notebook or a REPL
# A validation loss this high has exploded: guessing among 10 classes scores ln(10) = 2.3.
EXPLODED = 100.0
SIDE = 28  # MNIST's images are 28 x 28


@dataclass(frozen=True)
class Epoch:
    """Scores after one epoch of training."""

    epoch: int  # 1 for the first epoch
    train_loss: float | None  # mean of the epoch's batch losses
    valid_loss: float
    valid_acc: float
    seconds: float  # wall time of the epoch, validation included


@dataclass(frozen=True)
class Shown:
    """What a stage showed (a line of text or a PNG), and the line of the stage file that did."""

    line: int
    text: str = ""
    png: bytes = b""


class Launched(Exception):  # noqa: N818  (not an error: the run went on in other processes)
    """This process started the run in several processes through torchrun; they did the work."""


class Session:
    """One run of one stage: its options, what it loaded and showed, and every epoch's score."""

    def __init__(
        self,
        training: Training = Training(),
        output: Output = Output(),
        stage: Stage | None = None,
        out: TextIO | None = None,
        data: Data | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.training = training
        self.stage = stage
        # Only rank 0 speaks; a process that hands the run to torchrun leaves it to rank 0.
        self.speaks = rank() == 0 and not (training.nproc and training.nproc > 1 and not launched())
        self.output = output if self.speaks else Output(quiet=True)
        self.out = out or sys.stdout
        self.data = data
        self.command = command  # how to start this run again: [script, *args] or [-m, module, ...]
        self.settings: dict[str, object] = {}
        self.device = torch.device("cpu")
        self.history: list[Epoch] = []
        self.batch_losses: list[float] = []
        self.shown: list[Shown] = []
        self.untimed: dict[str, float] = {}  # one-off work kept out of the epochs' times
        self.ran_with: dict[str, object] = {}  # process-wide settings at the end (threads, cuDNN)
        self.namespace: dict[str, object] = {}  # the stage's variables once it has run
        self.exits = ExitStack()
        self.launched = self.failed = False
        self.by_runner = False  # set by active(): the runner opened this session
        self._mark = time.perf_counter()
        if stage is not None:
            self.say(f"stage {stage.number} · {stage.title}: {stage.summary}")

    # --- what the stage's calls do ---------------------------------------------------------

    @property
    def name(self) -> str:
        return f"stage {self.stage.number}" if self.stage else "this stage"

    def say(self, text: str) -> None:
        """Print a line (unless quiet) and remember it with the stage line that said it."""
        self.shown.append(Shown(self._line(), text=text))
        if not self.output.quiet:
            print(text, file=self.out, flush=True)

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

    def configure(self, defaults: dict[str, object]) -> tuple:
        """The stage's settings with the command line's overrides; seeds the random numbers."""
        unknown = [k for k in defaults if k not in STAGE_SETTINGS]
        if unknown:
            raise TypeError(f"settings() knows {', '.join(STAGE_SETTINGS)}, not {unknown}")
        given = self.training.given()
        extra = [k for k in given if k not in defaults]
        if extra:
            flag = "--" + extra[0].replace("_", "-")
            raise UsageError(
                f"{flag}: {self.name} has no such setting (its settings: {', '.join(defaults)})"
            )
        self.settings = {k: given.get(k, v) for k, v in defaults.items()}
        if "nproc" in self.settings and launched():  # a rank that torchrun started
            self.settings["nproc"] = int(os.environ["WORLD_SIZE"])
        torch.manual_seed(self.training.seed)
        shown = ", ".join(f"{k} {v}" for k, v in self.settings.items())
        self.say(f"{shown}, seed {self.training.seed}")
        return tuple(self.settings.values())

    def load(self) -> Data:
        """The data the options name (loaded once per session), announced in one line."""
        if self.data is None:  # else the runner passed data that an earlier stage loaded
            data_dir = self.training.data_dir or default_data_dir()
            progress = self.speaks and not self.output.quiet  # e.g. making the digits (seconds)
            data = _load_data(self.training.data, data_dir, progress=progress)
            self.data = data.head(self.training.limit)
            for note in self.data.note.splitlines() if self.speaks else ():
                print(f"note: {note}", file=sys.stderr, flush=True)
        self.say(f"data: {self.data.describe()}")
        warm_up()
        self._mark = time.perf_counter()
        return self.data

    def use_device(self) -> torch.device:
        self.device = resolve_device(self.training.device)
        found = " (no CUDA or MPS device found)" if self.device.type == "cpu" else ""
        self.say(f"device: {self.device}{found}")
        return self.device

    def record(self, losses: Sequence[float], valid_loss: float, valid_acc: float) -> None:
        """Record one epoch: the training batches' losses and the whole validation set's score."""
        losses = [float(loss) for loss in losses]
        train_loss = sum(losses) / len(losses) if losses else None
        now = time.perf_counter()
        entry = Epoch(
            len(self.history) + 1, train_loss, float(valid_loss), float(valid_acc), now - self._mark
        )
        lr = self.settings.get("lr")
        for value in (entry.train_loss, entry.valid_loss):
            if value is not None and not math.isfinite(value):
                raise DivergedError(
                    f"loss became {value} in epoch {entry.epoch} with lr {lr}; try a smaller --lr"
                )
        if entry.valid_loss > EXPLODED:
            raise DivergedError(
                f"the validation loss exploded to {entry.valid_loss:.4g} in epoch {entry.epoch} "
                f"with lr {lr} (guessing scores 2.3); try a smaller --lr"
            )
        self.history.append(entry)
        self.batch_losses.extend(losses)
        self.say(epoch_line(entry))
        self._mark = time.perf_counter()

    # --- the run's results -----------------------------------------------------------------

    @property
    def epochs(self) -> int:
        return int(self.settings.get("epochs", len(self.history)))

    @property
    def train_seconds(self) -> float:
        return sum(e.seconds for e in self.history)

    def final_line(self) -> str:
        if not self.history:
            return f"{self.name} done: no epoch trained"
        last = self.history[-1]
        return (
            f"{self.name} done: valid loss {last.valid_loss:.4f}, accuracy {last.valid_acc:.2%} "
            f"on all {len(self.data.x_valid):,} validation images, "
            f"{self.train_seconds:.1f} s training"
        )

    def result(self) -> dict:
        """The JSON object for this run."""
        last = self.history[-1] if self.history else None
        return {
            "stage": self.stage.number if self.stage else None,
            "title": self.stage.title if self.stage else None,
            "data": self.data.name if self.data else None,
            "n_train": len(self.data.x_train) if self.data else 0,
            "n_valid": len(self.data.x_valid) if self.data else 0,
            "device": str(self.device),
            **{k: v for k, v in self.settings.items() if k in ("epochs", "bs", "lr")},
            "seed": self.training.seed,
            "valid_loss": last.valid_loss if last else None,
            "valid_acc": last.valid_acc if last else None,
            "train_seconds": self.train_seconds,
            "untimed_seconds": self.untimed,
            "history": [asdict(e) for e in self.history],
        }

    def finish(self) -> None:
        """The final line, and the JSON line with ``--json`` (rank 0 only)."""
        if not self.speaks or self.launched:
            return
        print(self.final_line(), file=self.out, flush=True)
        if self.output.json:
            print(json.dumps(self.result()), flush=True)

    @contextmanager
    def active(self) -> Iterator[Session]:
        """Make this the session the stage's calls report to, for the duration."""
        global _current
        previous, _current = _current, self
        self.by_runner = True
        try:
            with self.exits:
                yield self
        finally:
            _current = previous


_current: Session | None = None


def parse_options(argv: Sequence[str], prog: str) -> tuple[Training, Output]:
    """The shared options, parsed and checked."""
    parser = Parser(prog=prog, description="Run this stage of 'What is torch.nn really?'.")
    add_training_options(parser)
    add_output_options(parser)
    args = parser.parse_args(list(argv))
    return training_options(args), output_options(args)


def current() -> Session:
    """The session the stage reports to; outside the runner, opened on first use."""
    global _current
    if _current is None:
        _current = _open_outside_runner()
    return _current


def _open_outside_runner() -> Session:
    stage = script_stage()
    if stage is None:  # a notebook or a REPL
        training, output = parse_options(
            shlex.split(os.environ.get(ARGS_VARIABLE, "")), ARGS_VARIABLE
        )
        return Session(training, output)
    prog = f"python {sys.argv[0]}"
    try:
        training, output = parse_options(sys.argv[1:], prog)
    except UsageError as e:
        sys.exit(report_error(prog, e))
    out = sys.stderr if output.json else sys.stdout  # with --json, stdout carries only JSON
    session = Session(training, output, stage, out, command=sys.argv)
    sys.excepthook = partial(_script_error, prog, session)
    atexit.register(_script_end, session)
    return session


def _script_error(prog: str, session: Session, kind, error, traceback) -> None:
    """A stage run as a script: an expected error is one line and its exit code."""
    session.failed = True
    note_failure()  # a rank of a distributed run: say when, so the launcher names it
    code = exit_code(error)
    if code is None:
        sys.__excepthook__(kind, error, traceback)
        return
    report_error(prog, error)
    sys.stdout.flush()
    os._exit(code)  # the error is reported; nothing else should run or print


def _script_end(session: Session) -> None:
    if session.failed:
        return
    session.finish()
    if session.output.plot and session.history and session.speaks:
        from nnreally.plots import plot_losses

        print(f"plot: {plot_losses([(session.name, session)], session.output.plot)}")


# --- the calls a stage makes ---------------------------------------------------------------


def settings(**defaults: object) -> tuple:
    """The stage's settings, as written in the stage unless the command line overrides them.

    ``bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)``. Also seeds PyTorch's random
    numbers (``--seed``, default 0), so every run of a stage starts from the same weights.
    """
    global _current
    if _current is None or not _current.by_runner:  # a script, or a notebook's (re)run
        if _current is not None:
            _current.exits.close()  # a notebook run again: leave what the last run joined
        _current = _open_outside_runner()
    return _current.configure(defaults)


def load_data() -> Data:
    """``x_train, y_train, x_valid, y_valid`` from the source ``--data`` names (default auto)."""
    return current().load()


def get_device() -> torch.device:
    """The device ``--device`` names (default auto: CUDA, then Apple's MPS, then the CPU)."""
    return current().use_device()


def show(*values: object) -> None:
    """Print the values like ``print`` does, unless ``--quiet``: the tutorial's demos."""
    current().say(" ".join(str(v) for v in values))


def show_image(image: torch.Tensor, title: str = "") -> None:
    """Draw a 28 x 28 image: inline in a notebook, saved beside ``--plot FILE.png`` otherwise."""
    from matplotlib.figure import Figure

    session = current()
    fig = Figure(figsize=(2.4, 2.6))
    ax = fig.subplots()
    ax.imshow(image.detach().cpu().reshape(SIDE, SIDE).numpy(), cmap="gray")
    ax.set_title(title)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    png = buffer.getvalue()
    session.shown.append(Shown(session._line(), png=png))
    if _in_notebook():
        from IPython.display import Image, display

        display(Image(data=png))
    elif session.output.plot is not None and session.speaks:
        plot = session.output.plot
        number = f"-{session.stage.number}" if session.stage else ""
        path = plot.with_name(f"{plot.stem}{number}-image{len(session.shown)}.png")
        path.write_bytes(png)
        session.say(f"image: {title} (saved to {path})")
    else:
        session.say(f"image: {title} (--plot FILE.png saves it)")


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    return shell is not None and shell.get_ipython() is not None


@contextmanager
def untimed(what: str) -> Iterator[None]:
    """Time a block of one-off work (compiling, say) apart from the epochs' times.

    ``with untimed("compiling the step"): ...`` prints ``compiling the step ...`` as it starts
    (a first compile can take tens of seconds), then ``compiling the step: 21.3 s (not
    counted in the epochs' times)``, and starts the next epoch's clock after it.
    """
    session = current()
    session.say(f"{what} ...")
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    session.untimed[what] = session.untimed.get(what, 0.0) + seconds
    session._mark += seconds
    session.say(f"{what}: {seconds:.1f} s (not counted in the epochs' times)")


def score(model: Callable, losses: Sequence[float] = ()) -> None:
    """Score ``model`` on the whole validation set and report the epoch (stages 01-07).

    Loss (cross-entropy, which for stage 01's log-probabilities equals its hand-written NLL)
    and accuracy, in batches of ``2 * bs``, under ``torch.no_grad()``. The model's mode is
    left as it is: these stages have no layer that behaves differently in training.
    """
    session = current()
    x_valid, y_valid = session.data.x_valid, session.data.y_valid
    size = 2 * int(session.settings.get("bs", 64))
    total_loss = correct = 0.0
    with torch.no_grad():
        for i in range(0, len(x_valid), size):
            out, yb = model(x_valid[i : i + size]), y_valid[i : i + size]
            total_loss += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(dim=1) == yb).sum().item()
    session.record(losses, total_loss / len(x_valid), correct / len(x_valid))


def report(losses: Sequence[float], valid_loss: float, valid_acc: float) -> None:
    """Report one epoch: its batch losses and the whole validation set's loss and accuracy."""
    current().record(losses, valid_loss, valid_acc)


def start_processes(nproc: int) -> None:
    """Make this stage one of ``nproc`` processes, as torchrun does (stage 14).

    Under torchrun: nothing to do. Asked for several processes outside torchrun: start this
    same command in ``nproc`` processes through torchrun's launcher, wait for them, and stop
    here. One process: describe a group of one in the environment, as torchrun would.
    """
    session = current()
    if launched():
        return
    if nproc > 1:
        if session.command is None:
            raise UsageError("--nproc: several processes start from the command line only")
        launch(nproc, session.command)
        session.launched = True
        if not session.by_runner:
            sys.exit(0)  # a stage run as a script: the processes it started did the run
        raise Launched
    session.exits.enter_context(group_of_one())
    session.exits.callback(_leave_group)


def _leave_group() -> None:
    """Leave a process group a stage left behind (it stopped early), so the next can start one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()  # DDP wrappers first: freed after the group, they can deadlock gloo
        dist.destroy_process_group()


@cache
def warm_up() -> None:
    """Pay PyTorch's one-off costs before any clock starts.

    The first optimizer a process builds imports ``torch._dynamo`` lazily (about a second on a
    small CPU); without this, whichever stage ran first would look that much slower.
    """
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)


def epoch_line(e: Epoch) -> str:
    train = "-" if e.train_loss is None else f"{e.train_loss:.4f}"
    return (
        f"epoch {e.epoch}: train loss {train}, valid loss {e.valid_loss:.4f}, "
        f"valid acc {e.valid_acc:.2%} ({e.seconds:.2f} s)"
    )
