"""Dataset: a TensorDataset keeps images and labels together and is sliced as one.

``TensorDataset(x_train, y_train)`` pairs the two tensors, so one slice gives a batch of
images and its labels; the loop can no longer take them from different ranges by mistake.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

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
# The training loop. ``run`` carries the data and the settings; ``run.score`` scores the
# model on the whole validation set, before training and after each epoch.


# %%
def fit(run, model, loss_func, opt, train_ds):
    n = len(train_ds)
    bs, epochs = run.bs, run.epochs
    run.score(model)
    for epoch in range(epochs):
        losses = []
        for i in range((n - 1) // bs + 1):
            xb, yb = train_ds[i * bs : i * bs + bs]
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
    model, opt = get_model(run.lr)
    loss_func = F.cross_entropy
    fit(run, model, loss_func, opt, train_ds)
    return model
