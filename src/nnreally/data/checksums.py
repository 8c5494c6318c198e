"""What a downloaded file should be (``Remote``), and whether the one on disk is it.

A file is hashed once; its size and modification time are then remembered in ``.verified.json``
beside it, so later runs trust it without reading it again (``rehash`` reads it anyway).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from nnreally.data.writes import atomic_write

VERIFIED_FILE = ".verified.json"  # remembers files already checked, by size and mtime
BLOCK = 1 << 20


@dataclass(frozen=True)
class Remote:
    """A file we know how to check: its name, where it can come from, its checksum and size."""

    filename: str
    urls: tuple[str, ...]
    algorithm: str  # a hashlib name: "md5" or "sha256"
    digest: str
    size: int | None = None  # bytes, when published

    def by_hand(self, final: Path) -> str:
        """The sentence that says how to put the file in place without us."""
        return f"To place it by hand, save it as {final} ({self.algorithm} {self.digest})."


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()


def _stamp(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns]


def _remembered(folder: Path) -> dict[str, dict]:
    """The notes of files already verified; a damaged notes file counts as no notes."""
    try:
        known = json.loads((folder / VERIFIED_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(known, dict):
        return {}
    return {name: note for name, note in known.items() if isinstance(note, dict)}


def _write_notes(folder: Path, known: dict[str, dict]) -> None:
    """Save the notes; losing them only costs a re-hash, so a failure is not an error."""
    text = json.dumps(known, indent=1)
    with contextlib.suppress(OSError):
        atomic_write(folder / VERIFIED_FILE, lambda tmp: tmp.write_text(text))


def remember(path: Path, remote: Remote) -> None:
    """Note that ``path`` matched its checksum."""
    known = _remembered(path.parent)
    known[path.name] = {"stamp": _stamp(path), "digest": remote.digest}
    _write_notes(path.parent, known)


def forget(path: Path) -> None:
    """Drop ``path``'s verified note, so that its checksum is computed again next time."""
    known = _remembered(path.parent)
    if known.pop(path.name, None) is not None:
        _write_notes(path.parent, known)


def problem(path: Path, remote: Remote, *, rehash: bool = False) -> str | None:
    """Why ``path`` is not ``remote``'s file (``fails its md5 checksum``, ...), or None if it is.

    A file that fails loses its note.
    """
    try:
        if not path.exists():
            return "is a broken symlink" if path.is_symlink() else "is missing"
        if not path.is_file():
            return "is not a regular file"
        stamp = _stamp(path)
        note = _remembered(path.parent).get(path.name) or {}
        if not rehash and note.get("stamp") == stamp and note.get("digest") == remote.digest:
            return None
        if remote.size is not None and stamp[0] != remote.size:
            why = f"is {stamp[0]:,} bytes, not {remote.size:,}"
        elif file_digest(path, remote.algorithm) != remote.digest:
            why = f"fails its {remote.algorithm} checksum"
        else:
            why = None
    except OSError as e:
        why = f"cannot be read ({e.strerror or e})"
    if why:
        forget(path)
    else:
        remember(path, remote)
    return why


def is_verified(path: Path, remote: Remote) -> bool:
    """Whether ``path`` holds ``remote``'s file (see ``problem``)."""
    return problem(path, remote) is None
