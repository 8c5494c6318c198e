"""bench: the tables it reports, how it times, and what it takes from stage 13. Speed itself is
measured, never asserted."""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import fields, replace

import pytest
import torch
from torch.torch_version import TorchVersion

from nnreally import bench
from nnreally.data import Data
from nnreally.errors import RunError
from nnreally.options import Training
from nnreally.registry import find
from tests.conftest import train

LIMIT = 1000  # training images: the figures' accuracy is not what is tested


def test_bench_reports_stages_steps_and_data_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "MIN_SECONDS", 0.05)  # the figures' accuracy is not tested here
    monkeypatch.setattr(bench, "STEP_ROUNDS", 2)
    out = tmp_path / "bench.json"
    args = ["--stages", "07,12,13", "--rounds", "2", "--limit", str(LIMIT), "--json", str(out)]
    assert bench.main(args) == 0
    text = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["machine"]["torch"] == torch.__version__
    assert (result["rounds"], result["epochs"]) == (2, 1)
    assert set(result["load_average"]) == {"start", "end"}
    assert [r["stage"] for r in result["stages"]] == ["07", "12", "13"]
    assert [r["path"] for r in result["data_paths"]] == list(bench.DATA_PATHS)
    baseline = result["data_paths"][1]["seconds_per_epoch"]
    for row in result["data_paths"]:
        assert row["vs_dataloader"] == pytest.approx(row["seconds_per_epoch"] / baseline)
    twelve = result["stages"][1]["seconds_per_epoch"]
    for row in result["stages"]:  # what the JSON holds is what the table shows
        assert row["samples_per_second"] == pytest.approx(LIMIT / row["seconds_per_epoch"])
        assert row["vs_12"] == pytest.approx(row["seconds_per_epoch"] / twelve)
        assert row["own_timed_as"] == "steps in place"  # a CPU: wall time, no GPU kernels
        assert row["own_seconds_per_epoch"] > 0
        shares = [
            max(0.0, 1 - own / epoch)
            for own, epoch in zip(row["round_own_seconds"], row["round_seconds"], strict=True)
        ]
        assert row["outside_share"] == pytest.approx(sum(shares) / 2)  # the median of two
        assert row["own_seconds_per_epoch"] == pytest.approx(sum(row["round_own_seconds"]) / 2)
        assert row["one_off_seconds"] == {}  # nothing to compile on a CPU
        rounds = row["round_seconds"]
        assert len(rounds) == 2
        assert min(rounds) <= row["seconds_per_epoch"] <= max(rounds)
        assert f"{min(rounds):.2f}-{max(rounds):.2f}" in text
        assert f"{row['seconds_per_epoch']:.3f}" in text
        assert f"{row['outside_share']:7.0%}" in text
    variants = [r["name"] for r in result["steps"]]
    assert variants == [v.name for v in bench.step_variants(torch.device("cpu"))]
    assert result["steps"][0].keys() == {"us_per_step", "vs_first", *bench.Variant.__annotations__}
    assert result["steps"][0]["vs_first"] == 1
    for row in result["steps"]:
        assert row["us_per_step"] > 0
        assert f"{row['name']:<44} {row['us_per_step']:>8.0f}" in text
    assert "index batches on the device (13)" in text


def test_each_step_variant_is_timed_with_its_own_settings(digits: Data, monkeypatch):
    seen = []

    def record(fn):
        fn()
        cudnn = torch.backends.cudnn
        seen.append({"threads": torch.get_num_threads(), "deterministic": cudnn.deterministic})
        seen[-1]["benchmark"] = cudnn.benchmark
        return 1e-3

    monkeypatch.setattr(bench, "seconds_per_call", record)
    monkeypatch.setattr(bench, "STEP_ROUNDS", 1)
    threads = torch.get_num_threads()
    session = train("13", digits.head(200), epochs=1)  # 3 whole batches of 64, and 8 images
    rows = bench.time_steps(session)
    assert [r.variant for r in rows] == bench.step_variants(torch.device(session.device))
    assert seen == [
        {**v.process_wide(), "threads": v.threads or threads}
        for v in bench.step_variants(torch.device(session.device))
    ]
    assert torch.get_num_threads() == threads
    assert bench.time_steps(train("13", digits.head(50), epochs=1)) == []  # no whole batch


