"""Phrases are checked on positions read for the candidate documents only
(scoring.py): the documents they match must be those Whoosh's own phrase matcher
finds, for every slop, repeated words, phrases of several words, in segments with
and without deleted clips."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import write_clip, write_corpus
from whoosh import query

from clipsearch import update_index
from clipsearch.index import Snapshot

TEXTS = [
    "solar panel prices fall as solar panel makers expand",
    "the panel on solar energy met; solar and wind panel",
    "panel solar panel solar solar panel",
    "facial recognition systems and recognition of facial features",
    "new new york new york city",
    "vaccine panel vaccine trial panel vaccine",
]


def _whoosh_docs(snap: Snapshot, q: query.Phrase) -> list[int]:
    """The documents Whoosh's phrase matcher accepts, deleted ones left out."""
    searcher = snap._searcher
    return sorted(d for d in searcher.docs_for_query(q) if not searcher.reader().is_deleted(d))


def _phrases() -> list[query.Phrase]:
    words = ["solar", "panel", "new", "york", "facial", "recognit", "vaccin", "trial"]
    out = []
    for field in ("title", "excerpt"):
        for n in (2, 3):
            for combo in itertools.product(words[:4] if n == 3 else words, repeat=n):
                for slop in (1, 2, 4):
                    out.append(query.Phrase(field, list(combo), slop=slop))
    return out


@pytest.fixture
def index(tmp_path: Path) -> Path:
    root = write_corpus(tmp_path / "clips")
    for k, text in enumerate(TEXTS):
        write_clip(root / f"phrase{k}.md", title=text, excerpt=" ".join(reversed(text.split())))
    out = tmp_path / "index"
    assert update_index([root], out).ok
    return out


def _check(index: Path) -> None:
    snap = Snapshot(str(index))
    try:
        for q in _phrases():
            assert snap._scorer._phrase_check(q).tolist() == _whoosh_docs(snap, q), q
    finally:
        snap.close()


def test_phrases_match_what_whoosh_matches(index: Path) -> None:
    _check(index)


def test_phrases_match_what_whoosh_matches_with_deleted_clips(index: Path) -> None:
    root = index.parent / "clips"
    (root / "phrase0.md").unlink()
    write_clip(root / "phrase9.md", title="york new new york solar solar panel")
    assert update_index([root], index).ok
    snap = Snapshot(str(index))
    try:
        assert snap._reader.has_deletions()
    finally:
        snap.close()
    _check(index)


def test_a_search_checks_each_phrase_once(index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A split-word correction is a phrase under the word's match rule, the query's
    match and its scoring: its positions are read once per search, not per use."""
    from clipsearch import open_index
    from clipsearch.index.scoring import Scorer

    checked: list[tuple[str, tuple[str, ...], int]] = []
    check = Scorer._phrase_check

    def counting(self: Scorer, q: query.Phrase) -> object:
        checked.append((q.fieldname, tuple(q.words), q.slop))
        return check(self, q)

    monkeypatch.setattr(Scorer, "_phrase_check", counting)
    with open_index(index) as idx:
        first = idx.search("solarpanel prices")
        assert first.corrections == {"solarpanel": "solar panel"}
        assert first.hits
        assert checked and len(checked) == len(set(checked))
        checked.clear()
        again = idx.search("solarpanel prices")  # per search: a new search checks again
        assert checked and len(checked) == len(set(checked))
        assert [(h.id, h.score) for h in again.hits] == [(h.id, h.score) for h in first.hits]
