"""Launching stage 14 on PyTorch's own distributed engine (torchrun), and running it alone.

``--nproc N`` calls torchrun's launcher in this process: it starts N copies of the same command
(``python -m nnreally.stages 14 ...`` or ``python stages/14_ddp.py ...``), each with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in its environment, watches them, and
stops them all when one fails. Started without ``--nproc``, the stage runs as a group of one.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from nnreally.errors import FAILURES_VARIABLE, RankFailedError, RunError

MONITOR_INTERVAL = 0.1  # seconds between the launcher's checks on its ranks (recent torchrun's own)
# FAILURES_VARIABLE names a folder where a failing rank notes when it failed (``rank-N``) and,
# for an expected error, its one line (``rank-N.error``). torchrun's own record keeps whole
# seconds, so when rank 1 crashes and rank 0 dies of the lost connection in the same second, it
# could name rank 0; nanoseconds tell them apart.


def rank() -> int:
    """This process's rank in a torchrun launch (0 when not launched by torchrun)."""
    return int(os.environ["RANK"]) if launched() else 0


def launched() -> bool:
    """Whether torchrun started this process.

    torchrun gives each worker its run id besides ``RANK`` and ``WORLD_SIZE``: a ``RANK`` left
    in a shell's environment without one is no launch, and is ignored (a group of one
    replaces it while a stage runs).
    """
    return all(name in os.environ for name in ("TORCHELASTIC_RUN_ID", "RANK", "WORLD_SIZE"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def group_of_one() -> Iterator[None]:
    """Describe a group of one in the environment, as torchrun would, unless torchrun did.

    The variables are removed again afterwards, so that processes started later (a test's
    subprocess, say) do not mistake themselves for torchrun's workers.
    """
    if launched():
        yield
        return
    names = {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def note_failure() -> None:
    """In a rank that torchrun started: note when this rank failed, to the nanosecond."""
    folder = os.environ.get(FAILURES_VARIABLE)
    if folder and launched():
        Path(folder, f"rank-{rank()}").write_text(str(time.time_ns()))


# What gloo says in the ranks left behind when another rank's process is gone, and how a
# rank of nnreally's launch notes it.
PEER_LOST = ("Connection reset by peer", "Connection closed by peer", "Broken pipe")
LOST_PEER = "lost another rank"


def as_rank_error(error: BaseException) -> BaseException:
    """In a launched rank: a collective that failed because another rank is gone becomes this
    rank's one line (the launcher names that other rank, or its machine); any other error is
    returned as it is."""
    if launched() and isinstance(error, RuntimeError) and any(s in str(error) for s in PEER_LOST):
        return RunError(f"{LOST_PEER}: {str(error).splitlines()[0]}")
    return error


def _rank(note: Path) -> int:
    """The rank a note in the failures folder is about: ``rank-3`` or ``rank-3.error`` -> 3."""
    return int(note.stem.split("-")[1])


def _first_failed(folder: str, error) -> tuple[int, bool]:
    """The rank that failed first, and whether it noted an error of its own.

    A rank killed by a signal leaves no note, and the others then fail on the lost connection
    and note that: the killed one is the cause. Otherwise the first note the ranks left, else
    torchrun's record.
    """
    noted = {_rank(p): int(p.read_text()) for p in Path(folder).glob("rank-*") if not p.suffix}
    noted = {r: t for r, t in noted.items() if r in error.failures}
    killed = [r for r, f in error.failures.items() if f.exitcode < 0 and r not in noted]
    if killed:
        return min(killed), False
    if noted:
        return min(noted, key=noted.get), True
    return error.get_first_failure()[0], False


LAUNCH_OPTIONS = ("--nproc", "--nnodes", "--rdzv-endpoint")


def without_launch_options(argv: Sequence[str]) -> list[str]:
    """A command line minus ``--nproc N`` and the machines' options: what each process runs."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in LAUNCH_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(f"{o}=" for o in LAUNCH_OPTIONS)):
            out.append(arg)
    return out


def _machine_gone(folder: str, nproc: int, nnodes: int, which: str = "") -> str:
    """The one line for a machine that went: which one, its ranks, and what this one saw.

    Ranks are numbered machine by machine (torchrun gives machine ``m`` ranks ``m * nproc``
    on), and this machine's ranks noted their failures in ``folder``. With two machines the
    one that went is the other; with more, the address in gloo's message names it.
    """
    first = min(Path(folder).glob("rank-*.error"), key=_rank, default=None)
    here = _rank(first) // nproc if first else None
    said = first.read_text() if first else ""
    at = re.search(r"\[([^\]\s/]+)\]:\d+", said)
    if nnodes == 2 and here is not None:
        there = 1 - here
        ranks = _span(there * nproc, (there + 1) * nproc - 1)
        machine = f"machine {there} of 2 ({ranks}{f', at {at[1]}' if at else ''}"
        machine += f", {which})" if which else ")"
    else:
        machine = f"the machine {which}" if which else "another machine"
        machine += f" (at {at[1]})" if at and not which else ""
    seen = next((s for s in PEER_LOST if s in said), None)
    how = f": rank {_rank(first)} saw {seen}" if first and seen else ""
    return f"{machine} is gone{how}; the launcher stopped this machine's ranks"


@contextmanager
def _store_warnings_dropped() -> Iterator[None]:
    """This process's stderr (its ranks' too) without PyTorch's C++ warnings, each with a
    stack of frames, about a rendezvous store whose machine went: that is said in one line.

    Only an environment variable read when torch loads (``TORCH_CPP_LOG_LEVEL``) silences
    them, and torch is loaded by then; so stderr goes through a pipe that drops them.
    """
    sys.stderr.flush()
    stderr, (read, write) = os.dup(2), os.pipe()
    os.dup2(write, 2)
    os.close(write)

    def forward() -> None:
        dropping = False
        with open(read, "rb") as lines, open(os.dup(stderr), "wb", buffering=0) as out:
            for line in lines:
                if line.startswith(b"[W") and b"TCPStore.cpp" in line:
                    dropping = True
                elif not dropping or (not line.startswith(STACK_LINES) and line.strip()):
                    dropping = False
                    out.write(line)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(stderr, 2)  # the pipe's last writer here closes: the thread reads to its end
        os.close(stderr)
        thread.join(timeout=5)


STACK_LINES = (b"Exception raised from", b"frame #", b"<omitting")  # a C++ warning's stack


def _span(first: int, last: int) -> str:
    return f"rank {first}" if first == last else f"ranks {first}-{last}"


def launch(
    nproc: int, command: Sequence[str], nnodes: int = 1, endpoint: str | None = None
) -> None:
    """Run ``command`` in ``nproc`` processes through torchrun's launcher; with ``nnodes``
    machines, ``nproc`` on each, the launchers meeting at ``endpoint`` (``HOST:PORT``).

    ``command`` is what follows ``python``: ``[script, *args]`` or ``["-m", module, *args]``;
    its launch options are dropped.

    Raises ``RankFailedError`` naming the first rank that failed (or the machine that went);
    the launcher has already stopped this machine's other ranks by then.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous import RendezvousError
    from torch.distributed.run import parse_args, run

    command = without_launch_options(command)
    folder = tempfile.mkdtemp(prefix="nnreally-ranks-")  # removed at the end, whatever happens
    meeting = ["--standalone"]  # one machine: a rendezvous of its own on a free port
    if nnodes > 1:
        meeting = ["--nnodes", str(nnodes), "--rdzv-backend", "c10d", "--rdzv-endpoint"]
        meeting += [str(endpoint), "--rdzv-id", "nnreally"]
    args = parse_args(
        [
            *meeting,
            "--log-dir",  # its own default is a /tmp/torchelastic_* folder it never removes
            os.path.join(folder, "logs"),
            "--nproc-per-node",
            str(nproc),
            "--max-restarts",
            "0",
            "--monitor-interval",
            str(MONITOR_INTERVAL),
            *(["--module", *command[1:]] if command[0] == "-m" else command),
        ]
    )
    # Share the cores among the ranks ourselves (torchrun would set 1 thread each, and warn).
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = threads or str(max(1, (os.cpu_count() or 1) // nproc))
    os.environ[FAILURES_VARIABLE] = folder
    elastic = logging.getLogger("torch.distributed.elastic")  # its "failed (exitcode: 1)" line
    level = elastic.level
    elastic.setLevel(logging.CRITICAL)  # says again, in its own format, what is said below
    try:
        with _store_warnings_dropped() if nnodes > 1 else nullcontext():
            run(args)
    except SignalException:  # Ctrl-C (or a kill): the launcher has stopped every rank
        raise KeyboardInterrupt from None
    except RendezvousError:  # the machine that held the rendezvous (its store) is gone
        gone = _machine_gone(folder, nproc, nnodes, f"which held the rendezvous at {endpoint}")
        raise RankFailedError(gone) from None
    except ChildFailedError as e:
        failed_rank, raised = _first_failed(folder, e)
        code = e.failures[failed_rank].exitcode
        said = Path(folder, f"rank-{failed_rank}.error")
        lost = said.is_file() and said.read_text().startswith(LOST_PEER)
        if nnodes > 1 and lost and raised:  # no rank here was killed: another machine went
            raise RankFailedError(_machine_gone(folder, nproc, nnodes)) from None
        if said.is_file():  # an expected error: its one line, said here once for all ranks
            how = f"failed: {said.read_text()}"
        elif raised:  # its exit status may be a later abort, in a library's thread at exit
            how = "failed with an error (its own message is above)"
        elif code < 0:
            how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        raise RankFailedError(
            f"rank {failed_rank} of {nproc * nnodes} {how}; the launcher stopped the other ranks"
        ) from None
    finally:
        elastic.setLevel(level)
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ[FAILURES_VARIABLE]
        if threads is None:
            del os.environ["OMP_NUM_THREADS"]
