"""CNN: three convolutional layers replace the linear one, trained with momentum.

Each ``Conv2d`` (3x3 kernel, stride 2) halves the image's side: 28 -> 14 -> 7 -> 4, and the
last layer has one channel per class; ReLU follows each, and ``avg_pool2d`` averages the
final 4x4 map into one score per class. The layers need images, so ``forward`` first views each
784-pixel row as a 1x28x28 image. SGD gets ``momentum=0.9``, which keeps a running average of
past updates and usually trains faster; the learning rate drops to 0.1 to suit it. ``fit`` and
``get_data`` are stage 08's, imported from ``nnreally.train``.
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
class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

    def forward(self, xb):
        xb = xb.view(-1, 1, 28, 28)
        xb = F.relu(self.conv1(xb))
        xb = F.relu(self.conv2(xb))
        xb = F.relu(self.conv3(xb))
        xb = F.avg_pool2d(xb, 4)
        return xb.view(-1, xb.size(1))


# %%
model = MnistCNN()
opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
fit(epochs, model, loss_func, opt, train_dl, valid_dl)
