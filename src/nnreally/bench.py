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
  rounds (each row names what it adds), so that the stage's docstring can say what each buys;
* data paths: one logistic-regression training epoch fed three ways: slicing tensors (stages
  01-05), the tutorial's shuffled ``DataLoader`` with a copy to the device per batch (stages
  07-12), and shuffled index batches on data already on the device (stage 13).

One-off costs are reported apart: the first ``optim.SGD(...)`` in a process imports
``torch._dynamo`` lazily, which no epoch should be charged for. The machine's load average
is reported at the start and the end: above the number of CPUs, other programs competed for
them, and every figure is slower than an idle machine's (ratios within the run still hold).
"""

from __future__ import annotations

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
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnreally.data import Data, load_data
from nnreally.errors import UsageError, guarded
from nnreally.lesson import Session, warm_up
from nnreally.options import (
    Output,
    Parser,
    Training,
    add_training_options,
    positive_int,
    resolve_device,
    training_options,
)
from nnreally.registry import find
from nnreally.runner import process_wide, run_stage

DEFAULT_STAGES = "05,07,08,11,12,13"
GRAPH = "13g"  # stage 13 with --cuda-graph, added on CUDA
LOGISTIC_LR = 0.5
BS = 64  # the tutorial's batch size
ROUNDS = 3  # times each stage is run, the stages taking turns
MEASURED_EPOCHS = 1  # epochs timed per run, after one warm-up epoch
MIN_SECONDS = 0.25  # a timed stretch of repeated calls lasts at least this long
STEP_ROUNDS = 5  # alternating rounds of the training-step variants; the median is kept
PROFILED_STEPS = 50  # training steps whose GPU kernel time is measured


def machine(device: torch.device) -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_average() -> float | None:
    """The 1-minute load average: runnable processes, to compare with the number of CPUs."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every system
        return None


def seconds_per_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes, in a stretch of calls lasting at least ``MIN_SECONDS``.

    The device is synchronised only at the stretch's end, so queued work overlaps as it would
    in a training loop.
    """
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS:
            return elapsed / calls
        calls *= 2


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


def own_work(session: Session) -> tuple[float, str] | None:
    """Seconds of the model's own work in one of the stage's epochs, and how it was timed.

    The epoch's number of training steps (the stage's own ``step`` where it has one) on one
    batch already in place, plus one pass over the validation set in the stage's batches.
    None where the stage's variables do not say what its model, optimizer and loss are.
    """
    ns = session.namespace
    model, opt, loss_func = ns.get("model"), ns.get("opt"), ns.get("loss_func")
    if not (isinstance(model, nn.Module) and isinstance(opt, torch.optim.Optimizer)):
        return None
    bs = int(session.settings.get("bs", BS))
    if "train_dl" in ns:  # a batch as the model receives it
        xb, yb = next(iter(ns["train_dl"]))
    else:
        xb, yb = ns["x_train"][:bs], ns["y_train"][:bs]
    if "valid_dl" in ns:  # the validation batches, as the stage scores them
        valid = list(ns["valid_dl"])
    else:
        size = ns.get("VALID_BS", 2 * bs)  # stage 13's batches, else score()'s
        valid = list(zip(ns["x_valid"].split(size), ns["y_valid"].split(size), strict=True))
    step = ns.get("step")
    if not callable(step):

        def step(xb, yb):
            _step_with(model, opt, loss_func, xb, yb)

    def validate() -> None:
        with torch.no_grad():
            for xv, yv in valid:
                loss_func(model(xv), yv)

    steps = len(session.batch_losses) / len(session.history)  # training batches per epoch
    device = session.device
    model.train()
    step(xb, yb)  # first-call costs (allocations, kernel choice) are no part of the figure
    if device.type == "cuda":
        train = kernel_seconds(lambda: step(xb, yb), PROFILED_STEPS)
        model.eval()
        valid_seconds = kernel_seconds(validate, 1)
        if train is not None and valid_seconds is not None:
            return steps * train + valid_seconds, "GPU kernels"
        model.train()
    train = seconds_per_call(lambda: step(xb, yb), device)
    model.eval()
    return steps * train + seconds_per_call(validate, device), "steps in place"


def run_once(key: str, data: Data, training: Training, epochs: int) -> Session:
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
) -> list[dict]:
    """Seconds per epoch of each stage, the stages taking turns for ``rounds`` rounds.

    Each run's first epoch is a warm-up; the figure is the median of every other epoch of
    every run, and ``round_seconds`` holds each run's own median, to show the spread. With
    ``own_work_each_round`` the stage's own work is timed right after each run, so that the
    share outside it compares figures of the same minutes (the median share is kept).
    """
    runs: dict[str, list[Session]] = {key: [] for key in keys}
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
            _set_outside_share(row, own[row["stage"]], row["round_seconds"])
    return rows


def _stage_row(key: str, sessions: list[Session], samples: int) -> dict:
    measured = [[e.seconds for e in session.history[1:]] for session in sessions]
    seconds = statistics.median(itertools.chain.from_iterable(measured))
    last = sessions[-1]  # every run trains alike from the same seed
    return {
        "stage": key,
        "title": "fast + CUDA graph" if key == GRAPH else find(key.rstrip("g")).title,
        "seconds_per_epoch": seconds,
        "round_seconds": [statistics.median(epochs) for epochs in measured],
        "samples_per_second": samples / seconds,
        "one_off_seconds": sessions[0].untimed,  # the first run's: the coldest caches
        "valid_loss": last.history[-1].valid_loss,
        "valid_acc": last.history[-1].valid_acc,
        "session": last,  # for the tables that follow; not written to the JSON
    }


def own_work_as_run(session: Session) -> tuple[float, str] | None:
    """``own_work``, with the thread count and cuDNN setting the stage ran with."""
    with process_wide(**session.ran_with):
        return own_work(session)


def _set_outside_share(
    row: dict, own: Sequence[tuple[float, str] | None], epoch_seconds: Sequence[float]
) -> None:
    """The stage's own work and the share of the epoch outside it: medians over the runs."""
    row["round_own_seconds"] = None
    if not own or any(o is None for o in own):
        row.update(own_seconds_per_epoch=None, own_timed_as=None, outside_share=None)
        return
    row["round_own_seconds"] = [o[0] for o in own]
    shares = [max(0.0, 1 - o[0] / e) for o, e in zip(own, epoch_seconds, strict=True)]
    row["own_seconds_per_epoch"] = statistics.median(row["round_own_seconds"])
    row["own_timed_as"] = own[0][1]
    row["outside_share"] = statistics.median(shares)


