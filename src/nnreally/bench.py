"""The benchmark: ``python -m nnreally.bench``. Where does an epoch's time go?

Three tables, measured in one run on one machine so their ratios mean something:

* stages: seconds per epoch (validation included, as a learner waits for it) and training
  samples per second. The stages take turns: each of several rounds runs every stage file
  afresh for one warm-up epoch and the measured ones, so that a slow spell of the machine
  falls on all stages alike; the figure is the median of all measured epochs, beside the
  fastest and the slowest run (on a shared machine they can lie 30% apart). One-off work a
  stage sets apart (compiling, capturing a CUDA graph) has its own column, and the share of
  the epoch spent *outside* the model's own work another. Own work is the epoch's number of
  training steps on one batch already in place, plus one validation pass: on CUDA the GPU's
  kernel time in them (``torch.profiler``, once, after every other figure), elsewhere their
  wall time, right after each run (the median share is kept). The rest (collating batches,
  copying them, waiting for ``loss.item()``, launching kernels from Python, a second
  validation pass) is outside: it is why the tutorial's GPU section is slow on a GPU;
* training steps: stage 13's step with each of its changes, one at a time, in alternating
  rounds (each row names what it adds), built from the pieces stage 13 documents as this
  benchmark's interface (``StepParts``);
* data paths: one logistic-regression training epoch fed three ways: slicing tensors (stages
  01-06), the tutorial's ``DataLoader`` with a copy to the device per batch (stages 07-12),
  and shuffled index batches on data already on the device (stage 13).

Repeated calls are timed with ``torch.utils.benchmark.Timer``. One-off costs are reported
apart: the first ``optim.SGD(...)`` in a process imports ``torch._dynamo`` lazily, which no
epoch should be charged for. The machine's load average is reported at the start and the end:
above the number of CPUs, other programs competed for them, and every figure is slower than
an idle machine's (ratios within the run still hold).
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import io
import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import benchmark
from torch.utils.data import DataLoader, TensorDataset

from nnreally import recording
from nnreally.data import Data, load_data
from nnreally.data.writes import write_file
from nnreally.errors import RunError, UsageError, guarded
from nnreally.options import (
    Output,
    Parser,
    Training,
    add_training_options,
    check_file,
    positive_int,
    resolve_device,
    training_options,
)
from nnreally.recording import Recording
from nnreally.registry import find
from nnreally.run import Run
from nnreally.runner import process_wide, run_stage
from nnreally.script import exit_with

DEFAULT_STAGES = "05,07,08,11,12,13"
FAST = "13"  # the stage whose step the step table takes apart
GRAPH = "13g"  # stage 13 with --cuda-graph, added on CUDA
LOGISTIC_LR = 0.5
BS = 64  # the tutorial's batch size
ROUNDS = 3  # times each stage is run, the stages taking turns
MEASURED_EPOCHS = 1  # epochs timed per run, after one warm-up epoch
MIN_SECONDS = 0.25  # repeated calls are timed for at least this long
STEP_ROUNDS = 5  # alternating rounds of the training-step variants; the median is kept
PROFILED_STEPS = 50  # training steps whose GPU kernel time is measured


@dataclass(frozen=True)
class StepParts:
    """What stage 13 documents as this benchmark's interface, by these names: its step, the
    functions that make, compile, rehearse and capture one, and its validation batch size."""

    step: Callable
    make_step: Callable
    compile_step: Callable
    rehearse: Callable
    capture: Callable
    VALID_BS: int

    @classmethod
    def of(cls, run: Run) -> StepParts:
        """The pieces from a run of stage 13; one line naming any that it no longer has."""
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in run.variables]
        if missing:
            raise RunError(
                f"{run.name} no longer defines {', '.join(missing)}, which the benchmark uses "
                "(its docstring lists them as the benchmark's interface)"
            )
        return cls(**{name: run.variables[name] for name in names})


@dataclass
class StageRow:
    """One stage's line of the stage table (``last_run`` is kept for the tables after it)."""

    stage: str
    title: str
    seconds_per_epoch: float
    round_seconds: list[float]
    samples_per_second: float
    one_off_seconds: dict[str, float]
    valid_loss: float
    valid_acc: float
    last_run: Run = field(repr=False)
    vs_12: float | None = None
    own_seconds_per_epoch: float | None = None
    round_own_seconds: list[float] | None = None  # None where it was timed once, or not at all
    own_timed_as: str | None = None
    outside_share: float | None = None

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "last_run"}


