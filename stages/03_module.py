"""nn.Module: the weights live in a model object, and the loop moves into fit().

``MnistLogistic`` subclasses ``nn.Module`` and holds ``weights`` and ``bias`` as
``nn.Parameter``s, so the module knows its own parameters: the update becomes a loop over
``model.parameters()`` and ``model.zero_grad()`` clears every gradient at once, whatever the
model contains. Calling the module runs its ``forward``. The training loop moves into a
``fit()`` function that can be run again.
"""

# %%
import math

import torch
import torch.nn.functional as F
from torch import nn

from nnreally.lesson import load_data, score, settings, show

# %%
bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
n, c = x_train.shape
loss_func = F.cross_entropy


# %%
class MnistLogistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(784, 10) / math.sqrt(784))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, xb):
        return xb @ self.weights + self.bias


# %% [markdown]
# Calling the model object runs ``forward``: the first batch's loss, before training.

# %%
model = MnistLogistic()
xb = x_train[0:bs]
yb = y_train[0:bs]
show(loss_func(model(xb), yb))


# %%
def fit():
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
        score(model, losses)


fit()

# %%
show(loss_func(model(xb), yb))
