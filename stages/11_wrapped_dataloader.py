"""WrappedDataLoader: reshaping moves into the data pipeline; adaptive pooling frees the size.

Stage 10's model still assumed 28x28 inputs twice: in its first ``Lambda`` and in
``AvgPool2d(4)``, which only fits a 4x4 map. The reshape now happens in ``preprocess``, applied
to every batch by ``WrappedDataLoader``, and ``AdaptiveAvgPool2d(1)`` averages whatever map
size arrives down to 1x1. The model itself now takes 1-channel images of any size; the size
lives in one line instead, ``preprocess``, which still views each row as 28x28 (images of
another size need that line changed, and nothing in the model). Any 28x28 1-channel data set,
Fashion-MNIST included, trains unchanged. ``Lambda`` is stage 10's, from ``nnreally.layers``.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

from nnreally.layers import Lambda
from nnreally.lesson import load_data, settings
from nnreally.train import fit, get_data

# %%
bs, lr, epochs = settings(bs=64, lr=0.1, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
loss_func = F.cross_entropy
train_ds = TensorDataset(x_train, y_train)
valid_ds = TensorDataset(x_valid, y_valid)


# %%
def preprocess(x, y):
    return x.view(-1, 1, 28, 28), y


class WrappedDataLoader:
    def __init__(self, dl, func):
        self.dl = dl
        self.func = func

    def __len__(self):
        return len(self.dl)

    def __iter__(self):
        for b in self.dl:
            yield self.func(*b)


train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
train_dl = WrappedDataLoader(train_dl, preprocess)
valid_dl = WrappedDataLoader(valid_dl, preprocess)

# %%
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
opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
fit(epochs, model, loss_func, opt, train_dl, valid_dl)
