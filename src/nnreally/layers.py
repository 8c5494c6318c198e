"""Layers the tutorial writes itself because ``torch.nn`` has no ready-made one.

``Lambda`` is stage 10's code with type hints and docstrings added; ``tests/test_library.py``
checks that, those aside, it is the same code.
"""

from collections.abc import Callable

import torch
from torch import nn


class Lambda(nn.Module):
    """A layer that applies ``func``, so a plain function can sit inside ``nn.Sequential``."""

    def __init__(self, func: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.func = func

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.func(x)
