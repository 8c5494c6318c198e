"""``samples --out FILE``: the first training images of a data set, each with its label."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from nnreally.data import default_data_dir, load_data
from nnreally.options import Parser, add_training_options, check_png, training_options
from nnreally.plots import plot_samples


def main(argv: Sequence[str], prog: str) -> int:
    """Draw the samples of ``--data`` (default auto) into the PNG file ``--out``."""
    parser = Parser(prog=f"{prog} samples")
    parser.add_argument("--out", type=Path, required=True, help="the PNG file to write")
    add_training_options(parser, stage_settings=False)
    args = parser.parse_args(argv[1:])
    training = training_options(args)
    check_png(args.out, "--out")
    data_dir = training.data_dir or default_data_dir()
    data = load_data(training.data, data_dir, progress=sys.stderr.isatty())
    for note in data.note.splitlines():
        print(f"note: {note}", file=sys.stderr)
    print(f"samples: {plot_samples(data.head(training.limit), args.out)}")
    return 0