def machine(device: torch.device) -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((s.split(":", 1)[1].strip() for s in lines if s.startswith("model name")), cpu)
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def first_optimizer_seconds() -> float:
    """How long this process's first ``optim.SGD(...)`` takes (a lazy import)."""
    start = time.perf_counter()
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    return time.perf_counter() - start


def load_average() -> float | None:
    """The 1-minute load average: runnable processes, to compare with the number of CPUs."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every system
        return None


def kernel_seconds(fn: Callable[[], object], calls: int) -> float | None:
    """GPU kernel seconds per call of ``fn`` (torch.profiler); None where it cannot tell."""
    from torch.profiler import ProfilerActivity, profile

    try:
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(calls):
                fn()
            torch.cuda.synchronize()
        micro = sum(_kernel_micros(e) for e in prof.key_averages())
    except Exception:  # no CUPTI here, or a profiler that cannot follow this work
        return None
    return micro / 1e6 / calls if micro > 0 else None


def _kernel_micros(event) -> float:
    """Microseconds of GPU work in one row of the profiler's table (0 for host-side rows)."""
    from torch.autograd import DeviceType

    if event.device_type != DeviceType.CUDA or getattr(event, "is_user_annotation", False):
        return 0.0
    return getattr(event, "self_device_time_total", None) or event.self_cuda_time_total


def seconds_per_call(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes, in blocks of calls lasting ``MIN_SECONDS`` in all.

    ``torch.utils.benchmark`` synchronises CUDA at each block's end only, so queued work
    overlaps as it would in a training loop; it runs at the process's thread count.
    """
    timer = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=MIN_SECONDS).median


def own_work(run: Run) -> tuple[float, str] | None:
    """Seconds of the model's own work in one of the stage's epochs, and how it was timed.

    The epoch's number of training steps (stage 13's own ``step``) on one batch already in
    place, plus one pass over the validation set in the stage's batches. None where the
    stage's variables do not hold the tutorial's ``model``, ``opt`` and ``loss_func``.
    """
    variables = run.variables
    model, opt, loss_func = (variables.get(name) for name in ("model", "opt", "loss_func"))
    if not (isinstance(model, nn.Module) and isinstance(opt, torch.optim.Optimizer)):
        return None
    parts = StepParts.of(run) if run.stage and run.stage.number == FAST else None
    bs = int(run.settings.get("bs", BS))
    if "train_dl" in variables:  # a batch as the model receives it
        xb, yb = next(iter(variables["train_dl"]))
    else:
        xb, yb = variables["x_train"][:bs], variables["y_train"][:bs]
    if "valid_dl" in variables:  # the validation batches, as the stage scores them
        valid = list(variables["valid_dl"])
    else:
        size = parts.VALID_BS if parts else 2 * bs  # stage 13's batches, else score()'s
        x_valid, y_valid = variables["x_valid"], variables["y_valid"]
        valid = list(zip(x_valid.split(size), y_valid.split(size), strict=True))
    step = parts.step if parts else lambda xb, yb: _step_with(model, opt, loss_func, xb, yb)

    def validate() -> None:
        with torch.no_grad():
            for xv, yv in valid:
                loss_func(model(xv), yv)

    steps = len(run.batch_losses) / len(run.history)  # training batches per epoch
    model.train()
    step(xb, yb)  # first-call costs (allocations, kernel choice) are no part of the figure
    if torch.device(run.device).type == "cuda":
        train = kernel_seconds(lambda: step(xb, yb), PROFILED_STEPS)
        model.eval()
        valid_seconds = kernel_seconds(validate, 1)
        if train is not None and valid_seconds is not None:
            return steps * train + valid_seconds, "GPU kernels"
        model.train()
    train = seconds_per_call(lambda: step(xb, yb))
    model.eval()
    return steps * train + seconds_per_call(validate), "steps in place"


def own_work_as_run(run: Run) -> tuple[float, str] | None:
    """``own_work``, with the thread count and cuDNN setting the stage ran with."""
    with process_wide(**run.ran_with):
        return own_work(run)


def run_once(key: str, data: Data, training: Training, epochs: int) -> Run:
    """Run one stage (``13g``: 13 with a CUDA graph) for a warm-up epoch and ``epochs`` more."""
    training = replace(training, epochs=epochs + 1, cuda_graph=key == GRAPH)
    return run_stage(
        find(key.rstrip("g")), training, Output(quiet=True), out=io.StringIO(), data=data
    )


def time_stages(
    keys: Sequence[str],
    data: Data,
    training: Training,
    rounds: int,
    epochs: int,
    own_work_each_round: bool = True,
) -> list[StageRow]:
    """Seconds per epoch of each stage, the stages taking turns for ``rounds`` rounds.

    Each run's first epoch is a warm-up; the figure is the median of every other epoch of
    every run, and ``round_seconds`` holds each run's own median, to show the spread. With
    ``own_work_each_round`` the stage's own work is timed right after each run, so that the
    share outside it compares figures of the same minutes (the median share is kept).
    """
    runs: dict[str, list[Run]] = {key: [] for key in keys}
    own: dict[str, list[tuple[float, str] | None]] = {key: [] for key in keys}
    for round_ in range(1, rounds + 1):
        for key in keys:
            print(f"bench: stage {key}, round {round_} of {rounds} ...", end=" ", file=sys.stderr)
            runs[key].append(run_once(key, data, training, epochs))
            seconds = statistics.median(e.seconds for e in runs[key][-1].history[1:])
            print(f"{seconds:.3f} s/epoch", file=sys.stderr, flush=True)
            if own_work_each_round:
                own[key].append(own_work_as_run(runs[key][-1]))
    rows = [_stage_row(key, runs[key], len(data.x_train)) for key in keys]
    if own_work_each_round:
        for row in rows:
            _set_outside_share(row, own[row.stage], row.round_seconds)
    return rows


def _stage_row(key: str, runs: list[Run], samples: int) -> StageRow:
    measured = [[e.seconds for e in run.history[1:]] for run in runs]
    seconds = statistics.median(itertools.chain.from_iterable(measured))
    last = runs[-1]  # every run trains alike from the same seed
    return StageRow(
        stage=key,
        title="fast + CUDA graph" if key == GRAPH else find(key.rstrip("g")).title,
        seconds_per_epoch=seconds,
        round_seconds=[statistics.median(epochs) for epochs in measured],
        samples_per_second=samples / seconds,
        one_off_seconds=runs[0].untimed,  # the first run's: the coldest caches
        valid_loss=last.last.valid_loss,
        valid_acc=last.last.valid_acc,
        last_run=last,
    )


def _set_outside_share(
    row: StageRow, own: Sequence[tuple[float, str] | None], epoch_seconds: Sequence[float]
) -> None:
    """The stage's own work and the share of the epoch outside it: medians over the runs."""
    if not own or any(o is None for o in own):
        return
    row.round_own_seconds = [o[0] for o in own]
    shares = [max(0.0, 1 - o[0] / e) for o, e in zip(own, epoch_seconds, strict=True)]
    row.own_seconds_per_epoch = statistics.median(row.round_own_seconds)
    row.own_timed_as = own[0][1]
    row.outside_share = statistics.median(shares)


