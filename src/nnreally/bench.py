"""The benchmark: ``python -m nnreally.bench``. Where does an epoch's time go?

Two tables, measured in one run on one machine so their ratios mean something:

* stages: seconds per epoch (validation included, as a learner waits for it), the median of
  several epochs after one warm-up epoch, and training samples per second;
* data paths: one logistic-regression training epoch fed three ways: slicing tensors (stages
  01-05), the tutorial's shuffled ``DataLoader`` with a copy to the device per batch (stages
  07-12), and shuffled index batches on data already on the device (stage 13).

One-off costs are reported apart: the first ``optim.SGD(...)`` in a process imports
``torch._dynamo`` lazily, which no epoch should be charged for.
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnreally.data import Data, load_data
from nnreally.errors import UsageError, guarded
from nnreally.lesson import warm_up
from nnreally.options import (
    Output,
    Parser,
    Training,
    add_training_options,
    resolve_device,
    training_options,
)
from nnreally.registry import find
from nnreally.runner import run_stage

DEFAULT_STAGES = "05,07,08,11,12,13"
GRAPH = "13g"  # stage 13 with --cuda-graph, added on CUDA
LOGISTIC_LR = 0.5
BS = 64  # the tutorial's batch size
MEASURED_EPOCHS = 3  # epochs timed per stage, after one warm-up epoch


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


def time_stage(key: str, data: Data, training: Training, epochs: int) -> dict:
    """Median seconds per epoch of one stage after a warm-up epoch, and samples per second."""
    stage = find(key.rstrip("g"))
    training = replace(training, epochs=epochs + 1, cuda_graph=key == GRAPH)
    session = run_stage(stage, training, Output(quiet=True), out=io.StringIO(), data=data)
    seconds = statistics.median(e.seconds for e in session.history[1:])
    return {
        "stage": key,
        "title": "fast + CUDA graph" if key == GRAPH else stage.title,
        "seconds_per_epoch": seconds,
        "samples_per_second": len(data.x_train) / seconds,
        "valid_loss": session.history[-1].valid_loss,
    }


def _logistic(device: torch.device) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = nn.Linear(784, 10).to(device)
    return model, torch.optim.SGD(model.parameters(), lr=LOGISTIC_LR)


def _step(model, opt, xb, yb) -> None:
    F.cross_entropy(model(xb), yb).backward()
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


def report(result: dict) -> str:
    """The tables as text."""
    m = result["machine"]
    gpu = f", GPU {m['gpu']}" if "gpu" in m else ""
    lines = [
        f"machine: {m['cpu']} ({m['cpu_count']} logical CPUs, torch threads {m['torch_threads']})"
        f"{gpu}; torch {m['torch']}, python {m['python']}; device {m['device']}",
        f"data: {result['data']}; epochs measured: {result['epochs']} after 1 warm-up",
        f"one-off: first optim.SGD(...) in the process {result['first_optimizer_seconds']:.2f} s "
        "(lazy import, not charged to any epoch)",
        "",
        "stage  title                  s/epoch  samples/s   vs 12  valid loss",
    ]
    by_key = {r["stage"]: r for r in result["stages"]}
    reference = by_key.get("12", {}).get("seconds_per_epoch")
    for r in result["stages"]:
        ratio = f"{r['seconds_per_epoch'] / reference:6.2f}x" if reference else "      -"
        lines.append(
            f"{r['stage']:<5}  {r['title']:<20} {r['seconds_per_epoch']:>8.3f}  "
            f"{r['samples_per_second']:>9,.0f}  {ratio}  {r['valid_loss']:>10.4f}"
        )
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
    add_training_options(parser)  # --epochs: the epochs measured, after one warm-up epoch
    parser.set_defaults(data="digits", epochs=MEASURED_EPOCHS)
    return guarded(prog, lambda: _bench(parser.parse_args(argv)))


def _bench(args) -> int:
    one_off = first_optimizer_seconds()  # before anything else builds an optimizer
    warm_up()
    training = training_options(args)
    device = resolve_device(training.device)
    data = load_data(training.data, training.data_dir).head(training.limit)
    keys = (args.stages or DEFAULT_STAGES).split(",")
    if args.stages is None and device.type == "cuda":
        keys.append(GRAPH)
    if GRAPH in keys and device.type != "cuda":
        raise UsageError(f"{GRAPH} (stage 13 with a CUDA graph) needs --device cuda")
    stages = []
    for key in keys:
        print(f"bench: stage {key} ...", file=sys.stderr, flush=True)
        stages.append(time_stage(key, data, training, training.epochs))
    print("bench: data paths ...", file=sys.stderr, flush=True)
    result = {
        "machine": machine(device),
        "data": data.describe(),
        "epochs": training.epochs,
        "first_optimizer_seconds": one_off,
        "stages": stages,
        "data_paths": time_data_paths(data, device, training.epochs),
    }
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
