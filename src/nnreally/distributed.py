"""Launching stage 14 on PyTorch's own distributed engine (torchrun), and running it alone.

``--nproc N`` calls torchrun's launcher in this process: it starts N copies of the same command
(``python -m nnreally.stages 14 ...`` or ``python stages/14_ddp.py ...``), each with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in its environment, watches them, and
stops them all when one fails. Started without ``--nproc``, the stage runs as a group of one.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from nnreally.errors import FAILURES_VARIABLE, RankFailedError

MONITOR_INTERVAL = 0.5  # seconds between the launcher's checks on its workers
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


# What gloo says in the ranks left behind when another rank's process is gone.
PEER_LOST = ("Connection reset by peer", "Connection closed by peer", "Broken pipe")


def lost_peer(error: BaseException) -> bool:
    """In a launched rank: a collective that failed because another rank is gone."""
    return (
        launched() and isinstance(error, RuntimeError) and any(s in str(error) for s in PEER_LOST)
    )


def _first_failed(folder: str, error) -> tuple[int, bool]:
    """The rank that failed first, and whether it noted an error of its own.

    A rank killed by a signal leaves no note, and the others then fail on the lost connection
    and note that: the killed one is the cause. Otherwise the first note the ranks left, else
    torchrun's record.
    """
    noted = {
        int(p.name.split("-")[1]): int(p.read_text())
        for p in Path(folder).glob("rank-*")
        if not p.suffix
    }
    noted = {r: t for r, t in noted.items() if r in error.failures}
    killed = [r for r, f in error.failures.items() if f.exitcode < 0 and r not in noted]
    if killed:
        return min(killed), False
    if noted:
        return min(noted, key=noted.get), True
    return error.get_first_failure()[0], False


def without_nproc(argv: Sequence[str]) -> list[str]:
    """A command line minus ``--nproc N``: what each launched process runs."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def launch(nproc: int, command: Sequence[str]) -> None:
    """Run ``command`` in ``nproc`` processes through torchrun's launcher.

    ``command`` is what follows ``python``: ``[script, *args]`` or ``["-m", module, *args]``;
    its ``--nproc`` option is dropped.

    Raises ``RankFailedError`` naming the first rank that failed; the launcher has already
    stopped the others by then.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    command = without_nproc(command)
    folder = tempfile.mkdtemp(prefix="nnreally-ranks-")  # removed at the end, whatever happens
    args = parse_args(
        [
            "--standalone",
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
        run(args)
    except SignalException:  # Ctrl-C (or a kill): the launcher has stopped every rank
        raise KeyboardInterrupt from None
    except ChildFailedError as e:
        failed_rank, raised = _first_failed(folder, e)
        code = e.failures[failed_rank].exitcode
        said = Path(folder, f"rank-{failed_rank}.error")
        if said.is_file():  # an expected error: its one line, said here once for all ranks
            how = f"failed: {said.read_text()}"
        elif raised:  # its exit status may be a later abort, in a library's thread at exit
            how = "failed with an error (its own message is above)"
        elif code < 0:
            how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        raise RankFailedError(
            f"rank {failed_rank} of {nproc} {how}; the launcher stopped the other ranks"
        ) from None
    finally:
        elastic.setLevel(level)
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ[FAILURES_VARIABLE]
        if threads is None:
            del os.environ["OMP_NUM_THREADS"]
