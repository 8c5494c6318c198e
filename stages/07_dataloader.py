"""DataLoader: batching moves out of the loop and into a loader.

``DataLoader(train_ds, batch_size=bs)`` hands out the batches, so the loop reads
``for xb, yb in train_dl`` and no longer computes slice bounds. The same loader can shuffle,
load in parallel or collate other kinds of data without the loop changing.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset

from nnreally.lesson import load_data, score, settings, show

# %%
bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
loss_func = F.cross_entropy
train_ds = TensorDataset(x_train, y_train)
train_dl = DataLoader(train_ds, batch_size=bs)


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
xb, yb = next(iter(train_dl))
show(loss_func(model(xb), yb))

# %%
for epoch in range(epochs):
    losses = []
    for xb, yb in train_dl:
        pred = model(xb)
        loss = loss_func(pred, yb)
        losses.append(loss.item())

        loss.backward()
        opt.step()
        opt.zero_grad()
    score(model, losses)

# %%
show(loss_func(model(xb), yb))
