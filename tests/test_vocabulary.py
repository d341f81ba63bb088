"""The vocabulary file beside each commit (index/vocabulary.py): the words, their
document frequencies and the typo buckets, opened by memory-mapping.  Its candidates
are exactly those of the buckets built in memory; missing, damaged or another
commit's files are never used (the search rebuilds the vocabulary from the stored
fields and answers the same); a kill while it is written leaves the last commit
searchable and the next run completes."""

from __future__ import annotations

import pickle
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_clip

from clipsearch import open_index, update_index
from clipsearch.index import vocabulary
from clipsearch.index.storage import latest_generation, read_vocabulary
from clipsearch.search.fuzzy import StoredTypoIndex, TypoIndex

TYPOS = [
    "vacine",
    "vaccinne",
    "solr",
    "pannel",
    "faical",
    "recogniton",
    "ballto",
    "gdrp",
    "climat",
    "electon",
    "reuter",
    "goverment",
    "harbuor",
]


def _answers(index: Path) -> list:
    """Corrections, did-you-mean and hits of typo queries (and a few clean ones)."""
    with open_index(index) as idx:
        out = []
        for q in TYPOS + [" ".join(TYPOS[:3]), "faical recogniton", "solar panel", "vaccine"]:
            res = idx.search(q, limit=20)
            out.append((q, res.corrections, res.suggestion, res.to_dict()))
        return out


def _stored(index: Path) -> vocabulary.Vocabulary | None:
    gen = latest_generation(str(index))
    assert gen is not None
    return vocabulary.load(str(index), gen)


# --- the file itself ---------------------------------------------------------


def _generated() -> dict[str, int]:
    rng = random.Random(8)
    alphabet = "abcdefgé"
    vocab = {
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))): rng.randint(1, 90)
        for _ in range(4000)
    }
    vocab.update({"covid19": 5, "2022": 70, "größe": 3, "naïve": 2, "x": 1})
    return vocab


