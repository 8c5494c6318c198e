"""torch.nn.functional: F.cross_entropy replaces the hand-written log_softmax and loss.

``F.cross_entropy`` computes ``log_softmax`` and the negative log-likelihood in one call, and
does it in a numerically stable way (the hand-written version overflows on large scores). The
model therefore returns raw scores, ``xb @ weights + bias``; everything else is stage 01's,
and ``accuracy`` now comes from ``nnreally.train``, which keeps what earlier stages wrote.
"""

# %%
import math

import torch
import torch.nn.functional as F

from nnreally.lesson import load_data, score, settings, show
from nnreally.train import accuracy

# %%
bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
n, c = x_train.shape

# %%
weights = torch.randn(784, 10) / math.sqrt(784)
weights.requires_grad_()
bias = torch.zeros(10, requires_grad=True)

# %% [markdown]
# The loss is one library call, and the model no longer needs ``log_softmax``. The first
# batch's loss and accuracy are the same as stage 01's. ``torch.nn.functional``, imported as
# ``F`` by convention, holds functions: they keep no state, and everything they use arrives as
# an argument. What keeps state, such as a layer with its weights, is a class in ``torch.nn``
# (stage 03 on).

# %%
loss_func = F.cross_entropy


def model(xb):
    return xb @ weights + bias


xb = x_train[0:bs]
yb = y_train[0:bs]
show(loss_func(model(xb), yb), accuracy(model(xb), yb))

# %%
for epoch in range(epochs):
    losses = []
    for i in range((n - 1) // bs + 1):
        start_i = i * bs
        end_i = start_i + bs
        xb = x_train[start_i:end_i]
        yb = y_train[start_i:end_i]
        pred = model(xb)
        loss = loss_func(pred, yb)
        losses.append(loss.item())

        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()
    score(model, losses)

# %%
show(loss_func(model(xb), yb), accuracy(model(xb), yb))
