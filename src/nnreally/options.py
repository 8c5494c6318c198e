"""The training options, defined once: the dispatcher, a stage run as a script, bench and book.

``bs``, ``lr`` and ``epochs`` have no default here: each stage writes the tutorial's values in
its own ``settings(...)`` line, and an option given on the command line overrides them. The
same holds for the settings only some stages declare (``--cuda-graph``, ``--nproc``).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from nnreally.data.folder import data_dir_arg
from nnreally.errors import UsageError
from nnreally.texts import LANGUAGES, SOURCE, default_language

if TYPE_CHECKING:
    import torch

SEED = 0
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_PROCESSES = 64  # more processes than this on one machine is surely a typo
STAGE_SETTINGS = ("bs", "lr", "epochs", "cuda_graph", "nproc")  # what a stage's settings() declares
# Options that go with a stage setting: where the stage has no --nproc, it has no machines either.
GO_WITH = {"nnodes": "nproc", "rdzv_endpoint": "nproc"}
# Every PNG nnreally writes says so in its Software text, as an early chunk: by it an image file
# of an earlier run is told from a user's file of the same name, which is never replaced.
PNG_METADATA = {"Software": "nnreally"}
OWN_MARK = b"tEXtSoftware\0nnreally"
OWN_MARK_WITHIN = 256  # bytes from the start: the chunk comes right after the header's


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so an error stays one line."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments"):  # whose: a command's, or the main one
            message += f" ({self.prog} --help lists its options)"
        raise UsageError(message)


def _number(kind: type, minimum: float, maximum: float = math.inf, exclusive: bool = False):
    """An argparse type: a finite ``kind`` in [minimum, maximum] (above minimum if exclusive)."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {noun}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
        if value < minimum or (exclusive and value == minimum):
            bound = "a positive finite number" if exclusive else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"{text!r} must be {bound}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at most {maximum}")
        return value

    return parse


positive_int = _number(int, 1)
non_negative_int = _number(int, 0)
positive_float = _number(float, 0.0, exclusive=True)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; a named device must exist."""
    import torch  # here: the options are read before anything loads PyTorch (show, diff, ...)

    has_mps = torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    elif name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available to this PyTorch")
    elif name == "mps" and not has_mps:
        raise UsageError("--device mps: no Apple MPS device is available to this PyTorch")
    return torch.device(name)


@dataclass(frozen=True)
class Training:
    """How a stage trains. ``None`` (or ``False``) means: the stage's own setting."""

    bs: int | None = None
    lr: float | None = None
    epochs: int | None = None
    seed: int = SEED
    device: str = "auto"
    data: str = "auto"
    data_dir: Path | None = None
    limit: int | None = None
    cuda_graph: bool = False
    nproc: int | None = None
    nnodes: int | None = None
    rdzv_endpoint: str | None = None

    def given(self) -> dict[str, object]:
        """The stage settings this run overrides (and the options that go with them, as
        ``GO_WITH`` says): those given on the command line."""
        values = {k: getattr(self, k) for k in (*STAGE_SETTINGS, *GO_WITH)}
        return {k: v for k, v in values.items() if v is not None and v is not False}

    def launches(self) -> bool:
        """Whether this run starts other processes (stage 14's ``--nproc 2``, ``--nnodes 2``)."""
        return (self.nproc or 1) > 1 or (self.nnodes or 1) > 1


@dataclass(frozen=True)
class Output:
    """What a run prints and writes besides its epoch lines, and in which language."""

    json: bool = False
    plot: Path | None = None
    quiet: bool = False
    lang: str = SOURCE


def _adder(parser: argparse.ArgumentParser, helps: Mapping[str, str] | None):
    """``parser.add_argument``, with the help of an option replaced where ``helps`` names it."""
    helps = helps or {}

    def add(flag: str, **kwargs) -> None:
        name = flag.removeprefix("--").replace("-", "_")
        parser.add_argument(flag, **{**kwargs, "help": helps.get(name, kwargs["help"])})

    return add


def add_training_options(
    parser: argparse.ArgumentParser,
    helps: Mapping[str, str] | None = None,
    stage_settings: bool = True,
) -> None:
    """The options that say how a stage trains (the fields of ``Training``).

    ``helps`` replaces the help of some, by name, for a program that sets other defaults;
    without ``stage_settings``, the settings only one stage declares (``--cuda-graph``,
    ``--nproc``) are left out, for a program that cannot pass them on to that stage alone.
    """
    add = _adder(parser, helps)
    add("--epochs", type=non_negative_int, help="epochs (default: the stage's own, 2)")
    add("--bs", type=positive_int, help="batch size (default: the stage's own, 64)")
    add("--lr", type=positive_float, help="learning rate (default: the stage's own, 0.5 or 0.1)")
    add("--seed", type=non_negative_int, default=SEED, help=f"random seed (default {SEED})")
    add("--device", choices=DEVICES, default="auto", help="where stages 12+ compute (default auto)")
    add_data_options(parser, helps)
    if not stage_settings:
        return
    add("--cuda-graph", action="store_true", help="stage 13: replay each step as a CUDA graph")
    add(
        "--nproc",
        type=_number(int, 1, MAX_PROCESSES),
        help="stage 14: processes to start through torchrun (default: run in this one); "
        "per machine with --nnodes",
    )
    add(
        "--nnodes",
        type=_number(int, 1, MAX_PROCESSES),
        help="stage 14: machines that train together, each running this same command "
        "(default 1); needs --rdzv-endpoint",
    )
    add(
        "--rdzv-endpoint",
        type=_endpoint,
        metavar="HOST:PORT",
        help="stage 14 with --nnodes: where the machines meet (an address all of them reach, "
        "the same on each)",
    )


