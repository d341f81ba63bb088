"""Story grouping (issue 11): syndicated copies of one story grouped at index time,
near-misses kept apart, groups kept right by incremental runs, stable ids, and
`search --group` / `--count stories` against brute force."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_clip

from clipsearch import open_index, update_index
from clipsearch.cli import main
from clipsearch.errors import RequestError

GRAIN = (
    "Ukraine's first grain ship since the invasion left the port of Odesa on Monday "
    "carrying 26,000 tonnes of corn to Lebanon under a deal brokered by Turkey and the "
    "United Nations, raising hopes that a global food crisis can be eased as millions of "
    "tonnes of wheat remain stuck in silos along the Black Sea coast."
)
WORDLE = (
    "Here is the answer to today's Wordle puzzle {n}, with hints to help you solve it "
    "without spoiling the fun: the word starts with a vowel and has two repeated letters, "
    "so check our clues before you look at the solution for {day} May."
)
MARKET = (
    "Weekly market report for week {n}: the Sensex closed at {a} and the Nifty at {b} as "
    "foreign investors sold {c} crore of shares while metal and banking stocks led the "
    "fall and crude oil prices rose across the week's trading sessions."
)
CLIMATE_A = (
    "Scientists warn that melting glaciers in the Alps will lose half their ice by 2050 "
    "as summer temperatures rise, threatening drinking water for millions in Europe."
)
CLIMATE_B = (
    "A new report finds coral reefs in the Pacific are bleaching faster than expected as "
    "ocean temperatures rise, threatening fisheries that feed millions of people."
)


def _clip(root: Path, name: str, title: str, excerpt: str, provider: str, date: str) -> Path:
    return write_clip(
        root / f"{name}.md",
        title=title,
        excerpt=excerpt,
        date=date,
        id=name,
        provider={"name": provider, "domain": provider.lower().replace(" ", "") + ".com"},
        topics=["World"],
    )


PREVIEW = (
    "{a} vs {b} Dream11 Prediction, Fantasy Cricket Tips, Dream11 Team, Playing XI, Pitch "
    "Report, Injury Update for the Big Bash League T20 match at the Gabba tonight."
)


def _corpus(root: Path) -> None:
    # One outlet's template: a preview per match, differing in the teams alone.
    for a, b, hour in (("GLA", "CHA", 8), ("GLA", "FIG", 9)):
        text = PREVIEW.format(a=a, b=b)
        _clip(root, f"preview-{b}", text[:80], text, "Cricket Addict", f"2022-01-11T0{hour}:00Z")
    # The same outlet posting one story twice: one story.
    for n in (1, 2):
        _clip(
            root,
            f"repost-{n}",
            "Harbour crane strike ends after talks",
            "Dock workers at the harbour ended a nine-day strike after talks with the port "
            "authority produced a new pay offer and a promise of safer cranes.",
            "Nature Daily",
            f"2022-07-0{n}T09:00:00Z",
        )
    _clip(
        root, "grain-1", "Ukraine grain ship leaves Odesa", GRAIN, "Reuters", "2022-08-01T08:00:00Z"
    )
    # Re-headlined, excerpt trimmed, another outlet, the next day.
    _clip(
        root,
        "grain-2",
        "First grain cargo sails from Odesa port under UN deal",
        GRAIN[: len(GRAIN) * 2 // 3],
        "Times of India",
        "2022-08-02T10:00:00Z",
    )
    _clip(
        root,
        "grain-3",
        "Ukraine grain ship leaves Odesa",
        GRAIN,
        "BBC News",
        "2022-08-01T12:00:00Z",
    )
    # The same text long after: another story (outside the 3-day window).
    _clip(
        root,
        "grain-late",
        "Ukraine grain ship leaves Odesa",
        GRAIN,
        "Wired",
        "2022-08-20T08:00:00Z",
    )
    for n, day, name in ((321, 6, "wordle-321"), (322, 7, "wordle-322")):
        _clip(
            root,
            name,
            f"Wordle {n} answer for May {day}: hints and solution",
            WORDLE.format(n=n, day=day),
            "Gaming Daily",
            f"2022-05-0{day}T06:00:00Z",
        )
    for n, a, b, c, day in ((12, 57100, 17020, 4200, 1), (13, 56400, 16880, 3900, 3)):
        _clip(
            root,
            f"market-{n}",
            f"Weekly market report: week {n}",
            MARKET.format(n=n, a=a, b=b, c=c),
            "Market Desk",
            f"2022-04-0{day}T16:00:00Z",
        )
    _clip(
        root,
        "climate-a",
        "Alpine glaciers melting fast",
        CLIMATE_A,
        "Nature",
        "2022-07-01T09:00:00Z",
    )
    _clip(
        root,
        "climate-b",
        "Pacific coral reefs bleaching",
        CLIMATE_B,
        "Nature",
        "2022-07-01T10:00:00Z",
    )


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "clips"
    _corpus(root)
    index = tmp_path / "index"
    assert update_index([root], index).ok
    return root, index


def _stories(index: Path) -> dict[str, str]:
    """clip id -> story id, for every clip."""
    with open_index(index) as idx:
        return {h.id: h.story for h in idx.search("", limit=1000).hits}


def test_copies_are_grouped_and_near_misses_are_not(built) -> None:
    _root, index = built
    story = _stories(index)
    # The three copies share the id of the earliest.
    assert story["grain-1"] == story["grain-2"] == story["grain-3"] == "grain-1"
    assert story["grain-late"] == "grain-late"  # outside the window
    assert story["wordle-321"] != story["wordle-322"]  # a template: numbers differ
    assert story["market-12"] != story["market-13"]
    assert story["climate-a"] != story["climate-b"]  # one topic, two stories
    assert story["preview-CHA"] != story["preview-FIG"]  # one outlet's template
    assert story["repost-2"] == "repost-1"
    alone = {k for k, v in story.items() if v == k}
    assert alone == set(story) - {"grain-2", "grain-3", "repost-2"}


def test_the_window_is_an_index_option_kept_by_later_runs(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    _corpus(root)
    index = tmp_path / "index"
    assert update_index([root], index, story_window=30).ok
    assert _stories(index)["grain-late"] == "grain-1"
    _clip(root, "other", "Something else entirely", CLIMATE_B + " Extra.", "Wired", "2022-09-01")
    assert update_index([root], index).ok  # no window given: the recorded one holds
    assert _stories(index)["grain-late"] == "grain-1"
    assert update_index([root], index, story_window=3).ok
    assert _stories(index)["grain-late"] == "grain-late"
    with pytest.raises(RequestError):
        update_index([root], index, story_window=-1)


def test_a_new_copy_joins_a_changed_clip_is_regrouped_a_deleted_first_copy_keeps_the_rest(
    built,
) -> None:
    root, index = built
    _clip(root, "grain-4", "Grain ship departs Odesa", GRAIN, "Al Jazeera", "2022-08-01T20:00:00Z")
    assert update_index([root], index).ok
    assert _stories(index)["grain-4"] == "grain-1"

    _clip(root, "grain-3", "Something else", CLIMATE_A, "BBC News", "2022-08-01T12:00:00Z")
    assert update_index([root], index).ok
    story = _stories(index)
    assert story["grain-3"] == "grain-3"  # changed: no longer a copy
    assert story["grain-2"] == story["grain-4"] == "grain-1"

    os.remove(root / "grain-1.md")
    assert update_index([root], index).ok
    story = _stories(index)
    # The first copy is gone: the others stay one story, under the next earliest.
    assert story["grain-2"] == story["grain-4"] == "grain-4"


def test_ids_are_stable_across_runs_and_rebuilds(built) -> None:
    root, index = built
    before = _stories(index)
    assert update_index([root], index).ok  # nothing changed
    assert _stories(index) == before
    assert update_index([root], index, rebuild=True).ok
    assert _stories(index) == before
    # Built incrementally, in another order: the same stories.
    other = root.parent / "index2"
    names = sorted(p.name for p in root.iterdir())
    part = root.parent / "part"
    part.mkdir()
    for name in reversed(names):
        os.link(root / name, part / name)
        assert update_index([part], other).ok
    assert _stories(other) == before


def test_stories_are_computed_when_the_file_is_missing(built) -> None:
    _root, index = built
    before = _stories(index)
    os.remove(index / "stories.bin")
    assert _stories(index) == before
    os.remove(index / "signatures.bin")
    assert _stories(index) == before


def test_a_stories_file_naming_a_document_past_the_last_is_not_used(built) -> None:
    """Damaged derived data (a story pointing past the documents) is never used: the
    stories are computed from the index instead, and come out the same."""
    import marshal
    from array import array

    _root, index = built
    before = _stories(index)
    path = index / "stories.bin"
    data = marshal.loads(path.read_bytes())
    story = array("I")
    story.frombytes(data["story"])
    story[0] = len(story) + 5
    data["story"] = story.tobytes()
    path.write_bytes(marshal.dumps(data))
    assert _stories(index) == before


def _signature_file(index: Path) -> tuple[dict, dict]:
    """signatures.bin's metadata and arrays (its own copies: the test may change them)."""
    from clipsearch.index import arrayfile

    got = arrayfile.read(str(index / "signatures.bin"))
    assert got is not None
    meta, arrays = got
    return dict(meta), {name: a.copy() for name, a in arrays.items()}


