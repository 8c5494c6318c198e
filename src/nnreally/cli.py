"""The dispatcher: ``python -m nnreally.stages`` (or ``nnreally``) lists, runs, shows and compares.

It parses the shared options once, runs each selected stage file through the runner, and
prints what the stages reported: a final line each, a summary table for several, JSON lines
with ``--json``, the loss curves with ``--plot``. ``show``, ``diff``, ``book`` and ``samples``
are routed to the reading tools, ``practice``, ``check`` and ``hint`` to practice.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nnreally import options, reading
from nnreally.errors import guarded
from nnreally.registry import all_stages, select
from nnreally.run import markdown_table, summary_table
from nnreally.script import exit_with
from nnreally.texts import words

PROG = "python -m nnreally.stages"
COMMANDS = ("show", "diff", "book", "samples", "practice", "check", "hint")


def build_parser(prog: str = PROG) -> options.Parser:
    parser = options.Parser(
        prog=prog,
        description="Run the stages of 'What is torch.nn really?'. Without a stage: list them.",
        epilog=f"also: {prog} show NN [--lang zh] | diff NN MM [--side-by-side] | "
        "book --out DIR [--lang en|zh|all] | samples --out FILE | "
        "practice [NN] | check NN [FILE] [--watch] | hint NN",
    )
    parser.add_argument(
        "selection", nargs="?", help="a stage (05), a range (01-04), a list (03,07) or all"
    )
    options.add_training_options(parser)
    options.add_output_options(parser)
    parser.add_argument(
        "--markdown", action="store_true", help="end with the summary as a Markdown table"
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the command line ``argv``; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        command_first(argv, prog)
        if argv and argv[0] in ("show", "diff"):
            return reading.main(argv, prog)
        if argv and argv[0] == "book":
            from nnreally import book  # pygments, jinja2, matplotlib: imported only when needed

            return book.main(argv, prog)
        if argv and argv[0] in ("practice", "check", "hint"):
            from nnreally import practice

            return practice.main(argv, prog)
        if argv and argv[0] == "samples":
            from nnreally import samples  # matplotlib: imported only when needed

            return samples.main(argv, prog)
        return run(argv, prog)

    return guarded(prog, body)


def command_first(argv: list[str], prog: str) -> None:
    """Move a command that follows options (``--lang zh show 05``) to the front, where the
    options it takes are parsed with it; one it does not take is then named as such."""
    if not argv or not argv[0].startswith("-"):
        return
    args, _ = build_parser(prog).parse_known_args(argv)
    if args.selection in COMMANDS:
        argv.remove(args.selection)
        argv.insert(0, args.selection)


def entrypoint() -> None:
    """The ``nnreally`` console script."""
    exit_with("nnreally", lambda: main(prog="nnreally"))


def run(argv: list[str], prog: str) -> int:
    """Run the selected stages one after another, on data loaded once."""
    args = build_parser(prog).parse_args(argv)
    if args.selection is None:
        for stage in all_stages():
            print(f"{stage.number}  {stage.title:<20} {stage.summary}")
        return 0
    stages = select(args.selection)
    training, output = options.training_options(args), options.output_options(args)
    out = sys.stderr if output.json else sys.stdout  # with --json, stdout carries only JSON
    command = ["-m", "nnreally.stages", *argv]  # what torchrun starts for --nproc
    from nnreally.runner import run_stages  # PyTorch: loaded only for a command that trains

    runs = [r for r in run_stages(stages, training, output, out, command) if r.history]
    if len(runs) > 1 and not output.quiet:
        print(f"\n{summary_table(runs, output.lang)}", file=out)
    if args.markdown and runs:
        print(f"\n{markdown_table(runs)}", file=out)
    if output.plot and runs:
        from nnreally.plots import plot_losses  # matplotlib is slow to import; only when asked

        path = plot_losses([(r.stage.number, r) for r in runs], output.plot, lang=output.lang)
        print(words(output.lang)("run.plot", path=path), file=out)
    elif output.plot:
        print(words(output.lang)("run.no_plot", path=output.plot), file=sys.stderr)
    return 0
