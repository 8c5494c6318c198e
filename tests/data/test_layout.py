"""The arrangements a program may save the tutorial's arrays in, and the ones that are not it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnreally.data import DataError
from nnreally.data.layout import to_data
from tests.data.makers import split

(XT, YT), (XV, YV) = split(30), split(10)


def expect_the_arrays(content: object) -> None:
    data = to_data(content, "f", "f")
    assert torch.equal(data.x_train, torch.from_numpy(XT))
    assert torch.equal(data.y_train, torch.from_numpy(YT))
    assert torch.equal(data.x_valid, torch.from_numpy(XV))
    assert torch.equal(data.y_valid, torch.from_numpy(YV))


LAYOUTS = {
    "tutorial": ((XT, YT), (XV, YV), split(5)),
    "no-test": ((XT, YT), (XV, YV)),
    "lists": [[XT, YT], [XV, YV]],
    "nested-lists": ((XT.tolist(), YT.tolist()), (list(XV), list(YV))),
    "dict": {"x_train": XT, "y_train": YT, "x_valid": XV, "y_valid": YV, "note": "extra"},
    "object-array": np.array(((XT, YT), (XV, YV)), dtype=object),
    "object-array-0d": np.array({"x_train": XT, "y_train": YT, "x_valid": XV, "y_valid": YV}),
    "tensors": (
        (torch.from_numpy(XT), torch.from_numpy(YT)),
        (torch.from_numpy(XV), torch.from_numpy(YV)),
    ),
}


@pytest.mark.parametrize("layout", LAYOUTS, ids=list(LAYOUTS))
def test_every_arrangement_gives_the_same_arrays(layout: str):
    expect_the_arrays(LAYOUTS[layout])


@pytest.mark.parametrize(
    "content",
    [
        (np.concatenate([XT, XV]), np.concatenate([YT, YV])),
        {"x_train": np.concatenate([XT, XV]), "y_train": np.concatenate([YT, YV])},
    ],
    ids=["pair", "dict"],
)
def test_a_training_set_alone_is_split_on_its_last_sixth(content: object):
    data = to_data(content, "f", "f")
    assert (len(data.x_train), len(data.x_valid)) == (34, 6)  # 40 // 6 validate
    assert torch.equal(data.x_valid, torch.from_numpy(XV[-6:]))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("just a string", r"^f: not the tutorial's layout: it holds a str; expected"),
        (np.zeros((3, 784)), r"it holds one array of shape \(3, 784\)"),
        ({"images": XT}, r"^f: a dict of images; expected"),
        (((XT, YT), "valid"), r"its second part is not \(x_valid, y_valid\)"),
        (
            ((XT, [1, [2]]), (XV, YV)),
            r"^f \(train\): expected arrays of numbers, got a list of 2 items",
        ),
        (((XT, {"a": 1}), (XV, YV)), r"^f \(train\): expected arrays of numbers, got a dict"),
        (
            ((XT, torch.zeros(30).to_sparse()), (XV, YV)),
            r"a torch.float32 tensor numpy cannot read",
        ),
    ],
    ids=["str", "one-array", "dict-keys", "second-part", "ragged", "dict-labels", "sparse"],
)
def test_what_is_not_the_layout_is_named(content: object, message: str):
    with pytest.raises(DataError, match=message):
        to_data(content, "f", "f")
