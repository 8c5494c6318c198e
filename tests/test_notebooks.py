"""The notebooks: made by jupytext from the stage files, never stale, runnable cell by cell."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from contextlib import ExitStack
from pathlib import Path

import nbformat
import pytest

from nnreally import notebooks, reading
from nnreally.cells import split_cells
from nnreally.practice.exercises import making
from nnreally.registry import Stage, all_stages, find
from nnreally.texts import words
from nnreally.translations import narrative
from tests.conftest import CLOSED_URL

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "notebooks"
STAGES = pytest.mark.parametrize("stage", all_stages(), ids=lambda s: s.number)
# "" is the English notebooks in notebooks/, "zh" the Chinese ones in notebooks/zh/.
EDITIONS = pytest.mark.parametrize("edition", notebooks.EDITIONS, ids=lambda e: e or "en")
# What a learner would set to try a notebook quickly; the kernel gets it in its environment.
SMALL = "--data digits --limit 500 --epochs 1"
CELL_TIMEOUT = 120  # seconds; a cell takes about one at this size
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks
EPOCH_LINE = re.compile(r"^epoch 1: train loss \S+, valid loss \d", re.MULTILINE)


def committed(stage: Stage, edition: str = "") -> str:
    path = notebooks.path_for(stage, FOLDER, edition)
    assert path.is_file(), f"missing {path}: run python -m nnreally.notebooks"
    return path.read_text(encoding="utf-8")


@EDITIONS
@STAGES
def test_notebook_matches_its_stage_file(stage: Stage, edition: str):
    assert committed(stage, edition) == notebooks.render(notebooks.EDITIONS[edition](stage)), (
        f"the notebook for stage {stage.number} is stale: run python -m nnreally.notebooks"
    )


def test_editing_a_stage_without_regenerating_is_caught(tmp_path: Path, monkeypatch, capsys):
    assert notebooks.main(["--out", str(tmp_path)]) == 0
    names = sorted(notebooks.path_for(s).name for s in all_stages())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, "zh"])
    assert sorted(p.name for p in (tmp_path / "zh").iterdir()) == names
    assert notebooks.main(["--out", str(tmp_path), "--check"]) == 0
    stage = find("05")
    step = "        opt.step()\n"  # the loop's line, not the docstring's mention
    edited = stage.source.replace(step, "        opt.step()  # a learner's edit\n", 1)
    assert edited != stage.source
    monkeypatch.setitem(stage.__dict__, "source", edited)  # the cached file text
    notebooks.path_for(find("01"), tmp_path).unlink()
    capsys.readouterr()
    assert notebooks.main(["--out", str(tmp_path), "--check"]) == 1
    again = f"(regenerate with: python -m nnreally.notebooks --out {tmp_path})"
    assert capsys.readouterr().out.splitlines() == [
        f"missing: {notebooks.path_for(find('01'), tmp_path)} {again}",
        f"stale: {notebooks.path_for(stage, tmp_path)} {again}",
        f"stale: {notebooks.path_for(stage, tmp_path, 'zh')} {again}",  # the same code cells
    ]


def test_a_translation_that_lost_a_section_is_one_clear_error(tmp_path: Path, monkeypatch, capsys):
    def lost_the_last_section(stage: Stage, lang: str) -> list[str]:
        cells = narrative(stage, lang)
        return cells[:-1] if lang == "zh" else cells

    monkeypatch.setattr(reading, "narrative", lost_the_last_section)
    cells = len(narrative(find("01"), "en"))  # the first stage is the first to fail
    assert notebooks.main(["--out", str(tmp_path), "--check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"python -m nnreally.notebooks: error: stage 01: {cells - 1} zh sections for {cells} "
        "English narrative cells (python -m nnreally.translations --check says which)"
    ]


@STAGES
def test_cells_are_the_stage_files_cells(stage: Stage):
    nb = json.loads(committed(stage))
    cells = split_cells(stage.source)
    title = f"# Stage {stage.number} · {stage.title}\n\n"
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert "jupytext" not in nb["metadata"]
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert "".join(nb["cells"][0]["source"]) == title + stage.docstring
    ex = making(stage)
    closing = [("markdown", "Try it yourself")] if ex else []  # the stages an exercise makes
    got = [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]
    assert got[1] == ("code", notebooks.SETUP)
    assert [got[0], *got[2 : len(got) - len(closing)]] == [
        ("markdown", title + cells[0].text),
        *((c.kind, c.text) for c in cells[1:]),
    ]
    if ex:
        kind, text = got[-1]
        assert kind == "markdown"
        assert text.startswith("## Try it yourself")
        assert ex.commands() in text
        assert f'check("{stage.number}")' in text
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@STAGES
def test_the_zh_notebook_is_the_same_code_with_the_chinese_narrative(stage: Stage):
    english, chinese = (json.loads(committed(stage, e)) for e in ("", "zh"))
    zh = narrative(stage, "zh")
    assert chinese["metadata"] == english["metadata"]
    assert [(c["cell_type"], c["id"]) for c in chinese["cells"]] == [
        (c["cell_type"], c["id"]) for c in english["cells"]
    ]
    assert [c for c in chinese["cells"] if c["cell_type"] == "code"] == [
        c for c in english["cells"] if c["cell_type"] == "code"
    ]
    ex = making(stage)
    markdown = ["".join(c["source"]) for c in chinese["cells"] if c["cell_type"] == "markdown"]
    closing = markdown.pop() if ex else None
    assert markdown == [
        f"# 阶段 {stage.number} · {words('zh').title(stage.name)}\n\n{zh[0]}",
        *zh[1:],
    ]
    if ex:
        assert closing.startswith("## 自己动手试试")
        assert ex.commands("zh") in closing


def fake_checkout(root: Path) -> Path:
    """A folder the setup cell takes for a checkout: stages/01_raw_tensors.py, notebooks/zh/."""
    (root / "stages").mkdir(parents=True)
    (root / "stages" / "01_raw_tensors.py").write_text("")
    (root / "notebooks" / "zh").mkdir(parents=True)
    return root


def test_the_setup_cell_finds_the_checkout_s_data_folder_from_any_folder(tmp_path, monkeypatch):
    """Run from notebooks/zh/ of a checkout, the setup points the data at the checkout's data/
    and leaves options already set alone; run outside any checkout, it changes nothing."""
    checkout = fake_checkout(tmp_path / "repo")
    monkeypatch.delenv("NNREALLY_DATA")
    monkeypatch.setenv("NNREALLY_ARGS", "--epochs 1")
    monkeypatch.chdir(checkout / "notebooks" / "zh")
    exec(notebooks.SETUP, {})
    assert os.environ["NNREALLY_DATA"] == str(checkout / "data")
    assert os.environ["NNREALLY_ARGS"] == "--epochs 1"
    monkeypatch.delenv("NNREALLY_DATA")
    monkeypatch.chdir(tmp_path)
    exec(notebooks.SETUP, {})
    assert "NNREALLY_DATA" not in os.environ


def test_the_setup_cell_installs_the_package_where_the_kernel_lacks_it(tmp_path, monkeypatch):
    """A fresh kernel (Colab, a new venv): pip installs the checkout the notebook sits in, or
    nnreally by name outside any checkout; where the package is there, nothing is installed."""
    import importlib.util
    import subprocess

    installed = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: installed.append(cmd))
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # not installed
    checkout = fake_checkout(tmp_path / "repo")
    monkeypatch.chdir(checkout / "notebooks")
    exec(notebooks.SETUP, {})
    monkeypatch.chdir(tmp_path)
    exec(notebooks.SETUP, {})
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    assert installed == [[*pip, str(checkout)], [*pip, "nnreally"]]
    installed.clear()
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    exec(notebooks.SETUP, {})  # this kernel has nnreally
    assert installed == []


def test_outside_a_checkout_a_kernel_installs_the_repository_the_project_names(monkeypatch):
    monkeypatch.setattr(notebooks, "repository", lambda: "https://github.com/teacher/nnreally")
    assert notebooks.install_source() == "git+https://github.com/teacher/nnreally"
    monkeypatch.setattr(notebooks, "repository", lambda: None)
    assert notebooks.install_source() == "nnreally"  # from the package index


def test_a_script_without_a_docstring_gets_only_its_title():
    nb = notebooks.from_script("# %%\nx = 1\n", "Scratch", "scratch")
    assert [(c.cell_type, c.source, c.id) for c in nb.cells] == [
        ("markdown", "# Scratch", "scratch-00"),
        ("code", "x = 1", "scratch-01"),
    ]


def test_code_after_the_docstring_stays_a_code_cell():
    nb = notebooks.from_script('"""Doc."""\nx = 1\n\n# %%\ny = 2\n', "Scratch", "scratch")
    assert [(c.cell_type, c.source) for c in nb.cells] == [
        ("markdown", "# Scratch\n\nDoc."),
        ("code", "x = 1"),
        ("code", "y = 2"),
    ]


class Kernel:
    """One Jupyter kernel that runs the notebooks one after another, so torch is imported once.

    Each notebook starts with none of the previous notebook's variables; the imported modules
    stay loaded. (``%reset -f`` would also do a full garbage collection, ~0.5 s each time.)
    """

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.exits = ExitStack()
        self.start()

    def start(self) -> None:
        from nbclient import NotebookClient

        self.client = NotebookClient(
            nbformat.v4.new_notebook(),
            kernel_name="python3",
            timeout=CELL_TIMEOUT,
            shutdown_kernel="immediate",
            resources={"metadata": {"path": str(self.cwd)}},  # the kernel's working directory
        )
        self.exits.enter_context(self.client.setup_kernel(env=self.env))

    def stop(self) -> None:
        self.exits.close()

    def run(self, name: str, nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
        """Execute ``nb`` cell by cell; a failing cell fails the test with its error."""
        forget = nbformat.v4.new_code_cell("%reset_selective -f .")  # every variable, no prompt
        for notebook in (nbformat.v4.new_notebook(cells=[forget]), nb):
            self.client.nb = notebook
            self.client.reset_execution_trackers()
            for index, cell in enumerate(notebook.cells):
                error = self._execute(cell, index)
                if error:
                    where = f"{name}, cell {index} (id {cell.id})"
                    pytest.fail(f"{where} failed:\n{error}", pytrace=False)
        return nb

    def _execute(self, cell: nbformat.NotebookNode, index: int) -> str | None:
        """Run one cell; None if it ran, else its error (cell source and traceback) as text."""
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        try:
            self.client.execute_cell(cell, index, execution_count=index)
        except CellExecutionError as e:
            return ANSI.sub("", str(e))
        except (CellTimeoutError, DeadKernelError) as e:
            self.stop()  # the next notebook gets a fresh kernel
            self.start()
            return ANSI.sub("", str(e))
        return None


@pytest.fixture(scope="module")
def kernel(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    env = {
        **os.environ,
        "NNREALLY_ARGS": SMALL,
        "NNREALLY_DATA": str(data_dir),  # the session's digits cache
        "NNREALLY_MNIST_URL": CLOSED_URL,
        "PYTHONUNBUFFERED": "1",
        # One intra-op thread: at 500 images a batch is too small to gain from two, and two
        # spinning OpenMP threads slow down several-fold whenever another process wants a core.
        "OMP_NUM_THREADS": "1",
    }
    started = Kernel(env, tmp_path_factory.mktemp("kernel"))
    yield started
    started.stop()


def outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def printed(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or showed as text."""
    return "".join(
        o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
        for o in outputs(nb)
    )


