"""What a stage file calls: its settings, its data, its device, what it shows, each epoch's score.

Each call reports into the current recording (``nnreally.recording``). Under the runner
(``python -m nnreally.stages 05``, the tests, the book, the benchmark, practice) the runner
opened it before the stage started; a stage run on its own (``python stages/05_optim.py``, a
notebook) opens one at its first call, ``settings(...)``, through script mode
(``nnreally.script``). Nothing here changes a model's mode or state: ``score`` only reads it.
"""

from __future__ import annotations

import io
import math
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial

import torch
import torch.nn.functional as F

from nnreally import recording, script
from nnreally.cells import arguments_at
from nnreally.data import Data
from nnreally.data import load_data as _load_data
from nnreally.distributed import group_of_one, launch, launched
from nnreally.errors import DivergedError, UsageError
from nnreally.options import GO_WITH, PNG_METADATA, STAGE_SETTINGS, image_path, resolve_device
from nnreally.recording import Recording
from nnreally.run import data_line, device_line, settings_line
from nnreally.texts import saying

__all__ = [  # UsageError too: a stage raises it for a setting it cannot honour (13)
    "UsageError",
    "get_device",
    "load_data",
    "report",
    "score",
    "settings",
    "show",
    "show_image",
    "start_processes",
    "untimed",
]

# A validation loss this high has exploded: guessing among 10 classes scores ln(10) = 2.3.
EXPLODED = 100.0
SIDE = 28  # MNIST's images are 28 x 28


def _recording() -> Recording:
    """The current recording; outside the runner, opened on first use from the caller's globals."""
    return recording.current() or script.open_recording(sys._getframe(2).f_globals)


def settings(**defaults: object) -> tuple:
    """The stage's settings, as written in the stage unless the command line overrides them.

    ``bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)``. Also seeds PyTorch's random
    numbers (``--seed``, default 0), so every run of a stage starts from the same weights, and
    pays PyTorch's one-off import of its optimizers now, before any epoch's clock runs (if
    the stage makes an optimizer here: not in a process that only launches stage 14's).
    An option for a setting the stage does not declare (``--cuda-graph`` to stage 12) is an
    error here, the one place that knows which settings a stage has.
    """
    found, caller = recording.current(), sys._getframe(1).f_globals
    if found is None or not found.by_runner:  # a script, or a notebook's (re)run
        found = script.open_recording(caller)
    unknown = [k for k in defaults if k not in STAGE_SETTINGS]
    if unknown:
        raise TypeError(f"settings() knows {', '.join(STAGE_SETTINGS)}, not {unknown}")
    given = found.training.given()
    extra = [k for k in given if k not in defaults and GO_WITH.get(k) not in defaults]
    if extra:
        flag = "--" + extra[0].replace("_", "-")
        raise UsageError(
            f"{flag}: {found.name} has no such setting (its settings: {', '.join(defaults)})"
        )
    chosen = {k: given.get(k, v) for k, v in defaults.items()}
    if "nproc" in chosen and launched():  # a rank that torchrun started
        chosen["nproc"] = int(os.environ["WORLD_SIZE"])
    torch.manual_seed(found.training.seed)
    if not _starts_others(chosen.get("nproc", 1), found) and recording.may_make_optimizers(caller):
        recording.import_optimizers()
    found.note_settings(chosen)

    found.say(partial(settings_line, chosen, found.training.seed))
    return tuple(chosen.values())


def load_data() -> Data:
    """``x_train, y_train, x_valid, y_valid`` from the source ``--data`` names (default auto)."""
    found = _recording()
    data = found.data
    if data is None:  # else the runner passed data that an earlier stage loaded
        options = found.training
        progress = found.speaks and not found.output.quiet  # e.g. making the digits (seconds)
        data = _load_data(options.data, options.data_dir, progress).head(options.limit)
        for note in data.note.splitlines() if found.speaks else ():
            print(f"note: {note}", file=sys.stderr, flush=True)
    found.note_data(data)
    found.say(partial(data_line, data))
    return data


def get_device() -> torch.device:
    """The device ``--device`` names (default auto: CUDA, then Apple's MPS, then the CPU)."""
    found = _recording()
    device = resolve_device(found.training.device)
    found.note_device(str(device))

    found.say(partial(device_line, device))
    return device


def show(*values: object) -> None:
    """Print the values (unless ``--quiet``), one a line after its code: ``preds.shape = ...``."""
    caller = sys._getframe(1)
    code = arguments_at(caller.f_code.co_filename, caller.f_lineno, len(values))
    lines = (f"{c} = {v!s}" if c else str(v) for c, v in zip(code, values, strict=True))
    _recording().say("\n".join(lines))


