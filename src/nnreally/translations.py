"""Each stage's narrative in every language, and the check that the translations keep up.

A stage's narrative is its docstring and its ``# %% [markdown]`` cells, in order; the stage
file holds the English. A translation sits beside the stage files, ``stages/zh/05_optim.md``:
one section per English cell, each opened by a marker line ``<!-- en:1a2b3c4d -->`` that
stamps the English text it was translated from (the first 8 hex digits of its SHA-1). When the
English changes, its stamp changes, and ``python -m nnreally.translations --check`` names the
section to translate again; ``--stamps 05`` prints the markers a translator needs.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from nnreally.cells import split_cells
from nnreally.errors import RunError, UsageError, guarded
from nnreally.options import Parser
from nnreally.registry import Stage, all_stages, find, stage_dir
from nnreally.texts import LANGUAGES, SOURCE, tomllib

STAMP_DIGITS = 8  # hex digits of the SHA-1 kept in a marker: plenty to tell a stage's cells apart
MARKER = re.compile(rf"^<!-- {SOURCE}:(?P<stamp>[0-9a-f]{{{STAMP_DIGITS}}}) -->\s*$")
FIRST_WORDS, FIRST_CHARACTERS = 6, 40  # how much of a cell a problem quotes to name it


def stamp(text: str) -> str:
    """The first 8 hex digits of the SHA-1 of ``text`` (UTF-8): what a marker records."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:STAMP_DIGITS]


def marker(text: str) -> str:
    """The marker line that opens the translation of the English cell ``text``."""
    return f"<!-- {SOURCE}:{stamp(text)} -->"


def sidecar(stage: Stage, lang: str) -> Path:
    """The file holding ``stage``'s narrative in ``lang``: ``stages/zh/05_optim.md``."""
    return stage.path.parent / lang / f"{stage.path.stem}.md"


@dataclass(frozen=True)
class Section:
    """One translated cell: the stamp of the English it was made from, and its text."""

    stamp: str
    text: str
    line: int  # the marker's line in the sidecar file, 1-based


def _english(stage: Stage) -> list[str]:
    return [cell.text for cell in split_cells(stage.source) if cell.kind == "markdown"]


def _check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise UsageError(f"unknown language {lang!r} (the languages are {', '.join(LANGUAGES)})")


def _shown(path: Path) -> str:
    """A sidecar's path as a learner finds it: ``stages/zh/05_optim.md``."""
    return "/".join(path.parts[-3:])


def sections(stage: Stage, lang: str) -> list[Section]:
    """The sections of ``stage``'s sidecar in ``lang``, in file order."""
    _check_language(lang)
    path = sidecar(stage, lang)
    if not path.is_file():
        raise RunError(
            f"stage {stage.number} has no {lang} narrative: {_shown(path)} is missing; write "
            "it, one section per English cell "
            f"(python -m nnreally.translations --stamps {stage.number} prints the markers)"
        )
    found: list[tuple[str, int, list[str]]] = []  # each marker's stamp, line and the lines after
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = MARKER.match(line)
        if match:
            found.append((match["stamp"], number, []))
        elif found:
            found[-1][2].append(line.rstrip())
        elif line.strip():
            raise RunError(
                f"{_shown(path)} line {number}: text before the first marker "
                f"(each section starts with a line such as <!-- {SOURCE}:1a2b3c4d -->)"
            )
    return [Section(mark, "\n".join(lines).strip("\n"), at) for mark, at, lines in found]


def narrative(stage: Stage, lang: str) -> list[str]:
    """The texts of ``stage``'s narrative cells in ``lang``, in order."""
    _check_language(lang)
    if lang == SOURCE:
        return _english(stage)
    return [section.text for section in sections(stage, lang)]


def _words(text: str) -> str:
    """The first few words of a cell (or characters, in a language without spaces), quoted."""
    whole = " ".join(text.split())
    head = " ".join(whole.split(" ")[:FIRST_WORDS])[:FIRST_CHARACTERS]
    return f'"{head}{" ..." if head != whole else ""}"'


def _cell(english: Sequence[str], index: int) -> str:
    """English cell ``index`` (0-based) as a problem names it: number and first words."""
    return f"cell {index + 1} {_words(english[index])}"


def _shared(order: list[str], other: list[str]) -> list[str]:
    """The stamps of ``order`` that ``other`` also holds (as often as both do), in order."""
    left = Counter(order) & Counter(other)
    kept = []
    for s in order:
        if left[s]:
            left[s] -= 1
            kept.append(s)
    return kept


def _moved(english: list[str], found: list[str]) -> set[str]:
    """Stamps in both lists whose sections are out of the English order."""
    ordered = _shared(english, found)
    matcher = SequenceMatcher(None, ordered, _shared(found, english), autojunk=False)
    kept = Counter()
    for block in matcher.get_matching_blocks():
        kept.update(ordered[block.a : block.a + block.size])
    return set(Counter(ordered) - kept)


def _in_english_order(english: list[str], found: list[str]) -> list[str]:
    """``found`` with the stamps it shares with ``english`` put in the English order."""
    queue = iter(_shared(english, found))
    left = Counter(english) & Counter(found)
    aligned = []
    for s in found:
        if left[s]:
            left[s] -= 1
            s = next(queue)
        aligned.append(s)
    return aligned