def _signature_rows(index: Path):
    """(paths, stats, table) of signatures.bin, read as the test's own code reads it."""
    from clipsearch.index.signature_table import Table

    meta, arrays = _signature_file(index)
    split = [arrays[k].tobytes().decode().split("\0") for k in ("paths", "stats")]
    table = Table.from_arrays(arrays, meta["rows"])
    assert table is not None and len(split[0]) == len(split[1]) == meta["rows"]
    return split[0], split[1], table


def _no_recomputing(monkeypatch) -> list[int]:
    """Counts the clips whose signatures are computed again from stored fields."""
    from clipsearch.index import signatures

    computed: list[int] = []
    real = signatures.signatures

    def counting(texts):
        texts = list(texts)
        computed.append(len(texts))
        return real(texts)

    monkeypatch.setattr(signatures, "signatures", counting)
    return computed


def test_signatures_of_the_record_format_are_read_not_recomputed(built, monkeypatch) -> None:
    """An index written before the columnar signatures.bin (a record tuple per path)
    keeps its signatures: nothing is recomputed, and the stories come out the same."""
    import marshal

    _root, index = built
    before = _stories(index)
    paths, stats, table = _signature_rows(index)
    records = {}
    for k, (path, stat) in enumerate(zip(paths, stats, strict=True)):
        records[path] = (
            stat,
            table.minhash[k].astype("<u4").tobytes(),
            table.sample.take([k]).values.astype("<u4").tobytes(),
            tuple(table.numbers.row(k)),
            tuple(table.title_numbers.row(k)),
            table.fingerprint[8 * k : 8 * k + 8].hex(),
            table.title_words.take([k]).values.astype("<u4").tobytes(),
            int(table.provider[k]),
        )
    (index / "signatures.bin").write_bytes(marshal.dumps({"format": 5, "records": records}))
    os.remove(index / "stories.bin")
    computed = _no_recomputing(monkeypatch)
    assert _stories(index) == before
    assert computed == []


