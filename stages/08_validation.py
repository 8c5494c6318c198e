"""Validation: a shuffled training loader, a validation loader, and loss_batch, fit and get_data.

Training batches are now shuffled each epoch (so consecutive batches are not correlated),
while the validation set is never shuffled and is read in batches twice as large, since no
gradients are kept for it. ``model.train()`` and ``model.eval()`` switch layers such as dropout
and batch norm between their two behaviours, and validation runs under ``torch.no_grad()``.
``loss_batch`` computes one batch's loss and, given an optimizer, takes a step; ``fit`` runs
the epochs and scores the validation set after each; ``get_data`` builds both loaders. Later
stages import these three from ``nnreally.train``, which holds this very code.
"""

# %%
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from nnreally.lesson import load_data, report, settings
from nnreally.train import accuracy

# %%
bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
loss_func = F.cross_entropy
train_ds = TensorDataset(x_train, y_train)
valid_ds = TensorDataset(x_valid, y_valid)


# %%
class MnistLogistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(784, 10)

    def forward(self, xb):
        return self.lin(xb)


def get_model():
    model = MnistLogistic()
    return model, optim.SGD(model.parameters(), lr=lr)


# %% [markdown]
# The tutorial first writes validation out by hand ("Add validation"), as stage 07's loop with
# the validation loss printed after each epoch (shown here, not run):
#
# ```python
# model, opt = get_model()
#
# for epoch in range(epochs):
#     model.train()
#     for xb, yb in train_dl:
#         pred = model(xb)
#         loss = loss_func(pred, yb)
#
#         loss.backward()
#         opt.step()
#         opt.zero_grad()
#
#     model.eval()
#     with torch.no_grad():
#         valid_loss = sum(loss_func(model(xb), yb) for xb, yb in valid_dl)
#
#     print(epoch, valid_loss / len(valid_dl))
# ```
#
# Training and validation both compute a batch's loss, so the tutorial then moves that into
# ``loss_batch`` and the loop into ``fit``. The hand-written version averages the batches'
# mean losses, so the last batch (16 of the 10,000 images, in batches of 128) counts as much as
# a full one. ``loss_batch`` therefore returns the batch's loss and its size: validation
# weights each batch by its size, so a short last batch counts for what it holds. Without
# ``opt`` it only measures.


# %%
def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)

    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()

    return loss.item(), len(xb)


# %% [markdown]
# ``fit`` trains for ``epochs``; after each, it scores the whole validation set in evaluation
# mode, without gradients, and reports the epoch. One pass over ``valid_dl`` gives each
# batch's loss, size and accuracy (the accuracy is ours: the tutorial's ``fit`` prints only
# the loss).


# %%
def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        losses = [loss_batch(model, loss_func, xb, yb, opt)[0] for xb, yb in train_dl]

        model.eval()
        with torch.no_grad():
            scores = [
                (*loss_batch(model, loss_func, xb, yb), accuracy(model(xb), yb).item())
                for xb, yb in valid_dl
            ]
        val_losses, nums, accs = zip(*scores)
        val_loss = np.sum(np.multiply(val_losses, nums)) / np.sum(nums)
        val_acc = np.sum(np.multiply(accs, nums)) / np.sum(nums)

        report(losses, val_loss, val_acc)


# %%
def get_data(train_ds, valid_ds, bs):
    return (
        DataLoader(train_ds, batch_size=bs, shuffle=True),
        DataLoader(valid_ds, batch_size=bs * 2),
    )


# %% [markdown]
# The whole training run is now three lines.

# %%
train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
model, opt = get_model()
fit(epochs, model, loss_func, opt, train_dl, valid_dl)
