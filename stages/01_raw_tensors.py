"""Logistic regression from raw tensors: hand-written log_softmax, loss and SGD update.

Nothing from ``torch.nn`` yet. The model is ``xb @ weights + bias``: ``weights`` starts random,
scaled by 1/sqrt(784) (Xavier initialisation) so the first outputs are small, and
``requires_grad`` makes autograd record every operation on it and on ``bias``. The activation
(``log_softmax``) and the loss (negative log-likelihood) are plain functions. Each step takes
one mini-batch, calls ``backward()`` to fill in the gradients, and moves the parameters against
them inside ``torch.no_grad()``, so the update itself is not recorded; the gradients are then
zeroed, because PyTorch adds new gradients to old ones.
"""

# %%
import math

import torch

from nnreally.run import Run

LR = 0.5  # the tutorial's learning rate for this model

# %% [markdown]
# The activation and the loss, written out. ``log_softmax`` turns scores into log-probabilities;
# ``nll`` picks each row's log-probability of the true class and averages their negatives.


# %%
def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


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
        return log_softmax(xb @ weights + bias)

    loss_func = nll

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
