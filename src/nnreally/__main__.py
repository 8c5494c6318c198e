"""``python -m nnreally`` is the stage dispatcher, like ``python -m nnreally.stages``."""

from nnreally.script import exit_with

PROG = "python -m nnreally"


def main() -> int:
    from nnreally.cli import main  # torch: a Ctrl-C while it loads ends cleanly too

    return main(prog=PROG)


exit_with(PROG, main)
