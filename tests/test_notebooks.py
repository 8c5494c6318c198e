"""The notebooks: generated from the stage files, never drifting, and all runnable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nnreally import notebooks
from nnreally.cells import split_cells
from nnreally.registry import all_stages, find

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "notebooks"
SMALL = {"NNREALLY_LIMIT": "500", "NNREALLY_EPOCHS": "1", "NNREALLY_SOURCE": "digits"}


@pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
def test_notebook_matches_its_stage_file(stage):
    path = notebooks.path_for(stage, FOLDER)
    assert path.is_file(), f"missing {path}: run python -m nnreally.notebooks"
    assert path.read_text() == notebooks.render(stage), (
        f"{path} is stale: the stage file changed; run python -m nnreally.notebooks"
    )


def test_editing_a_stage_without_regenerating_is_caught(tmp_path: Path, monkeypatch):
    assert notebooks.main(["--out", str(tmp_path)]) == 0
    assert notebooks.main(["--out", str(tmp_path), "--check"]) == 0
    stage = find("05")
    edited = stage.source.replace("opt.step()", "opt.step()  # a learner's edit")
    monkeypatch.setattr(
        type(stage),
        "source",
        property(lambda self: edited if self == stage else self.__dict__["source"]),
    )
    assert notebooks.stale(tmp_path) == [notebooks.path_for(stage, tmp_path)]
    assert notebooks.main(["--out", str(tmp_path), "--check"]) == 1


def test_cells_follow_the_stage_file():
    stage = find("08")
    nb = json.loads(notebooks.render(stage))
    cells = split_cells(stage.source)
    assert nb["nbformat"] == 4
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert "".join(nb["cells"][0]["source"]).startswith("# Stage 08 · validation")
    middle = nb["cells"][1:-1]
    assert [(c["cell_type"], "".join(c["source"])) for c in middle] == [
        (c.kind, c.text) for c in cells[1:]
    ]
    assert "train_here(main, LR)" in "".join(nb["cells"][-1]["source"])
    assert all(c.get("outputs", []) == [] for c in nb["cells"])  # committed without outputs


@pytest.mark.slow
@pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
def test_notebook_executes(stage, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    for name, value in SMALL.items():
        monkeypatch.setenv(name, value)
    nb = nbformat.reads(notebooks.render(stage), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"notebook {stage.number} failed in a cell:\n{e}")
    outputs = nb.cells[-1].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "on all 10,000 validation images" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "no loss plot shown"
