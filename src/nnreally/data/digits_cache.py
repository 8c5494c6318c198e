"""The built-in digits' cache: one file per size, written atomically, checked on every load.

The cache holds the four tensors as bytes plus the SHA-256 of those bytes. A load checks the
keys, dtypes, shapes, label range and that checksum, so a truncated, damaged or foreign file
is noticed (and the digits made again) rather than fed to a model.
"""

from __future__ import annotations

import contextlib
import hashlib
import operator
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from nnreally.data import digits as generator
from nnreally.data.dataset import CLASSES, LEVELS, N_TRAIN, N_VALID, PIXELS, Data
from nnreally.data.digits import DIGITS_SEED
from nnreally.data.folder import DIGITS as FOLDER
from nnreally.data.writes import atomic_write, folder_for, sweep

DIGITS_VERSION = 2  # bump when the generator or the file changes
KEYS = ("x_train", "y_train", "x_valid", "y_valid")
DIGEST_KEY = "sha256"
ORIGIN = f"built-in, generated from matplotlib's fonts, seed {DIGITS_SEED}"
ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
DURATION = "5-30 s"  # what generating the default 60,000 takes on a laptop or a small CI machine
# digits-v2.pt for the default size, digits-v2-3000-1000.pt for 3,000 + 1,000, ...
_NAME = re.compile(rf"^digits-v{DIGITS_VERSION}(?:-(?P<train>[0-9]+)-(?P<valid>[0-9]+))?\.pt$")


class BrokenCacheError(Exception):
    """The cache file is not what this version writes (the message says how)."""


def cache_path(data_dir: Path, n_train: int = N_TRAIN, n_valid: int = N_VALID) -> Path:
    """Where ``n_train`` + ``n_valid`` digits are cached under ``data_dir``."""
    size = "" if (n_train, n_valid) == (N_TRAIN, N_VALID) else f"-{n_train}-{n_valid}"
    return Path(data_dir) / FOLDER / f"digits-v{DIGITS_VERSION}{size}.pt"


def caches(data_dir: Path) -> list[tuple[Path, int, int]]:
    """Every digits cache under ``data_dir``, with the sizes its name says it holds."""
    try:
        names = sorted(os.listdir(Path(data_dir) / FOLDER))
    except OSError:
        return []
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            sizes = (
                (int(match["train"]), int(match["valid"])) if match["train"] else (N_TRAIN, N_VALID)
            )
            found.append((Path(data_dir) / FOLDER / name, *sizes))
    return found


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in KEYS:
        h.update(memoryview(np.ascontiguousarray(tensors[key].numpy())).cast("B"))
    return h.hexdigest()


def check(path: Path, n_train: int = N_TRAIN, n_valid: int = N_VALID) -> dict[str, torch.Tensor]:
    """Load a cache of that size, checking all of it; a ``BrokenCacheError`` says what is wrong."""
    try:
        with warnings.catch_warnings():  # torch's warnings about a damaged file: ours says it
            warnings.simplefilter("ignore")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a cache can hold any bytes: every failure means "broken"
        raise BrokenCacheError(_load_failure(path, e)) from None
    if not isinstance(saved, dict):
        raise BrokenCacheError(f"it holds a {type(saved).__name__}, not the four tensors")
    missing = [key for key in (*KEYS, DIGEST_KEY) if key not in saved]
    if missing:
        raise BrokenCacheError(f"it lacks {', '.join(missing)}")
    shapes = {
        "x_train": (n_train, PIXELS),
        "y_train": (n_train,),
        "x_valid": (n_valid, PIXELS),
        "y_valid": (n_valid,),
    }
    for key, shape in shapes.items():
        value = saved[key]
        if not isinstance(value, torch.Tensor):
            raise BrokenCacheError(f"{key} is a {type(value).__name__}, not a tensor")
        if value.dtype != torch.uint8:
            raise BrokenCacheError(f"{key} is {value.dtype}, not torch.uint8")
        if tuple(value.shape) != shape:
            raise BrokenCacheError(f"{key} has shape {tuple(value.shape)}, not {shape}")
    for key in ("y_train", "y_valid"):
        top = int(saved[key].max())
        if top >= CLASSES:
            raise BrokenCacheError(f"{key} holds label {top}, not 0-{CLASSES - 1}")
    if saved[DIGEST_KEY] != _digest(saved):
        raise BrokenCacheError("its contents do not match the checksum stored with them")
    return saved


