"""options: the training and output options, parsed and checked before any work starts."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from nnreally import options
from nnreally.errors import UsageError
from nnreally.options import Output, Training, image_path, is_own_png


def parse(*argv: str, stage_settings: bool = True) -> tuple[Training, Output]:
    parser = options.Parser(prog="prog")
    options.add_training_options(parser, stage_settings=stage_settings)
    options.add_output_options(parser)
    args = parser.parse_args(list(argv))
    return options.training_options(args), options.output_options(args)


def refused(*argv: str) -> str:
    """The one-line message a command line is refused with."""
    with pytest.raises(UsageError) as caught:
        parse(*argv)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_no_option_leaves_every_stage_setting_to_the_stage():
    training, output = parse()
    assert training == Training(device="auto", data="auto")
    assert training.given() == {}
    assert not training.launches()
    assert output == Output(lang="en")  # the tests run under LANG=C.UTF-8


def test_given_names_only_what_the_command_line_set():
    training, _ = parse("--bs", "32", "--lr", "0.25", "--epochs", "0", "--seed", "7")
    assert training.given() == {"bs": 32, "lr": 0.25, "epochs": 0}  # the seed is not a setting
    assert training.seed == 7
    machines, _ = parse("--nproc", "2", "--nnodes", "2", "--rdzv-endpoint", "h:29500")
    assert machines.given() == {"nproc": 2, "nnodes": 2, "rdzv_endpoint": "h:29500"}
    assert machines.launches()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--epochs", "-1"], "'-1' must be at least 0"),
        (["--bs", "0"], "'0' must be at least 1"),
        (["--bs", "2.5"], "'2.5' is not a whole number"),
        (["--lr", "abc"], "'abc' is not a number"),
        (["--lr", "0"], "'0' must be a positive finite number"),
        (["--lr", "-0.1"], "'-0.1' must be a positive finite number"),
        (["--lr", "nan"], "'nan' must be a positive finite number"),
        (["--lr", "inf"], "'inf' must be a positive finite number"),
        (["--limit", "x"], "'x' is not a whole number"),
        (["--nproc", "0"], "'0' must be at least 1"),
        (["--nproc", "65"], "'65' must be at most 64"),
        (["--nnodes", "two"], "'two' is not a whole number"),
        (["--rdzv-endpoint", "h"], "'h' is not HOST:PORT"),
        (["--rdzv-endpoint", ":80"], "':80' is not HOST:PORT"),
        (["--rdzv-endpoint", "h:0"], "'h:0' is not HOST:PORT"),
        (["--rdzv-endpoint", "h:65536"], "'h:65536' is not HOST:PORT"),
        (["--rdzv-endpoint", "h:x"], "'h:x' is not HOST:PORT"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
        (["--lang", "fr"], "invalid choice: 'fr'"),
        (["--nnodes", "2"], "--nnodes: the machines need --rdzv-endpoint HOST:PORT"),
        (["--rdzv-endpoint", "h:1"], "--rdzv-endpoint: goes with --nnodes N"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate (prog --help lists its options)"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_that_names_it(argv: list[str], says: str):
    assert says in refused(*argv)


def test_the_largest_port_and_an_ipv6_host_are_endpoints():
    training, _ = parse("--nnodes", "2", "--rdzv-endpoint", "[::1]:65535")
    assert training.rdzv_endpoint == "[::1]:65535"


def test_a_program_without_the_stage_settings_does_not_take_them():
    training, _ = parse("--bs", "8", stage_settings=False)
    assert training.given() == {"bs": 8}
    with pytest.raises(UsageError, match="unrecognized arguments: --nproc"):
        parse("--nproc", "2", stage_settings=False)


def test_a_program_may_say_its_own_defaults_in_the_help():
    parser = argparse.ArgumentParser()
    options.add_training_options(parser, helps={"epochs": "epochs (default 1 here)"})
    text = parser.format_help()
    assert "epochs (default 1 here)" in text
    assert "the stage's own, 2" not in text
    assert "batch size (default: the stage's own, 64)" in text  # the others keep theirs


def test_the_language_comes_from_the_option_then_the_environment(monkeypatch):
    assert parse("--lang", "zh")[1].lang == "zh"
    monkeypatch.setenv("NNREALLY_LANG", "zh")
    assert parse()[1].lang == "zh"
    assert parse("--lang", "en")[1].lang == "en"


@pytest.mark.parametrize(
    ("plot", "says"),
    [
        ("losses", "give a file name ending in .png"),
        ("losses.jpg", "give a file name ending in .png"),
        ("no/such/folder/x.png", "the folder no/such/folder does not exist"),
    ],
)
def test_a_plot_must_be_a_png_in_a_folder_that_exists(
    tmp_path: Path, monkeypatch, plot: str, says: str
):
    monkeypatch.chdir(tmp_path)
    assert says in refused("--plot", plot)


def test_a_folder_named_like_a_png_is_not_a_plot(tmp_path: Path):
    folder = tmp_path / "curves.png"
    folder.mkdir()
    assert "is a folder; give a file name ending in .png" in refused("--plot", str(folder))


def test_a_plot_in_a_folder_that_cannot_be_written_to_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(options.os, "access", lambda path, mode: Path(path) != tmp_path)
    message = refused("--plot", str(tmp_path / "p.png"))
    assert f"the folder {tmp_path} cannot be written to" in message


def test_images_are_named_after_the_plot_and_the_stage():
    plot = Path("out/p.png")
    assert image_path(plot, "01", 4) == Path("out/p-01-image4.png")
    assert image_path(plot, "", 2) == Path("out/p-image2.png")  # a stage file of the user's


def own_png(path: Path) -> Path:
    """A PNG written as nnreally writes them (its Software text in the first chunks)."""
    fig = Figure(figsize=(1, 1))
    fig.savefig(path, format="png", metadata=options.PNG_METADATA)
    return path


def test_an_own_png_is_told_from_a_users_file(tmp_path: Path):
    assert is_own_png(own_png(tmp_path / "ours.png"))
    theirs = tmp_path / "theirs.png"
    Figure(figsize=(1, 1)).savefig(theirs, format="png")
    assert not is_own_png(theirs)  # matplotlib's own Software text
    late = tmp_path / "late.png"
    late.write_bytes(b"\x89PNG" + b"\0" * options.OWN_MARK_WITHIN + options.OWN_MARK)
    assert not is_own_png(late)  # the mark must be where nnreally puts it, near the start
    assert not is_own_png(tmp_path / "missing.png")


def test_a_plot_replaces_its_own_earlier_images_only(tmp_path: Path):
    plot = tmp_path / "p.png"
    own_png(image_path(plot, "01", 1))
    own_png(tmp_path / "p-image3.png")
    (tmp_path / "p-01-image2.png.txt").write_text("not an image of the plot's")
    (tmp_path / "p-01-image2-mine.png").write_text("nor this")
    parse("--plot", str(plot))  # nothing of the user's is in the way
    theirs = image_path(plot, "05", 2)
    theirs.write_bytes(b"the user's own")
    message = refused("--plot", str(plot))
    assert f"{theirs} is there and nnreally did not write it" in message
    assert theirs.read_bytes() == b"the user's own"


def test_a_plot_name_with_glob_characters_matches_only_itself(tmp_path: Path):
    plot = tmp_path / "[ab].png"
    (tmp_path / "a-01-image1.png").write_bytes(b"the user's own")  # what [ab] would match
    parse("--plot", str(plot))
    (tmp_path / "[ab]-01-image1.png").write_bytes(b"the user's own")
    assert "nnreally did not write it" in refused("--plot", str(plot))
