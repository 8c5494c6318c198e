"""train: accuracy, loss_batch, fit, get_data and WrappedDataLoader as the stages use them."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnreally import recording
from nnreally.recording import Recording
from nnreally.train import WrappedDataLoader, accuracy, fit, get_data, loss_batch

TOL = 1e-6  # float32 on small values: agreement to about six digits


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(37, 784, generator=gen), torch.randint(10, (37,), generator=gen)


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
