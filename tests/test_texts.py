"""The interface's catalogs: the same keys and placeholders in every language, and the language
a reader gets."""

from __future__ import annotations

import re
import string

import pytest

from nnreally import texts
from nnreally.registry import all_stages
from nnreally.translations import avoided, glossary

# What one language may leave blank: the link to the Chinese translation (only Chinese pages
# have it), and the space between sentences (Chinese has none).
MAY_BE_BLANK = {"book.translation", "book.sentence_sep"}


def fields(value: object) -> set[str]:
    if isinstance(value, list):
        return set().union(*(fields(v) for v in value))
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


def test_every_language_has_every_key_with_the_same_placeholders():
    english = texts.catalog("en")
    for lang in texts.LANGUAGES:
        other = texts.catalog(lang)
        assert other.keys() == english.keys(), lang
        for key, value in english.items():
            if key in MAY_BE_BLANK and not (value.strip() and other[key].strip()):
                continue
            assert fields(other[key]) == fields(value), (lang, key)
            assert type(other[key]) is type(value), (lang, key)
            if isinstance(value, list):
                assert len(other[key]) == len(value), (lang, key)
            else:
                assert other[key].strip(), (lang, key)


def test_the_check_catches_a_missing_placeholder():
    assert fields("epoch {epoch}: {seconds} s") == {"epoch", "seconds"}
    assert fields("第 {epoch} 轮") != fields("epoch {epoch}: {seconds} s")


def test_every_stage_has_a_title_in_every_language():
    for lang in texts.LANGUAGES:
        for stage in all_stages():
            assert f"titles.{stage.name}" in texts.catalog(lang), (lang, stage.name)
    assert texts.words("zh").title("my_own_copy") == "my own copy"  # a file outside the list


def test_chinese_interface_is_chinese():
    cjk = re.compile(r"[\u4e00-\u9fff]")
    english = texts.catalog("en")
    for key, value in texts.catalog("zh").items():
        if isinstance(value, str) and cjk.search(
            english[key] if isinstance(english[key], str) else ""
        ):
            pytest.fail(f"en.toml {key} holds Chinese")
    said = texts.words("zh")
    assert cjk.search(said("run.epoch", epoch=1, train=1, valid_loss=1, valid_acc=1, seconds=1))


def test_an_unknown_language_is_one_line():
    with pytest.raises(texts.UsageError, match="unknown language 'fr'"):
        texts.catalog("fr")


def test_the_chinese_interface_uses_the_glossary_terms():
    terms = glossary()
    for key, value in texts.catalog("zh").items():
        for text in value if isinstance(value, list) else [value]:
            assert not avoided(text, terms), (key, avoided(text, terms))
