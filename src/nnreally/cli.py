"""Command-line plumbing shared by the commands: one-line errors and checked numbers."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable


class UsageError(Exception):
    """Bad command-line input (exit 2)."""


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so an error stays one line."""

    def error(self, message: str):
        raise UsageError(message)


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {minimum}")
        return value

    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


def positive_float(text: str) -> float:
    """A finite number above zero (a learning rate, say)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive finite number")
    return value


EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def guarded(
    prog: str,
    body: Callable[[], int],
    usage: tuple[type[Exception], ...] = (),
    failure: tuple[type[Exception], ...] = (),
) -> int:
    """Run a command's ``body``; turn expected errors into one line on stderr and an exit code.

    ``usage`` errors (and ``UsageError``) exit 2, ``failure`` errors (and ``OSError``) exit 1,
    Ctrl-C exits 130. Anything else is a bug and keeps its traceback.
    """
    try:
        return body()
    except (UsageError, *usage) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, *failure) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