def add_outside_share(row: StageRow) -> None:
    """Time the last run's own work once: on CUDA, after every other figure.

    A profiler slows what follows it, and can break a later CUDA graph's replay.
    """
    _set_outside_share(row, [own_work_as_run(row.last_run)], [row.seconds_per_epoch])
    row.round_own_seconds = None  # timed once, not per run


@dataclass(frozen=True)
class Variant:
    """One way of running the training step, as the step table times it."""

    name: str
    compiled: bool = False
    graph: bool = False  # captured as a CUDA graph
    channels_last: bool = False
    threads: int | None = None  # None: the process's thread count
    deterministic: bool = False  # cuDNN's deterministic algorithms (CUDA only)
    benchmark: bool = False  # cuDNN times its algorithms and keeps the fastest (CUDA only)
    fused: bool = False  # the optimizer updates every parameter in one fused kernel

    def process_wide(self) -> dict:
        """The process-wide settings this variant is built and timed with."""
        return {k: getattr(self, k) for k in ("threads", "deterministic", "benchmark")}


@dataclass(frozen=True)
class StepRow:
    """One variant's line of the step table."""

    variant: Variant
    us_per_step: float
    vs_first: float

    def to_json(self) -> dict:
        return {**asdict(self.variant), "us_per_step": self.us_per_step, "vs_first": self.vs_first}


