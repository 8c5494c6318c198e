"""nn.Sequential: the CNN becomes a list of layers, with a Lambda layer for the reshapes.

``nn.Sequential`` runs its layers one after another, so the model needs no class of its own.
The two reshapes in stage 09's ``forward`` are not layers in ``torch.nn``; ``Lambda`` wraps a
plain function as one. ``F.relu`` and ``F.avg_pool2d`` become the layers ``nn.ReLU()`` and
``nn.AvgPool2d(4)``.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

from nnreally.lesson import load_data, settings
from nnreally.train import fit, get_data

# %%
bs, lr, epochs = settings(bs=64, lr=0.1, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
loss_func = F.cross_entropy
train_ds = TensorDataset(x_train, y_train)
valid_ds = TensorDataset(x_valid, y_valid)
train_dl, valid_dl = get_data(train_ds, valid_ds, bs)


# %%
class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def preprocess(x):
    return x.view(-1, 1, 28, 28)


# %%
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
opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
fit(epochs, model, loss_func, opt, train_dl, valid_dl)
