"""GPU: the model and every batch move to the device (CUDA or Apple MPS when there is one).

``dev`` names where the computation happens: a GPU when one is present, otherwise the CPU
(``--device`` chooses). ``model.to(dev)`` moves the parameters once, and ``preprocess`` moves
each batch as the wrapped loader hands it out, so the training loop itself does not change.
Unlike the tutorial, which kept training the stage-11 model here, this stage trains a fresh one.
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
def get_model(lr, dev):
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
    return model, optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)


# %%
def main(run: Run):
    dev = run.device
    x_train, y_train, x_valid, y_valid = run.data
    train_ds = TensorDataset(x_train, y_train)
    valid_ds = TensorDataset(x_valid, y_valid)
    train_dl, valid_dl = get_data(train_ds, valid_ds, run.bs)

    def preprocess(x, y):
        return x.view(-1, 1, 28, 28).to(dev), y.to(dev)

    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    model, opt = get_model(run.lr, dev)
    loss_func = F.cross_entropy
    fit(run.epochs, model, loss_func, opt, train_dl, valid_dl, run.log)
    return model
