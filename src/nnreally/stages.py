"""The dispatcher: ``python -m nnreally.stages`` lists, runs, shows and compares the stages."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TextIO

import torch

from nnreally import reading
from nnreally.cli import (
    Parser,
    UsageError,
    guarded,
    non_negative_int,
    positive_float,
    positive_int,
)
from nnreally.data import Data, DataError, DownloadError, default_data_dir, load_data
from nnreally.distributed import RankFailedError, launch, launched, rank
from nnreally.registry import Stage, UnknownStageError, all_stages, select
from nnreally.run import (
    BS,
    DEVICES,
    EPOCHS,
    SEED,
    DeviceError,
    DivergedError,
    Epoch,
    Run,
    resolve_device,
    train_stage,
)

PROG = "python -m nnreally.stages"
MAX_CPU_PROCESSES = 64  # more gloo processes than this on one machine is surely a typo


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options that say how stages train: shared by running and by the book."""
    parser.add_argument(
        "--epochs", type=non_negative_int, default=EPOCHS, help=f"epochs (default {EPOCHS})"
    )
    parser.add_argument("--bs", type=positive_int, default=BS, help=f"batch size (default {BS})")
    parser.add_argument(
        "--lr", type=positive_float, help="learning rate (default: the stage's own, 0.5 or 0.1)"
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=SEED, help=f"random seed (default {SEED})"
    )
    parser.add_argument(
        "--device", choices=DEVICES, default="auto", help="where stages 12+ compute (default auto)"
    )
    parser.add_argument(
        "--data",
        default="auto",
        help="auto, mnist, fashion-mnist, digits, or a path to a .pkl.gz or an IDX folder "
        "(default auto: MNIST, cached or downloaded, else the built-in digits)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="data folder (default $NNREALLY_DATA or ./data)"
    )
    parser.add_argument(
        "--limit", type=positive_int, help="use only the first N training samples (default all)"
    )


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description="Run the stages of 'What is torch.nn really?'. Without a stage: list them.",
        epilog=f"also: {prog} show NN | diff NN MM [--side-by-side] | book --out DIR | "
        "samples --out FILE",
    )
    parser.add_argument(
        "selection", nargs="?", help="a stage (05), a range (01-04), a list (03,07) or all"
    )
    add_training_options(parser)
    parser.add_argument(
        "--cuda-graph", action="store_true", help="stage 13: replay each step as a CUDA graph"
    )
    parser.add_argument(
        "--nproc",
        type=positive_int,
        help="stage 14: processes to start through torchrun (default: run in this one)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object per stage")
    parser.add_argument("--plot", type=Path, metavar="FILE", help="save the loss curves as a PNG")
    parser.add_argument("--quiet", action="store_true", help="print only the final line per stage")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the command line ``argv``; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        if argv and argv[0] in ("show", "diff"):
            return reading.main(argv, prog)
        if argv and argv[0] in ("book", "samples"):
            from nnreally import book  # pygments and matplotlib: imported only when needed

            return book.main(argv, prog)
        return _run(build_parser(prog).parse_args(argv), argv)

    return guarded(
        prog,
        body,
        usage=(UnknownStageError, DeviceError),
        failure=(DataError, DownloadError, DivergedError, RankFailedError),
    )


def entrypoint() -> None:
    """The ``nnreally`` console script."""
    sys.exit(main(prog="nnreally"))


def list_stages(out: TextIO) -> None:
    for stage in all_stages():
        print(f"{stage.number}  {stage.title:<20} {stage.summary}", file=out)


def prepare(args: argparse.Namespace) -> tuple[Data, torch.device]:
    """The data and device the options ask for; a fallback note goes to stderr."""
    device = resolve_device(args.device)
    data_dir = args.data_dir or default_data_dir()
    data = load_data(args.data, data_dir, progress=sys.stderr.isatty()).head(args.limit)
    if data.note and rank() == 0:
        print(f"note: {data.note}", file=sys.stderr)
    return data, device


def train_all(
    args: argparse.Namespace, stages: list[Stage], data: Data, device: torch.device, out: TextIO
) -> list[tuple[Stage, Run]]:
    """Train each stage on fresh settings; print its epochs (unless quiet) and its final line."""
    verbose = not getattr(args, "quiet", True)
    runs = []
    for stage in stages:
        lr = args.lr or stage.load().LR
        graph = getattr(args, "cuda_graph", False)  # the book has no such option
        run = Run(data, lr, args.bs, args.epochs, args.seed, device, cuda_graph=graph)
        bar = None
        if verbose:
            _print_header(stage, run, out)
            bar = _epoch_bar(run, out)
            run.on_epoch = partial(_show_epoch, out=out, bar=bar)
        try:
            train_stage(stage.load().main, run)
        finally:
            if bar is not None:
                bar.close()
        print(_final_line(stage, run), file=out, flush=True)
        runs.append((stage, run))
    return runs


