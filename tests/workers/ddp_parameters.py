"""Train stage 14 for one epoch on the first 640 digits; rank 0 saves the parameters.

Usage (under torchrun): python -m tests.workers.ddp_parameters BATCH_SIZE OUT_FILE
"""

import sys

import torch

from nnreally.data import load_digits
from nnreally.distributed import rank
from nnreally.registry import find
from nnreally.run import Run, train_stage

SAMPLES = 640

if __name__ == "__main__":
    bs, out = int(sys.argv[1]), sys.argv[2]
    stage = find("14").load()
    run = train_stage(stage.main, Run(load_digits().head(SAMPLES), stage.LR, bs=bs, epochs=1))
    if rank() == 0:
        torch.save(run.model.state_dict(), out)
