"""torch.nn.functional: F.cross_entropy replaces the hand-written log_softmax and loss.

``F.cross_entropy`` computes ``log_softmax`` and the negative log-likelihood in one call, and
does it in a numerically stable way (the hand-written version overflows on large scores). The
model therefore returns raw scores, ``xb @ weights + bias``; everything else is stage 01's.
"""

# %%
import math

import torch
import torch.nn.functional as F

from nnreally.run import Run

LR = 0.5  # the tutorial's learning rate for this model

# %% [markdown]
# The model and the training loop. ``run`` carries the data and the settings; ``run.score``
# scores the model on the whole validation set, before training and after each epoch.


# %%
def main(run: Run):
    x_train, y_train, x_valid, y_valid = run.data
    n, c = x_train.shape
    bs, lr, epochs = run.bs, run.lr, run.epochs

    weights = torch.randn(784, 10) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def model(xb):
        return xb @ weights + bias

    loss_func = F.cross_entropy

    run.score(model)
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
        run.score(model, losses)
    return model
