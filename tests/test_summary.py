"""summary: the tutorial's closing list of pieces, each with the stage that introduced it."""

from __future__ import annotations

import ast
import re

from nnreally import summary
from nnreally.registry import Stage, find
from tests.conftest import CJK, WORDS_PER_CJK


def names_in_code(stage: Stage) -> set[str]:
    """The names a stage's code uses (variables, attributes, imports), not its prose."""
    found = set()
    for node in ast.walk(ast.parse(stage.source)):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name)
    return found


def test_pieces_are_the_ones_that_name_a_stage_nested_ones_included():
    assert [p.name for p in summary.pieces()] == [
        "Module",
        "Parameter",
        "functional",
        "torch.optim",
        "Dataset",
        "DataLoader",
        "nn.Linear",
        "nn.Conv2d",
        "nn.Sequential",
        "torch.device",
        "torch.cuda.graph",
        "DistributedDataParallel",
    ]  # torch.nn itself is the heading of its three parts


def test_each_piece_is_introduced_by_the_stage_it_names():
    """Its stage's code uses it (``Dataset`` as ``TensorDataset``); the code of the stage that
    stage builds on does not."""
    for piece in summary.pieces():
        stage = find(piece.stage)
        last = piece.name.rsplit(".", 1)[-1]
        assert any(last in name for name in names_in_code(stage)), piece.name
        assert not any(last in name for name in names_in_code(stage.base)), piece.name


def test_each_piece_and_heading_is_told_in_both_languages():
    for piece in [*summary.pieces(), *summary.TUTORIAL.pieces]:
        english, chinese = piece.text("en"), piece.text("zh")
        assert english.strip()
        assert len(CJK.findall(chinese)) >= len(english.split()) / WORDS_PER_CJK, piece.name
        assert re.findall(r"``(.+?)``", english) == re.findall(r"``(.+?)``", chinese), piece.name
    for group in summary.GROUPS:
        assert group.heading("en").strip(), group.key
        assert CJK.search(group.heading("zh")), group.key