def _columns_format(paths: list, stats: list, table) -> bytes:
    """signatures.bin as format 6 wrote it: the columns as little-endian byte strings,
    marshalled with the paths and stats."""
    import marshal

    def le(a):
        return a.astype(a.dtype.newbyteorder("<")).tobytes()

    columns = {"minhash": le(table.minhash), "provider": le(table.provider)}
    for name in ("sample", "numbers", "title_numbers", "title_words"):
        lists = getattr(table, name)
        columns[name] = le(lists.values)
        columns[name + ".counts"] = le(lists.counts.astype("uint32"))
    columns["fingerprint"] = table.fingerprint
    return marshal.dumps({"format": 6, "paths": paths, "stats": stats, "columns": columns})


def test_signatures_of_the_marshalled_columns_format_are_read_not_recomputed(
    built, monkeypatch
) -> None:
    """An index of the release before the array file (format 6) keeps its signatures,
    and its next update writes the array file."""
    from clipsearch.index import arrayfile

    root, index = built
    before = _stories(index)
    (index / "signatures.bin").write_bytes(_columns_format(*_signature_rows(index)))
    os.remove(index / "stories.bin")
    computed = _no_recomputing(monkeypatch)
    assert _stories(index) == before
    assert computed == []
    _clip(root, "later", "Harbour cranes repainted", CLIMATE_A, "Nature", "2022-09-01T09:00:00Z")
    assert update_index([root], index).ok
    assert computed == [1]  # only the new clip is signed
    assert arrayfile.read(str(index / "signatures.bin"))[0]["format"] == 7


