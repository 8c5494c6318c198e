"""nn.Module: the weights live in a model object, and the loop moves into fit().

``MnistLogistic`` subclasses ``nn.Module`` and holds ``weights`` and ``bias`` as
``nn.Parameter``s, so the module knows its own parameters: the update becomes a loop over
``model.parameters()`` and ``model.zero_grad()`` clears every gradient at once, whatever the
model contains. The training loop moves into a ``fit()`` function that can be run again.
"""

# %%
import math

import torch
import torch.nn.functional as F
from torch import nn

from nnreally.run import Run

LR = 0.5  # the tutorial's learning rate for this model


# %%
class MnistLogistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, xb):
        return xb @ self.weights + self.bias


# %% [markdown]
# The training loop. ``run`` carries the data and the settings; ``run.score`` scores the
# model on the whole validation set, before training and after each epoch.


# %%
def fit(run, model, loss_func, x_train, y_train):
    n, c = x_train.shape
    bs, lr, epochs = run.bs, run.lr, run.epochs
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
                for p in model.parameters():
                    p -= p.grad * lr
                model.zero_grad()
        run.score(model, losses)


# %%
def main(run: Run):
    x_train, y_train, x_valid, y_valid = run.data
    model = MnistLogistic()
    loss_func = F.cross_entropy
    fit(run, model, loss_func, x_train, y_train)
    return model
