"""The learner's practice folder: the exercise files, and what nnreally remembers about them.

``practice/05_optim.py`` is the learner's file for exercise 05; ``practice/.nnreally.json``
remembers how many hints each exercise has shown and the file that last passed (by its
SHA-256, so an edit after passing shows as started again). No file of the learner's is ever
overwritten or deleted: a restart renames the old one to ``05_optim.try1.py`` first.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path

from nnreally.data.writes import atomic_write, temp_path
from nnreally.errors import UsageError
from nnreally.practice.exercises import Exercise
from nnreally.texts import words

FOLDER = Path("practice")
STATE = ".nnreally.json"
NOT_STARTED, STARTED, PASSED = "not_started", "started", "passed"


def file_of(ex: Exercise, folder: Path = FOLDER) -> Path:
    return Path(folder) / ex.file_name()


def starting_file(ex: Exercise, lang: str) -> str:
    """Stage NN-1's source with its docstring replaced by exercise NN's task."""
    source = ex.start.source
    first = ast.parse(source).body[0]
    lines = source.splitlines(keepends=True)
    w = words(lang)
    task = w(
        "practice.task",
        number=ex.number,
        title=w.title(ex.stage.name),
        start=ex.start.number,
        start_title=w.title(ex.start.name),
        task=w(f"exercise.{ex.number}.task").strip(),
        link=ex.link,
        section=w(f"exercise.{ex.number}.section"),
    )
    docstring = '"""' + task.strip().replace('"""', "'''") + '\n"""\n'
    return docstring + "".join(lines[first.end_lineno :])


def start(ex: Exercise, folder: Path, lang: str, restart: bool = False) -> tuple[Path, Path | None]:
    """Write the learner's file for ``ex``; return it and, on a restart, where the old one went.

    An existing file is never overwritten: without ``restart`` it is a ``UsageError`` that
    says where the file is and how to start again."""
    path = file_of(ex, folder)
    kept = None
    if path.exists() or path.is_symlink():
        if not restart:
            raise UsageError(
                f"{path} already exists: check it with python -m nnreally.stages check "
                f"{ex.number}, or start again with practice {ex.number} --restart (the old file "
                "is kept under a new name)"
            )
        kept = _keep(path)
    Path(folder).mkdir(parents=True, exist_ok=True)
    _create(path, starting_file(ex, lang))
    return path, kept


def _keep(path: Path) -> Path:
    """Rename ``path`` to the first free ``NAME.tryN.py``."""
    for n in range(1, 1000):
        kept = path.with_name(f"{path.stem}.try{n}{path.suffix}")
        try:
            os.link(path, kept)  # fails rather than replace a file of that name
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            if kept.exists():
                continue
            os.rename(path, kept)
            return kept
        os.unlink(path)
        return kept
    raise UsageError(f"{path}: no free name to keep it under ({path.stem}.try*.py)")


def _create(path: Path, text: str) -> None:
    """Write a new file whole, or not at all, and never over one that appeared meanwhile: to a
    temporary name first, then linked to its own (which fails if the name is taken)."""
    tmp = temp_path(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise UsageError(f"{path} appeared meanwhile: it is kept as it is") from None
        except OSError:  # no hard links on this file system: a rename, after a last look
            if path.exists():
                raise UsageError(f"{path} appeared meanwhile: it is kept as it is") from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class State:
    """What the practice folder remembers: hints shown and files that passed."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / STATE
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        self.hints: dict[str, int] = _table(loaded.get("hints"))
        self.passed: dict[str, str] = _table(loaded.get("passed"))

    def save(self) -> None:
        if not self.path.parent.is_dir():
            return  # nothing started here: nothing to remember
        text = json.dumps({"hints": self.hints, "passed": self.passed}, indent=1)
        atomic_write(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def status(self, ex: Exercise) -> str:
        path = self.path.parent / ex.file_name()
        if not path.is_file():
            return NOT_STARTED
        return PASSED if self.passed.get(ex.number) == digest(path) else STARTED

    def record(self, ex: Exercise, path: Path, passed: bool) -> None:
        if passed:
            self.passed[ex.number] = digest(path)
        else:
            self.passed.pop(ex.number, None)
        self.save()

    def next_hint(self, ex: Exercise, lang: str) -> tuple[int, int, str]:
        """The next hint: its number, how many there are, and its text (the last one again
        once all are shown)."""
        hints = words(lang).list(f"exercise.{ex.number}.hints")
        shown = min(self.hints.get(ex.number, 0) + 1, len(hints))
        self.hints[ex.number] = shown
        self.save()
        return shown, len(hints), hints[shown - 1]


def _table(value: object) -> dict:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
