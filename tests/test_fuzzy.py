"""Behaviour of the typo-candidate generator, checked against a full OSA scan."""

from __future__ import annotations

import dataclasses
import random

import pytest
from rapidfuzz import process
from rapidfuzz.distance import OSA

from clipsearch.search import fuzzy
from clipsearch.search.fuzzy import FIRST_LETTER_PENALTY, Candidate, TypoIndex, max_edits

NEWS = {
    "recognition": 55,
    "recognitions": 1,
    "facial": 10,
    "face": 400,
    "government": 975,
    "governments": 117,
    "governor": 80,
    "nation": 300,
    "motion": 20,
    "covid": 500,
    "covid19": 900,
    "2022": 20000,
}


def words(index: TypoIndex, typed: str, limit: int = 3) -> list[str]:
    return [c.word for c in index.candidates(typed, limit)]


@pytest.fixture
def news() -> TypoIndex:
    return TypoIndex(NEWS)


# --- typo kinds ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("recogniton", "recognition"),  # deletion
        ("goverment", "government"),  # deletion
        ("governmwent", "government"),  # insertion of a neighbouring key
        ("facisl", "facial"),  # substitution by a neighbouring key
        ("faical", "facial"),  # adjacent transposition
        ("reocgnition", "recognition"),  # transposition near the start
        ("fcaial", "facial"),  # transposition of the 2nd and 3rd letters
        ("fcial", "facial"),  # second letter dropped
        ("fqacial", "facial"),  # letter inserted second
        ("fxcial", "facial"),  # second letter substituted
        ("ogvernment", "government"),  # first two letters swapped
        ("hovernment", "government"),  # first letter substituted
        ("overnment", "government"),  # first letter dropped
        ("fgovernment", "government"),  # extra letter typed first
        ("goverrnmet", "government"),  # two edits in a long word
    ],
)
def test_realistic_typos_are_found_first(news: TypoIndex, typed: str, meant: str) -> None:
    assert words(news, typed)[0] == meant


def test_candidate_fields(news: TypoIndex) -> None:
    best = news.candidates("faical")[0]
    assert best == Candidate(word="facial", edits=1, df=10, cost=1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        best.edits = 0  # type: ignore[misc]
    moved = news.candidates("hovernment")[0]
    assert (moved.word, moved.edits, moved.cost) == ("government", 1, 1 + FIRST_LETTER_PENALTY)


def test_transposition_is_one_edit(news: TypoIndex) -> None:
    assert news.candidates("reocgnition", limit=1)[0].edits == 1


def test_never_proposes_the_word_itself(news: TypoIndex) -> None:
    assert "government" not in words(news, "government", limit=10)
    assert words(news, "government") == ["governments"]


def test_typed_word_is_lowercased(news: TypoIndex) -> None:
    assert words(news, "Facail") == ["facial"]


def test_limit(news: TypoIndex) -> None:
    assert words(news, "governmen", limit=1) == ["government"]
    assert news.candidates("goverment", limit=0) == []


# --- thresholds ------------------------------------------------------------


def test_default_thresholds_one_edit_from_4_two_from_9() -> None:
    # Chosen by measurement on known-item typo queries (see the query layer's notes).
    assert (fuzzy.ONE_EDIT_FROM, fuzzy.TWO_EDITS_FROM) == (4, 9)
    assert [max_edits("x" * n) for n in range(1, 13)] == [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2]


def test_thresholds_can_be_tuned() -> None:
    typesense = {"one_edit_from": 4, "two_edits_from": 7}
    assert [max_edits("x" * n, **typesense) for n in (3, 4, 6, 7)] == [0, 1, 1, 2]


def test_module_constants_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzzy, "ONE_EDIT_FROM", 5)
    assert max_edits("face") == 0


def test_short_words_are_not_corrected(news: TypoIndex) -> None:
    assert news.candidates("fce") == []  # 3 letters: "face" is one edit away
    assert words(news, "fase") == ["face"]  # 4 letters get one edit
    assert TypoIndex(NEWS, one_edit_from=5).candidates("fase") == []