@pytest.mark.slow
@STAGES
def test_notebook_runs_cell_by_cell(stage: Stage, kernel: Kernel):
    """Each English notebook. A Chinese one runs the very same code cells (the zh test above
    asserts they are equal, setup cell included), so running it again here would test nothing
    new; one runs from its own folder below."""
    path = notebooks.path_for(stage, FOLDER)
    name = str(path.relative_to(FOLDER))
    nb = kernel.run(name, nbformat.reads(committed(stage), as_version=4))
    text = printed(nb)
    assert EPOCH_LINE.search(text), f"{name} printed no epoch line:\n{text}"
    if stage.number == "01":
        # show(preds[0], preds.shape): a row of log-probabilities that autograd recorded
        assert re.search(r"grad_fn=<\w+>\)\npreds\.shape = torch\.Size\(\[\d+, 10\]\)", text), text
        shown = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
        assert shown, "show_image should draw the sample image inline"


@pytest.mark.slow
def test_a_failing_cell_fails_with_its_error(kernel: Kernel):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1\n1 / 0")])
    shown = r"(?s)broken\.ipynb, cell 0 .*1 / 0.*ZeroDivisionError"  # the cell and its error
    with pytest.raises(pytest.fail.Exception, match=shown):
        kernel.run("broken.ipynb", nb)


