"""Data files as other programs write them: the tutorial's pickle, IDX files, stand-in sizes."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

RNG = np.random.default_rng(0)
IDX_TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def split(n: int, rng: np.random.Generator = RNG) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random images (float32 in [0, 1)) and labels (int64 0-9)."""
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def tutorial_layout(n_train: int = 120, n_valid: int = 40) -> tuple:
    """((x_train, y_train), (x_valid, y_valid), (x_test, y_test)), as in ``mnist.pkl.gz``."""
    return split(n_train), split(n_valid), split(10)


def write_pickle(path: Path, content: object, protocol: int = 2) -> Path:
    with gzip.open(path, "wb") as f:
        pickle.dump(content, f, protocol=protocol)
    return path


def idx_bytes(array: np.ndarray, shape: tuple[int, ...] | None = None) -> bytes:
    """An IDX file of ``array`` (its dtype's code, big-endian as the format says)."""
    shape = array.shape if shape is None else shape
    code = IDX_TYPE_CODES[array.dtype.str[1:]]
    header = bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, shape: tuple[int, ...] | None = None) -> Path:
    path.write_bytes(gzip.compress(idx_bytes(np.asarray(array).astype(np.uint8), shape)))
    return path


def idx_folder(folder: Path, n: int = 120) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", RNG.integers(0, 256, (n, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", RNG.integers(0, 10, n))
    return folder


def temporary_files(folder: Path) -> list[str]:
    """Names a write in progress would leave behind (``.NAME.pidPID.TOKEN.tmp`` and the like)."""
    return sorted(p.name for p in folder.rglob(".*") if p.name.endswith((".tmp", ".part")))


def dead_pid() -> int:
    """The id of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def damage_inside(path: Path) -> None:
    """Flip bytes in the middle of a file, keeping its size and modification time."""
    before = path.stat()
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 8] = bytes(b ^ 0xFF for b in raw[middle : middle + 8])
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
