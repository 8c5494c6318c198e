"""DataLoader: batching moves out of the loop and into a loader.

``DataLoader(train_ds, batch_size=bs)`` hands out the batches, so the loop reads
``for xb, yb in train_dl`` and no longer computes slice bounds. The same loader can shuffle,
load in parallel or collate other kinds of data without the loop changing.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from nnreally.run import Run

LR = 0.5  # the tutorial's learning rate for this model


# %%
class MnistLogistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


# %%
def get_model(lr):
    model = MnistLogistic()
    return model, optim.SGD(model.parameters(), lr=lr)


# %% [markdown]
# The training loop. ``run`` carries the settings (``epochs``); ``run.score`` scores the model
# on the whole validation set, before training and after each epoch.


# %%
def fit(run, model, loss_func, opt, train_dl):
    epochs = run.epochs
    run.score(model)
    for epoch in range(epochs):
        losses = []
        for xb, yb in train_dl:
            pred = model(xb)
            loss = loss_func(pred, yb)
            losses.append(loss.item())

            loss.backward()
            opt.step()
            opt.zero_grad()
        run.score(model, losses)


# %%
def main(run: Run):
    x_train, y_train, x_valid, y_valid = run.data
    train_ds = TensorDataset(x_train, y_train)
    train_dl = DataLoader(train_ds, batch_size=run.bs)
    model, opt = get_model(run.lr)
    loss_func = F.cross_entropy
    fit(run, model, loss_func, opt, train_dl)
    return model