def _problems(stage: Stage, lang: str) -> list[str]:
    path = _shown(sidecar(stage, lang))
    english = _english(stage)
    try:
        found = sections(stage, lang)
    except RunError as e:
        return [str(e)]
    where = f"stage {stage.number} ({path})"
    problems = [
        f"{where}: the section at line {s.line} is empty; write the translation under its marker"
        for s in found
        if not s.text.strip()
    ]
    wanted = [stamp(text) for text in english]
    stamps = [s.stamp for s in found]
    index = {s: i for i, s in reversed(list(enumerate(wanted)))}
    for moved in sorted(_moved(wanted, stamps), key=index.__getitem__):
        i, j = index[moved], stamps.index(moved)
        problems.append(
            f"{where}: {_cell(english, i)} is translated out of order: its section "
            f"<!-- {SOURCE}:{moved} --> is number {j + 1} (line {found[j].line}); "
            f"move it to be number {i + 1}, so the sections follow the English cells"
        )
    aligned = _in_english_order(wanted, stamps)
    opcodes = SequenceMatcher(None, wanted, aligned, autojunk=False).get_opcodes()
    for op, a0, a1, b0, b1 in opcodes:
        if op == "equal":
            continue
        edited = min(a1 - a0, b1 - b0) if op == "replace" else 0
        for i, j in zip(range(a0, a0 + edited), range(b0, b0 + edited), strict=True):
            problems.append(
                f"{where}: {_cell(english, i)} was edited since it was translated "
                f"(translated from {SOURCE}:{found[j].stamp}, now {SOURCE}:{wanted[i]}); "
                f"update the translation and change its marker to {marker(english[i])}"
            )
        for i in range(a0 + edited, a1):
            after = f"after the section for cell {i}" if i else "at the top"
            problems.append(
                f"{where}: {_cell(english, i)} is new and has no translation; add a section "
                f"{marker(english[i])} {after}"
            )
        for j in range(b0 + edited, b1):
            problems.append(
                f"{where}: the section at line {found[j].line} ({SOURCE}:{found[j].stamp}, "
                f"{_words(found[j].text)}) matches no English cell: its cell was removed; "
                "delete the section"
            )
    return problems


# One term per concept: ``stages/zh/glossary.toml`` gives each concept its Chinese term and the
# variants that must not appear in its place, in the narratives and in the interface's catalog.

CODE_SPAN = re.compile(r"``(.+?)``", re.DOTALL)  # inline code: never checked for terms


def glossary_path(lang: str = "zh") -> Path:
    return stage_dir() / lang / "glossary.toml"


def glossary(lang: str = "zh") -> list[dict]:
    """The glossary's entries, in file order: each with ``en``, ``zh`` and ``avoid``."""
    with glossary_path(lang).open("rb") as f:
        return tomllib.load(f)["term"]


def avoided(text: str, terms: list[dict]) -> list[tuple[str, str]]:
    """``(variant, term)`` for each avoided variant that ``text`` uses instead of the term.

    ``code`` spans are not checked, and a variant that lies inside one of the glossary's own
    terms does not count (批量 inside 小批量 is the term itself, not the variant).
    """
    text = CODE_SPAN.sub(" ", text)
    allowed = [(m.start(), m.end()) for t in terms for m in re.finditer(re.escape(t["zh"]), text)]
    found = []
    for term in terms:
        for variant in term["avoid"]:
            for m in re.finditer(re.escape(variant), text):
                if not any(a <= m.start() and m.end() <= b for a, b in allowed):
                    found.append((variant, term["zh"]))
    return found


def off_glossary(stage: Stage, lang: str = "zh") -> list[str]:
    """One problem per narrative cell of ``stage`` that uses an avoided variant."""
    terms = glossary(lang)
    return [
        f"stage {stage.number} ({_shown(sidecar(stage, lang))}) cell {number}: use "
        + ", ".join(f"{term} for {variant}" for variant, term in found)
        + f" ({_shown(glossary_path(lang))})"
        for number, text in enumerate(narrative(stage, lang), 1)
        if (found := avoided(text, terms))
    ]


def out_of_step(stage: Stage) -> list[str]:
    """One readable problem per place where a translation of ``stage`` lags its English."""
    others = [lang for lang in LANGUAGES if lang != SOURCE]
    return [p for lang in others for p in _problems(stage, lang) or off_glossary(stage, lang)]


def main(argv: Sequence[str] | None = None, prog: str = "python -m nnreally.translations") -> int:
    """``--check``: list every stage's translation problems (exit 1); ``--stamps NN``: markers."""
    parser = Parser(
        prog=prog, description="Check the translated narratives against the stage files."
    )
    task = parser.add_mutually_exclusive_group(required=True)
    task.add_argument(
        "--check", action="store_true", help="list the translations that lag the English; exit 1"
    )
    task.add_argument(
        "--stamps", metavar="NN", help="print a stage's markers, one per English cell, to translate"
    )
    return guarded(prog, lambda: _run(parser.parse_args(argv)))


def _run(args) -> int:
    if args.stamps is not None:
        stage = find(args.stamps)
        for number, text in enumerate(_english(stage), start=1):
            print(f"{number:2d}  {marker(text)}  {text.splitlines()[0]}")
        return 0
    stages = all_stages()
    problems = [p for stage in stages for p in out_of_step(stage)]
    for problem in problems:
        print(problem)
    if problems:
        return 1
    others = ", ".join(lang for lang in LANGUAGES if lang != SOURCE)
    print(f"{len(stages)} stages: the {others} narrative is in step with the English")
    return 0


if __name__ == "__main__":
    sys.exit(main())