@pytest.mark.parametrize(
    "column", ["minhash", "sample", "sample.counts", "fingerprint", "provider", "paths", "stats"]
)
def test_a_damaged_signatures_column_is_recomputed_not_used(built, monkeypatch, column) -> None:
    import numpy as np

    from clipsearch.index import arrayfile

    _root, index = built
    before = _stories(index)
    meta, arrays = _signature_file(index)
    if column in ("paths", "stats"):  # one string fewer than rows
        arrays[column] = arrays[column][: int(np.flatnonzero(arrays[column] == 0)[-1])]
    else:
        arrays[column] = arrays[column][:-4]
    arrayfile.write(str(index / "signatures.bin"), meta, arrays)
    os.remove(index / "stories.bin")
    computed = _no_recomputing(monkeypatch)
    assert _stories(index) == before
    assert sum(computed) == meta["rows"]


@pytest.mark.parametrize("damage", ["truncated", "type", "string type", "rows", "format"])
def test_a_damaged_signatures_file_is_recomputed_not_used(built, monkeypatch, damage) -> None:
    from clipsearch.index import arrayfile

    _root, index = built
    before = _stories(index)
    meta, arrays = _signature_file(index)
    path = index / "signatures.bin"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "type":  # the right bytes read as another type
        arrays["minhash"] = arrays["minhash"].view("float32")
        arrayfile.write(str(path), meta, arrays)
    elif damage == "string type":  # the paths' bytes read as signed numbers
        arrays["paths"] = arrays["paths"].view("int8")
        arrayfile.write(str(path), meta, arrays)
    else:
        arrayfile.write(str(path), {**meta, damage: meta[damage] + 1}, arrays)
    os.remove(index / "stories.bin")
    computed = _no_recomputing(monkeypatch)
    assert _stories(index) == before
    assert sum(computed) == meta["rows"]


def test_packed_lists_take_and_join_as_lists_do() -> None:
    import random

    import numpy as np

    from clipsearch.index.grouping import Packed

    rng = random.Random(3)
    lists = [[rng.randrange(1000) for _ in range(rng.randrange(0, 6))] for _ in range(50)]
    packed = Packed.of(lists)
    assert [packed.row(i) for i in range(len(lists))] == lists
    rows = [rng.randrange(50) for _ in range(80)] + [0, 0, 49]
    taken = packed.take(np.asarray(rows))
    assert [taken.row(i) for i in range(len(rows))] == [lists[r] for r in rows]
    joined = Packed.join([packed, Packed.of([[7], []]), taken])
    assert [joined.row(i) for i in range(len(joined))] == lists + [[7], []] + [
        lists[r] for r in rows
    ]
    assert len(packed.take(np.zeros(0, dtype=np.int64))) == 0
    for k in (0, 1, 17, 50):  # a take of 0..k-1 is a slice of the same lists
        prefix = packed.take(np.arange(k))
        assert [prefix.row(i) for i in range(k)] == lists[:k]
        assert np.shares_memory(prefix.values, packed.values) or not len(prefix.values)


