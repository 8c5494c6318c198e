"""A data file read by what its bytes are: compressions, containers, and the formats only named."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from nnreally.data import DataError, load_data
from nnreally.data import files as files_module
from nnreally.data.digits_cache import cache_path, save
from nnreally.data.files import read_file, read_path
from tests.data.conftest import POSIX
from tests.data.makers import damage_inside, idx_folder, tutorial_layout, write_pickle

CONTENT = tutorial_layout(30, 10)
PICKLED = pickle.dumps(CONTENT, protocol=4)


def same_as_content(path: Path) -> None:
    data = read_file(path)
    assert torch.equal(data.x_train, torch.from_numpy(CONTENT[0][0]))
    assert torch.equal(data.y_valid, torch.from_numpy(CONTENT[1][1]))


@pytest.mark.parametrize(
    "pack",
    [
        bytes,
        gzip.compress,
        lzma.compress,
        bz2.compress,
        lambda b: gzip.compress(gzip.compress(b)),  # a gzip-encoded download saved as it came
        lambda b: lzma.compress(gzip.compress(b)),
    ],
    ids=["plain", "gzip", "xz", "bzip2", "gzip-twice", "gzip-in-xz"],
)
def test_compressions_around_the_pickle(tmp_path: Path, pack):
    path = tmp_path / "mnist.pkl.gz"  # the name says nothing: the bytes do
    path.write_bytes(pack(PICKLED))
    same_as_content(path)


def test_successive_pickles(tmp_path: Path):
    """train, valid and test dumped one after another into one file."""
    path = tmp_path / "m.pkl"
    path.write_bytes(b"".join(pickle.dumps(part, protocol=2) for part in CONTENT))
    same_as_content(path)


def test_bytes_after_the_pickle_are_named(tmp_path: Path):
    path = tmp_path / "m.pkl"
    path.write_bytes(PICKLED + b"\x00garbage")
    with pytest.raises(DataError, match=r"m\.pkl: not a readable pickle \("):
        read_file(path)


@pytest.mark.parametrize("as_dict", [False, True], ids=["tuple", "dict"])
def test_torch_save_of_tensors(tmp_path: Path, as_dict: bool):
    (xt, yt), (xv, yv), _ = (tuple(map(torch.from_numpy, part)) for part in CONTENT)
    saved = (
        {"x_train": xt, "y_train": yt, "x_valid": xv, "y_valid": yv}
        if as_dict
        else ((xt, yt), (xv, yv))
    )
    torch.save(saved, tmp_path / "m.pt")
    same_as_content(tmp_path / "m.pt")


def test_torch_save_of_more_than_tensors_is_refused(tmp_path: Path):
    torch.save({"x_train": np.zeros(3)}, tmp_path / "m.pt")
    with pytest.raises(DataError, match=r"a torch\.save file holding more than tensors, which"):
        read_file(tmp_path / "m.pt")


def test_the_digits_cache_is_a_data_file_too(tmp_path: Path):
    x = torch.from_numpy(np.round(CONTENT[0][0] * 255) / np.float32(255))
    y = torch.from_numpy(CONTENT[0][1])
    save(cache_path(tmp_path, 30, 30), x, y, x, y)
    data = read_file(cache_path(tmp_path, 30, 30))
    assert torch.equal(data.x_train, x)


def archive(kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("mnist.pkl", PICKLED)
    else:
        with tarfile.open(fileobj=out, mode="w") as t:
            info = tarfile.TarInfo("mnist.pkl")
            info.size = len(PICKLED)
            t.addfile(info, io.BytesIO(PICKLED))
    return out.getvalue()


OTHERS = {
    "tar": (lambda: archive("tar"), r"a tar archive, not read here: unpack it .*\(tar xf FILE\)$"),
    "tar.gz": (
        lambda: gzip.compress(archive("tar")),
        r"inside its gzip compression, a tar archive, not read here",
    ),
    "zip": (
        lambda: archive("zip"),
        r"a zip archive of mnist\.pkl: unpack it, pass what is inside$",
    ),
    "zip.xz": (lambda: lzma.compress(archive("zip")), r"inside its xz compression, a zip archive"),
    "zstd": (lambda: b"\x28\xb5\x2f\xfd" + bytes(20), r"zstd-compressed, not read here"),
    "lz4": (lambda: b"\x04\x22\x4d\x18" + bytes(20), r"lz4-compressed, not read here"),
    "7z": (lambda: b"7z\xbc\xaf\x27\x1c" + bytes(20), r"a 7-Zip archive, not read here"),
    "rar": (lambda: b"Rar!\x1a\x07\x00" + bytes(20), r"a RAR archive, not read here"),
    "hdf5": (lambda: b"\x89HDF\r\n\x1a\n" + bytes(20), r"an HDF5 file, not read here"),
    "parquet": (lambda: b"PAR1" + bytes(20), r"a Parquet file, not read here"),
    "png": (lambda: b"\x89PNG\r\n\x1a\n" + bytes(20), r"a PNG image, not read here"),
    "jpeg": (lambda: b"\xff\xd8\xff\xe0" + bytes(20), r"a JPEG image, not read here"),
    "csv": (lambda: b"label,1x1,1x2\n5,0,0\n", r"a text file \(CSV\?\), not read here; expected"),
    "html": (lambda: b"<!DOCTYPE html><html>Not Found</html>", r"an HTML page \(an error page"),
    "random": (
        lambda: np.random.default_rng(3).bytes(4000),
        r"no format read here; expected a pickle",
    ),
}


@pytest.mark.parametrize("kind", OTHERS, ids=list(OTHERS))
def test_other_formats_are_named(tmp_path: Path, kind: str):
    make, message = OTHERS[kind]
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(make())
    with pytest.raises(DataError, match=rf"^{path}: {message}") as caught:
        read_file(path)
    assert "\n" not in str(caught.value)


def test_idx_file_given_as_the_data_file(tmp_path: Path):
    folder = idx_folder(tmp_path / "idx")
    with pytest.raises(DataError, match=r"one IDX file: pass the folder that holds the IDX files"):
        read_path(folder / "train-images-idx3-ubyte.gz")


def test_a_folder_is_read_as_idx_files(tmp_path: Path):
    assert read_path(idx_folder(tmp_path / "idx", n=12)).describe() == (
        f"idx: 10 train / 2 valid images ({tmp_path / 'idx'})"
    )


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path: Path):
    class RunsACommand:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    path = write_pickle(tmp_path / "evil.pkl.gz", ((RunsACommand(), None), None, None))
    with pytest.raises(
        DataError, match=r"evil\.pkl\.gz: unsafe pickle, refused to load (posix|os)\.system"
    ):
        read_file(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: b"", r"the file is empty; the file is corrupt"),
        (lambda: gzip.compress(b""), r"its gzip data is empty"),
        (lambda: gzip.compress(PICKLED)[:500], r"the file is cut short \(it ends in the middle\)"),
        (lambda: bz2.compress(PICKLED)[:500], r"the file is cut short"),
        (lambda: PICKLED[:500], r"not a readable pickle \(pickle data was truncated\)"),
    ],
    ids=["empty", "empty-gzip", "truncated-gzip", "truncated-bzip2", "truncated-pickle"],
)
def test_empty_and_cut_short(tmp_path: Path, make, message: str):
    path = tmp_path / "m.pkl.gz"
    path.write_bytes(make())
    with pytest.raises(DataError, match=rf"^{path}: {message}"):
        read_file(path)


@pytest.mark.parametrize(
    "pack", [gzip.compress, lzma.compress, bz2.compress], ids=["gzip", "xz", "bzip2"]
)
def test_damaged_compression_is_named(tmp_path: Path, pack):
    path = tmp_path / "m.pkl"
    path.write_bytes(pack(PICKLED))
    damage_inside(path)
    name = {"gzip": "gzip", "lzma": "xz", "bz2": "bzip2"}[pack.__module__]
    with pytest.raises(DataError, match=rf"m\.pkl: damaged {name} data \(") as caught:
        read_file(path)
    assert "download it again" in str(caught.value)


def test_unreadable_file_is_named(tmp_path: Path, monkeypatch):
    """Permission denied. chmod does not stop root, so ``open`` is made to refuse as it would."""

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    path = write_pickle(tmp_path / "m.pkl.gz", CONTENT)
    monkeypatch.setattr(files_module, "open", denied, raising=False)
    with pytest.raises(DataError, match=r"m\.pkl\.gz: cannot read it \(Permission denied\)"):
        read_file(path)


@POSIX
def test_data_path_that_is_not_a_regular_file(tmp_path: Path):
    os.mkfifo(tmp_path / "pipe")  # opening it to read would wait for a writer forever
    with pytest.raises(DataError, match=r"pipe: not a regular file"):
        load_data(str(tmp_path / "pipe"), tmp_path)


@POSIX
def test_data_path_that_loops(tmp_path: Path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(DataError, match=r"cannot be used as data \(a symlink loop"):
        read_path(tmp_path / "a")