def test_stored_candidates_are_the_in_memory_ones(tmp_path: Path) -> None:
    vocab = _generated()
    vocabulary.write(str(tmp_path), 7, 123, vocab)
    stored = vocabulary.load(str(tmp_path), 7, 123)
    assert stored is not None
    assert (stored.generation, stored.doc_count_all) == (7, 123)
    assert stored.to_dict() == vocab and dict(stored.items()) == vocab
    assert len(stored) == len(vocab) and sorted(stored) == sorted(vocab)
    assert all(stored[w] == n for w, n in vocab.items())
    assert "absent-word" not in stored and stored.get("zzzzzzzzzzzzz", 0) == 0
    with pytest.raises(KeyError):
        stored["nope"]
    memory, on_disk = TypoIndex(vocab), TypoIndex.of(stored)
    assert isinstance(on_disk, StoredTypoIndex)
    rng = random.Random(9)
    typed = [w[:i] + w[i + 1 :] for w in rng.sample(sorted(vocab), 600) for i in [len(w) // 2]]
    typed += [w + "a" for w in rng.sample(sorted(vocab), 300)] + list(vocab)[:300]
    for word in typed:
        assert on_disk.candidates(word, 5) == memory.candidates(word, 5), word


def test_pickles_as_a_plain_dict(tmp_path: Path) -> None:
    """A shard's vocabulary travels to the coordinator as its words."""
    vocabulary.write(str(tmp_path), 1, 2, {"alpha": 2, "beta": 1})
    stored = vocabulary.load(str(tmp_path), 1)
    assert pickle.loads(pickle.dumps(stored)) == {"alpha": 2, "beta": 1}


@pytest.mark.parametrize("share", [0.0, 0.01, 0.3, 1.0])
def test_a_grown_vocabulary_is_the_file_written_from_scratch(tmp_path: Path, share) -> None:
    """An update's file, kept from the previous commit's buckets plus the new words'
    (new words in old buckets, new buckets, higher counts, words with digits or a
    newline), is byte for byte the file written from the whole vocabulary."""
    rng = random.Random(3)
    old = _generated()
    grown = {w: df + rng.randint(0, 2) for w, df in old.items()}
    alphabet = "abcdefgéxyz"
    for _ in range(int(share * len(old))):
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        grown[word] = grown.get(word, 0) + 1
    grown.update({"route66": 3, "zzzz": 1, "with\nnewline": 2, "gone": 0})
    vocabulary.write(str(tmp_path), 1, 10, old)
    previous = vocabulary.load(str(tmp_path), 1)
    assert previous is not None
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    vocabulary.write(str(tmp_path / "a"), 2, 11, grown, previous=previous)
    vocabulary.write(str(tmp_path / "b"), 2, 11, grown)
    a = (tmp_path / "a" / vocabulary.VOCABULARY_FILE).read_bytes()
    assert a == (tmp_path / "b" / vocabulary.VOCABULARY_FILE).read_bytes()


def test_a_vocabulary_that_lost_words_is_written_from_scratch(tmp_path: Path) -> None:
    old = _generated()
    vocabulary.write(str(tmp_path), 1, 10, old)
    previous = vocabulary.load(str(tmp_path), 1)
    assert previous is not None
    smaller = dict(list(old.items())[: len(old) // 2])
    (tmp_path / "a").mkdir()
    vocabulary.write(str(tmp_path / "a"), 2, 11, smaller, previous=previous)
    got = vocabulary.load(str(tmp_path / "a"), 2)
    assert got is not None and got.to_dict() == smaller


def test_an_empty_vocabulary(tmp_path: Path) -> None:
    vocabulary.write(str(tmp_path), 1, 0, {})
    stored = vocabulary.load(str(tmp_path), 1, 0)
    assert stored is not None and len(stored) == 0 and stored.to_dict() == {}
    assert TypoIndex.of(stored).candidates("anything") == []


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: p.write_bytes(p.read_bytes()[:-1]),
        lambda p: p.write_bytes(b"\x00garbage"),
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(_flip(p.read_bytes(), -40)),  # a word's bytes
        lambda p: p.write_bytes(_flip(p.read_bytes(), 30)),  # the header
    ],
    ids=["half", "last byte", "garbage", "empty", "flipped word", "flipped header"],
)
def test_a_damaged_file_is_never_loaded(tmp_path: Path, damage) -> None:
    vocabulary.write(str(tmp_path), 3, 10, {"harbour": 4, "cranes": 2, "electric": 9})
    damage(tmp_path / vocabulary.VOCABULARY_FILE)
    assert vocabulary.load(str(tmp_path), 3) is None


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0x20
    return bytes(b)


def test_another_commit_is_never_loaded(tmp_path: Path) -> None:
    vocabulary.write(str(tmp_path), 3, 10, {"harbour": 4})
    assert vocabulary.load(str(tmp_path), 4) is None
    assert vocabulary.load(str(tmp_path), 3, 11) is None
    assert vocabulary.load(str(tmp_path), 3, 10) is not None


# --- beside a commit ---------------------------------------------------------


def test_a_commit_writes_it_and_a_search_uses_it(built) -> None:
    _root, index = built
    assert (index / vocabulary.VOCABULARY_FILE).exists()
    assert not (index / vocabulary.LEGACY_FILE).exists()
    assert _stored(index) is not None
    assert isinstance(read_vocabulary(str(index), None), vocabulary.Vocabulary)
    with open_index(index) as idx:
        assert idx.search("vacine").corrections == {"vacine": "vaccine"}


def test_deleted_it_is_rebuilt_with_the_same_answers(built) -> None:
    root, index = built
    expected = _answers(index)
    (index / vocabulary.VOCABULARY_FILE).unlink()
    assert _answers(index) == expected  # rebuilt from the stored fields, in memory
    assert not (index / vocabulary.VOCABULARY_FILE).exists()  # a search never writes
    assert update_index([root], index).ok  # the next run writes it again
    assert _stored(index) is not None
    assert _answers(index) == expected


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: p.write_bytes(_flip(p.read_bytes(), -3)),
        lambda p: p.write_text("{truncated"),
    ],
    ids=["truncated", "flipped", "text"],
)
def test_damaged_it_is_never_used(built, damage) -> None:
    _root, index = built
    expected = _answers(index)
    damage(index / vocabulary.VOCABULARY_FILE)
    assert _stored(index) is None
    assert _answers(index) == expected


def test_another_commits_file_is_never_used(built, tmp_path: Path) -> None:
    root, index = built
    old = tmp_path / "old.bin"
    shutil.copy(index / vocabulary.VOCABULARY_FILE, old)
    write_clip(root / "new.md", title="Vaccinne harbour cranes go electric")
    assert update_index([root], index).ok
    fresh = _answers(index)
    shutil.copy(old, index / vocabulary.VOCABULARY_FILE)  # a stale file: wrong generation
    assert _stored(index) is None
    assert _answers(index) == fresh


def test_incremental_updates_answer_as_a_freshly_rebuilt_vocabulary(
    built, tmp_path: Path
) -> None:
    """Clips added and changed: the file the update wrote gives the answers of a
    vocabulary rebuilt from the index (deleted here) and of a fresh build."""
    root, index = built
    write_clip(root / "new-1.md", title="Vaccination harbour ballot", body="electon recount")
    write_clip(root / "new-2.md", title="Solar panels and climate", body="goverment panel")
    assert update_index([root], index).ok
    updated = _answers(index)
    (index / vocabulary.VOCABULARY_FILE).unlink()
    assert _answers(index) == updated
    fresh = tmp_path / "fresh"
    assert update_index([root], fresh).ok
    assert [a[:3] for a in _answers(fresh)] == [a[:3] for a in updated]


