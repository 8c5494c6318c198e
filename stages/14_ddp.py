"""DDP: several processes train one model together with DistributedDataParallel.

Beyond the tutorial. Builds on stage 12: the step after it when one device is not enough.
torchrun starts one process per device (``python stages/14_ddp.py --nproc 2``,
``python -m nnreally.stages 14 --nproc 2``, or
``torchrun --nproc-per-node 2 -m nnreally.stages 14``), and each process runs this file:

* ``dist.init_process_group`` joins the processes into a group: gloo on CPUs, NCCL on GPUs
  (one GPU per process, chosen by ``LOCAL_RANK``). A timeout turns a lost peer into an error
  instead of a hang.
* ``DistributedSampler`` deals each process a different share of every shuffled epoch;
  ``set_epoch`` gives each epoch a new shuffle that all processes agree on.
* ``DistributedDataParallel`` wraps the model: it starts every copy from the same weights and,
  during ``backward()``, averages the gradients across processes, so every copy takes the same
  step. With N processes and batch size ``bs`` each, one step sees ``N * bs`` samples.
* Validation: each process scores a different slice of the validation set, and
  ``all_reduce`` adds up the sums, so the reported numbers cover the whole set exactly once.
* Only rank 0 prints, writes JSON and plots.
"""

# %%
import gc
import os
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn, optim
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Subset, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from nnreally.layers import Lambda
from nnreally.lesson import get_device, load_data, report, settings, start_processes
from nnreally.train import WrappedDataLoader

TIMEOUT = timedelta(seconds=60)  # how long a collective waits for a missing process

# %% [markdown]
# ``start_processes`` makes this run one of ``nproc`` processes: outside torchrun with
# ``--nproc 2`` it starts this same command twice under torchrun's launcher and stops here;
# the copies (or a single process, as a group of one) carry on below.

# %%
bs, lr, epochs, nproc = settings(bs=64, lr=0.1, epochs=2, nproc=1)
start_processes(nproc)
dev = get_device()
if dev.type == "cuda":  # one GPU per process
    dev = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    torch.cuda.set_device(dev)
dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", timeout=TIMEOUT)
rank, world = dist.get_rank(), dist.get_world_size()
x_train, y_train, x_valid, y_valid = load_data()
loss_func = F.cross_entropy

# %%
train_ds = TensorDataset(x_train, y_train)
valid_ds = Subset(TensorDataset(x_valid, y_valid), range(rank, len(x_valid), world))
sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, seed=torch.initial_seed())
train_dl = DataLoader(train_ds, batch_size=bs, sampler=sampler)
valid_dl = DataLoader(valid_ds, batch_size=bs * 2)


def preprocess(x, y):
    return x.view(-1, 1, 28, 28).to(dev), y.to(dev)


train_dl = WrappedDataLoader(train_dl, preprocess)
valid_dl = WrappedDataLoader(valid_dl, preprocess)

# %%
model = nn.Sequential(
    nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
    nn.ReLU(),
    nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
    nn.ReLU(),
    nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
    nn.ReLU(),
    nn.AdaptiveAvgPool2d(1),
    Lambda(lambda x: x.view(x.size(0), -1)),
)
model.to(dev)
ddp_model = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
opt = optim.SGD(ddp_model.parameters(), lr=lr, momentum=0.9)

# %% [markdown]
# Each process scores its slice of the validation set; ``all_reduce`` sums the totals.


# %%
def evaluate(model, loss_func, valid_dl):
    model.eval()
    totals = torch.zeros(3, device=dev)  # loss sum, correct predictions, images
    with torch.no_grad():
        for xb, yb in valid_dl:
            out = model(xb)
            totals[0] += loss_func(out, yb, reduction="sum")
            totals[1] += (out.argmax(dim=1) == yb).sum()
            totals[2] += len(yb)
    dist.all_reduce(totals)
    return (totals[0] / totals[2]).item(), (totals[1] / totals[2]).item()


# %%
for epoch in range(epochs):
    sampler.set_epoch(epoch)
    ddp_model.train()
    losses = []
    for xb, yb in train_dl:
        loss = loss_func(ddp_model(xb), yb)
        loss.backward()  # DDP averages the gradients across processes here
        opt.step()
        opt.zero_grad()
        losses.append(loss.detach())
    losses = torch.stack(losses)
    dist.all_reduce(losses)  # every process's loss for each step, summed
    losses /= world
    report(losses.tolist(), *evaluate(ddp_model, loss_func, valid_dl))

# %% [markdown]
# Leave the group. DDP holds a reference to it, so the wrapper goes first (with its reference
# cycles): freed after the group is gone, it can deadlock gloo.

# %%
del ddp_model
gc.collect()
dist.destroy_process_group()