def test_two_edits_only_from_nine_letters() -> None:
    index = TypoIndex({"abcdefgh": 1, "abcdefghi": 1})
    assert index.candidates("abxdexgh") == []  # 8 letters, 2 edits
    assert words(index, "abxdefgh") == ["abcdefgh"]  # 8 letters, 1 edit
    assert words(index, "abxdexghi") == ["abcdefghi"]  # 9 letters, 2 edits
    assert index.candidates("abxdexgxi") == []  # 3 edits


# --- ranking ---------------------------------------------------------------


def test_changed_first_letter_ranks_after_same_edits() -> None:
    index = TypoIndex({"nation": 1000, "motion": 1})
    ranked = index.candidates("mation")
    assert [(c.word, c.cost) for c in ranked] == [("motion", 1.0), ("nation", 1.5)]


def test_fewer_edits_beat_the_first_letter_penalty() -> None:
    # Three same-first-letter words two edits away must not crowd it out.
    vocab = {"government": 1, "hovernmxnz": 1000, "hovernmentxy": 900, "hxvernmenz": 800}
    assert words(TypoIndex(vocab), "hovernment") == ["government", "hovernmxnz", "hovernmentxy"]


def test_df_breaks_ties_then_the_word() -> None:
    index = TypoIndex({"facial": 10, "faisal": 23, "fatical": 3, "faecal": 3})
    assert words(index, "faical", limit=4) == ["faisal", "facial", "faecal", "fatical"]


# --- digits ----------------------------------------------------------------


@pytest.mark.parametrize("typed", ["covid1", "covid19x", "2021", "20222", "h5n1x", "covld19"])
def test_words_with_digits_are_never_corrected(news: TypoIndex, typed: str) -> None:
    assert news.candidates(typed) == []


def test_words_with_digits_are_never_proposed(news: TypoIndex) -> None:
    index = TypoIndex({"abcdefg": 1, "abcdef9": 1000})
    assert words(index, "abcdefx") == ["abcdefg"]
    assert "abcdef9" in index and index.df("abcdef9") == 1000


# --- the vocabulary ----------------------------------------------------------


def test_len_contains_df(news: TypoIndex) -> None:
    assert len(news) == len(NEWS)
    assert "facial" in news and "facal" not in news
    assert news.df("government") == 975
    assert news.df("goverment") == 0


def test_update_adds_overwrites_and_removes(news: TypoIndex) -> None:
    assert words(news, "facjal") == ["facial"]
    news.update({"facail": 1, "fecjal": 2000, "covid": 7})
    assert len(news) == len(NEWS) + 2
    assert words(news, "facjal") == ["fecjal", "facial"]  # the new word, by df
    assert words(news, "facail") == ["facial"]  # the word itself is never proposed
    assert news.df("covid") == 7

    news.update({"fecjal": 0, "facial": 0, "absent": 0, "covid19": 0})
    assert "fecjal" not in news and "covid19" not in news
    assert len(news) == len(NEWS) - 1
    assert news.candidates("facjal") == []

    news.update({"facial": 5})
    assert news.candidates("facjal") == [Candidate("facial", 1, 5, 1.0)]


def test_empty_vocabulary() -> None:
    index = TypoIndex({})
    assert len(index) == 0
    assert index.candidates("goverment") == []


# --- against a full scan -----------------------------------------------------


