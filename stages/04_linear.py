"""nn.Linear: a ready-made layer replaces the hand-made weights and bias.

``nn.Linear(784, 10)`` creates, initialises and multiplies its own weight and bias, so
``MnistLogistic`` shrinks to one layer and ``math`` is no longer needed. The layer's default
initialisation differs from stage 03's (uniform rather than scaled normal), which is why the
first scores differ slightly; the training loop is unchanged.
"""

# %%
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
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


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

# %% [markdown]
# The tutorial's check after training, and its quirk: ``fit()`` assigned ``xb`` and ``yb``
# inside the function, so those were local names, and the ones here still hold the first
# batch, ``x_train[0:bs]`` (the cell checks it). So this is the first batch's loss after
# training, not the last batch's as in stages 01 and 02: that, and not the refactoring, is
# why stage 03 prints another number than they do for the same trained model. From stage 05
# on the loop is at the top level again, and ``xb`` is the last batch.

# %%
show(torch.equal(xb, x_train[0:bs]))
show(loss_func(model(xb), yb))
