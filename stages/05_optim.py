"""torch.optim: an optimizer object takes over the parameter update.

``optim.SGD`` holds the model's parameters and the learning rate; ``opt.step()`` applies the
update and ``opt.zero_grad()`` resets the gradients, so the loop no longer needs
``torch.no_grad()`` or to know what the update rule is (swapping in another optimizer is a
one-line change). ``get_model`` builds the model and its optimizer together, and the loop is
written out again, as the tutorial does.
"""

# %%
import torch.nn.functional as F
from torch import nn, optim

from nnreally.lesson import load_data, score, settings, show

# %%
bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
n, c = x_train.shape
loss_func = F.cross_entropy


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
xb = x_train[0:bs]
yb = y_train[0:bs]
show(loss_func(model(xb), yb))

# %%
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
    score(model, losses)

# %%
show(loss_func(model(xb), yb))
