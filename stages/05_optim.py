"""torch.optim: an optimizer object takes over the parameter update.

``optim.SGD`` holds the model's parameters and the learning rate; ``opt.step()`` applies the
update and ``opt.zero_grad()`` resets the gradients, so the loop no longer needs
``torch.no_grad()`` or to know what the update rule is (swapping in another optimizer is a
one-line change). ``get_model`` builds the model and its optimizer together.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim

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
def fit(run, model, loss_func, opt, x_train, y_train):
    n, c = x_train.shape
    bs, epochs = run.bs, run.epochs
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
            opt.step()
            opt.zero_grad()
        run.score(model, losses)


# %%
def main(run: Run):
    x_train, y_train, x_valid, y_valid = run.data
    model, opt = get_model(run.lr)
    loss_func = F.cross_entropy
    fit(run, model, loss_func, opt, x_train, y_train)
    return model