@pytest.mark.slow
def test_a_notebook_started_in_its_own_folder_keeps_its_data_in_the_checkout(
    data_dir: Path, tmp_path: Path
):
    """A kernel started in notebooks/zh/ of a checkout (Jupyter's default) puts nothing there:
    the setup cell points the data at the checkout's data/."""
    pytest.importorskip("nbclient")
    repo = tmp_path / "repo"
    (repo / "stages").mkdir(parents=True)
    shutil.copy(find("01").path, repo / "stages")
    shutil.copytree(data_dir, repo / "data")  # the session's digits, so none are made again
    folder = repo / "notebooks" / "zh"
    folder.mkdir(parents=True)
    before = set(repo.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k != "NNREALLY_DATA"}
    env |= {"NNREALLY_ARGS": SMALL, "NNREALLY_MNIST_URL": CLOSED_URL, "OMP_NUM_THREADS": "1"}
    nb = nbformat.reads(committed(find("01"), "zh"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('print("data:", os.environ["NNREALLY_DATA"])'))
    kernel = Kernel(env, folder)
    try:
        ran = kernel.run("zh/01_raw_tensors.ipynb", nb)
    finally:
        kernel.stop()
    assert EPOCH_LINE.search(printed(ran))
    assert f"data: {repo / 'data'}" in printed(ran)
    new = {p.relative_to(repo) for p in set(repo.rglob("*")) - before}
    assert all(p.parts[0] == "data" for p in new), new