def _load_failure(path: Path, e: Exception) -> str:
    """Why ``torch.load`` failed, said about the file rather than in torch's words."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError as error:
        return f"the file cannot be read: {error.strerror or error}"
    if not head:
        return "the file is empty"
    if head != ZIP_MAGIC:
        return "the file was not written by torch.save (foreign or random bytes)"
    text = str(e)
    if "PytorchStreamReader" in text or "zip" in text.lower():
        return "the file is cut short or damaged (its zip archive cannot be read)"
    if "Weights only load failed" in text:
        return "the file holds more than tensors"
    return f"the file cannot be loaded: {_brief(e)}"


def save(path: Path, x_train, y_train, x_valid, y_valid) -> str | None:
    """Cache the digits as bytes with their checksum; return why that failed, None if saved."""
    as_bytes = {
        "x_train": (x_train * LEVELS).round().to(torch.uint8),
        "y_train": y_train.to(torch.uint8),
        "x_valid": (x_valid * LEVELS).round().to(torch.uint8),
        "y_valid": y_valid.to(torch.uint8),
    }
    as_bytes[DIGEST_KEY] = _digest(as_bytes)
    try:
        with folder_for(path.parent):
            atomic_write(path, lambda tmp: torch.save(as_bytes, tmp))
    except (OSError, RuntimeError) as e:  # torch.save reports a failed write as RuntimeError
        return _brief(e)
    return None


def load(
    data_dir: Path | None = None,
    progress: bool = False,
    n_train: int = N_TRAIN,
    n_valid: int = N_VALID,
) -> Data:
    """``n_train`` + ``n_valid`` digits from their cache under ``data_dir`` if it is sound, else
    made (and cached; each size has its own cache, and a few thousand digits take about a second,
    the default 60,000 5-30 s). Whatever went wrong with the cache is said in ``Data.note``, one
    line each; ``progress`` tells the user while the digits are being made.
    """
    n_train, n_valid = operator.index(n_train), operator.index(n_valid)
    if n_train < 1 or n_valid < 1:
        raise ValueError(f"the digits need at least one of each, not {n_train} + {n_valid}")
    notes = []
    path = saved = None
    if data_dir is not None:
        path = cache_path(Path(data_dir), n_train, n_valid)
        sweep(path.parent)
        if path.exists() or path.is_symlink():
            try:
                saved = check(path, n_train, n_valid)
            except BrokenCacheError as e:
                notes.append(f"the digits cache {path} was broken ({e}), so it was made again")
    if saved is not None:
        x_train, x_valid = (saved[k].float() / LEVELS for k in ("x_train", "x_valid"))
        y_train, y_valid = (saved[k].long() for k in ("y_train", "y_valid"))
    else:
        show = progress and not generator.made(n_train, n_valid)
        with _announce(n_train + n_valid, show) as tick:
            x_train, y_train, x_valid, y_valid = generator.digits(
                n_train, n_valid, DIGITS_SEED, progress=tick
            )
        why = None if path is None else save(path, x_train, y_train, x_valid, y_valid)
        if why:
            notes.append(
                f"could not cache the built-in digits in {path.parent} ({why}); they were made "
                "in memory for this run and will be made again next time"
            )
    return Data("digits", ORIGIN, x_train, y_train, x_valid, y_valid, "\n".join(notes))


@contextlib.contextmanager
def _announce(n: int, show: bool) -> Iterator[Callable[[int], object] | None]:
    """Say that the digits are being made: a bar on a terminal, else one line on stderr (on
    stdout in a notebook, where stderr is shown as an error)."""
    if not show:
        yield None
        return
    stream = sys.stdout if "ipykernel" in sys.modules else sys.stderr
    if sys.stderr.isatty():
        from tqdm import tqdm

        with tqdm(total=n, unit="img", desc="generating the built-in digits", leave=False) as bar:
            yield bar.update
        return
    said = f"generating the built-in digits ({n:,} images, {DURATION}) ..."
    print(said, end=" ", file=stream, flush=True)
    start, finished = time.monotonic(), False
    try:
        yield None
        finished = True
    finally:
        end = f"done in {time.monotonic() - start:.1f} s" if finished else "stopped"
        print(end, file=stream, flush=True)


def _brief(e: BaseException) -> str:
    """A failure as a few words: torch's C++ errors carry an errno, Python's a strerror."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e)
    errno_match = re.search(r"errno (\d+)", text)
    if errno_match:
        return os.strerror(int(errno_match[1]))
    if "inline_container" in text or "PytorchStreamWriter" in text:  # torch's writer, no errno
        return "the write failed part way (is the disk full?)"
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return first if len(first) <= 100 else first[:97] + "..."
