"""DDP: several processes train one model together with DistributedDataParallel.

Beyond the tutorial: the step after stage 12 when one device is not enough. torchrun starts
one process per device (``python -m nnreally.stages 14 --nproc 2``, or
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
* Only rank 0 prints, writes JSON and plots (the dispatcher sees to that).
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
from nnreally.run import Run
from nnreally.train import WrappedDataLoader

LR = 0.1  # the tutorial's learning rate for the CNN
MOMENTUM = 0.9
TIMEOUT = timedelta(seconds=60)  # how long a collective waits for a missing process


# %%
def get_model(lr, dev):
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
    model = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    return model, optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)


# %% [markdown]
# Each process scores its slice of the validation set; ``all_reduce`` sums the totals.


# %%
def evaluate(model, loss_func, valid_dl, dev):
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
def fit(run, model, loss_func, opt, train_dl, valid_dl, sampler, dev):
    run.log([], *evaluate(model, loss_func, valid_dl, dev))
    for epoch in range(run.epochs):
        sampler.set_epoch(epoch)
        model.train()
        losses = []
        for xb, yb in train_dl:
            loss = loss_func(model(xb), yb)
            loss.backward()  # DDP averages the gradients across processes here
            opt.step()
            opt.zero_grad()
            losses.append(loss.detach())
        losses = torch.stack(losses)
        dist.all_reduce(losses)  # every process's loss for each step, summed
        losses /= dist.get_world_size()
        run.log(losses.tolist(), *evaluate(model, loss_func, valid_dl, dev))


# %%
def main(run: Run):
    local_rank = int(os.environ["LOCAL_RANK"])
    if run.device.type == "cuda":
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", timeout=TIMEOUT)
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        x_train, y_train, x_valid, y_valid = run.data
        train_ds = TensorDataset(x_train, y_train)
        valid_ds = Subset(TensorDataset(x_valid, y_valid), range(rank, len(x_valid), world))
        sampler = DistributedSampler(train_ds, num_replicas=world, rank=rank, seed=run.seed)
        train_dl = DataLoader(train_ds, batch_size=run.bs, sampler=sampler)
        valid_dl = DataLoader(valid_ds, batch_size=run.bs * 2)

        def preprocess(x, y):
            return x.view(-1, 1, 28, 28).to(dev), y.to(dev)

        train_dl = WrappedDataLoader(train_dl, preprocess)
        valid_dl = WrappedDataLoader(valid_dl, preprocess)
        model, opt = get_model(run.lr, dev)
        loss_func = F.cross_entropy
        fit(run, model, loss_func, opt, train_dl, valid_dl, sampler, dev)
        return model.module
    finally:
        # DDP holds a reference to the group. Free it (and its reference cycles) while the
        # group is still alive: if DDP outlives the group, freeing it later can deadlock gloo.
        model = None
        gc.collect()
        dist.destroy_process_group()
