"""Writes that leave nothing behind: temporary files, atomic renames, and files set aside.

Every file the data folder gets is first written to a temporary name in the same folder that
carries the writer's process id (``.NAME.pidPID.TOKEN.tmp``), then renamed into place. A failed or
interrupted write removes its temporary file; one left by a process that was killed outright is
removed the next time the folder is used, once no process with that id is alive. Folders made
for a write that then failed are removed again, if nothing else was put in them meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from nnreally.errors import WriteError

_TEMP_NAME = re.compile(r"^\..+\.pid(?P<pid>[0-9]+)\.[0-9a-f]+\.(?:tmp|part)$")
ASIDE_SUFFIX = ".corrupt"  # mnist.pkl.gz -> mnist.pkl.gz.corrupt, .corrupt.1, ...


def temp_path(final: Path, suffix: str = ".tmp") -> Path:
    """A fresh temporary name beside ``final`` that says which process writes it."""
    return final.with_name(f".{final.name}.pid{os.getpid()}.{secrets.token_hex(4)}{suffix}")


def atomic_write(final: Path, write: Callable[[Path], None], suffix: str = ".tmp") -> None:
    """``write`` a temporary file, then rename it to ``final``; on any failure remove it."""
    tmp = temp_path(final, suffix)
    try:
        write(tmp)
        os.replace(tmp, final)
    finally:  # Ctrl-C and every exception included; after the rename there is nothing left
        tmp.unlink(missing_ok=True)


def write_file(path: Path, write: Callable[[Path], object]) -> None:
    """``atomic_write`` with a failure said as a ``WriteError`` naming ``path``: a full disk or
    a Ctrl-C leaves an earlier file of that name as it was."""
    try:
        atomic_write(path, write)
    except OSError as e:
        raise WriteError(path, e.strerror or str(e)) from None


@contextlib.contextmanager
def folder_for(path: Path) -> Iterator[None]:
    """Make the folder ``path`` (and its parents); if the block fails, remove what was made.

    Only folders that are empty again go, so a file another process wrote there meanwhile stays.
    """
    path = Path(path)
    made = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:  # Ctrl-C too: a failed write leaves no empty folder behind
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (in our view of the system)."""
    if pid <= 0:
        return True  # not a real process id: never treat its file as stale
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def sweep(folder: Path) -> list[Path]:
    """Remove temporary files in ``folder`` whose writer is no longer running; return them."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return []
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:  # no folder yet, or one we cannot list: nothing to clean
        return []
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or _alive(int(match["pid"])):
            continue
        with contextlib.suppress(OSError):  # a read-only folder: the file stays, costs only space
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def set_aside(path: Path) -> Path:
    """Rename ``path`` to the first free ``NAME.corrupt``, ``NAME.corrupt.1``, ...; return it."""
    for n in range(1000):
        aside = path.with_name(f"{path.name}{ASIDE_SUFFIX}" + (f".{n}" if n else ""))
        if aside.exists() or aside.is_symlink():
            continue
        try:  # a hard link fails rather than replace a file that appeared meanwhile
            os.link(path, aside, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:  # no hard links here (or a folder): a plain rename, checked above
            os.rename(path, aside)
            return aside
        os.unlink(path)
        return aside
    raise FileExistsError(f"{path}: no free name to set it aside ({path.name}.corrupt.*)")
