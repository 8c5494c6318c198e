"""code.Code: names resolved through any import, updates by hand found in any spelling."""

from __future__ import annotations

import pytest

from nnreally.practice.code import Code


@pytest.mark.parametrize(
    "source",
    [
        "import torch.nn.functional as F\nloss = F.cross_entropy",
        "import torch.nn.functional as fn\nloss = fn.cross_entropy",
        "from torch.nn.functional import cross_entropy as ce\nloss = ce",
        "import torch\nloss = torch.nn.functional.cross_entropy",
        "from torch.nn import functional\nloss = functional.cross_entropy",
    ],
)
def test_a_name_is_the_same_through_any_import(source: str):
    assert Code(source).uses("torch.nn.functional.cross_entropy")


def test_a_comment_or_a_string_is_not_a_use():
    code = Code("import torch\n# torch.nn.Linear\ns = 'torch.nn.Linear'\n")
    assert not code.uses("torch.nn.Linear")


@pytest.mark.parametrize(
    "update",
    [
        "p -= p.grad * lr",
        "p.data -= lr * p.grad",
        "w = w - lr * w.grad",
        "w.data.sub_(lr * w.grad)",
        "p.add_(p.grad, alpha=-lr)",
        "p.copy_(p - lr * p.grad)",
    ],
)
def test_every_spelling_of_a_hand_written_update_is_found(update: str):
    assert Code(f"for p in model.parameters():\n    {update}\n").hand_updates()


@pytest.mark.parametrize(
    "not_an_update",
    ["p.grad = None", "g = p.grad", "p.grad.zero_()", "print(p.grad)", "opt.step()"],
)
def test_clearing_or_reading_a_gradient_is_not_an_update(not_an_update: str):
    assert not Code(f"for p in model.parameters():\n    {not_an_update}\n").hand_updates()


def test_names_bound_to_a_call_and_the_slices_of_them():
    code = Code(
        "from torch.utils.data import TensorDataset as TD\n"
        "ds = TD(x, y)\n"
        "a, b = ds[0:4]\n"
        "for i in range(3):\n"
        "    xb, yb = ds[i:i + 4]\n"
        "    c = other[0:2]\n"
    )
    bound = code.bound_to("torch.utils.data.TensorDataset")
    assert bound == {"ds"}
    assert len(code.sliced(bound)) == 2
    assert len(code.sliced(bound, code.loops()[0])) == 1


def test_subclasses_and_methods():
    code = Code(
        "from torch import nn\nclass M(nn.Module):\n    def forward(self, x):\n        return x\n"
        "class N:\n    pass\nm = M()\nm.zero_grad()\n"
    )
    assert [c.name for c in code.subclasses("torch.nn.Module")] == ["M"]
    assert code.called_by_name("M")
    assert not code.called_by_name("N")
    assert len(code.method_calls("zero_grad")) == 1
