"""The interface's words, one catalog per language: ``catalogs/en.toml``, ``catalogs/zh.toml``.

Every word nnreally shows a reader besides the stage narratives (the lines a run prints, the
stage titles, the book's pages, the pictures' labels, the summary page, the notebooks' titles)
is looked up here by key, ``words("book.site")``; a test fails when a key or a placeholder is
missing in either language. Error messages stay English, in the code that raises them. Which
language a reader gets: ``--lang``, else ``$NNREALLY_LANG``, else Chinese under a ``zh_*``
locale, else English.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

from nnreally.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover  (Python 3.10)
    import tomli as tomllib

SOURCE = "en"  # the language the stage files are written in
LANGUAGES = (SOURCE, "zh")
CATALOGS = Path(__file__).with_name("catalogs")
LANG_VARIABLE = "NNREALLY_LANG"  # the reader's language, when --lang does not say
# Where a locale names the language of messages; as POSIX has it, the first one set decides.
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")
CHINESE_LOCALE = re.compile(r"zh(?:[_.@]|$)", re.IGNORECASE)  # zh_CN.UTF-8, zh_TW, zh.UTF-8, zh


def default_language(environ: Mapping[str, str] = os.environ) -> str:
    """The reader's language when none is asked for: ``$NNREALLY_LANG`` if set, else ``zh``
    under a Chinese locale (``LANG=zh_CN.UTF-8``; ``LC_ALL`` and ``LC_MESSAGES`` come first),
    else English."""
    chosen = environ.get(LANG_VARIABLE, "").strip()
    if chosen:
        if chosen.lower() not in LANGUAGES:
            raise UsageError(
                f"{LANG_VARIABLE}={chosen!r} is not a language here (choose from "
                f"{', '.join(LANGUAGES)})"
            )
        return chosen.lower()
    locale = next((environ[name] for name in LOCALE_VARIABLES if environ.get(name)), "")
    return "zh" if CHINESE_LOCALE.match(locale) else SOURCE


@cache
def catalog(lang: str) -> dict[str, object]:
    """The catalog of ``lang`` as one flat table: ``{"book.site": "...", ...}``."""
    if lang not in LANGUAGES:
        raise UsageError(f"unknown language {lang!r} (the languages are {', '.join(LANGUAGES)})")
    with open(CATALOGS / f"{lang}.toml", "rb") as f:
        return dict(_flat(tomllib.load(f)))


def _flat(table: Mapping[str, object], prefix: str = ""):
    for key, value in table.items():
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


class Words:
    """The words of one language: ``words("run.data", data=...)`` fills in the placeholders."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.table = catalog(lang)

    def __call__(self, key: str, **values: object) -> str:
        text = self.table[key]
        return text.format(**values) if values else text

    def list(self, key: str) -> list[str]:
        return list(self.table[key])

    def title(self, name: str) -> str:
        """A stage's title (``raw_tensors``: "raw tensors"); a stage outside the catalog (a
        learner's file) keeps its file's name with spaces."""
        return self.table.get(f"titles.{name}", name.replace("_", " "))


@cache
def words(lang: str = SOURCE) -> Words:
    """The ``Words`` of ``lang``."""
    return Words(lang)


def saying(key: str, **values: object) -> Callable[[str], str]:
    """The catalog text ``key`` with ``values``, to be said in whichever language is asked:
    ``saying("run.untimed_start", what=...)("zh")``."""
    return lambda lang: words(lang)(key, **values)