def add_outside_share(row: dict) -> None:
    """Time the last run's own work once: on CUDA, after every other figure.

    A profiler slows what follows it, and can break a later CUDA graph's replay.
    """
    _set_outside_share(row, [own_work_as_run(row["session"])], [row["seconds_per_epoch"]])
    row["round_own_seconds"] = None  # timed once, not per run


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
        return {
            "threads": self.threads,
            "deterministic": self.deterministic,
            "benchmark": self.benchmark,
        }


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


def time_steps(stage13: Session, batches: int = 8) -> list[dict]:
    """Microseconds per training step of each variant, built with stage 13's own functions.

    Each variant trains its own copy of stage 13's model (with its optimizer's settings) on
    the same few whole batches, already on the device; it is built (compiled, captured) and
    timed with its own settings. Rounds alternate the variants, so that a change in the
    machine's load falls on all of them alike. Empty without one whole batch.
    """
    ns, device, bs = stage13.namespace, stage13.device, int(stage13.settings["bs"])
    whole = min(batches, len(ns["x_train"]) // bs) * bs
    if whole == 0:
        return []
    x, y = ns["x_train"][:whole], ns["y_train"][:whole]
    batch_list = list(zip(x.split(bs), y.split(bs), strict=True))
    variants, steps = step_variants(device), []
    with Session(output=Output(quiet=True), out=io.StringIO()).active():
        for v in variants:
            model = copy.deepcopy(ns["model"])
            model.to(
                memory_format=torch.channels_last if v.channels_last else torch.contiguous_format
            )
            defaults = {**ns["opt"].defaults, **({"fused": True} if v.fused else {})}
            opt = type(ns["opt"])(model.parameters(), **defaults)
            with process_wide(**v.process_wide()):
                if v.compiled:
                    step = ns["compile_step"](model, ns["loss_func"], opt, *batch_list[0])
                else:
                    step = ns["make_step"](model, ns["loss_func"], opt)
                    ns["rehearse"](step, model, opt, *batch_list[0])
                if v.graph:
                    step = ns["capture"](step, *batch_list[0])
            model.train()
            steps.append(step)
    figures: list[list[float]] = [[] for _ in variants]
    for _ in range(STEP_ROUNDS):
        for v, step, times in zip(variants, steps, figures, strict=True):
            turn = itertools.cycle(batch_list)
            with process_wide(**v.process_wide()):
                times.append(seconds_per_call(lambda s=step, t=turn: s(*next(t)), device))
    rows = [
        {**asdict(v), "us_per_step": 1e6 * statistics.median(times)}
        for v, times in zip(variants, figures, strict=True)
    ]
    for row in rows:
        row["vs_first"] = row["us_per_step"] / rows[0]["us_per_step"]
    return rows


def _logistic(device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = nn.Linear(784, 10).to(device)
    return model, torch.optim.SGD(model.parameters(), lr=LOGISTIC_LR)


def _step(model, opt, xb, yb) -> None:
    _step_with(model, opt, F.cross_entropy, xb, yb)


def _step_with(model, opt, loss_func, xb, yb) -> None:
    loss_func(model(xb), yb).backward()
    opt.step()
    opt.zero_grad()


def _slicing(data: Data, device: torch.device, bs: int) -> Callable[[], None]:
    x, y = data.x_train.to(device), data.y_train.to(device)
    model, opt = _logistic(device)

    def epoch() -> None:
        for i in range(0, len(x), bs):
            _step(model, opt, x[i : i + bs], y[i : i + bs])

    return epoch


def _dataloader(data: Data, device: torch.device, bs: int) -> Callable[[], None]:
    dl = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=bs, shuffle=True)
    model, opt = _logistic(device)

    def epoch() -> None:
        for xb, yb in dl:
            _step(model, opt, xb.to(device), yb.to(device))

    return epoch


def _index_batches(data: Data, device: torch.device, bs: int) -> Callable[[], None]:
    x, y = data.x_train.to(device), data.y_train.to(device)
    model, opt = _logistic(device)

    def epoch() -> None:
        for idx in torch.randperm(len(x), device=device).split(bs):
            _step(model, opt, x[idx], y[idx])

    return epoch


DATA_PATHS = {
    "slicing (stages 01-06)": _slicing,
    "tutorial DataLoader + .to(dev) (07-12)": _dataloader,
    "index batches on the device (13)": _index_batches,
}


def time_data_paths(data: Data, device: torch.device, epochs: int, bs: int = BS) -> list[dict]:
    """Seconds per logistic training epoch for each way of feeding batches."""
    rows = []
    for name, make in DATA_PATHS.items():
        epoch = make(data, device, bs)
        times = []
        for _ in range(epochs + 1):  # the first is a warm-up
            start = time.perf_counter()
            epoch()
            _sync(device)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times[1:])
        rows.append({"path": name, "seconds_per_epoch": seconds})
    baseline = rows[1]["seconds_per_epoch"]
    for row in rows:
        row["vs_dataloader"] = row["seconds_per_epoch"] / baseline
    return rows


