"""Dataset: a TensorDataset keeps images and labels together and is sliced as one.

A ``Dataset`` is PyTorch's name for anything with a ``__len__``, which Python's ``len()``
calls, and a ``__getitem__``, which indexing calls: ``train_ds[i]`` is sample ``i``. Any class
that defines the two can be one, reading images from files, say. ``TensorDataset`` is the
ready-made one for tensors already in memory: ``TensorDataset(x_train, y_train)`` pairs the two
tensors along their first dimension, so one slice gives a batch of images and its labels; the
loop can no longer take them from different ranges by mistake.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import TensorDataset

from nnreally.lesson import load_data, score, settings, show

# %%
bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
n, c = x_train.shape
loss_func = F.cross_entropy
train_ds = TensorDataset(x_train, y_train)


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


# %%
model, opt = get_model()
xb, yb = train_ds[0:bs]
show(loss_func(model(xb), yb))

# %%
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
    score(model, losses)

# %%
show(loss_func(model(xb), yb))
