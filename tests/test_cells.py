"""cells.split_cells: a stage file's cells, each knowing its lines."""

from __future__ import annotations

import pytest

from nnreally.cells import split_cells
from nnreally.registry import all_stages


@pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
def test_code_cells_know_their_lines(stage):
    lines = stage.source.splitlines()
    cells = split_cells(stage.source)
    assert cells[0].kind == "markdown"
    assert cells[0].first == 1
    for cell in cells:
        if cell.kind == "code":
            assert "\n".join(lines[cell.first - 1 : cell.last]) == cell.text
    firsts = [c.first for c in cells]
    assert firsts == sorted(firsts)