def fused_sgd_available(device: torch.device) -> bool:
    """Whether this PyTorch has a fused SGD step for ``device`` (older ones have none)."""
    if device.type == "cuda" and not torch.cuda.is_available():
        return False
    try:
        torch.optim.SGD([torch.zeros(1, device=device, requires_grad=True)], lr=1.0, fused=True)
    except (TypeError, RuntimeError, ValueError):  # no ``fused`` argument, or not here
        return False
    return True


def step_variants(device: torch.device) -> list[Variant]:
    """The training-step variants timed on ``device``.

    Each adds one of stage 13's changes to stage 12's step, or shows one it left out.
    """
    if device.type == "cuda":
        stage13 = {"compiled": True, "deterministic": True}
        graph13 = {**stage13, "graph": True}
        fused = [
            Variant("stage 13 + fused SGD (not in 13)", **stage13, fused=True),
            Variant("13g + fused SGD (not in 13)", **graph13, fused=True),
        ]
        return [
            Variant("eager (stage 12's step)"),
            Variant("channels_last weights (left out)", channels_last=True),
            Variant("deterministic cuDNN, eager", deterministic=True),
            Variant("deterministic, compiled (stage 13)", **stage13),
            Variant("deterministic, eager, CUDA graph", graph=True, deterministic=True),
            Variant("deterministic, compiled, CUDA graph (13g)", **graph13),
            Variant("default cuDNN, compiled, CUDA graph", compiled=True, graph=True),
            Variant("13g + cudnn.benchmark (not in 13)", **graph13, benchmark=True),
            *(fused if fused_sgd_available(device) else []),
        ]
    variants = [
        Variant("default layout (stage 12's step)"),
        Variant(f"channels_last weights (stage 13 on {device.type})", channels_last=True),
    ]
    if device.type == "cpu" and torch.get_num_threads() > 1:
        variants.append(
            Variant("channels_last, 1 thread (left out)", channels_last=True, threads=1)
        )
    if fused_sgd_available(device):
        variants.append(
            Variant("channels_last, fused SGD (left out)", channels_last=True, fused=True)
        )
    return variants


def time_steps(stage13: Run, batches: int = 8) -> list[StepRow]:
    """Microseconds per training step of each variant, built with stage 13's own functions.

    Each variant trains its own copy of stage 13's model (with its optimizer's settings) on
    the same few whole batches, already on the device; it is built (compiled, captured) and
    timed with its own settings. Rounds alternate the variants, so that a change in the
    machine's load falls on all of them alike. Empty without one whole batch.
    """
    parts, variables = StepParts.of(stage13), stage13.variables
    device, bs = torch.device(stage13.device), int(stage13.settings["bs"])
    model, opt, loss_func = variables["model"], variables["opt"], variables["loss_func"]
    whole = min(batches, len(variables["x_train"]) // bs) * bs
    if whole == 0:
        return []
    x, y = variables["x_train"][:whole], variables["y_train"][:whole]
    batch_list = list(zip(x.split(bs), y.split(bs), strict=True))
    variants, steps = step_variants(device), []
    quiet = Recording(output=Output(quiet=True), out=io.StringIO())  # compile_step's one line
    with recording.opened(quiet):
        for v in variants:
            copied = copy.deepcopy(model)
            layout = torch.channels_last if v.channels_last else torch.contiguous_format
            copied.to(memory_format=layout)
            defaults = {**opt.defaults, **({"fused": True} if v.fused else {})}
            copied_opt = type(opt)(copied.parameters(), **defaults)
            with process_wide(**v.process_wide()):
                if v.compiled:
                    step = parts.compile_step(copied, loss_func, copied_opt, *batch_list[0])
                else:
                    step = parts.make_step(copied, loss_func, copied_opt)
                    parts.rehearse(step, copied, copied_opt, *batch_list[0])
                if v.graph:
                    step = parts.capture(step, *batch_list[0])
            copied.train()
            steps.append(step)
    figures: list[list[float]] = [[] for _ in variants]
    for _ in range(STEP_ROUNDS):
        for v, step, times in zip(variants, steps, figures, strict=True):
            turn = itertools.cycle(batch_list)
            with process_wide(**v.process_wide()):
                times.append(seconds_per_call(lambda s=step, t=turn: s(*next(t))))
    medians = [1e6 * statistics.median(times) for times in figures]
    return [StepRow(v, us, us / medians[0]) for v, us in zip(variants, medians, strict=True)]


def _step_with(model, opt, loss_func, xb, yb) -> None:
    loss_func(model(xb), yb).backward()
    opt.step()
    opt.zero_grad()


def _slicing(data: Data, device: torch.device, bs: int) -> Callable[[], Iterator]:
    x, y = data.x_train.to(device), data.y_train.to(device)
    return lambda: ((x[i : i + bs], y[i : i + bs]) for i in range(0, len(x), bs))


def _dataloader(data: Data, device: torch.device, bs: int) -> Callable[[], Iterator]:
    dl = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=bs, shuffle=True)
    return lambda: ((xb.to(device), yb.to(device)) for xb, yb in dl)


