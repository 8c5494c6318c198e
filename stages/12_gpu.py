"""GPU: the model and every batch move to the device (CUDA or Apple MPS when there is one).

``dev`` names where the computation happens: a GPU when one is present, otherwise the CPU
(``--device`` chooses). ``model.to(dev)`` moves the parameters once, and ``preprocess`` moves
each batch as the wrapped loader hands it out, so the training loop itself does not change.
``WrappedDataLoader`` is stage 11's, from ``nnreally.train``.
"""

# %%
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

from nnreally.layers import Lambda
from nnreally.lesson import get_device, load_data, settings, show
from nnreally.train import WrappedDataLoader, fit, get_data

# %%
bs, lr, epochs = settings(bs=64, lr=0.1, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
loss_func = F.cross_entropy
train_ds = TensorDataset(x_train, y_train)
valid_ds = TensorDataset(x_valid, y_valid)

# %% [markdown]
# The tutorial's two lines: is there a CUDA GPU, and a device object for it,
# ``dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")``.
# ``get_device()`` makes the same choice and adds to it: Apple's MPS when there is no CUDA,
# ``--device`` to choose (``--device cpu`` to compare the times), one clear error when the
# device asked for is not there, and the device named in the run's output.

# %%
show(torch.cuda.is_available())
dev = get_device()


# %%
def preprocess(x, y):
    return x.view(-1, 1, 28, 28).to(dev), y.to(dev)


train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
train_dl = WrappedDataLoader(train_dl, preprocess)
valid_dl = WrappedDataLoader(valid_dl, preprocess)

# %% [markdown]
# A fresh model. The tutorial moves stage 11's trained model to the GPU and trains it for two
# more epochs, so its better loss mixes those extra epochs with the speed-up. Trained from the
# start, stage 12 computes what stage 11 does, and what the device changes is the time.

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
model.to(dev)
opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
fit(epochs, model, loss_func, opt, train_dl, valid_dl)
