"""Logistic regression from raw tensors: hand-written log_softmax, loss and SGD update.

Nothing from ``torch.nn`` yet. The model is ``xb @ weights + bias``: ``weights`` starts random,
scaled by 1/sqrt(784) (Xavier initialisation) so the first outputs are small, and
``requires_grad`` makes autograd record every operation on it and on ``bias``. The activation
(``log_softmax``) and the loss (negative log-likelihood) are plain functions. Each step takes
one mini-batch, calls ``backward()`` to fill in the gradients, and moves the parameters against
them inside ``torch.no_grad()``, so the update itself is not recorded; the gradients are then
zeroed, because PyTorch adds new gradients to old ones.
"""

# %%
import math

import torch

from nnreally.lesson import load_data, score, settings, show, show_image

# %% [markdown]
# The tutorial's settings (``--bs``, ``--lr``, ``--epochs`` and ``--seed`` change them) and
# the data: each image is a row of 784 = 28 x 28 pixels between 0 and 1, each label a digit.
#
# The tutorial's first section, "MNIST data setup", gets the data with this code (shown
# here, not run):
#
# ```python
# from pathlib import Path
# import requests
#
# DATA_PATH = Path("data")
# PATH = DATA_PATH / "mnist"
#
# PATH.mkdir(parents=True, exist_ok=True)
#
# URL = "https://github.com/pytorch/tutorials/raw/main/_static/"
# FILENAME = "mnist.pkl.gz"
#
# if not (PATH / FILENAME).exists():
#     content = requests.get(URL + FILENAME).content
#     (PATH / FILENAME).open("wb").write(content)
#
# import pickle
# import gzip
#
# with gzip.open((PATH / FILENAME).as_posix(), "rb") as f:
#     ((x_train, y_train), (x_valid, y_valid), _) = pickle.load(f, encoding="latin-1")
#
# from matplotlib import pyplot
# import numpy as np
#
# pyplot.imshow(x_train[0].reshape((28, 28)), cmap="gray")
# print(x_train.shape)
#
# import torch
#
# x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
# n, c = x_train.shape
# print(x_train, y_train)
# print(x_train.shape)
# print(y_train.min(), y_train.max())
# ```
#
# ``load_data()`` is grown from that code. It fetches the same file into the same folder, from
# the tutorial's URL or a mirror, and keeps it only once its checksum matches; it reads the pickle
# with a restricted unpickler, which refuses any file that names a callable other than numpy's
# array rebuilders (plain ``pickle.load`` runs whatever the file names); it checks the images'
# shape and pixel range and the labels; and when MNIST is neither cached nor downloadable, it
# falls back to the built-in digits, with a warning. In the cell, ``show_image`` is the
# tutorial's ``pyplot.imshow`` and ``show(x_train.shape, y_train.min(), y_train.max())`` its
# prints.

# %%
bs, lr, epochs = settings(bs=64, lr=0.5, epochs=2)
x_train, y_train, x_valid, y_valid = load_data()
n, c = x_train.shape
show_image(x_train[0], title=f"label {y_train[0].item()}")
show(x_train.shape, y_train.min(), y_train.max())

# %% [markdown]
# The parameters. ``requires_grad_()`` (the trailing ``_`` means in place) comes after the
# division on purpose: ``weights`` must stay a leaf tensor, one made directly rather than
# computed from another tensor that autograd tracks, because ``backward()`` fills in ``.grad``
# only for leaves. Written as ``torch.randn(784, 10, requires_grad=True) / math.sqrt(784)``,
# the division would be recorded and ``weights`` would be its result: ``weights.grad`` would
# stay ``None``. The cell shows ``weights.is_leaf``, then the same check on such a result.

# %%
weights = torch.randn(784, 10) / math.sqrt(784)
weights.requires_grad_()
bias = torch.zeros(10, requires_grad=True)
show(weights.is_leaf, (weights / math.sqrt(784)).is_leaf)

# %% [markdown]
# The model: a matrix product, then ``log_softmax``.


# %%
def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def model(xb):
    return log_softmax(xb @ weights + bias)


# %% [markdown]
# One forward pass on a mini-batch of ``bs`` images. Each row of ``preds`` holds ten
# log-probabilities, and its ``grad_fn`` shows that autograd recorded how they were computed.

# %%
xb = x_train[0:bs]
preds = model(xb)
show(preds[0], preds.shape)

# %% [markdown]
# The loss (negative log-likelihood) and the accuracy of this first batch, before training.


# %%
def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


loss_func = nll


def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


yb = y_train[0:bs]
show(loss_func(preds, yb), accuracy(preds, yb))

# %% [markdown]
# The training loop. After each epoch ``score`` measures the model on the whole validation set:
# the tutorial has no validation until stage 08, but that is how every stage is compared.
#
# The tutorial's tip: Python's debugger can stop inside the loop, to look at ``xb``, ``loss``
# or ``weights.grad`` at each step. In a notebook, run
# ``from IPython.core.debugger import set_trace`` and put a ``set_trace()`` line at the top of
# the inner loop (in a script, ``breakpoint()`` does the same); ``c`` continues, ``q`` quits.

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
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()
    score(model, losses)

# %% [markdown]
# The tutorial's check after training: the last training batch's loss and accuracy. It is a
# handful of images the model has just trained on; the validation score above is the real one.

# %%
show(loss_func(model(xb), yb), accuracy(model(xb), yb))
