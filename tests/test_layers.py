"""layers.Lambda: a function as a layer, passing values through unchanged otherwise."""

from __future__ import annotations

import torch
from torch import nn

from nnreally.layers import Lambda


def test_lambda_applies_its_function_to_the_values():
    x = torch.arange(6.0).view(2, 3)
    assert torch.equal(Lambda(lambda t: t * 2 + 1)(x), torch.tensor([[1.0, 3, 5], [7, 9, 11]]))


def test_lambda_flattens_in_sequence_and_keeps_every_value_in_order():
    images = torch.arange(2 * 1 * 2 * 2, dtype=torch.float32).view(2, 1, 2, 2)
    model = nn.Sequential(Lambda(lambda x: x * 10), Lambda(lambda x: x.view(x.size(0), -1)))
    assert torch.equal(model(images), torch.arange(8.0).view(2, 4) * 10)


def test_lambda_has_no_parameters_and_gradients_flow_through_it():
    layer = Lambda(lambda x: x.square())
    assert list(layer.parameters()) == []
    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    layer(x).sum().backward()
    assert torch.equal(x.grad, torch.tensor([2.0, -4.0, 6.0]))
