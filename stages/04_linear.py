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

from nnreally.run import Run

LR = 0.5  # the tutorial's learning rate for this model


# %%
class MnistLogistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


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
