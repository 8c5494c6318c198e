"""Practice: the learner does each refactoring, and nnreally checks it.

``practice NN`` writes ``practice/NN_name.py``, the learner's copy of stage NN-1 with the task
as its docstring; ``check NN [FILE]`` runs it through the runner and prints a checklist
(``checker``); ``hint NN`` gives the next hint. In a notebook: ``practice.check("05")``.
The exercises and their rules are in ``exercises``; the practice folder in ``workspace``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nnreally.errors import EXIT_ERROR
from nnreally.options import Parser
from nnreally.practice.exercises import EXERCISES, TIME_LIMIT, exercise
from nnreally.practice.workspace import FOLDER, State, file_of, start
from nnreally.run import display_width
from nnreally.texts import LANGUAGES, default_language, words

if TYPE_CHECKING:
    from nnreally.practice.checker import Result

COMMANDS = ("practice", "check", "hint")


def check(
    number: str,
    path: str | Path | None = None,
    folder: str | Path = FOLDER,
    lang: str | None = None,
) -> Result:
    """Check exercise ``number`` (the file ``practice NN`` wrote, or ``path``), print the
    checklist and return the ``Result``: ``practice.check("05")`` in a notebook."""
    ex = exercise(number)
    lang = lang or default_language()
    file = Path(path) if path else file_of(ex, Path(folder))
    from nnreally.practice.checker import check as check_file  # PyTorch: only to check

    result = check_file(ex, file, lang)
    print("\n".join(result.lines()), flush=True)
    State(file.parent).record(ex, file, result.passed)
    return result


def _parser(command: str, prog: str) -> Parser:
    parser = Parser(prog=f"{prog} {command}", description=_DESCRIPTIONS[command])
    add = parser.add_argument
    if command == "practice":
        add("number", nargs="?", help="the exercise, 02-12 (without it: list them)")
        add(
            "--restart",
            action="store_true",
            help="start again: the old file is kept as NN_name.tryN.py",
        )
    else:
        add("number", help="the exercise, 02-12")
    if command == "check":
        add(
            "file",
            nargs="?",
            type=Path,
            help="the file to check (default: the one practice NN wrote)",
        )
        add("--json", action="store_true", help="print the result as one JSON object")
        add("--watch", action="store_true", help="check again each time the file is saved")
        add(
            "--time-limit",
            type=float,
            default=TIME_LIMIT,
            metavar="SECONDS",
            help=f"stop a run that takes longer (default {TIME_LIMIT:g})",
        )
    add("--dir", type=Path, default=FOLDER, help="the practice folder (default ./practice)")
    add("--lang", choices=LANGUAGES, help="the language of the task, hints and checklist")
    return parser


_DESCRIPTIONS = {
    "practice": "Start exercise NN: your copy of stage NN-1 to turn into stage NN.",
    "check": "Check your file for exercise NN: it runs, the refactoring is there, it trains, "
    "and the numbers.",
    "hint": "The next hint for exercise NN.",
}


def main(argv: Sequence[str], prog: str) -> int:
    """``practice``, ``check`` or ``hint`` (``argv[0]``) with its options; the exit code."""
    command, *rest = argv
    args = _parser(command, prog).parse_args(rest)
    lang = args.lang or default_language()
    w = words(lang)
    if command == "practice":
        return _practice(args, prog, w, lang)
    ex = exercise(args.number)
    if command == "hint":
        shown, total, text = State(args.dir).next_hint(ex, lang)
        print(w("practice.hint", number=ex.number, shown=shown, total=total, hint=text))
        return 0
    file = args.file or file_of(ex, args.dir)
    if args.watch:
        return _watch(ex, file, args, lang)
    return _check_once(ex, file, args, lang)


def _practice(args, prog: str, w, lang: str) -> int:
    state = State(args.dir)
    if args.number is None:
        for ex in EXERCISES:
            status = w(f"practice.status.{state.status(ex)}")
            section = w(f"exercise.{ex.number}.section")
            print(f"{ex.number}  {section}{' ' * (32 - display_width(section))}{status}")
        print(w("practice.list_end", prog=prog))
        return 0
    ex = exercise(args.number)
    path, kept = start(ex, args.dir, lang, args.restart)
    if kept:
        print(w("practice.kept", kept=kept))
    print(w("practice.started", number=ex.number, path=path, start=ex.start.number, prog=prog))
    return 0


def _check_once(ex, file: Path, args, lang: str) -> int:
    from nnreally.practice.checker import check as check_file  # PyTorch: only to check

    result = check_file(ex, file, lang, args.time_limit)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        print("\n".join(result.lines()), flush=True)
    State(Path(file).parent).record(ex, Path(file), result.passed)
    return 0 if result.passed else EXIT_ERROR


def _watch(ex, file: Path, args, lang: str, stop=None) -> int:
    """Check, then check again each time ``file`` changes, until Ctrl-C (which the dispatcher
    turns into one line and exit 130) or until ``stop`` is set."""
    from watchfiles import watch  # imported only for --watch

    w = words(lang)
    code = _check_once(ex, file, args, lang)
    print(w("practice.watching", file=file), file=sys.stderr, flush=True)
    target = Path(file).resolve()
    for changes in watch(target.parent, stop_event=stop, debounce=300):
        if any(Path(p).resolve() == target for _, p in changes) and target.exists():
            print(file=sys.stderr)
            code = _check_once(ex, file, args, lang)
            print(w("practice.watching", file=file), file=sys.stderr, flush=True)
    return code
