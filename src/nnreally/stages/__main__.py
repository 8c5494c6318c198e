"""``python -m nnreally.stages``: the dispatcher (the stage files themselves ship beside this)."""

from nnreally.script import exit_with


def main() -> int:
    from nnreally.cli import PROG, main  # torch: a Ctrl-C while it loads ends cleanly too

    return main(prog=PROG)


exit_with("python -m nnreally.stages", main)