def _endpoint(text: str) -> str:
    """An argparse type: ``HOST:PORT``, the port a whole number from 1 to 65535."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (a port from 1 to 65535)")
    return text


def add_data_options(
    parser: argparse.ArgumentParser, helps: Mapping[str, str] | None = None
) -> None:
    """The options that say which data a run reads: ``--data``, ``--data-dir``, ``--limit``."""
    add = _adder(parser, helps)
    add(
        "--data",
        default="auto",
        help="auto, mnist, fashion-mnist, digits, or a path to a .pkl.gz or an IDX folder "
        "(default auto: MNIST, cached or downloaded, else the built-in digits)",
    )
    add("--data-dir", type=data_dir_arg, help="data folder (default $NNREALLY_DATA or ./data)")
    add("--limit", type=positive_int, help="use only the first N training samples (default all)")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """The options that say what a run prints and writes (the fields of ``Output``)."""
    add = parser.add_argument
    add("--json", action="store_true", help="print one JSON object per stage on stdout")
    add(
        "--plot",
        type=Path,
        metavar="FILE.png",
        help="save the loss curves as FILE.png, and each image a stage draws beside it as "
        "FILE-NN-imageK.png (an existing one only if nnreally wrote it)",
    )
    add("--quiet", action="store_true", help="print only the final line per stage")
    add(
        "--lang",
        choices=LANGUAGES,
        help="the language of the lines a run prints; errors stay English (default: "
        "$NNREALLY_LANG, else zh under a zh_* locale such as LANG=zh_CN.UTF-8, else en)",
    )


def _take(cls, args: argparse.Namespace):
    """The dataclass ``cls`` from the parsed options it has (the others keep their defaults)."""
    return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})


def training_options(args: argparse.Namespace) -> Training:
    """The ``Training`` that ``add_training_options`` parsed, checked before any work starts."""
    training = _take(Training, args)
    resolve_device(training.device)
    if (training.nnodes or 1) > 1 and training.rdzv_endpoint is None:
        raise UsageError("--nnodes: the machines need --rdzv-endpoint HOST:PORT to meet at")
    if training.rdzv_endpoint is not None and (training.nnodes or 1) == 1:
        raise UsageError("--rdzv-endpoint: goes with --nnodes N, the number of machines")
    return training


def output_options(args: argparse.Namespace) -> Output:
    """The ``Output`` that ``add_output_options`` parsed, its file checked before any work."""
    output = replace(_take(Output, args), lang=args.lang or default_language())
    if output.plot is not None:
        check_png(output.plot, "--plot")
        check_images(output.plot)
    return output


def check_png(path: Path, option: str) -> None:
    """A PNG file name in a folder that exists and can be written to."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"{option} {path}: give a file name ending in .png")
    check_file(path, option, "ending in .png")


def check_file(path: Path, option: str, kind: str = "") -> None:
    """A file name (``kind``: what it must look like) in a folder that exists and can be
    written to."""
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name {kind}".rstrip())
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path}: the folder {folder} cannot be written to")


def image_path(plot: Path, number: str, count: int) -> Path:
    """Where ``--plot FILE.png`` saves an image stage ``number`` drew as the ``count``-th
    thing it showed: ``FILE-01-image4.png`` (``FILE-image4.png`` for a stage without one)."""
    return plot.with_name(f"{plot.stem}{f'-{number}' if number else ''}-image{count}.png")


def is_own_png(path: Path) -> bool:
    """Whether nnreally wrote this PNG: its Software text says so (``PNG_METADATA``)."""
    try:
        with open(path, "rb") as file:
            head = file.read(OWN_MARK_WITHIN)
    except OSError:
        return False
    return OWN_MARK in head


def check_images(plot: Path) -> None:
    """Refuse a ``--plot`` whose images would replace files that nnreally did not write."""
    name = re.compile(re.escape(plot.stem) + r"(?:-\d+)?-image\d+\.png")
    for found in sorted(plot.parent.iterdir()):
        if name.fullmatch(found.name) and not is_own_png(found):
            raise UsageError(
                f"--plot {plot}: {found} is there and nnreally did not write it (a stage's "
                f"images are saved as {plot.stem}-NN-imageK.png); move it or give another name"
            )