def show_image(image: torch.Tensor, title: str = "") -> None:
    """Draw a 28 x 28 image: inline in a notebook, saved beside ``--plot FILE.png`` otherwise."""
    from matplotlib.figure import Figure

    found = _recording()
    fig = Figure(figsize=(2.4, 2.6))
    ax = fig.subplots()
    ax.imshow(image.detach().cpu().reshape(SIDE, SIDE).numpy(), cmap="gray")
    ax.set_title(title)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata=PNG_METADATA)
    png = buffer.getvalue()
    count = found.picture(png)
    if _in_notebook():
        from IPython.display import Image, display

        display(Image(data=png))
    elif found.output.plot is not None and found.speaks:
        from nnreally.plots import save_png

        number = found.stage.number if found.stage else ""
        path = save_png(png, image_path(found.output.plot, number, count))
        found.say(saying("run.image_saved", title=title, path=path))
    else:
        found.say(saying("run.image_unsaved", title=title))


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    return shell is not None and shell.get_ipython() is not None


@contextmanager
def untimed(what: str) -> Iterator[None]:
    """Time a block of one-off work (compiling, say) apart from the epochs' times.

    ``with untimed("compiling the step"): ...`` prints ``compiling the step ...`` as it starts
    (a first compile can take tens of seconds), then ``compiling the step: 21.3 s (not
    counted in the epochs' times)``, and keeps those seconds out of the epoch they fall in.
    """
    with _recording().untimed(what):
        yield


def score(model: Callable, losses: Sequence[float] = ()) -> None:
    """Score ``model`` on the whole validation set and report the epoch (stages 01-07).

    Loss (cross-entropy, which for stage 01's log-probabilities equals its hand-written NLL)
    and accuracy, in batches of ``2 * bs``, under ``torch.no_grad()``. The model's mode is
    left as it is: these stages have no layer that behaves differently in training.
    """
    found = _recording()
    x_valid, y_valid = found.data.x_valid, found.data.y_valid
    size = 2 * int(found.settings.get("bs", 64))
    total_loss = correct = 0.0
    with torch.no_grad():
        for i in range(0, len(x_valid), size):
            out, yb = model(x_valid[i : i + size]), y_valid[i : i + size]
            total_loss += F.cross_entropy(out, yb, reduction="sum").item()
            correct += (out.argmax(dim=1) == yb).sum().item()
    _report(found, losses, total_loss / len(x_valid), correct / len(x_valid))


def report(losses: Sequence[float], valid_loss: float, valid_acc: float) -> None:
    """Report one epoch: its batch losses and the whole validation set's loss and accuracy."""
    _report(_recording(), losses, valid_loss, valid_acc)


def _report(found: Recording, losses: Sequence[float], valid_loss: float, valid_acc: float):
    """Record the epoch, unless its loss diverged: then one line that names the learning rate."""
    losses = [float(loss) for loss in losses]
    epoch, lr = found.epochs_done + 1, found.settings.get("lr")
    for value in (sum(losses) / len(losses) if losses else None, float(valid_loss)):
        if value is not None and not math.isfinite(value):
            raise DivergedError(
                f"loss became {value} in epoch {epoch} with lr {lr}; try a smaller --lr"
            )
    if valid_loss > EXPLODED:
        raise DivergedError(
            f"the validation loss exploded to {valid_loss:.4g} in epoch {epoch} "
            f"with lr {lr} (guessing scores 2.3); try a smaller --lr"
        )
    found.record(losses, valid_loss, valid_acc)


def start_processes(nproc: int) -> None:
    """Make this stage one of ``nproc`` processes, as torchrun does (stage 14).

    Under torchrun: nothing to do. Asked for several processes outside torchrun: start this
    command in ``nproc`` processes (on each of ``--nnodes`` machines) through torchrun's
    launcher, wait for them, and stop this run here (``script.Launched``). One process: a
    group of one described in the environment, as torchrun would, left when the stage ends.
    """
    found = _recording()
    if launched():
        return
    if _starts_others(nproc, found):
        if found.command is None:
            raise UsageError("--nproc: several processes start from the command line only")
        launch(nproc, found.command, found.training.nnodes or 1, found.training.rdzv_endpoint)
        found.note_launched()
        raise script.Launched
    found.exits.enter_context(group_of_one())
    found.exits.callback(_leave_group)


def _starts_others(nproc: int, found: Recording) -> bool:
    """Whether this process only starts the stage's processes (and trains nothing itself)."""
    return not launched() and (nproc > 1 or (found.training.nnodes or 1) > 1)


def _leave_group() -> None:
    """Leave a process group a stage left behind (it stopped early), so the next can start one."""
    import gc

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()  # DDP wrappers first: freed after the group, they can deadlock gloo
        dist.destroy_process_group()
