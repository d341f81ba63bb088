"""Plain words are parsed without Whoosh's taggers (compile.py builds what they would)
and a query word of ASCII letters and digits is analysed without the analyzer's token
chain (postings.Terms): every query must come out exactly as the parser and the
analyzer make it, and only such words may take those ways."""

from __future__ import annotations

from typing import Any

import pytest
from whoosh import query

from clipsearch.index import Snapshot
from clipsearch.index import compile as compiling
from clipsearch.index.analysis import text_analyzer

TEXTS = [
    "facial recognition",
    "  police   facial recognition  ",
    "recognition",
    "face book face",
    "Zürich 2024 naïve café",
    "東京 tower",
    "１２３ ｆｕｌｌ",
    "tab\tand\u3000ideographic space",
    "and or not",  # lowercase: words, not operators
    "NATO summit",
    # not plain: the parser reads them
    "police AND facial",
    "NOT police",
    "police OR facial",
    "police ANDNOT facial",
    "facial NEAR/3 police",
    '"facial recognition"',
    "title:police",
    "recog*",
    "recogniton, police",
    "(police facial)",
    "x_y z",
]


def _tree(q: Any) -> Any:
    """A query tree with every attribute of every node (places in the text included)."""
    attrs = {k: v for k, v in vars(q).items() if k not in ("subqueries", "a", "b", "query")}
    children = [_tree(c) for c in getattr(q, "subqueries", ())]
    return type(q).__name__, attrs, children


def _parsed(snap: Any, text: str, implicit_and: bool) -> Any:
    p = snap.parse(text, implicit_and=implicit_and)
    return (
        _tree(p._q),
        p.words,
        p.word_count,
        p.pairs,
        p.has_operators,
        p.is_plain,
        repr(p.compile().q),
        [(repr(e.q), None if o is None else repr(o.q)) for e, o in p.word_queries()],
    )


@pytest.fixture(scope="module")
def snap(corpus: Any) -> Any:
    s = Snapshot(str(corpus.index))
    yield s
    s.close()


@pytest.mark.parametrize("implicit_and", [False, True])
@pytest.mark.parametrize("text", TEXTS)
def test_plain_words_parse_as_the_parser_parses_them(
    snap: Any, text: str, implicit_and: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _parsed(snap, text, implicit_and)
    monkeypatch.setattr(compiling, "_only_words", lambda _text: False)
    assert direct == _parsed(snap, text, implicit_and)


def test_only_plain_words_skip_the_parser() -> None:
    plain = [t for t in TEXTS if compiling._only_words(t)]
    assert plain == TEXTS[:10]
    assert not compiling._only_words("   ")
    raw = compiling._plain_words(" a  bc ", query.Or)
    assert [(t.text, t.startchar, t.endchar) for t in raw.subqueries] == [("a", 1, 2), ("bc", 4, 6)]


WORDS = ["recognition", "Running", "USA", "the", "The", "AND", "covid19", "2024", "x", "cats",
         "Facebook", "naïve", "Zürich", "u.s.", "covid-19", "東京", "x_y", "Москве", "día"]


@pytest.mark.parametrize("language", ["en", "und", "de", "ru", "es", "ja"])
def test_a_word_is_analysed_as_the_analyzer_analyses_it(snap: Any, language: str) -> None:
    """Terms analyses a word of ASCII letters and digits without the token chain:
    the same tokens, stop words dropped, stems, in every language."""
    terms, chain = snap._terms, text_analyzer()
    for word in WORDS:
        assert terms._analyze(word, language) == chain.analyze(word, language), word
