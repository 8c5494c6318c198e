"""cells: a stage file's cells, each knowing its lines; the code of a show() call's arguments."""

from __future__ import annotations

import pytest

from nnreally.cells import arguments_at, split_cells
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


def test_arguments_at_reads_each_argument_of_the_show_call_on_that_line(tmp_path):
    path = tmp_path / "stage.py"
    path.write_text(
        "show(x.shape, loss_func(model(xb),yb))\n"
        "show(\n"
        "    'a sentence', f'{n} items',\n"
        "    preds[0],\n"
        ")\n"
        "print(x)\n"
    )
    assert arguments_at(str(path), 1, 2) == ["x.shape", "loss_func(model(xb), yb)"]
    assert arguments_at(str(path), 4, 3) == [None, None, "preds[0]"]  # strings say themselves
    assert arguments_at(str(path), 6, 1) == [None]  # no show() there
    assert arguments_at(str(path), 1, 3) == [None] * 3  # the file changed since it ran
    assert arguments_at(str(tmp_path / "gone.py"), 1, 1) == [None]  # no source to read
    path.write_text("show(y)\n")  # edited since: read again
    assert arguments_at(str(path), 1, 1) == ["y"]
    path.write_text("show(x.shape\n")  # code that does not parse
    assert arguments_at(str(path), 1, 1) == [None]
