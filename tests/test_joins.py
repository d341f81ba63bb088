"""Joined words ("facialrecognition") and split words ("face book"), issue 15."""

from __future__ import annotations

import pytest
from conftest import SEED_ID

from clipsearch import open_index


@pytest.fixture(scope="module")
def joins_index(tmp_path_factory):
    from conftest import write_clip

    from clipsearch import update_index

    root = tmp_path_factory.mktemp("joins")
    clips = {
        "joined.md": dict(title="Facebook rolls out new privacy tools", excerpt="Settings."),
        "pair.md": dict(title="Face book of portraits", excerpt="A painter's face book."),
        "faces.md": dict(title="Recognition of faces", excerpt="Facial work and recognition."),
        "phrase.md": dict(title="Facial recognition bans spread", excerpt="Cities act."),
        "glued.md": dict(title="Nightfall returns", excerpt="A nightfall story."),
        "covid.md": dict(title="Covid 19 cases fall", excerpt="Hospital numbers."),
        "night.md": dict(title="Night and fall colours", excerpt="Autumn night."),
        "slip.md": dict(title="Tape sorting", excerpt="Merge methodsfor tapes."),  # a slip
        "methods.md": dict(title="Sorting methods compared", excerpt="Tapes and drums."),
    }
    for n in range(12):
        clips[f"f{n:02d}.md"] = dict(
            title=f"Facebook news {n}", excerpt=f"Social network story {n} on covid."
        )
    for rel, kwargs in clips.items():
        write_clip(root / "clips" / rel, **kwargs)
    report = update_index([root / "clips"], root / "index")
    assert report.ok, report.skipped
    with open_index(root / "index") as idx:
        yield idx


def titles(res):
    return [h.title for h in res.hits]


def test_joined_word_is_searched_as_a_phrase_and_reported(joins_index):
    res = joins_index.search("facialrecognition")
    assert res.corrections == {"facialrecognition": "facial recognition"}
    # as a phrase first, then (weaker) both words apart
    assert titles(res) == ["Facial recognition bans spread", "Recognition of faces"]
    assert res.hits[0].score > res.hits[1].score


def test_joined_word_with_digits(joins_index):
    res = joins_index.search("covid19")
    assert res.corrections == {"covid19": "covid 19"}
    assert titles(res)[0] == "Covid 19 cases fall"


def test_split_words_are_searched_as_the_joined_word(joins_index):
    res = joins_index.search("face book", limit=50)
    assert res.corrections == {"face book": "facebook"}
    found = titles(res)
    assert "Facebook rolls out new privacy tools" in found
    # the pair as typed outranks the joined word
    assert found[0] == "Face book of portraits"
    assert res.match == "all"  # the joined word counts as both words


def test_exact_outranks_a_join(joins_index):
    # "nightfall" is in the index: its split is not searched (it is not rare next to it)
    res = joins_index.search("nightfall")
    assert res.corrections == {}
    assert titles(res) == ["Nightfall returns"]
    res = joins_index.search("night fall")
    assert res.corrections == {"night fall": "nightfall"}
    assert titles(res)[0] == "Night and fall colours"
    assert res.hits[0].score > res.hits[1].score


@pytest.mark.parametrize(
    "query",
    ['"facialrecognition"', "title:facialrecognition", '"face book"', "title:face book"],
)
def test_never_inside_quotes_or_field_terms(joins_index, query):
    res = joins_index.search(query)
    assert "facialrecognition" not in res.corrections
    assert "face book" not in res.corrections


def test_not_adjacent_words_are_not_joined(joins_index):
    res = joins_index.search('face "x" book')
    assert "face book" not in res.corrections


def test_exact_turns_joins_off(joins_index):
    res = joins_index.search("facialrecognition", exact=True)
    assert res.total == 0 and res.corrections == {}


def test_a_stop_word_is_never_half_of_a_split_word(joins_index):
    # "methodsfor" is in the index (a slip in one clip), but "for" is a stop word
    res = joins_index.search("sorting methods for tapes")
    assert res.corrections == {}
    assert titles(res)[0] == "Sorting methods compared"


def test_numbers_are_not_split(joins_index):
    assert joins_index.search("1919").corrections == {}


def test_corpus_join(idx):
    res = idx.search("facialrecognition")
    assert res.corrections == {"facialrecognition": "facial recognition"}
    assert SEED_ID in [h.id for h in res.hits]
