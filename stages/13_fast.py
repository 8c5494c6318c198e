"""Fast: the data lives on the device, batches are index slices, and nothing waits per step.

Beyond the tutorial. Builds on stage 12: same model, learning rate, momentum, batch size and
epochs; what changes is how the data reaches the model and how each step runs. Stage 12 pays
costs that have nothing to do with learning: the ``DataLoader`` collates each batch from 64
separate samples in Python, every batch is copied from the host to the device, and
``loss.item()`` makes the host wait for the device after every step; each epoch it also
validates in small batches, each copied to the device again.

Here the whole data set is reshaped and moved to the device once. Each epoch shuffles an index
(``randperm(n).split(bs)``) and gathers each batch with one indexing operation on the device.
Batch losses stay on the device and are read once per epoch, so the host can queue work ahead
of the device. Validation runs in batches of 2,000 under ``torch.inference_mode()``.

What each change buys (the README's performance section has the figures, and
``python -m nnreally.bench`` measures them on your machine):

* On a CPU a step is arithmetic, so the new data path saves about a quarter of stage 12's
  epoch, and weights stored ``channels_last`` (oneDNN's own layout) about a tenth of each
  step. What is left is the convolutions themselves and a fixed cost per step.
* On a GPU stage 12 spends almost all of its epoch outside the GPU's kernels. Without a graph
  this stage still launches every kernel from Python; ``--cuda-graph`` captures the whole
  step (forward, backward and the optimizer's update) once as a CUDA graph and replays it
  with a single launch, after ``torch.compile`` has fused the model and the loss into fewer
  kernels.
* cuDNN's default convolution algorithms add up in a varying order, so two runs with the same
  seed can end apart; its deterministic algorithms make every run, with and without a graph,
  end at the same numbers, at some cost in time.

Compiling and capturing happen before the first epoch and are reported apart. Where PyTorch
cannot compile, the stage says so in one line and runs uncompiled. A compiled or captured step
has fixed shapes, so the last, smaller batch of each epoch takes the plain step.

The benchmark builds its step table from this stage's ``step``, ``make_step``,
``compile_step``, ``rehearse`` and ``capture``, and validates in batches of ``VALID_BS``: those
names are this stage's interface to ``nnreally.bench`` (a test holds the two together).
"""

# %%
import torch
import torch.nn.functional as F
from torch import nn, optim

from nnreally.layers import Lambda
from nnreally.lesson import UsageError, get_device, load_data, report, settings, show, untimed

VALID_BS = 2000  # validation batch: large, since no gradients are kept
WARMUP_STEPS = 3  # trial steps: the first compiles; a CUDA graph is captured after them

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
# What each device needs. On a CPU the weights are stored channels-last, the layout oneDNN
# (PyTorch's CPU convolution library) computes in, so that no step has to reorder a tensor
# into it; on a GPU the default layout is the faster one. On a GPU, cuDNN is asked for its
# deterministic algorithms, so that a seed gives the same numbers every run.

# %%
if dev.type == "cpu":
    model.to(memory_format=torch.channels_last)
if dev.type == "cuda":
    torch.backends.cudnn.deterministic = True

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
# One training step, as a function, so that it can be called directly, compiled, or captured
# in a CUDA graph. ``torch.compile`` turns the model and the loss into fewer, fused kernels,
# forward and backward.


# %%
def make_step(model, loss_func, opt, compiled=False):
    def batch_loss(xb, yb):
        return loss_func(model(xb), yb)

    if compiled:
        batch_loss = torch.compile(batch_loss)

    def step(xb, yb):
        loss = batch_loss(xb, yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.detach()

    return step


def rehearse(step, model, opt, xb, yb):
    """Run ``step`` a few times on one batch, then put the weights and the momentum back.

    A compiled step compiles on its first call, and a CUDA graph is captured after a few steps
    on a side stream, as PyTorch's docs advise. The weights are copied back in place (a graph
    holds their addresses) and the momentum zeroed, as SGD's first step assumes: the training
    is then the same as if these trial steps had never run.
    """
    saved = [p.detach().clone() for p in model.parameters()]
    side = torch.cuda.Stream() if xb.is_cuda else None
    if side is not None:
        side.wait_stream(torch.cuda.current_stream())
    try:
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                step(xb, yb)
    finally:
        if side is not None:
            torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for p, value in zip(model.parameters(), saved, strict=True):
                p.copy_(value)
            for state in opt.state.values():
                state["momentum_buffer"].zero_()


def compile_step(model, loss_func, opt, xb, yb):
    """The compiled step, compiled now; the plain step where PyTorch has no compiler."""
    try:
        step = make_step(model, loss_func, opt, compiled=True)
        rehearse(step, model, opt, xb, yb)
    except Exception as error:  # no compiler for this system, this Python or this GPU
        reason = (str(error).strip().splitlines() or [""])[0][:120]
        show(
            f"torch.compile is not available here ({type(error).__name__}: {reason}); "
            "the step runs uncompiled"
        )
        step = make_step(model, loss_func, opt)
        rehearse(step, model, opt, xb, yb)
    return step


def capture(step, xb, yb):
    """Record ``step`` on static copies of one batch as a CUDA graph; return a replay function."""
    static_x, static_y = xb.clone(), yb.clone()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = step(static_x, static_y)

    def replay(xb, yb):
        static_x.copy_(xb)
        static_y.copy_(yb)
        graph.replay()
        return static_loss.clone()

    return replay


# %% [markdown]
# On a GPU the step is compiled (and with ``--cuda-graph`` captured) before the first epoch;
# that one-off time is reported apart. A compiled or captured step is made for whole batches,
# so the last, smaller batch of an epoch takes the plain step.

# %%
plain_step = step = make_step(model, loss_func, opt)
if dev.type == "cuda":
    with untimed("compiling the step" + (" and capturing it" if cuda_graph else "")):
        step = compile_step(model, loss_func, opt, x_train[:bs], y_train[:bs])
        if cuda_graph:
            step = capture(step, x_train[:bs], y_train[:bs])

for epoch in range(epochs):
    model.train()
    losses = []
    for idx in torch.randperm(len(x_train), device=dev).split(bs):
        take = step if len(idx) == bs else plain_step
        losses.append(take(x_train[idx], y_train[idx]))
    report(torch.stack(losses).tolist(), *evaluate(model, loss_func, x_valid, y_valid))
