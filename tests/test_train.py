"""The library's training pieces, checked against PyTorch as the oracle."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnreally.layers import Lambda
from nnreally.registry import find
from nnreally.train import WrappedDataLoader, accuracy, evaluate, fit, get_data, loss_batch

TOL = 1e-6  # float32 on small values: agreement to about six digits


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(37, 784, generator=gen), torch.randint(10, (37,), generator=gen)


def test_hand_written_loss_equals_cross_entropy(batch):
    stage01 = find("01").load()
    xb, yb = batch
    scores = xb @ torch.randn(784, 10, generator=torch.Generator().manual_seed(2)) / 28
    ours = stage01.nll(stage01.log_softmax(scores), yb)
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


def test_evaluate_weights_batches_by_size(batch):
    """A short last batch must count for its size, not as a whole batch."""
    xb, yb = batch
    model = nn.Linear(784, 10)
    dl = DataLoader(TensorDataset(xb, yb), batch_size=16)  # 16 + 16 + 5
    loss, acc = evaluate(model, F.cross_entropy, dl)
    with torch.no_grad():
        out = model(xb)
    assert loss == pytest.approx(F.cross_entropy(out, yb).item(), abs=TOL)
    assert acc == pytest.approx(accuracy(out, yb).item(), abs=TOL)


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


def test_fit_logs_untrained_then_each_epoch(batch):
    xb, yb = batch
    train_dl, valid_dl = get_data(TensorDataset(xb, yb), TensorDataset(xb, yb), bs=8)
    model = nn.Linear(784, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    logged = []
    fit(3, model, F.cross_entropy, opt, train_dl, valid_dl, lambda *a: logged.append(a))
    assert [len(losses) for losses, _, _ in logged] == [0, 5, 5, 5]
    assert logged[-1][1] < logged[0][1]  # training on the data lowers its loss


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
