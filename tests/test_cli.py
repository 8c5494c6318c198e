"""The dispatcher, called as a function and as ``python -m nnreally.stages``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from nnreally import cli, runner
from nnreally.options import image_path, is_own_png
from nnreally.registry import all_stages
from tests.conftest import run_cli, run_python

SMALL = ["--limit", "1000", "--data", "digits"]


def call(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, expected_code: int, *words: str) -> None:
    assert code == expected_code
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    for word in words:
        assert word in first


def test_no_argument_lists_every_stage(capsys):
    code, out, _ = call(capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert [line[:2] for line in lines] == [s.number for s in all_stages()]
    assert "optim" in lines[4]


def test_run_one_stage_prints_epochs_and_final_line(capsys):
    code, out, _ = call(capsys, "05", *SMALL)
    assert code == 0
    assert "stage 05 · torch.optim: an optimizer object" in out
    assert "bs 64, lr 0.5, epochs 2, seed 0" in out
    assert "digits: 1,000 train / 10,000 valid" in out
    assert re.search(
        r"^epoch 2: train loss [\d.]+, valid loss [\d.]+, valid acc [\d.]+%", out, re.M
    )
    assert "grad_fn" in out  # the tutorial's demo: a batch's loss before training
    assert "on all 10,000 validation images" in out.splitlines()[-1]


def test_quiet_prints_only_the_final_line(capsys):
    code, out, _ = call(capsys, "05", *SMALL, "--quiet")
    assert code == 0
    assert out.splitlines() == [out.strip()]
    assert out.startswith("stage 05 done: valid loss")


def test_json_has_one_object_per_stage_on_stdout(capsys):
    code, out, err = call(capsys, "03,05-06", *SMALL, "--json", "--epochs", "1")
    assert code == 0
    records = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["stage"] for r in records] == ["03", "05", "06"]
    for r in records:
        assert r["data"] == "digits"
        assert r["epochs"] == 1
        assert 0 <= r["valid_acc"] <= 1
        assert r["valid_loss"] == r["history"][-1]["valid_loss"]
        assert [h["epoch"] for h in r["history"]] == [1]
        assert r["train_seconds"] > 0
    assert "stage  title" in err  # the summary table went to stderr, not into the JSON
    assert "grad_fn" in err  # and so did the demos


def test_options_reach_the_run(capsys):
    code, out, _ = call(capsys, "08", *SMALL, "--json", "--bs", "32", "--lr", "0.2", "--seed", "7")
    record = json.loads(out)
    assert (code, record["bs"], record["lr"], record["seed"]) == (0, 32, 0.2, 7)
    assert record["n_train"] == 1000


def test_plot_writes_a_png(capsys, tmp_path):
    path = tmp_path / "loss.png"
    code, _, _ = call(capsys, "04-05", *SMALL, "--quiet", "--plot", str(path))
    assert code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_stage_exits_2_with_the_list(capsys):
    code, _, err = call(capsys, "99")
    assert_one_line_error(code, err, 2, "unknown stage '99'")
    assert "01, 02" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["05", "--bs", "0"], ["--bs", "at least 1"]),
        (["05", "--lr", "abc"], ["--lr", "not a number"]),
        (["05", "--device", "tpu"], ["--device", "invalid choice"]),
        (["14", "--nproc", "0"], ["--nproc", "at least 1"]),
        (["05", "--nproc", "2"], ["--nproc", "stage 05 has no such setting"]),
        (["14", "--nnodes", "2"], ["--nnodes", "--rdzv-endpoint HOST:PORT"]),
        (["14", "--nnodes", "2", "--rdzv-endpoint", "h"], ["'h' is not HOST:PORT"]),
        (["05", "--nnodes", "2", "--rdzv-endpoint", "h:1"], ["--nnodes", "stage 05 has no such"]),
        (["05", "--frobnicate"], ["unrecognized arguments"]),
        (["09-03"], ["empty range"]),
        (["01-"], ["half-open range"]),
        (["-04"], ["half-open range"]),
        (["05", "--plot", "losses"], ["--plot", ".png"]),
        (["05", "--plot", "/no/such/folder/x.png"], ["--plot", "does not exist"]),
        (["05", "--cuda-graph"], ["--cuda-graph", "stage 05 has no such setting"]),
        (["show"], ["required"]),
    ],
)
def test_bad_options_are_one_line(capsys, args, words):
    """The dispatcher's side of a refused option (each option's own checks: test_options)."""
    code, _, err = call(capsys, *args)
    assert_one_line_error(code, err, 2, *words)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_cuda_is_a_clear_error(capsys):
    code, _, err = call(capsys, "12", "--device", "cuda", *SMALL)
    assert_one_line_error(code, err, 2, "no CUDA device")


def test_stage_12_says_it_runs_on_cpu(capsys):
    code, out, _ = call(capsys, "12", "--device", "cpu", *SMALL, "--epochs", "0")
    assert code == 0
    assert "device: cpu" in out
    assert out.strip().endswith("stage 12 done: no epoch trained")


def test_missing_and_broken_data_files(capsys, tmp_path):
    code, _, err = call(capsys, "05", "--data", str(tmp_path / "missing.pkl.gz"))
    assert_one_line_error(code, err, 1, "no such data source")
    broken = tmp_path / "broken.pkl.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    code, _, err = call(capsys, "05", "--data", str(broken))
    assert_one_line_error(code, err, 1, "broken.pkl.gz")


def test_diverging_loss_names_the_learning_rate(capsys):
    code, _, err = call(capsys, "01", *SMALL, "--lr", "100")
    assert_one_line_error(code, err, 1, "loss became nan", "lr 100.0", "smaller --lr")


def test_an_exploding_loss_names_the_learning_rate(capsys):
    code, _, err = call(capsys, "05", *SMALL, "--lr", "1e9")
    assert_one_line_error(code, err, 1, "exploded", "lr 1000000000.0", "smaller --lr")


def test_interrupt_exits_130(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_stages", interrupted)
    code, _, err = call(capsys, "05", *SMALL)
    assert_one_line_error(code, err, 130, "interrupted")


def test_show_08_is_the_code_that_later_stages_import(capsys):
    code, out, _ = call(capsys, "show", "08")
    assert code == 0
    assert out.startswith("# 08_validation.py")
    for name in ("def fit(", "def get_data(", "def loss_batch(", "model.eval()", "shuffle=True"):
        assert name in out
    assert "accuracy (from nnreally.train) is stage 01's" in out


def test_show_09_names_the_stage_that_wrote_fit(capsys):
    code, out, _ = call(capsys, "show", "9")
    assert code == 0
    assert "fit (from nnreally.train) is stage 08's: show 08 prints it" in out


def test_diff_of_a_stage_with_itself_says_so(capsys):
    code, out, _ = call(capsys, "diff", "05", "05")
    assert (code, out) == (0, "stages 05 and 05: no difference\n")


def test_diff_shows_exactly_the_refactoring(capsys):
    code, out, _ = call(capsys, "diff", "04", "05")
    assert code == 0
    assert out.startswith("--- stages/04_linear.py\n+++ stages/05_optim.py")
    assert "+        opt.step()" in out
    assert "-                    p -= p.grad * lr" in out


@pytest.mark.slow
def test_subprocess_run_json():
    result = run_cli("05", *SMALL, "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["stage"] == "05"
    assert record["title"] == "optim"
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_subprocess_unknown_stage():
    result = run_cli("42")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "unknown stage '42'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is a POSIX signal")
def test_subprocess_ctrl_c_exits_130():
    proc = subprocess.Popen(
        [sys.executable, "-m", "nnreally.stages", "all", "--data", "digits"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    line = ""
    while "epoch 1" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()  # wait until training has started
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_subprocess_works_from_another_directory(tmp_path):
    """The stages ship inside the package: no checkout needed in the current directory."""
    result = run_cli("show", "05", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "optim.SGD(model.parameters(), lr=lr)" in result.stdout
    listing = run_cli(cwd=tmp_path)
    assert listing.stdout.count("\n") == len(all_stages())


# --- options before a command, output files, stray environment, a closed stdout ---------------


def test_options_before_a_command_go_to_that_command(capsys):
    code, out, _ = call(capsys, "--lang", "zh", "show", "05")
    assert code == 0
    assert "torch.optim：" in out  # the Chinese narrative


def test_an_option_a_command_does_not_take_says_whose_help_lists_them(capsys):
    code, out, err = call(capsys, "--quiet", "show", "05")
    assert_one_line_error(code, err, 2, "unrecognized arguments: --quiet", "show --help")
    assert out == ""


def test_a_value_that_names_a_command_stays_a_value(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # --data book: a folder named like the command
    code, _, err = call(capsys, "--data", "book", "05", "--limit", "100")
    assert_one_line_error(code, err, 1, "book")
    assert "--out" not in err  # not taken for the book command


def test_plot_images_that_nnreally_did_not_write_are_refused_before_training(
    capsys, tmp_path, monkeypatch
):
    plot = tmp_path / "p.png"
    theirs = image_path(plot, "01", 4)
    assert theirs.name == "p-01-image4.png"
    theirs.write_bytes(b"the user's own")
    monkeypatch.setattr(runner, "run_stages", lambda *a, **k: pytest.fail("it trained"))
    code, _, err = call(capsys, "01", "--plot", str(plot), *SMALL)
    assert_one_line_error(code, err, 2, str(theirs), "nnreally did not write it")
    assert theirs.read_bytes() == b"the user's own"


def test_plot_images_of_an_earlier_run_are_replaced(capsys, tmp_path):
    plot = tmp_path / "p.png"
    for _ in range(2):  # the second run finds the first one's images, and replaces them
        code, out, err = call(capsys, "01", "--epochs", "1", "--plot", str(plot), *SMALL)
        assert code == 0, err
    (image,) = tmp_path.glob("p-01-image*.png")  # stage 01 draws one image
    assert f"saved to {image}" in out
    assert is_own_png(image)
    assert is_own_png(plot)
    assert sorted(p.name for p in tmp_path.iterdir()) == [image.name, "p.png"]


def test_no_plot_without_an_epoch_says_why(capsys, tmp_path):
    plot = tmp_path / "e0.png"
    code, _, err = call(capsys, "05", "--epochs", "0", "--plot", str(plot), "--quiet", *SMALL)
    assert code == 0
    assert err == f"no plot written to {plot}: no epoch was trained\n"
    assert not plot.exists()


@pytest.mark.parametrize(
    "environment", [{"RANK": "1"}, {"RANK": "abc"}, {"RANK": "1", "WORLD_SIZE": "x"}]
)
def test_a_rank_left_in_the_environment_without_torchrun_is_ignored(
    capsys, monkeypatch, environment: dict
):
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code, out, err = call(capsys, "05", "--epochs", "1", "--quiet", *SMALL)
    assert (code, err) == (0, "")
    assert out.startswith("stage 05 done: ")


@pytest.mark.slow
def test_show_without_stdout_is_one_line_and_exit_1():
    result = run_cli("show", "05", preexec_fn=lambda: os.close(1))
    assert result.returncode == 1
    assert result.stderr == (
        "python -m nnreally.stages: error: stdout is closed (>&-): "
        "send it somewhere, e.g. >/dev/null\n"
    )


def test_reading_and_usage_errors_load_no_pytorch(tmp_path):
    """show, diff, the lists, --help, a hint and a usage error answer at once: none of them
    loads PyTorch or matplotlib (about 3 s of a command's start on a small machine)."""
    commands = [["show", "05"], ["diff", "04", "05"], [], ["--help"], ["05", "--bs", "0"]]
    here = ["--dir", str(tmp_path)]
    commands += [["practice", *here], ["practice", "05", *here], ["hint", "05", *here]]
    script = (
        "import contextlib, io, sys\n"
        "from nnreally import cli\n"
        f"for argv in {commands!r}:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        cli.main(argv)\n"
        "print(sorted({'torch', 'matplotlib'} & set(sys.modules)))\n"
    )
    result = run_python("-c", script)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr
