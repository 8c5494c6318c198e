"""How a process of nnreally ends, and script mode: a stage file run on its own.

Every command's ``__main__`` ends with ``exit_with``, which turns a Ctrl-C at any moment into
one line and exit 130 and ends the process once its work and atexit functions are done.

Under the runner the dispatcher has parsed the options and opened a recording before the stage
starts. A stage file run on its own gets here from its first lesson call, ``settings(...)``:

* as a script (``python stages/05_optim.py --epochs 1``, or a learner's copy of it under any
  name), the options come from the command line; an expected error becomes one line on
  stderr and its exit code (2 usage, 1 failure, 130 Ctrl-C); when the script ends, its final
  line is printed (and ``--json``, ``--plot`` written);
* in a notebook or a REPL, the options come from ``$NNREALLY_ARGS`` (the same options, for
  example ``--limit 1000 --epochs 1``; none by default), and errors stay the notebook's own.

This is the only module that touches ``sys.excepthook``, ``atexit`` or the process exit. A
command imports it before torch loads (a Ctrl-C while torch loads is its to report), so the
options and the recording, which need torch, are imported when a stage file asks for them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from nnreally.distributed import as_rank_error, note_failure
from nnreally.errors import RunError, UsageError, check_stdout, exit_code
from nnreally.errors import report as report_error
from nnreally.registry import file_stage

if TYPE_CHECKING:
    from nnreally.options import Output, Training
    from nnreally.recording import Recording

ARGS_VARIABLE = "NNREALLY_ARGS"  # the options of a run in a notebook or a REPL


def exit_with(prog: str, main: Callable[[], int]) -> NoReturn:
    """End the process with ``main()``'s exit code: the last line of a command's ``__main__``.

    A Ctrl-C is "interrupted" and exit 130 at any moment: inside ``main`` its guard says so;
    while ``main`` is still importing, this does; and once it has returned, a handler ends the
    process at once. Python's own exit would raise KeyboardInterrupt inside its atexit
    functions ("Exception ignored in ...", exit 0), then spend half a second tearing down
    torch's modules, where a Ctrl-C kills the process without a word: with the work done and
    the atexit functions run, this process ends there instead.
    """
    try:
        code = main()
    except KeyboardInterrupt as e:
        code = report_error(prog, e)
    end_on_interrupt(prog)
    for thread in threading.enumerate():  # what Python's exit waits for first
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # then its atexit functions; what is left frees only memory
    _end(code)


def end_on_interrupt(prog: str) -> None:
    """From now on a Ctrl-C ends the process at once: for when its work is done."""
    signal.signal(signal.SIGINT, partial(_interrupted, prog))


def _interrupted(prog: str, signum: int, frame: object) -> NoReturn:
    _end(report_error(prog, KeyboardInterrupt()))


class Launched(Exception):  # noqa: N818  (not an error: the run went on in other processes)
    """This process started the run in several processes through torchrun; they did the work."""


def parse_options(argv: Sequence[str], prog: str) -> tuple[Training, Output]:
    """The shared options, parsed and checked."""
    from nnreally import options

    parser = options.Parser(prog=prog, description="Run this stage of 'What is torch.nn really?'.")
    options.add_training_options(parser)
    options.add_output_options(parser)
    args = parser.parse_args(list(argv))
    return options.training_options(args), options.output_options(args)


def options_from_variable(text: str) -> tuple[Training, Output]:
    """The options in ``$NNREALLY_ARGS``; an error in them names the variable."""
    try:
        return parse_options(shlex.split(text), ARGS_VARIABLE)
    except (ValueError, UsageError) as e:  # shlex: an unclosed quote
        raise UsageError(f"${ARGS_VARIABLE}={text!r}: {e}") from None


def open_recording(caller: Mapping[str, object]) -> Recording:
    """Open the recording of a stage file run on its own; ``caller``: the stage's globals.

    The stage is the main script when its globals are ``__main__``'s and come from a file;
    anything else (a notebook, a REPL, a library call) takes its options from the variable.
    """
    from nnreally import recording
    from nnreally.recording import Recording

    path = caller.get("__file__") if caller.get("__name__") == "__main__" else None
    if not isinstance(path, str):
        training, output = options_from_variable(os.environ.get(ARGS_VARIABLE, ""))
        return recording.open_alone(Recording(training, output))
    prog = f"python {sys.argv[0]}"
    try:
        check_stdout()
        training, output = parse_options(sys.argv[1:], prog)
    except (UsageError, RunError) as e:
        _end(report_error(prog, e))
    out = sys.stderr if output.json else sys.stdout  # with --json, stdout carries only JSON
    stage = file_stage(Path(path))
    opened = recording.open_alone(Recording(training, output, stage, out, command=sys.argv))
    sys.excepthook = partial(_on_error, prog)
    atexit.register(_at_end, prog, opened, caller)
    return opened


def _on_error(prog: str, kind, error, traceback) -> None:
    """An error the script did not catch: an expected one is one line and its exit code."""
    if isinstance(error, Launched):  # the processes it started did the run and reported it
        _end(0)
    note_failure()  # a rank of a distributed run: say when, so the launcher names it
    atexit.unregister(_at_end)
    error = as_rank_error(error)  # another rank is gone: the launcher names that one
    code = exit_code(error)
    if code is None:  # a bug, in the stage or in nnreally: its traceback is the report
        sys.__excepthook__(kind, error, traceback)
        return
    _end(report_error(prog, error))


def _at_end(prog: str, opened: Recording, caller: Mapping[str, object]) -> None:
    """The script ended: its final line, and its JSON and plot when asked (rank 0 only).

    An error here (a full disk, Ctrl-C) is one line and its exit code, as it is in the
    script; Python would print it as "Exception ignored in atexit callback" and exit 0.
    """
    try:
        _report(opened, caller)
    except BaseException as e:  # Ctrl-C too; a bug is raised again, with its traceback
        if exit_code(e) is None:
            raise
        _end(report_error(prog, e))
    end_on_interrupt(prog)  # what is left of the exit has nothing to clean up


def _report(opened: Recording, caller: Mapping[str, object]) -> None:
    if not opened.speaks or opened.launched:
        return
    run = opened.finish(dict(caller))
    print(run.final_line(opened.output.lang), file=opened.out, flush=True)
    if opened.output.json:
        import json

        print(json.dumps(run.to_json()), flush=True)
    plot = opened.output.plot
    if plot and run.history:
        from nnreally.plots import plot_losses  # matplotlib is slow to import; only when asked

        path = plot_losses([(run.name, run)], plot, lang=opened.output.lang)
        print(opened.words("run.plot", path=path), file=opened.out, flush=True)
    elif plot:
        print(opened.words("run.no_plot", path=plot), file=sys.stderr, flush=True)


def _end(code: int) -> NoReturn:
    """End the process now, its output flushed: nothing else should run or print."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, or none at all
            stream.flush()
    os._exit(code)
