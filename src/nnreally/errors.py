"""The errors a learner can cause, and the one path that turns them into a line and an exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
# Where the ranks of a launch note when they failed and why (distributed.launch makes it).
FAILURES_VARIABLE = "NNREALLY_FAILURES"
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell tool ends with when its reader went away


class UsageError(Exception):
    """Bad command-line input: an option, a stage number, a device that is not there (exit 2)."""


class RunError(Exception):
    """A run that cannot go on (exit 1): broken data, a failed download, a diverged loss, ..."""


class WriteError(RunError):
    """A file that could not be written (a full disk, a size limit); one there before stays."""

    def __init__(self, path: os.PathLike | str, reason: str) -> None:
        super().__init__(f"{path}: not written ({reason}); a file there before is unchanged")
        self.path, self.reason = Path(path), reason


class DataError(RunError):
    """A data source that is missing, unreadable or not in the expected layout."""


class DivergedError(RunError):
    """The loss stopped being a finite number."""


class RankFailedError(RunError):
    """A worker process of a distributed run failed; the message names its rank."""


def guarded(prog: str, body: Callable[[], int]) -> int:
    """Run a command's ``body``; turn expected errors into one line on stderr and an exit code.

    A ``UsageError`` exits 2, a ``RunError`` or an ``OSError`` exits 1, Ctrl-C exits 130.
    A reader that went away (``| head``) ends the command quietly, as it would a shell tool;
    no stdout at all (``>&-``) is an error before any work. Anything else is a bug and keeps
    its traceback.
    """
    try:
        check_stdout()
        return body()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (UsageError, RunError, OSError, KeyboardInterrupt) as e:
        return report(prog, e)


def check_stdout() -> None:
    """Stop before any work when the process has no stdout to print to (``>&-``)."""
    if sys.stdout is None:
        raise RunError("stdout is closed (>&-): send it somewhere, e.g. >/dev/null")


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no stdout: nothing to flush
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())


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
    failures = os.environ.get(FAILURES_VARIABLE)
    if failures and "TORCHELASTIC_RUN_ID" in os.environ and os.path.isdir(failures):
        # a rank of nnreally's launch: the launcher says the first rank's error, once
        with open(os.path.join(failures, f"rank-{os.environ.get('RANK', '0')}.error"), "w") as f:
            f.write(str(error).splitlines()[0] if str(error) else type(error).__name__)
        return code
    message = "interrupted" if code == EXIT_INTERRUPTED else f"error: {error}"
    print(f"{prog}: {message}", file=sys.stderr, flush=True)
    return code
