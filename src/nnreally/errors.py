"""The errors a learner can cause, and the one path that turns them into a line and an exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell tool ends with when its reader went away


class UsageError(Exception):
    """Bad command-line input: an option, a stage number, a device that is not there (exit 2)."""


class RunError(Exception):
    """A run that cannot go on (exit 1): broken data, a failed download, a diverged loss, ..."""


class DivergedError(RunError):
    """The loss stopped being a finite number."""


class RankFailedError(RunError):
    """A worker process of a distributed run failed; the message names its rank."""


def guarded(
    prog: str,
    body: Callable[[], int],
) -> int:
    """Run a command's ``body``; turn expected errors into one line on stderr and an exit code.

    A ``UsageError`` exits 2, a ``RunError`` or an ``OSError`` exits 1, Ctrl-C exits 130.
    A reader that went away (``| head``) ends the command quietly, as it would a shell tool.
    Anything else is a bug and keeps its traceback.
    """
    try:
        return body()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (UsageError, RunError, OSError, KeyboardInterrupt) as e:
        return report(prog, e)


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no stdout at all: nothing to flush
        pass


def exit_code(error: BaseException) -> int | None:
    """The exit code for an expected error; None for anything else (a bug)."""
    if isinstance(error, UsageError):
        return EXIT_USAGE
    if isinstance(error, (RunError, OSError)):
        return EXIT_ERROR
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return None


def report(prog: str, error: BaseException) -> int:
    """Print an expected error as one line on stderr; return its exit code."""
    code = exit_code(error)
    if code is None:
        raise error
    if code == EXIT_INTERRUPTED and "TORCHELASTIC_RUN_ID" in os.environ:
        return code  # a rank that torchrun started: the launcher says it once for all
    message = "interrupted" if code == EXIT_INTERRUPTED else f"error: {error}"
    print(f"{prog}: {message}", file=sys.stderr, flush=True)
    return code