def _index_batches(data: Data, device: torch.device, bs: int) -> Callable[[], Iterator]:
    x, y = data.x_train.to(device), data.y_train.to(device)
    return lambda: ((x[i], y[i]) for i in torch.randperm(len(x), device=device).split(bs))


def _logistic(device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = nn.Linear(784, 10).to(device)
    return model, torch.optim.SGD(model.parameters(), lr=LOGISTIC_LR)


DATA_PATHS = {
    "slicing (stages 01-06)": _slicing,
    "tutorial DataLoader + .to(dev) (07-12)": _dataloader,
    "index batches on the device (13)": _index_batches,
}


@dataclass(frozen=True)
class DataPathRow:
    path: str
    seconds_per_epoch: float
    vs_dataloader: float


def time_data_paths(data: Data, device: torch.device, epochs: int, bs: int = BS) -> list:
    """Seconds per logistic training epoch for each way of feeding batches."""
    medians = {}
    for name, make in DATA_PATHS.items():
        batches = make(data, device, bs)  # each call: one epoch's batches, on the device
        model, opt = _logistic(device)
        times = []
        for _ in range(epochs + 1):  # the first is a warm-up
            start = time.perf_counter()
            for xb, yb in batches():
                _step_with(model, opt, F.cross_entropy, xb, yb)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
        medians[name] = statistics.median(times[1:])
    baseline = list(medians.values())[1]  # the DataLoader's
    return [DataPathRow(name, s, s / baseline) for name, s in medians.items()]


def _load(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


def _one_off(seconds: dict[str, float]) -> str:
    return f"{sum(seconds.values()):8.1f}" if seconds else "       -"


def report(result: dict) -> str:
    """The tables as text, from the JSON result."""
    m = result["machine"]
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ""
    load = result["load_average"]
    lines = [
        f"machine: {m['cpu']} ({m['cpu_count']} logical CPUs, torch threads {m['torch_threads']})"
        f"{gpu}; torch {m['torch']}, python {m['python']}; device {m['device']}; {result['date']}",
        f"load: 1-minute load average {_load(load['start'])} at the start, "
        f"{_load(load['end'])} at the end, on {m['cpu_count']} CPUs (above that, other programs "
        "competed for them)",
        f"data: {result['data']}; {result['rounds']} round{'s' * (result['rounds'] != 1)}, "
        "the stages taking turns; each run "
        f"{result['epochs']} measured epoch{'s' * (result['epochs'] != 1)} after 1 warm-up",
        f"one-off: first optim.SGD(...) in the process {result['first_optimizer_seconds']:.2f} s "
        "(lazy import, not charged to any epoch)",
        "",
        "stage  title                  s/epoch  rounds (s)     samples/s   vs 12  outside  "
        "one-off s  valid loss",
    ]
    for r in result["stages"]:
        ratio = "      -" if r["vs_12"] is None else f"{r['vs_12']:6.2f}x"
        outside = "      -" if r["outside_share"] is None else f"{r['outside_share']:7.0%}"
        spread = f"{min(r['round_seconds']):.2f}-{max(r['round_seconds']):.2f}"
        lines.append(
            f"{r['stage']:<5}  {r['title']:<20} {r['seconds_per_epoch']:>8.3f}  {spread:<11}  "
            f"{r['samples_per_second']:>9,.0f}  {ratio}  {outside}   "
            f"{_one_off(r['one_off_seconds'])}  {r['valid_loss']:>10.4f}"
        )
    timed_as = sorted({r["own_timed_as"] for r in result["stages"] if r["own_timed_as"]})
    lines += [
        "outside: the share of the epoch not spent on the model's own work (its training steps",
        f"on a batch in place and one validation pass, timed as {' / '.join(timed_as) or '-'}):",
        "collating, copying, waiting, launching from Python. one-off: compiling, capturing.",
    ]
    if result["steps"]:
        lines += [
            "",
            f"training step (bs {result['bs']}, {STEP_ROUNDS} alternating rounds)"
            "       us/step  vs first",
        ]
        for r in result["steps"]:
            lines.append(f"{r['name']:<44} {r['us_per_step']:>8.0f}  {r['vs_first']:>7.2f}x")
    lines += ["", "data path (one logistic epoch)            s/epoch  vs DataLoader"]
    for r in result["data_paths"]:
        lines.append(
            f"{r['path']:<40} {r['seconds_per_epoch']:>8.3f}  {r['vs_dataloader']:>12.2f}x"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str = "python -m nnreally.bench") -> int:
    parser = Parser(prog=prog, description="Time the stages and the data paths, in one run.")
    parser.add_argument(
        "--stages",
        help=f"stages to time; {GRAPH}: stage 13 with --cuda-graph (default {DEFAULT_STAGES}, "
        f"and {GRAPH} on CUDA)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=ROUNDS,
        help=f"times each stage is run, the stages taking turns (default {ROUNDS})",
    )
    add_training_options(
        parser,
        helps={
            "epochs": "epochs measured per run, after one warm-up epoch "
            f"(default {MEASURED_EPOCHS})",
            "data": "digits, auto, mnist, fashion-mnist, or a path to a .pkl.gz or an IDX folder "
            "(default digits: the same data on every machine)",
        },
        stage_settings=False,
    )
    parser.set_defaults(data="digits", epochs=MEASURED_EPOCHS)
    return guarded(prog, lambda: _bench(parser.parse_args(argv)))


def stage_keys(text: str | None, device: torch.device) -> list[str]:
    """The stages ``--stages`` names (None: the default set), each checked before any work."""
    if text is None:
        return DEFAULT_STAGES.split(",") + ([GRAPH] if device.type == "cuda" else [])
    keys = [key.strip() for key in text.split(",")]
    if not all(keys):
        raise UsageError(f"--stages {text!r}: give stages separated by commas, e.g. 05,12")
    for key in keys:
        if key != GRAPH:
            find(key)  # one line naming the stages there are
        elif device.type != "cuda":
            raise UsageError(f"{GRAPH} (stage 13 with a CUDA graph) needs --device cuda")
    return keys


def _bench(args) -> int:
    training = training_options(args)
    if training.epochs == 0:
        raise UsageError("--epochs: the bench needs at least 1 measured epoch per run")
    device = resolve_device(training.device)
    keys = stage_keys(args.stages, device)
    if args.json:
        check_file(args.json, "--json")
    load_start = load_average()
    one_off = first_optimizer_seconds()  # before anything else builds an optimizer
    data = load_data(training.data, training.data_dir).head(training.limit)
    profiled = device.type == "cuda"  # the GPU's kernels are profiled once, at the end
    stages = time_stages(keys, data, training, args.rounds, training.epochs, not profiled)
    reference = next((r.seconds_per_epoch for r in stages if r.stage == "12"), None)
    for row in stages:
        row.vs_12 = None if reference is None else row.seconds_per_epoch / reference
    stage13 = next((r.last_run for r in stages if r.stage == FAST), None)
    steps = []
    if stage13 is not None:
        print("bench: training steps ...", file=sys.stderr, flush=True)
        steps = time_steps(stage13)
    print("bench: data paths ...", file=sys.stderr, flush=True)
    data_paths = time_data_paths(data, device, args.rounds * training.epochs, training.bs or BS)
    if profiled:
        print("bench: the model's own work ...", file=sys.stderr, flush=True)
        teardown = os.environ.get("TEARDOWN_CUPTI")
        if teardown is None:  # a profiler detached from CUDA can break a later graph's replay
            os.environ["TEARDOWN_CUPTI"] = "0"
        try:
            for row in stages:
                add_outside_share(row)
        finally:
            if teardown is None:
                os.environ.pop("TEARDOWN_CUPTI", None)
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(device),
        "load_average": {"start": load_start, "end": load_average()},
        "data": data.describe(),
        "rounds": args.rounds,
        "epochs": training.epochs,
        "bs": training.bs or BS,
        "first_optimizer_seconds": one_off,
        "stages": [row.to_json() for row in stages],
        "steps": [row.to_json() for row in steps],
        "data_paths": [asdict(row) for row in data_paths],
    }
    print(report(result))
    if args.json:
        text = json.dumps(result, indent=1) + "\n"
        write_file(args.json, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return 0


if __name__ == "__main__":
    exit_with("python -m nnreally.bench", main)
