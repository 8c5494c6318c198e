"""Stage 13 (the fast path) and the benchmark harness. Speed itself is measured, not tested."""

from __future__ import annotations

import json

import pytest
import torch

from nnreally import bench, cli
from nnreally.data import Data
from tests.conftest import train
from tests.test_stages import THRESHOLDS, untrained_loss

# Same seed and data, a different (equally random) batch order: the two stages' final
# validation losses differ by chance alone. Measured over seeds 0, 1, 2: stage 11 0.3492,
# 0.3246, 0.3177; stage 13 0.3086, 0.2968, 0.2897 (largest gap 0.041).
SAME_WITHIN = 0.1


@pytest.mark.slow
def test_fast_path_matches_stage_11(trained, digits: Data):
    fast, tutorial = trained("13"), trained("11")
    assert abs(fast.history[-1].valid_loss - tutorial.history[-1].valid_loss) < SAME_WITHIN
    # the same seeded model before training: only the path of the data differs
    assert untrained_loss("13", digits) == pytest.approx(untrained_loss("11", digits), rel=1e-5)


def test_fast_path_reports_every_batch(digits: Data):
    session = train("13", digits.head(1000), epochs=1)
    assert len(session.batch_losses) == 16  # 15 full batches of 64 and one of 40
    assert session.history[0].train_loss == pytest.approx(sum(session.batch_losses) / 16)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_graph_without_cuda_is_a_clear_error(capsys):
    code = cli.main(["13", "--cuda-graph", "--data", "digits"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--cuda-graph needs a CUDA device" in err
    assert "Traceback" not in err


def test_cuda_graph_is_a_setting_of_stage_13_only(capsys):
    assert cli.main(["12", "--cuda-graph"]) == 2
    assert "--cuda-graph: stage 12 has no such setting" in capsys.readouterr().err


def test_bench_reports_stages_and_data_paths(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--stages", "05,13", "--epochs", "1", "--limit", "2000", "--json", str(out)]
    assert bench.main(args) == 0
    text = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["machine"]["torch"] == torch.__version__
    assert result["epochs"] == 1
    assert [r["stage"] for r in result["stages"]] == ["05", "13"]
    assert [r["path"] for r in result["data_paths"]] == list(bench.DATA_PATHS)
    baseline = result["data_paths"][1]["seconds_per_epoch"]
    for row in result["data_paths"]:
        assert row["vs_dataloader"] == pytest.approx(row["seconds_per_epoch"] / baseline)
    for row in result["stages"]:  # what the JSON holds is what the table shows
        assert row["samples_per_second"] == pytest.approx(2000 / row["seconds_per_epoch"])
        assert f"{row['seconds_per_epoch']:.3f}" in text
    assert "index batches on the device (13)" in text


def test_bench_rejects_unknown_stage(capsys):
    assert bench.main(["--stages", "77", "--limit", "100"]) == 2
    assert "unknown stage '77'" in capsys.readouterr().err


# --- on a GPU (skipped elsewhere) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "graph"), [("12", False), ("13", False), ("13", True)], ids=["12", "13", "13-graph"]
)
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_stage_beats_threshold_on_cuda(digits: Data, number: str, graph: bool):
    session = train(number, digits, device="cuda", cuda_graph=graph)
    assert session.history[-1].valid_loss < THRESHOLDS[number][0]
    assert next(session.namespace["model"].parameters()).is_cuda