def test_the_fused_optimizer_step_is_timed_only_where_pytorch_has_one(monkeypatch):
    cpu = torch.device("cpu")
    if TorchVersion(torch.__version__) >= "2.4":  # PyTorch's first fused SGD step for CPUs
        assert bench.fused_sgd_available(cpu)
        fused = [v.name for v in bench.step_variants(cpu) if v.fused]
        assert fused == ["channels_last, fused SGD (left out)"]
    sgd = torch.optim.SGD

    def without_fused(params, lr, fused=None, **kwargs):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be on a supported device")
        return sgd(params, lr, **kwargs)

    monkeypatch.setattr(torch.optim, "SGD", without_fused)
    assert not bench.fused_sgd_available(cpu)
    assert not any(v.fused for v in bench.step_variants(cpu))


def test_a_stage_profiled_once_has_the_keys_of_one_timed_after_each_run(digits: Data, monkeypatch):
    data = digits.head(500)
    no_model = bench.time_stages(["01"], data, Training(), rounds=1, epochs=1)[0]
    assert no_model.outside_share is no_model.round_own_seconds is None  # no opt to time
    monkeypatch.setattr(bench, "own_work", lambda run: (1e-4, "GPU kernels"))
    per_run = bench.time_stages(["05"], data, Training(), rounds=2, epochs=1)[0]
    once = bench.time_stages(["05"], data, Training(), 2, 1, own_work_each_round=False)[0]
    bench.add_outside_share(once)  # as on CUDA: after every other figure
    assert per_run.to_json().keys() == once.to_json().keys() == no_model.to_json().keys()
    assert per_run.round_own_seconds == [1e-4, 1e-4]
    assert once.round_own_seconds is None  # timed once, not per run
    assert once.own_timed_as == "GPU kernels"
    assert once.outside_share == pytest.approx(1 - 1e-4 / once.seconds_per_epoch)


def test_a_stages_own_work_is_timed_with_the_settings_it_ran_with(digits: Data, monkeypatch):
    (row,) = bench.time_stages(["13"], digits.head(200), Training(), 1, 1, False)
    run = replace(row.last_run, ran_with={**row.last_run.ran_with, "threads": 1})  # as if set
    seen = []

    def record(run):
        seen.append(torch.get_num_threads())
        return 1.0, "steps in place"

    monkeypatch.setattr(bench, "own_work", record)
    row = replace(row, last_run=run, seconds_per_epoch=4.0)
    bench.add_outside_share(row)
    assert seen == [1]
    assert row.outside_share == 0.75


def test_only_the_gpus_own_rows_count_as_kernel_time():
    from types import SimpleNamespace

    from torch.autograd import DeviceType

    def row(device, micros, **extra):
        return SimpleNamespace(device_type=device, self_device_time_total=micros, **extra)

    assert bench._kernel_micros(row(DeviceType.CUDA, 5.0)) == 5.0
    assert bench._kernel_micros(row(DeviceType.CPU, 7.0)) == 0.0  # a host-side row
    assert bench._kernel_micros(row(DeviceType.CUDA, 9.0, is_user_annotation=True)) == 0.0
    old = SimpleNamespace(device_type=DeviceType.CUDA, self_cuda_time_total=3.0)  # torch < 2.4
    assert bench._kernel_micros(old) == 3.0


def test_the_stages_take_turns_and_each_runs_own_work_follows_it(digits: Data, monkeypatch):
    events = []

    def run_stage(stage, training, output, out, data):
        events.append(("run", stage.number, training.epochs))  # a warm-up and the measured
        return original(stage, training, output, out=out, data=data)

    def own_work(run):
        events.append(("own work", run.stage.number))
        return 0.001 * len(events), "steps in place"

    original = bench.run_stage
    monkeypatch.setattr(bench, "run_stage", run_stage)
    monkeypatch.setattr(bench, "own_work", own_work)
    rows = bench.time_stages(["05", "07"], digits.head(500), Training(), rounds=3, epochs=2)
    turn = [("run", "05", 3), ("own work", "05"), ("run", "07", 3), ("own work", "07")]
    assert events == turn * 3
    for row in rows:
        assert len(row.round_seconds) == 3
        assert len(row.round_own_seconds) == 3
        assert row.own_seconds_per_epoch == statistics.median(row.round_own_seconds)
        assert row.last_run.history[-1].valid_loss == row.valid_loss


