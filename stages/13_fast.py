"""Fast: the data lives on the device, batches are index slices, and nothing waits per step.

Beyond the tutorial. Builds on stage 12: same model, learning rate, momentum, batch size and
epochs; only the way data reaches the model changes. Stage 12 pays four costs per step that
have nothing to do with learning:

* the ``DataLoader`` collates each batch from 64 separate samples in Python;
* every batch is copied from the host to the device;
* ``loss.item()`` makes the host wait for the device after every step (a sync);
* validation reads the validation set twice, in small batches, copying each batch again.

Here the whole data set is reshaped and moved to the device once. Each epoch shuffles an index
(``randperm(n).split(bs)``) and gathers each batch with one indexing operation on the device.
Batch losses stay on the device and are read once per epoch, so the host can queue work ahead
of the device. Validation runs in batches of 2,000 under ``torch.inference_mode()``.

``--cuda-graph`` (CUDA only) goes further: the whole training step (forward, backward and the
optimizer's update) is captured once as a CUDA graph over static input buffers, and each step
replays it with a single launch instead of dozens of kernel launches from Python. A graph has
fixed shapes, so that mode trains on whole batches only: the last 16 of the 50,000 images
(``n // bs * bs``) are left out of every epoch.

Measured with ``python -m nnreally.bench`` (see the README's performance section): on a 2-core
CPU this stage costs about the same per epoch as stage 12, because the convolutions dominate;
on a GPU, where those costs dominate instead, it is faster than stage 12 (1.6x on one H200),
and with ``--cuda-graph`` many times faster (17x there).
"""

# %%
import torch
import torch.nn.functional as F
from torch import nn, optim

from nnreally.layers import Lambda
from nnreally.lesson import UsageError, get_device, load_data, report, settings

VALID_BS = 2000  # validation batch: large, since no gradients are kept
WARMUP_STEPS = 3  # eager steps before capturing a CUDA graph, as PyTorch's docs advise

# %%
bs, lr, epochs, cuda_graph = settings(bs=64, lr=0.1, epochs=2, cuda_graph=False)
dev = get_device()
if cuda_graph and dev.type != "cuda":
    raise UsageError("--cuda-graph needs a CUDA device, and there is none here")
x_train, y_train, x_valid, y_valid = load_data()
loss_func = F.cross_entropy

# %% [markdown]
# The whole data set moves to the device once, already shaped as images.

# %%
x_train, y_train = x_train.view(-1, 1, 28, 28).to(dev), y_train.to(dev)
x_valid, y_valid = x_valid.view(-1, 1, 28, 28).to(dev), y_valid.to(dev)

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
opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)

# %% [markdown]
# Validation: large batches, no autograd, and one read of the totals at the end.


# %%
def evaluate(model, loss_func, x_valid, y_valid):
    model.eval()
    total_loss = torch.zeros((), device=x_valid.device)
    correct = torch.zeros((), device=x_valid.device)
    with torch.inference_mode():
        for xb, yb in zip(x_valid.split(VALID_BS), y_valid.split(VALID_BS), strict=True):
            out = model(xb)
            total_loss += loss_func(out, yb, reduction="sum")
            correct += (out.argmax(dim=1) == yb).sum()
    n = len(y_valid)
    return total_loss.item() / n, correct.item() / n


# %% [markdown]
# One training step, as a function so that it can be called directly or captured in a graph.


# %%
def make_step(model, loss_func, opt):
    def step(xb, yb):
        loss = loss_func(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.detach()

    return step


def capture(step, model, opt, xb, yb):
    """Record ``step`` on static copies of one batch; return a replay function.

    The warm-up steps change the parameters, so they are saved first and restored after
    capture (copied in place: the graph holds their addresses), and the momentum buffers are
    zeroed, which is what SGD's first real step assumes.
    """
    saved = [p.detach().clone() for p in model.parameters()]
    static_x, static_y = xb.clone(), yb.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(WARMUP_STEPS):
            step(static_x, static_y)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = step(static_x, static_y)
    with torch.no_grad():
        for p, value in zip(model.parameters(), saved, strict=True):
            p.copy_(value)
        for state in opt.state.values():
            state["momentum_buffer"].zero_()

    def replay(xb, yb):
        static_x.copy_(xb)
        static_y.copy_(yb)
        graph.replay()
        return static_loss.clone()

    return replay


# %%
step = make_step(model, loss_func, opt)
n = len(x_train)
if cuda_graph:
    model.train()
    step = capture(step, model, opt, x_train[:bs], y_train[:bs])
    n = n // bs * bs  # a graph has fixed shapes: whole batches only

for epoch in range(epochs):
    model.train()
    losses = []
    for idx in torch.randperm(n, device=dev).split(bs):
        losses.append(step(x_train[idx], y_train[idx]))
    report(torch.stack(losses).tolist(), *evaluate(model, loss_func, x_valid, y_valid))
