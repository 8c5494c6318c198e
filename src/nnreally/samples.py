"""``samples --out FILE``: the first training images of a data set, each with its label."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from nnreally.data import default_data_dir, load_data
from nnreally.options import Parser, add_data_options, check_png
from nnreally.plots import plot_samples


def main(argv: Sequence[str], prog: str) -> int:
    """Draw the samples of ``--data`` (default auto) into the PNG file ``--out``.

    Only the data options are taken: nothing trains here, so ``--epochs`` or ``--bs`` would
    change nothing, and are refused rather than ignored.
    """
    parser = Parser(prog=f"{prog} samples", description="Draw the first training images.")
    parser.add_argument(
        "--out", type=Path, required=True, help="the PNG file to write (replaced if there)"
    )
    add_data_options(parser)
    args = parser.parse_args(argv[1:])
    check_png(args.out, "--out")
    data = load_data(args.data, args.data_dir or default_data_dir(), progress=sys.stderr.isatty())
    for note in data.note.splitlines():
        print(f"note: {note}", file=sys.stderr)
    print(f"samples: {plot_samples(data.head(args.limit), args.out)}")
    return 0
