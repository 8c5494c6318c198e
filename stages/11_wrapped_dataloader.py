"""WrappedDataLoader: reshaping moves into the data pipeline; adaptive pooling frees the size.

Stage 10's model still assumed 28x28 inputs twice: in its first ``Lambda`` and in
``AvgPool2d(4)``, which only fits a 4x4 map. The reshape now happens in ``preprocess``, applied
to every batch by ``WrappedDataLoader`` (from ``nnreally.train``), and ``AdaptiveAvgPool2d(1)``
averages whatever map size arrives down to 1x1. The model now works on any image size, and
any 1-channel data set, Fashion-MNIST included, trains unchanged.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

from nnreally.layers import Lambda
from nnreally.run import Run
from nnreally.train import WrappedDataLoader, fit, get_data

LR = 0.1  # the tutorial's learning rate for the CNN
MOMENTUM = 0.9


# %%
def preprocess(x, y):
    return x.view(-1, 1, 28, 28), y


def get_model(lr):
    model = nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        Lambda(lambda x: x.view(x.size(0), -1)),
    )
    return model, optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)


# %%
def main(run: Run):
    x_train, y_train, x_valid, y_valid = run.data
    train_ds = TensorDataset(x_train, y_train)
    valid_ds = TensorDataset(x_valid, y_valid)
    train_dl, valid_dl = get_data(train_ds, valid_ds, run.bs)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    model, opt = get_model(run.lr)
    loss_func = F.cross_entropy
    fit(run.epochs, model, loss_func, opt, train_dl, valid_dl, run.log)
    return model
