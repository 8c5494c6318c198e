"""The tutorial's closing summary, in English and Chinese: what each piece gives you, and where.

The tutorial ends by listing what ``torch.nn`` (``Module``, ``Parameter``, ``functional``),
``torch.optim``, ``Dataset`` and ``DataLoader`` each do. Here each piece names the stage that
introduced it, so the book's summary page links to the place where it took over a job. The
texts use the stage docstrings' little markup (``code``); both languages sit side by side in
one record, so one cannot gain or lose a piece without the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """One piece of PyTorch, the stage that introduced it, and what it gives you."""

    name: str  # as code: "nn.Module"
    stage: str | None  # the stage that introduced it (None: a group of pieces)
    en: str
    zh: str
    parts: tuple[Piece, ...] = ()

    def text(self, lang: str) -> str:
        return getattr(self, lang)


@dataclass(frozen=True)
class Group:
    """A heading and its pieces."""

    en: str
    zh: str
    pieces: tuple[Piece, ...]

    def heading(self, lang: str) -> str:
        return getattr(self, lang)


TITLE = {"en": "Summary: what each piece gives you", "zh": "总结：每个部件为你做了什么"}

INTRO = {
    "en": "The tutorial set out to show what ``torch.nn``, ``torch.optim``, ``Dataset`` and "
    "``DataLoader`` really do: first by training without them, then by handing one job at a "
    "time to each. Here is what each one took over, and the stage where that happened.",
    "zh": "本教程想弄清 ``torch.nn``、``torch.optim``、``Dataset`` 和 ``DataLoader`` "
    "到底做了什么：先不用它们训练一遍，再把工作一件一件交给它们。下面列出每个部件接手了什么，"
    "以及它在哪个阶段登场。",
}

TUTORIAL = Group(
    "The pieces the tutorial set out to explain",
    "本教程要讲清的部件",
    (
        Piece(
            "torch.nn",
            None,
            "the parts a model is made of.",
            "构成模型的部件。",
            (
                Piece(
                    "Module",
                    "03",
                    "A model as an object that is called like a function and keeps its own "
                    "state: its layers and their weights. It finds all of its parameters itself "
                    "(``model.parameters()``), clears their gradients with ``model.zero_grad()``, "
                    "and switches between training and evaluation with ``train()`` and "
                    "``eval()``.",
                    "把模型写成一个对象：它像函数一样被调用，并自己保存状态，也就是它的各层和各层"
                    "的权重。它能自己找出全部参数（``model.parameters()``），用 "
                    "``model.zero_grad()`` 清零它们的梯度，并用 ``train()`` 和 ``eval()`` "
                    "在训练与评估之间切换。",
                ),
                Piece(
                    "Parameter",
                    "03",
                    "A tensor that a ``Module`` registers as something to learn. It has "
                    "``requires_grad`` set and ``parameters()`` lists it, so the update step "
                    "reaches every weight without naming each one; ready-made layers such as "
                    "``nn.Linear`` create theirs.",
                    "被 ``Module`` 登记为“需要学习”的张量。它设置了 ``requires_grad``，"
                    "``parameters()`` 会把它列出来，所以更新参数时不必逐个点名每个权重；"
                    "``nn.Linear`` 这样的现成层会自己创建它们。",
                ),
                Piece(
                    "functional",
                    "02",
                    "Functions that hold no state, imported as ``F`` by convention: activations, "
                    "losses such as ``F.cross_entropy``, and operations such as ``F.relu`` and "
                    "``F.avg_pool2d``. What has weights to learn belongs in a ``Module``; what "
                    "has none can be a plain call from here.",
                    "不保存状态的函数，按惯例导入为 ``F``：激活函数、``F.cross_entropy`` "
                    "这样的损失函数，以及 ``F.relu``、``F.avg_pool2d`` 等运算。有权重要学习的"
                    "部分应放进 ``Module``；没有权重的，直接调用这里的函数即可。",
                ),
            ),
        ),
        Piece(
            "torch.optim",
            "05",
            "Optimizers such as ``optim.SGD`` (with ``momentum`` from stage 09 on). "
            "``opt.step()`` updates every parameter from its gradient and ``opt.zero_grad()`` "
            "resets the gradients, so the loop no longer writes out the update rule, and "
            "another optimizer is a one-line change.",
            "``optim.SGD`` 这样的优化器（从阶段 09 起还带上 ``momentum``）。``opt.step()`` "
            "根据梯度更新每个参数，``opt.zero_grad()`` 把梯度清零；训练循环不必再写出更新规则，"
            "换一个优化器也只需改一行。",
        ),
        Piece(
            "Dataset",
            "06",
            "Anything with ``__len__`` and ``__getitem__``. ``TensorDataset`` wraps tensors so "
            "that one index returns an image and its label together, and one slice a batch of "
            "both.",
            "任何实现了 ``__len__`` 和 ``__getitem__`` 的对象。``TensorDataset`` "
            "把几个张量包在一起：用一个下标就能同时取出一张图像和它的标签，用一个切片就能取出一批。",
        ),
        Piece(
            "DataLoader",
            "07",
            "Takes any ``Dataset`` and hands out its batches, reshuffled every epoch when asked "
            "(``shuffle=True``, stage 08), so the training loop simply iterates over it.",
            "接收任意 ``Dataset``，按批次交出数据；需要时（``shuffle=True``，阶段 08）"
            "每轮都重新打乱顺序，训练循环只要遍历它就行。",
        ),
    ),
)

ALONG_THE_WAY = Group(
    "Also on the way",
    "途中还用到的",
    (
        Piece(
            "nn.Linear",
            "04",
            "A layer that creates and initialises its own weight and bias.",
            "一个自己创建并初始化权重和偏置的层。",
        ),
        Piece(
            "nn.Conv2d",
            "09",
            "A convolutional layer: the CNN stacks three, each halving the image's side.",
            "卷积层：CNN 叠了三层，每层把图像的边长减半。",
        ),
        Piece(
            "nn.Sequential",
            "10",
            "A model written as a list of layers that run in order; a small ``Lambda`` layer "
            "fits a function such as a reshape into the list.",
            "把模型写成一串按顺序执行的层；小小的 ``Lambda`` 层"
            "让改变形状这样的函数也能放进这串层里。",
        ),
        Piece(
            "torch.device",
            "12",
            "Where tensors live and compute: the model and each batch move to the GPU when "
            "there is one (``to(dev)``).",
            "张量存放和计算的地方：有 GPU 时，模型和每个小批量都移到 GPU 上（``to(dev)``）。",
        ),
    ),
)

BEYOND = Group(
    "Beyond the tutorial",
    "教程之外",
    (
        Piece(
            "torch.cuda.graph",
            "13",
            "Keeping the data on the device and taking batches by index removes the per-step "
            "costs of stage 12; on CUDA, a CUDA graph replays each whole training step at once.",
            "数据常驻设备、按下标取小批量，省去了阶段 12 每一步的额外开销；在 CUDA 上，"
            "还可以用 CUDA 图一次重放整个训练步。",
        ),
        Piece(
            "DistributedDataParallel",
            "14",
            "Several processes train one model together; the gradients are averaged across "
            "them during ``backward()``.",
            "多个进程一起训练同一个模型，在 ``backward()`` 期间对各进程的梯度求平均。",
        ),
    ),
)

GROUPS = (TUTORIAL, ALONG_THE_WAY, BEYOND)

CLOSING_HEADING = {"en": "Put together", "zh": "合在一起"}

CLOSING = {
    "en": "Put together, they turn the hand-written script of stage 01 into stage 08's "
    "``fit(epochs, model, loss_func, opt, train_dl, valid_dl)``: one loop that trains the "
    "logistic model and the CNNs alike, whatever the model, the optimizer or the data. Data "
    "augmentation, hyperparameter tuning, monitoring a run and transfer learning are left out "
    "of the tutorial; they are built from the same pieces.",
    "zh": "这些部件合在一起，把阶段 01 手写的脚本变成了阶段 08 的 "
    "``fit(epochs, model, loss_func, opt, train_dl, valid_dl)``：不管模型、优化器和数据怎么换，"
    "这一个循环都能训练，逻辑回归和 CNN 都一样。数据增强、超参数调优、训练过程监控和迁移学习"
    "不在本教程之内，但它们也都建立在同样的部件之上。",
}


def pieces(group: Group | None = None) -> list[Piece]:
    """Every piece (of ``group``, or of all groups) that names a stage, nested ones included."""
    found = []
    for g in [group] if group else GROUPS:
        for piece in g.pieces:
            found += [p for p in (piece, *piece.parts) if p.stage]
    return found