def _epoch_bar(run: Run, out: TextIO):
    """A bar that advances per epoch, on a terminal only (None elsewhere)."""
    if not (out.isatty() and run.epochs):
        return None
    from tqdm import tqdm

    return tqdm(total=run.epochs, unit="epoch", leave=False, file=out)


def _show_epoch(e: Epoch, out: TextIO, bar) -> None:
    if bar is None:
        print(_epoch_line(e), file=out, flush=True)
        return
    bar.write(_epoch_line(e), file=out)
    if e.epoch:
        bar.update()


def _without_nproc(argv: list[str]) -> list[str]:
    """The command line minus ``--nproc N``: what each launched process runs."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def _launch(args: argparse.Namespace, stages: list[Stage], argv: list[str]) -> int:
    """Start ``--nproc`` copies of this command through torchrun's launcher."""
    if any(not s.distributed for s in stages):
        raise UsageError("--nproc: only stage 14 runs in several processes")
    if resolve_device(args.device).type == "cuda" and args.nproc > torch.cuda.device_count():
        raise UsageError(
            f"--nproc {args.nproc}: one GPU per process, and there are {torch.cuda.device_count()}"
        )
    if args.nproc > MAX_CPU_PROCESSES:
        raise UsageError(f"--nproc {args.nproc}: at most {MAX_CPU_PROCESSES} processes")
    launch(args.nproc, _without_nproc(argv))
    return 0


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.selection is None:
        list_stages(sys.stdout)
        return 0
    stages = select(args.selection)
    if args.nproc and not launched():
        return _launch(args, stages, argv)
    if rank() != 0:  # only rank 0 speaks; the others train silently
        args.quiet, args.json, args.plot = True, False, None
    if args.cuda_graph:
        if any("run.cuda_graph" not in s.source for s in stages):
            raise UsageError("--cuda-graph: only stage 13 can replay a CUDA graph")
        if resolve_device(args.device).type != "cuda":
            raise DeviceError("--cuda-graph needs a CUDA device, and there is none here")
    data, device = prepare(args)
    # With --json, stdout carries only JSON; the human-readable lines go to stderr.
    out = sys.stderr if args.json else sys.stdout
    if rank() != 0:
        out = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)
    runs = []
    for stage in stages:  # one at a time, so each JSON line appears as soon as it is known
        runs += train_all(args, [stage], data, device, out)
        if args.json:
            print(json.dumps(result_record(*runs[-1])), flush=True)
    if len(runs) > 1 and not args.quiet:
        print(file=out)
        print(summary_table(runs), file=out)
    if args.plot:
        from nnreally.plots import plot_losses  # matplotlib is slow to import; only when asked

        plot_losses([(s.number, r) for s, r in runs], args.plot)
        print(f"plot: {args.plot}", file=out)
    return 0


def _print_header(stage: Stage, run: Run, out: TextIO) -> None:
    print(f"stage {stage.number} · {stage.title}: {stage.summary}", file=out)
    print(f"data: {run.data.describe()}", file=out)
    if stage.uses_device:
        note = " (no CUDA or MPS device found)" if run.device.type == "cpu" else ""
        print(f"device: {run.device}{note}", file=out)
    print(f"bs {run.bs}, lr {run.lr}, epochs {run.epochs}, seed {run.seed}", file=out)
    print("epoch  train loss  valid loss  valid acc  seconds", file=out)


def _epoch_line(e: Epoch) -> str:
    train = "-" if e.train_loss is None else f"{e.train_loss:.4f}"
    valid = f"{e.valid_loss:>10.4f}  {e.valid_acc:>9.2%}"
    return f"{e.epoch:>5}  {train:>10}  {valid}  {e.seconds:>7.2f}"


def _final_line(stage: Stage, run: Run) -> str:
    last = run.history[-1]
    return (
        f"stage {stage.number} done: valid loss {last.valid_loss:.4f}, accuracy "
        f"{last.valid_acc:.2%} on all {len(run.data.x_valid):,} validation images, "
        f"{run.train_seconds:.1f} s training"
    )


def result_record(stage: Stage, run: Run) -> dict:
    """The JSON object for one stage's run."""
    last = run.history[-1]
    return {
        "stage": stage.number,
        "title": stage.title,
        "data": run.data.name,
        "n_train": len(run.data.x_train),
        "n_valid": len(run.data.x_valid),
        "device": str(run.device),
        "epochs": run.epochs,
        "bs": run.bs,
        "lr": run.lr,
        "seed": run.seed,
        "valid_loss": last.valid_loss,
        "valid_acc": last.valid_acc,
        "train_seconds": run.train_seconds,
        "history": [asdict(e) for e in run.history],
    }


def summary_table(runs: list[tuple[Stage, Run]]) -> str:
    lines = ["stage  title                valid loss  valid acc  train s"]
    for stage, run in runs:
        last = run.history[-1]
        lines.append(
            f"{stage.number:<5}  {stage.title:<20} {last.valid_loss:>10.4f}  "
            f"{last.valid_acc:>9.2%}  {run.train_seconds:>7.1f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