def _load(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2f}"


def _one_off(seconds: dict[str, float]) -> str:
    return f"{sum(seconds.values()):8.1f}" if seconds else "       -"


def report(result: dict) -> str:
    """The tables as text."""
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
        "--stages", default=None, help=f"stages to time (default {DEFAULT_STAGES}, +13g on CUDA)"
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
            "cuda_graph": f"not here: the bench times stage 13 with a CUDA graph as stage {GRAPH}",
        },
    )
    parser.set_defaults(data="digits", epochs=MEASURED_EPOCHS)
    return guarded(prog, lambda: _bench(parser.parse_args(argv)))


def _bench(args) -> int:
    training = training_options(args)
    if training.epochs == 0:
        raise UsageError("--epochs: the bench needs at least 1 measured epoch per run")
    if training.cuda_graph:
        raise UsageError(
            f"--cuda-graph: the bench times it as stage {GRAPH} (--stages 12,13,{GRAPH})"
        )
    load_start = load_average()
    one_off = first_optimizer_seconds()  # before anything else builds an optimizer
    warm_up()
    device = resolve_device(training.device)
    data = load_data(training.data, training.data_dir).head(training.limit)
    keys = (args.stages or DEFAULT_STAGES).split(",")
    if args.stages is None and device.type == "cuda":
        keys.append(GRAPH)
    if GRAPH in keys and device.type != "cuda":
        raise UsageError(f"{GRAPH} (stage 13 with a CUDA graph) needs --device cuda")
    profiled = device.type == "cuda"  # the GPU's kernels are profiled once, at the end
    stages = time_stages(keys, data, training, args.rounds, training.epochs, not profiled)
    reference = next((r["seconds_per_epoch"] for r in stages if r["stage"] == "12"), None)
    for row in stages:
        row["vs_12"] = None if reference is None else row["seconds_per_epoch"] / reference
    stage13 = next((r["session"] for r in stages if r["stage"] == "13"), None)
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
        "stages": [{k: v for k, v in r.items() if k != "session"} for r in stages],
        "steps": steps,
        "data_paths": data_paths,
    }
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