def test_bench_without_stage_13_has_no_step_table(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--stages", "05", "--rounds", "1", "--limit", "500", "--json", str(out)]
    assert bench.main(args) == 0
    text = capsys.readouterr().out
    assert "training step (bs" not in text
    assert "1 round, the stages taking turns; each run 1 measured epoch after" in text
    result = json.loads(out.read_text())
    assert result["steps"] == []
    assert result["stages"][0]["vs_12"] is None  # no stage 12 to compare with


def test_bench_rejects_unknown_stage(capsys):
    assert bench.main(["--stages", "77", "--limit", "100"]) == 2
    assert "unknown stage '77'" in capsys.readouterr().err


def test_bench_options_say_what_they_mean_here(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "epochs measured per run, after one warm-up epoch (default 1)" in text
    assert "(default digits: the same data on every machine)" in text
    assert "13g: stage 13 with --cuda-graph" in text
    assert "--nproc" not in text  # the settings of one stage are that stage's to take
    assert bench.main(["--stages", "13", "--cuda-graph", "--limit", "100"]) == 2
    assert "unrecognized arguments: --cuda-graph" in capsys.readouterr().err


def test_bench_needs_a_measured_epoch(capsys):
    assert bench.main(["--stages", "05", "--epochs", "0", "--limit", "100"]) == 2
    err = capsys.readouterr().err
    assert "--epochs: the bench needs at least 1 measured epoch per run" in err
    assert "Traceback" not in err


# --- on a GPU (skipped elsewhere) ---------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bench_on_cuda_times_kernels_and_graphs(tmp_path):
    out = tmp_path / "bench.json"
    args = ["--device", "cuda", "--stages", "12,13,13g", "--rounds", "1", "--limit", "5000"]
    assert bench.main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [len(r["round_seconds"]) for r in result["stages"]] == [1] * 3
    assert [r["round_own_seconds"] for r in result["stages"]] == [None] * 3  # profiled once
    assert [r["own_timed_as"] for r in result["stages"]] == ["GPU kernels"] * 3
    assert all(0 <= r["outside_share"] < 1 for r in result["stages"])
    assert [r["name"] for r in result["steps"]] == [
        v.name for v in bench.step_variants(torch.device("cuda"))
    ]


def test_stage_13_provides_what_the_bench_takes_from_it(digits: Data):
    """The names the benchmark reads from stage 13 are the ones its docstring declares."""
    run = train("13", digits.head(200), epochs=0)
    parts = bench.StepParts.of(run)
    assert run.variables["VALID_BS"] == parts.VALID_BS
    interface = find("13").docstring.split("The benchmark builds", 1)[1]
    named = set(re.findall(r"``(\w+)``", interface)) - {"nnreally"}
    assert named == {f.name for f in fields(bench.StepParts)}
    renamed = replace(run, variables={k: v for k, v in run.variables.items() if k != "rehearse"})
    with pytest.raises(RunError, match="stage 13 no longer defines rehearse, which the bench"):
        bench.StepParts.of(renamed)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--json", "nodir/x.json"], "--json nodir/x.json: the folder nodir does not exist"),
        (["--json", "."], "--json .: is a folder"),
        (["--stages", "99"], "unknown stage '99'"),
        (["--stages", ""], "--stages '': give stages separated by commas, e.g. 05,12"),
        (["--stages", "05,,07"], "--stages '05,,07': give stages separated by commas"),
        (["--stages", "05g"], "unknown stage '05g'"),
        (["--stages", "14", "--nproc", "2"], "unrecognized arguments: --nproc 2"),
    ],
)
def test_bench_options_are_checked_before_any_work(capsys, monkeypatch, args: list, says: str):
    monkeypatch.setattr(bench, "load_data", lambda *a, **k: pytest.fail("it loaded the data"))
    monkeypatch.setattr(bench, "first_optimizer_seconds", lambda: pytest.fail("it timed"))
    assert bench.main([*args, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert says in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_cuda_graph_stage_needs_cuda_before_any_work(capsys, monkeypatch):
    monkeypatch.setattr(bench, "load_data", lambda *a, **k: pytest.fail("it loaded the data"))
    assert bench.main(["--stages", "05,13g"]) == 2
    assert "13g (stage 13 with a CUDA graph) needs --device cuda" in capsys.readouterr().err


def test_the_default_stages_are_those_of_the_table():
    assert bench.stage_keys(None, torch.device("cpu")) == bench.DEFAULT_STAGES.split(",")
    on_cuda = bench.stage_keys(None, torch.device("cuda"))
    assert on_cuda == [*bench.DEFAULT_STAGES.split(","), bench.GRAPH]
    assert bench.stage_keys(" 05, 13g", torch.device("cuda")) == ["05", "13g"]
