"""Validation: a shuffled training loader, a validation loader, and fit() from the library.

Training batches are now shuffled each epoch (so consecutive batches are not correlated),
while the validation set is never shuffled and is read in batches twice as large, since no
gradients are kept for it. ``model.train()`` and ``model.eval()`` switch layers such as dropout
and batch norm between their two behaviours. ``loss_batch`` computes one batch's loss and, given
an optimizer, takes a step; ``fit`` runs the epochs and scores the validation set after each;
``get_data`` builds both loaders. From here on these three come from ``nnreally.train``
(``python -m nnreally.stages show 08`` prints their code).
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

from nnreally.run import Run
from nnreally.train import fit, get_data

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


# %%
def main(run: Run):
    x_train, y_train, x_valid, y_valid = run.data
    train_ds = TensorDataset(x_train, y_train)
    valid_ds = TensorDataset(x_valid, y_valid)
    train_dl, valid_dl = get_data(train_ds, valid_ds, run.bs)
    model, opt = get_model(run.lr)
    loss_func = F.cross_entropy
    fit(run.epochs, model, loss_func, opt, train_dl, valid_dl, run.log)
    return model
