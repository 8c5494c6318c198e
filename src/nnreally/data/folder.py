"""The data folder: where it is, and whether it can serve, checked before any work starts.

It is ``data/`` under the current directory, as in the tutorial, unless ``--data-dir`` or
``$NNREALLY_DATA`` names another. An empty ``$NNREALLY_DATA`` counts as unset (``data/``), as an
empty variable does for most tools; an empty ``--data-dir`` is refused (``data_dir_arg``), since
it would otherwise mean the current folder.
"""

from __future__ import annotations

import argparse
import errno
import os
import stat
from pathlib import Path

from nnreally.errors import DataError

VARIABLE = "NNREALLY_DATA"
DEFAULT = "data"
MNIST, FASHION, DIGITS = "mnist", "fashion-mnist", "digits"  # what the data folder may hold
SUBFOLDERS = (MNIST, FASHION, DIGITS)


def default_data_dir() -> Path:
    """``$NNREALLY_DATA`` if set and not empty, else ``data/`` under the current directory."""
    return Path(os.environ.get(VARIABLE) or DEFAULT)


def data_dir_arg(text: str) -> Path:
    """argparse's ``type`` for ``--data-dir``: a path, never an empty one."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"an empty path; leave the option out for ./{DEFAULT}, or give . for this folder"
        )
    return Path(text)


def check_data_dir(path: Path) -> None:
    """Raise a one-line ``DataError`` if ``path`` cannot serve as the data folder.

    The folder need not exist yet (it is made when something is cached) and may be read-only
    (the digits are then made in memory), but it must be a folder, or creatable as one.
    """
    path = Path(path)
    problem = _folder_problem(path)
    if problem:
        raise DataError(
            f"data folder {path} {problem}; point --data-dir (or {VARIABLE}) at a folder"
        )
    for name in SUBFOLDERS:
        sub = path / name
        problem = _folder_problem(sub)
        if problem:
            raise DataError(
                f"{sub} {problem}, but the data folder keeps {name} in a folder there; "
                "move it elsewhere"
            )


def _folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a folder we read and cache in, or None."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return f"is a symlink to {os.readlink(path)}, which does not exist"
        for parent in path.absolute().parents:  # it will be made: can it be?
            try:
                if stat.S_ISDIR(parent.stat().st_mode):
                    return None
            except FileNotFoundError:
                continue
            except OSError as e:
                return f"cannot be made: {why(e, parent)}"
            return f"cannot be made: {parent} is a file, not a folder"
        return None
    except OSError as e:
        verb = "made" if e.errno == errno.ENOTDIR else "used"
        return f"cannot be {verb}: {why(e, path)}"
    if not stat.S_ISDIR(info.st_mode):
        return "is a file, not a folder"
    if not os.access(path, os.R_OK | os.X_OK):
        return "cannot be read (permission denied)"
    return None


def why(e: OSError, path: Path) -> str:
    """What an ``OSError`` met on the way to ``path`` means, in a few words."""
    if e.errno == errno.ELOOP:
        return "a symlink loop (a link that points back to itself)"
    if e.errno == errno.ENOTDIR:
        blocker = next((p for p in reversed(path.absolute().parents) if p.is_file()), None)
        return f"{blocker or 'a part of the path'} is a file, not a folder"
    return e.strerror or str(e)