def test_group_gives_one_row_per_story_with_its_reach(built) -> None:
    _root, index = built
    with open_index(index) as idx:
        res = idx.search("grain Odesa", group=True)
        rows = [h for h in res.hits if h.story == "grain-1"]
        assert len(rows) == 1
        row = rows[0]
        assert row.copies == 3
        assert sorted(row.outlets) == ["BBC News", "Reuters", "Times of India"]
        assert row.outlets[0] == "Reuters"  # earliest first
        assert row.first_published.isoformat() == "2022-08-01T08:00:00"
        assert res.total == 2  # the copies' story and the late one
        flat = idx.search("grain Odesa")
        assert flat.total == 4 and all(h.copies is None for h in flat.hits)
        assert idx.search("grain Odesa", count="stories").total == 2
        assert idx.search("grain Odesa", group=True, count="clips").total == 4
        d = res.to_dict()["hits"][0]
        assert {"story", "copies", "outlets", "first_published"} <= set(d)
        assert "copies" not in flat.to_dict()["hits"][0]


@pytest.mark.parametrize("query", ["", "grain", "ukraine OR wordle", "report"])
@pytest.mark.parametrize("providers", [(), ("Reuters",), ("BBC News", "Wired")])
def test_group_totals_and_facets_match_brute_force(built, query, providers) -> None:
    _root, index = built
    with open_index(index) as idx:
        every = idx.search(query, limit=1000, providers=providers, facet_limit=None)
        res = idx.search(
            query, group=True, limit=1000, providers=providers, facet_limit=None, histogram="day"
        )
        assert res.total == len({h.story for h in every.hits})
        assert [h.story for h in res.hits] == list(dict.fromkeys(h.story for h in every.hits))
        # Provider counts leave out the provider filter (disjunctive): brute force over
        # the same query without it.
        unfiltered = idx.search(query, limit=1000, facet_limit=None)
        want: Counter[str] = Counter()
        for provider in {h.provider for h in unfiltered.hits}:
            want[provider] = len({h.story for h in unfiltered.hits if h.provider == provider})
        assert res.facets["provider"] == {
            **{k: v for k, v in want.items() if v},
            **{p: want.get(p, 0) for p in providers},
        }
        topics: Counter[str] = Counter()
        for topic in {t for h in every.hits for t in h.topics}:
            topics[topic] = len({h.story for h in every.hits if topic in h.topics})
        assert res.facets["topic"] == dict(topics)
        assert sum(n for _s, n in res.histogram.buckets) + res.histogram.undated == res.total


def test_group_pages_through_stories(built) -> None:
    _root, index = built
    with open_index(index) as idx:
        everything = [h.story for h in idx.search("", group=True, limit=100).hits]
        paged = [
            h.story
            for k in range(0, 20, 3)
            for h in idx.search("", group=True, limit=3, offset=k).hits
        ]
        assert paged == everything and len(set(everything)) == len(everything)


def test_story_lists_every_copy_and_like_leaves_them_out(built) -> None:
    _root, index = built
    with open_index(index) as idx:
        copies = idx.story("grain-2")
        assert [h.id for h in copies.hits] == ["grain-1", "grain-3", "grain-2"]
        assert copies.total == 3
        like = idx.like("grain-1", limit=50)
        assert {h.id for h in like.hits} & {"grain-1", "grain-2", "grain-3"} == set()
        assert "grain-late" in {h.id for h in like.hits}
        with pytest.raises(RequestError):
            idx.story("nope")
    runner = CliRunner()
    out = runner.invoke(main, ["story", "grain-3", "--index", str(index), "--json"])
    assert out.exit_code == 0, out.output
    assert [h["id"] for h in json.loads(out.output)["hits"]] == ["grain-1", "grain-3", "grain-2"]
    out = runner.invoke(main, ["search", "grain", "--group", "--index", str(index)])
    assert out.exit_code == 0 and "3 copies since 2022-08-01" in out.output
    assert "2 stories for 'grain'" in out.output
    out = runner.invoke(main, ["search", "grain", "--count", "bogus", "--index", str(index)])
    assert out.exit_code == 2
    out = runner.invoke(main, ["story", "nope", "--index", str(index)])
    assert out.exit_code == 2 and "nope" in out.output


