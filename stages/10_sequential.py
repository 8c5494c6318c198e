"""nn.Sequential: the CNN becomes a list of layers, with a Lambda layer for the reshapes.

``nn.Sequential`` runs its layers one after another, so the model needs no class of its own.
The two reshapes in stage 09's ``forward`` are not layers in ``torch.nn``; ``Lambda`` (from
``nnreally.layers``) wraps a plain function as one. ``F.relu`` and ``F.avg_pool2d`` become the
layers ``nn.ReLU()`` and ``nn.AvgPool2d(4)``.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

from nnreally.layers import Lambda
from nnreally.run import Run
from nnreally.train import fit, get_data

LR = 0.1  # the tutorial's learning rate for the CNN
MOMENTUM = 0.9


# %%
def preprocess(x):
    return x.view(-1, 1, 28, 28)


def get_model(lr):
    model = nn.Sequential(
        Lambda(preprocess),
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(4),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    return model, optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)


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
