"""Launching stage 14 on PyTorch's own distributed engine (torchrun), and running it alone.

``python -m nnreally.stages 14 --nproc N`` calls torchrun's launcher in this process: it starts
N copies of the dispatcher, each with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous
address in its environment, watches them, and stops them all when one fails. Started directly
(``python -m nnreally.stages 14``), the stage runs as a group of one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

MONITOR_INTERVAL = 0.5  # seconds between the launcher's checks on its workers


class RankFailedError(Exception):
    """A worker process of a distributed run failed; the message names its rank."""


def rank() -> int:
    """This process's rank in a torchrun launch (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


def launched() -> bool:
    """Whether torchrun started this process."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


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


def launch(nproc: int, module_args: Sequence[str], module: str = "nnreally.stages") -> None:
    """Run ``python -m module *module_args`` in ``nproc`` processes through torchrun's launcher.

    Raises ``RankFailedError`` naming the first rank that failed; the launcher has already
    stopped the others by then.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    args = parse_args(
        [
            "--standalone",
            "--nproc-per-node",
            str(nproc),
            "--max-restarts",
            "0",
            "--monitor-interval",
            str(MONITOR_INTERVAL),
            "--module",
            module,
            *module_args,
        ]
    )
    try:
        run(args)
    except ChildFailedError as e:
        failed_rank, failure = e.get_first_failure()
        code = failure.exitcode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        raise RankFailedError(
            f"rank {failed_rank} of {nproc} {how}; the launcher stopped the other ranks "
            "(the failing rank's own message is above)"
        ) from None