def test_http_search_takes_group_and_count(built) -> None:
    from starlette.testclient import TestClient

    from clipsearch.server.app import make_app

    _root, index = built
    with TestClient(make_app(str(index)), base_url="http://127.0.0.1") as client:
        r = client.get("/api/search", params={"q": "grain", "group": "1"})
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == 2 and body["hits"][0]["copies"] == 3
        r = client.get("/api/search", params={"q": "grain", "count": "nonsense"})
        assert r.status_code == 400 and r.json()["parameter"] == "count"


def test_batched_minhashes_are_datasketchs() -> None:
    """signatures.minhashes computes many clips' MinHashes at once: the values must be
    exactly datasketch's (stored signatures of earlier runs are compared with them)."""
    import random
    import zlib

    from datasketch import MinHash

    from clipsearch.index import signatures as sig

    rng = random.Random(5)
    sets = [
        {f"w{rng.randrange(5000)} w{rng.randrange(5000)}".encode() for _ in range(n)}
        for n in [0, 1, 2, 3, 50, 400, 7, 0, 1200] + [rng.randrange(300) for _ in range(300)]
    ]
    got = sig.minhashes([sig.feature_hashes(s) for s in sets])
    for feats, mh in zip(sets, got, strict=True):
        m = MinHash(
            num_perm=sig.NUM_PERM, hashfunc=zlib.crc32, seed=11, scheme=sig.SCHEME
        )
        if feats:
            m.update_batch(list(feats))
        assert mh == m.hashvalues.astype("<u4").tobytes()
    text = ("Grain ship leaves Odesa", GRAIN, "", "", "Reuters", "", None, ())
    assert sig.signatures([text, text])[1] == sig.signature(*text)


def test_the_benchmark_switch_builds_without_grouping(built, tmp_path, monkeypatch) -> None:
    """benchmarks/ time a build without grouping (CLIPSEARCH_BENCH_NO_STORIES=1): no
    signature or story file is written, and a search still groups the same stories."""
    from clipsearch.index.writer import NO_STORIES_ENV

    root, grouped = built
    monkeypatch.setenv(NO_STORIES_ENV, "1")
    index = tmp_path / "plain"
    assert update_index([root], index).ok
    assert not (index / "signatures.bin").exists() and not (index / "stories.bin").exists()
    assert _stories(index) == _stories(grouped)


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("high_bits", [0, 20])
def test_vectorised_comparison_takes_the_pairs_the_set_definition_takes(
    high_bits, threaded, monkeypatch
) -> None:
    """`copies` counts shared features over arrays; it must take exactly the pairs
    the definition (overlap(), numbers and titles agreeing) takes among the candidates,
    with repeated values in a sample, common features and clips too small to compare.
    With `high_bits`, features differ only above their low bits, as hashes may:
    the common ones are told apart from the rest exactly, not by their low bits.
    `threaded`: as for a large index, the features in a thread beside the bands."""
    import random

    import numpy as np

    from clipsearch.index import grouping

    monkeypatch.setattr(grouping, "_THREADED_ROWS", 0 if threaded else 10**9)
    monkeypatch.setattr(grouping.os, "cpu_count", lambda: 2)

    rng, words = random.Random(5), random.Random(6)
    n = 300
    stems = [[rng.randrange(400) for _ in range(rng.randrange(2, 30))] for _ in range(40)]
    samples, numbers, title_numbers, title_words, providers = [], [], [], [], []
    minhash = np.zeros((n, 8), dtype=np.uint32)
    for d in range(n):
        stem = stems[d % 40]
        sample = [v for v in stem if rng.random() < 0.8] + [7, 7, 9]  # 7 and 9: common
        sample += [rng.randrange(400) for _ in range(rng.randrange(0, 6))]
        samples.append([(v << high_bits) | (v % 3) if high_bits else v for v in sample])
        numbers.append(tuple(rng.sample(range(5), rng.randrange(0, 3))))
        title_numbers.append(tuple(rng.sample(range(3), rng.randrange(0, 2))))
        # two of a few frequent words, one of many rare ones (most clips' titles
        # each have a rare word the other lacks)
        title_words.append((*words.sample(range(10), 2), words.randrange(10, 2000)))
        providers.append(rng.randrange(3))
        minhash[d] = [d % 40 if rng.random() < 0.7 else rng.randrange(10**6) for _ in range(8)]
    day = 86_400_000_000  # publication times are microseconds
    times = np.asarray([rng.randrange(5) * day for _ in range(n)], dtype=np.int64)
    got = grouping.copies(
        minhash, samples, numbers, title_numbers, times, 3.0, 0.5, title_words, providers
    )
    # The definitions in plain Python: counts of every value (a repeat in a sample
    # counts), rare title words those in few clips' titles.
    limit = max(grouping.COMMON_MIN, int(grouping.COMMON_SHARE * n))
    common = {v for v, c in Counter(v for s in samples for v in s).items() if c > limit}
    limit = max(grouping.TITLE_RARE_MIN, int(grouping.TITLE_RARE_SHARE * n))
    counts = Counter(w for t in title_words for w in t)
    rare = {w for w, c in counts.items() if c <= limit}
    assert grouping.common_features(samples) == common
    assert grouping.frequent_title_words(title_words) == set(counts) - rare

    def titles_agree(x: tuple[int, ...], y: tuple[int, ...]) -> bool:
        a, b = set(x), set(y)
        return not ((a - b) & rare and (b - a) & rare)

    candidates = grouping.candidate_pairs(minhash, times, 3 * day).tolist()
    want = [
        (i, j)
        for i, j in candidates
        if grouping.overlap(samples[i], samples[j], common) >= grouping.THRESHOLD
        and grouping.numbers_agree(numbers[i], numbers[j], title_numbers[i], title_numbers[j])
        and not (
            providers[i]
            and providers[i] == providers[j]
            and not titles_agree(title_words[i], title_words[j])
        )
    ]
    assert {7, 9} <= common if not high_bits else {7 << 20 | 1, 9 << 20} <= common
    assert rare and set(counts) - rare  # both kinds of title words are compared
    by_titles = [
        (i, j)
        for i, j in candidates
        if providers[i]
        and providers[i] == providers[j]
        and not titles_agree(title_words[i], title_words[j])
    ]
    assert by_titles and not set(by_titles) & set(got)
    assert len(want) > 50 and got == want


