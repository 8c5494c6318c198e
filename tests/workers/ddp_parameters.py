"""Train stage 14 for one epoch on the first 640 digits; rank 0 saves the parameters.

Usage (under torchrun): python -m tests.workers.ddp_parameters BATCH_SIZE OUT_FILE
"""

import io
import sys

import torch

from nnreally.distributed import rank
from nnreally.options import Output, Training
from nnreally.registry import find
from nnreally.runner import run_stage

SAMPLES = 640

if __name__ == "__main__":
    bs, out = int(sys.argv[1]), sys.argv[2]
    training = Training(bs=bs, epochs=1, data="digits", limit=SAMPLES)
    run = run_stage(find("14"), training, Output(quiet=True), out=io.StringIO())
    if rank() == 0:
        torch.save(run.variables["model"].state_dict(), out)
