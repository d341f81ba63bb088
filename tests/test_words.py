"""The ASCII ways of finding words (string methods in C) find exactly what the regular
expressions that define a word find: the index, typo tolerance and story signatures
depend on it, so they are compared on tricky texts and on many random ones."""

from __future__ import annotations

import random
import re

import pytest

from clipsearch.index import signatures
from clipsearch.index.analysis import ClipAnalyzer, LanguageText, positions
from clipsearch.words import (
    SURFACE_WORD,
    TOKEN,
    ascii_surface_words,
    ascii_tokens,
    ascii_words,
    surface_words,
)

WORD = re.compile(r"\w+")

TRICKY = [
    "",
    ".",
    "...",
    "U.S.",
    "u.s. economy",
    "a..b",
    "a...b",
    "a....b",
    ".a.b.",
    "a.b..c.d",
    "a. .b",
    "a._b",
    "3.5% of 1,000.00",
    "end. Start",
    "snake_case_word and __dunder__",
    "tab\tnew\nline\x1funit\x0bsep\x0cff\x1c",
    "e-mail, don't; co-op: (x) [y] {z} <w> ~q` ^r @s #t $u &v *w +x =y |z \\a /b ?c !d",
    "ab covid19 x2 abc1def 12ab",
]

ASCII = "".join(chr(c) for c in range(128))
NEAR = "ab1_. .,-'\n\tXy"  # the characters that make the hard cases, often


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        pool = NEAR if k % 2 else ASCII
        out.append("".join(rng.choice(pool) for _ in range(rng.randint(0, 16))))
    return out


def _same(text: str) -> bool:
    return (
        ascii_tokens(text) == TOKEN.findall(text)
        and ascii_words(text) == WORD.findall(text)
        and ascii_surface_words(text) == set(SURFACE_WORD.findall(text))
    )


@pytest.mark.parametrize("text", TRICKY)
def test_ascii_ways_find_what_the_patterns_find(text: str) -> None:
    assert ascii_tokens(text) == TOKEN.findall(text)
    assert ascii_words(text) == WORD.findall(text)
    assert ascii_surface_words(text) == set(SURFACE_WORD.findall(text))


def test_ascii_ways_find_what_the_patterns_find_in_random_texts() -> None:
    assert [t for t in _random_texts(50_000, 8) if not _same(t)] == []


def test_a_text_with_curly_punctuation_has_the_words_of_the_pattern() -> None:
    text = "\u201cIt\u2019s 3.5\u2014or 4\u2026\u201d, the U.S. said \u2013 Zürich"
    plain = "\u201cIt\u2019s 3.5\u2014or 4\u2026\u201d the U.S. said"
    assert signatures.tokens(text) == WORD.findall(text.casefold())
    assert signatures.tokens(plain) == WORD.findall(plain.casefold())
    assert "zürich" in signatures.tokens(text)  # not the ASCII way: other letters
    assert surface_words([plain]) == {"the", "said"}


@pytest.mark.parametrize("text", TRICKY + ["The U.S. grew... a.b..c. 3.5 x_y end."])
def test_positions_of_ascii_text_are_the_analyzer_chains(text: str) -> None:
    value = LanguageText(text, "en")
    chain: dict[str, list[int]] = {}
    for token in ClipAnalyzer()(value, positions=True):
        chain.setdefault(token.text, []).append(token.pos)
    assert positions(value) == chain


def test_number_features_are_the_words_with_a_digit() -> None:
    feats = signatures.features("Wordle 321 answer", "", "covid19 cases x_y")
    assert {f for f in feats if f.startswith(b"#")} == {b"#321", b"#covid19"}