@pytest.mark.parametrize("threaded", [False, True])
def test_candidate_pairs_are_the_near_neighbours_of_equal_bands(threaded, monkeypatch) -> None:
    """The definition, in plain Python: per band, rows ordered by (band values, time,
    clip rank); a pair is two rows at most NEIGHBOURS apart in that order with equal
    band values and times at most the window apart.  The bands of a large index are
    paired in two threads: the same pairs."""
    import random

    import numpy as np

    from clipsearch.index import grouping

    monkeypatch.setattr(grouping, "_THREADED_ROWS", 0 if threaded else 10**9)
    monkeypatch.setattr(grouping.os, "cpu_count", lambda: 2)

    rows = grouping.ROWS
    rng = random.Random(2)
    n, perms, window = 400, 13, 5
    def value() -> int:  # few values: many equal bands; the largest tests the key's bits
        return rng.choice([1, 2, 2**32 - 1]) if rng.random() < 0.9 else rng.randrange(2**32)

    minhash = np.asarray([[value() for _ in range(perms)] for _ in range(n)], dtype=np.uint32)
    times = np.asarray([rng.randrange(20) for _ in range(n)], dtype=np.int64)
    ranks = np.asarray(rng.sample(range(n), n))
    want = set()
    for start in range(0, perms - rows + 1, rows):
        band = [tuple(minhash[d, start : start + rows].tolist()) for d in range(n)]
        order = sorted(range(n), key=lambda d: (band[d], times[d], ranks[d]))
        for p in range(n):
            for q in range(p + 1, min(n, p + grouping.NEIGHBOURS + 1)):
                a, b = order[p], order[q]
                if band[a] == band[b] and times[b] - times[a] <= window:
                    want.add((min(a, b), max(a, b)))
    got = [tuple(p) for p in grouping.candidate_pairs(minhash, times, window, ranks).tolist()]
    assert len(want) > 100 and got == sorted(want)
