"""The library is what the stages wrote; its pieces checked against PyTorch as the oracle."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnreally import recording
from nnreally.layers import Lambda
from nnreally.recording import Recording
from nnreally.registry import LIBRARY, all_stages, find
from nnreally.train import WrappedDataLoader, accuracy, fit, get_data, loss_batch
from tests.conftest import train

TOL = 1e-6  # float32 on small values: agreement to about six digits


def _bare(node: ast.AST) -> str:
    """A definition without its docstrings and type hints: the code that runs."""
    node = ast.parse(ast.unparse(node))  # a copy
    for child in ast.walk(node):
        if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
            first = child.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                child.body = child.body[1:] or [ast.Pass()]
        if isinstance(child, ast.FunctionDef):
            child.returns = None
            for arg in [*child.args.args, *child.args.kwonlyargs]:
                arg.annotation = None
    return ast.dump(node)


def _defined_in(source: str, name: str) -> ast.AST:
    found = [
        node
        for node in ast.parse(source).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name
    ]
    assert len(found) == 1, f"the stage should define {name} once"
    return found[0]


@pytest.mark.parametrize("name", list(LIBRARY))
def test_the_library_holds_what_the_stage_wrote(name: str):
    """d2l's "save" pattern: the library's copy is the stage's code, hints and docstrings aside."""
    module_name, number = LIBRARY[name]
    library = ast.parse(inspect.getsource(getattr(importlib.import_module(module_name), name)))
    assert _bare(library.body[0]) == _bare(_defined_in(find(number).source, name))


def test_the_tie_fails_when_the_code_differs():
    stage = _defined_in(find("08").source, "loss_batch")
    edited = ast.parse(ast.unparse(stage).replace("len(xb)", "xb.shape[0]")).body[0]
    assert _bare(edited) != _bare(stage)


def test_stages_import_only_what_earlier_stages_wrote():
    for stage in all_stages():
        for node in ast.parse(stage.source).body:
            if isinstance(node, ast.ImportFrom) and node.module in (
                "nnreally.train",
                "nnreally.layers",
            ):
                for alias in node.names:
                    assert alias.name in LIBRARY, f"{stage.number} imports {alias.name}"
                    assert LIBRARY[alias.name][1] < stage.number


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(37, 784, generator=gen), torch.randint(10, (37,), generator=gen)


def test_hand_written_loss_equals_cross_entropy(batch, digits):
    stage01 = train("01", digits.head(100), epochs=0).variables
    xb, yb = batch
    scores = xb @ torch.randn(784, 10, generator=torch.Generator().manual_seed(2)) / 28
    ours = stage01["nll"](stage01["log_softmax"](scores), yb)
    assert ours.item() == pytest.approx(F.cross_entropy(scores, yb).item(), abs=TOL)


def test_linear_equals_matrix_product(batch):
    xb, _ = batch
    lin = nn.Linear(784, 10)
    expected = xb @ lin.weight.T + lin.bias
    torch.testing.assert_close(lin(xb), expected, atol=TOL, rtol=TOL)


def test_dataloader_batches_equal_slices(batch):
    xb, yb = batch
    bs = 8
    for i, (x, y) in enumerate(DataLoader(TensorDataset(xb, yb), batch_size=bs)):
        assert torch.equal(x, xb[i * bs : i * bs + bs])
        assert torch.equal(y, yb[i * bs : i * bs + bs])


def test_accuracy_counts_argmax_hits():
    out = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(out, torch.tensor([1, 0, 0, 0])).item() == pytest.approx(0.75)


def test_fit_scores_the_whole_validation_set_weighting_batches_by_size(batch):
    """A short last batch must count for its size, not as a whole batch."""
    xb, yb = batch
    model = nn.Linear(784, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    train_dl = DataLoader(TensorDataset(xb, yb), batch_size=8)
    valid_dl = DataLoader(TensorDataset(xb, yb), batch_size=16)  # 16 + 16 + 5
    with recording.opened(Recording()) as opened:
        fit(1, model, F.cross_entropy, opt, train_dl, valid_dl)
    with torch.no_grad():
        out = model(xb)
    epoch = opened.finish().history[-1]
    assert epoch.valid_loss == pytest.approx(F.cross_entropy(out, yb).item(), abs=TOL)
    assert epoch.valid_acc == pytest.approx(accuracy(out, yb).item(), abs=TOL)
    assert not model.training  # fit left the model in evaluation mode, as the tutorial's does


def test_loss_batch_steps_only_with_an_optimizer(batch):
    xb, yb = batch
    model = nn.Linear(784, 10)
    before = model.weight.detach().clone()
    _, n = loss_batch(model, F.cross_entropy, xb, yb)
    assert n == len(xb)
    assert torch.equal(model.weight, before)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_batch(model, F.cross_entropy, xb, yb, opt)
    assert not torch.equal(model.weight, before)
    assert model.weight.grad is None or not model.weight.grad.any()  # zeroed after the step


def test_fit_reports_each_epoch(batch):
    xb, yb = batch
    train_dl, valid_dl = get_data(TensorDataset(xb, yb), TensorDataset(xb, yb), bs=8)
    model = nn.Linear(784, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with recording.opened(Recording()) as opened:
        fit(3, model, F.cross_entropy, opt, train_dl, valid_dl)
    run = opened.finish()
    assert [e.epoch for e in run.history] == [1, 2, 3]
    assert len(run.batch_losses) == 3 * 5  # 37 samples in batches of 8
    assert run.history[-1].valid_loss < run.history[0].valid_loss  # it learns


def test_get_data_shuffles_train_only(batch):
    _, yb = batch
    ds = TensorDataset(torch.arange(37), yb)
    train_dl, valid_dl = get_data(ds, ds, bs=4)
    assert valid_dl.batch_size == 8
    torch.manual_seed(0)
    order = torch.cat([x for x, _ in train_dl])
    assert sorted(order.tolist()) == list(range(37))
    assert order.tolist() != list(range(37))
    assert torch.cat([x for x, _ in valid_dl]).tolist() == list(range(37))


def test_wrapped_dataloader_keeps_len_and_applies_func(batch):
    xb, yb = batch
    dl = DataLoader(TensorDataset(xb, yb), batch_size=10)
    wrapped = WrappedDataLoader(dl, lambda x, y: (x.view(-1, 1, 28, 28), y + 100))
    assert len(wrapped) == len(dl) == 4
    for i, (x, y) in enumerate(wrapped):
        assert x.shape == (len(y), 1, 28, 28)
        assert torch.equal(y, yb[i * 10 : i * 10 + 10] + 100)


def test_lambda_is_a_layer():
    flatten = Lambda(lambda x: x.view(x.size(0), -1))
    model = nn.Sequential(nn.Conv2d(1, 2, 3), flatten)
    assert model(torch.zeros(5, 1, 4, 4)).shape == (5, 8)