def test_an_index_of_the_json_vocabulary_is_read_then_upgraded(built) -> None:
    """Indexes written before this file keep their corrections; the next run writes
    the new file and drops the old one."""
    root, index = built
    expected = _answers(index)
    stored = _stored(index)
    assert stored is not None
    import json

    (index / vocabulary.LEGACY_FILE).write_text(
        json.dumps({"generation": stored.generation, "words": stored.to_dict()})
    )
    (index / vocabulary.VOCABULARY_FILE).unlink()
    assert isinstance(read_vocabulary(str(index), None), dict)
    assert _answers(index) == expected
    assert update_index([root], index).ok
    assert _stored(index) is not None and not (index / vocabulary.LEGACY_FILE).exists()
    assert _answers(index) == expected


@pytest.mark.parametrize("when", ["mid-write", "before rename"])
def test_kill_while_it_is_written(built, when: str) -> None:
    """SIGKILL while the file is written: the last commit stays searchable (with its
    corrections) and the next run completes."""
    root, index = built
    write_clip(root / "new.md", title="Vaccinne harbour cranes go electric")
    code = textwrap.dedent(
        f"""
        import builtins, os, signal
        from clipsearch import update_index
        from clipsearch.index import vocabulary

        class Dying:
            def __init__(self, fh):
                self.fh = fh
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                self.fh.close()
            def write(self, data):
                if {when!r} == "mid-write":
                    self.fh.write(data[: len(data) // 2])
                    self.fh.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                return self.fh.write(data)

        def dying_open(path, mode="r", *args, **kwargs):
            fh = builtins.open(path, mode, *args, **kwargs)
            return Dying(fh) if "w" in mode else fh

        real_replace = os.replace

        def dying_replace(src, dst):
            if str(dst).endswith(vocabulary.VOCABULARY_FILE):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)

        vocabulary.open = dying_open
        os.replace = dying_replace
        update_index([{str(root)!r}], {str(index)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert (index / (vocabulary.VOCABULARY_FILE + ".tmp")).exists()
    assert _stored(index) is None  # the file of the commit before: never used
    with open_index(index) as idx:  # the new commit, searchable, with corrections
        assert idx.search("harbour cranes", exact=True).total == 1
        assert idx.search("vacine").corrections == {"vacine": "vaccine"}
    assert update_index([root], index).ok
    assert _stored(index) is not None
    assert not (index / (vocabulary.VOCABULARY_FILE + ".tmp")).exists()
    with open_index(index) as idx:
        assert idx.search("vacine").corrections == {"vacine": "vaccine"}


def test_surface_words_are_folded_and_skip_cjk_runs() -> None:
    """The words typos are corrected to: three letters or more, folded (case and
    accents), digits cutting words, Chinese, Japanese and Korean runs left out; the
    ASCII words of a text with non-ASCII characters the same as in an ASCII one."""
    from clipsearch.words import surface_words

    mixed = "Zürich’s “Café” in İstanbul — 東京タワー iPhone発売日 ab x2y Covid19 U.S."
    assert surface_words([mixed, "Straße NAÏVE Ζεύς"]) == {
        "zurich", "cafe", "istanbul", "covid", "strasse", "naive", "ζευσ",
    }  # fmt: skip
    assert surface_words(["The Covid19 U.S. report x2y ab", "Markets"]) == {
        "the", "covid", "report", "markets",
    }  # fmt: skip
    assert surface_words(["The Covid19 report — Markets"]) == {"the", "covid", "report", "markets"}


def test_surface_words_of_random_text_are_their_definition() -> None:
    """Whatever path a text takes (ASCII, punctuation read as ASCII, folding), its
    surface words are the letter runs of three or more of its NFKC form without
    loose marks, folded, those with a Chinese, Japanese or Korean letter left out."""
    import unicodedata

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from clipsearch.folding import fold, has_cjk
    from clipsearch.words import SURFACE_WORD, surface_words

    def definition(texts: list[str]) -> set[str]:
        text = unicodedata.normalize("NFKC", "\n".join(texts))
        text = "".join(c for c in text if c not in "\u0301\u0640")
        return {w for w in map(fold, SURFACE_WORD.findall(text)) if not has_cjk(w)}

    chars = list("aAbcé É.ü ß 9_-'\u0301\u0640東京한국㊀ёЁ…’‘“”–—™İ the of ")
    text = st.lists(st.sampled_from(chars + ["the ", "abc"]), max_size=40).map("".join)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(text, min_size=1, max_size=4))
    def check(texts: list[str]) -> None:
        assert surface_words(texts) == definition(texts)

    check()
