"""Stage 14 through the dispatcher, except that rank 1 crashes on its fifth training step.

Usage (under torchrun): python -m tests.workers.ddp_failing [dispatcher options]
"""

import sys

import torch.nn.functional as F

from nnreally import cli
from nnreally.distributed import rank

FAIL_AT = 5

if __name__ == "__main__":
    if rank() == 1:
        real, calls = F.cross_entropy, []

        def failing(*args, **kwargs):
            calls.append(1)
            if len(calls) == FAIL_AT:
                raise RuntimeError("simulated crash of rank 1")
            return real(*args, **kwargs)

        F.cross_entropy = failing
    sys.exit(cli.main(["14", *sys.argv[1:]]))