def _typo(word: str, rng: random.Random, alphabet: str) -> str:
    i = rng.randrange(len(word))
    kind = rng.randrange(4)
    if kind == 0 and len(word) > 1:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + rng.choice(alphabet) + word[i:]
    if kind == 2 or len(word) < 2:
        return word[:i] + rng.choice(alphabet) + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _first_letter_typo_keeps_pair(typed: str, word: str) -> bool:
    """The documented guarantee for a changed first letter with two edits:
    the word's 2nd-3rd letters are where that first-letter typo leaves them."""
    n = len(typed)
    probes = ((typed[1:3], n), (typed[0] + typed[2], n), (typed[0:2], n + 1), (typed[2:4], n - 1))
    return any(
        len(pair) == 2 and word[1:3] == pair and abs(len(word) - m) <= 1 for pair, m in probes
    )


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, int], list[str]]:
    """A few thousand words over a small alphabet, dense enough that most
    queries have neighbours within one and two edits, with clustered families
    (a stem plus its typos) as in real vocabularies."""
    rng = random.Random(20240501)
    alphabet = "abcdefg"
    vocab: dict[str, int] = {}
    while len(vocab) < 3000:
        stem = "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 12)))
        vocab[stem] = rng.randint(1, 50)
        for _ in range(rng.randint(0, 3)):
            vocab[_typo(stem, rng, alphabet)] = rng.randint(1, 50)
    queries = []
    for word in rng.sample(sorted(vocab), 1000):
        typed = word
        for _ in range(rng.randint(1, 2)):
            typed = _typo(typed, rng, alphabet)
        queries.append(typed)
    queries += rng.sample(sorted(vocab), 100)  # correctly spelled words
    return vocab, queries


@pytest.mark.parametrize("thresholds", [(5, 9), (4, 7), (2, 3)], ids=["meili", "typesense", "low"])
def test_matches_a_full_scan(
    generated: tuple[dict[str, int], list[str]], thresholds: tuple[int, int]
) -> None:
    vocab, queries = generated
    one, two = thresholds
    index = TypoIndex(vocab, one_edit_from=one, two_edits_from=two)
    everything = list(vocab)
    checked = {"same": 0, "one edit": 0, "changed, two edits": 0}
    for typed in queries:
        k = max_edits(typed, one_edit_from=one, two_edits_from=two)
        got = {c.word: c for c in index.candidates(typed, limit=len(vocab))}
        if k == 0:
            assert got == {}
            continue
        scan = {
            word: dist
            for word, dist, _ in process.extract(
                typed, everything, scorer=OSA.distance, score_cutoff=k, limit=None
            )
            if word != typed
        }
        # Nothing outside the reach, and each figure right.
        for word, c in got.items():
            assert scan[word] == c.edits
            assert c.df == vocab[word]
            assert c.cost == c.edits + (0 if word[0] == typed[0] else FIRST_LETTER_PENALTY)
        # Same first letter: exactly what the full scan finds.
        same = {w for w in scan if w[0] == typed[0]}
        assert same == {w for w in got if w[0] == typed[0]}, typed
        checked["same"] += len(same)
        if k == 1 and len(typed) >= 4:  # one edit: everything, whatever the first letter
            assert set(scan) == set(got), typed
            checked["one edit"] += len(scan)
        elif k == 2:
            promised = {
                w for w in scan if w[0] != typed[0] and _first_letter_typo_keeps_pair(typed, w)
            }
            assert promised <= set(got), typed
            checked["changed, two edits"] += len(promised)
        # The pruned top 3 is the top 3 of the full list.
        ranked = sorted(got.values(), key=lambda c: (c.cost, -c.df, c.word))
        assert index.candidates(typed) == ranked[:3]
    # The check is not vacuous (with the low thresholds, no 4+ letter word has one edit).
    expected = ["same", "changed, two edits"] + (["one edit"] if two > 4 else [])
    assert all(checked[name] > 100 for name in expected), checked


def test_candidates_do_not_scan_the_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cost is bounded by bucket sizes, not the vocabulary: count the words
    handed to rapidfuzz per typed word."""
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"".join(rng.choices(letters, k=rng.randint(3, 14))): 1 for _ in range(5000)}
    index = TypoIndex(vocab)
    scored = 0
    real_extract = fuzzy._Scorers.load().extract

    def counting_extract(query, choices, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal scored
        scored += len(choices)
        return real_extract(query, choices, **kwargs)

    monkeypatch.setattr(fuzzy._Scorers, "extract", counting_extract)
    queries = [w[:-1] + "z" for w in list(vocab)[:300] if max_edits(w)]
    for typed in queries:
        index.candidates(typed)
    assert scored / len(queries) < 0.02 * len(vocab)
