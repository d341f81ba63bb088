"""Direct tests of the internal contracts that search() and update_index() are built
on: the request model, compilation, scoring with statistics from outside, facet value
resolution and counting, top-k ordering, discovery."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import write_clip

from clipsearch import RequestError, SearchRequest, open_index, update_index
from clipsearch.index import QueryStats, Snapshot
from clipsearch.ingest.discover import discover
from clipsearch.search import facets as facetlib
from clipsearch.topk import top_k

# --------------------------------------------------------------------------- the request


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"limit": -1}, "limit"),
        ({"offset": -5}, "offset"),
        ({"sort": "random"}, "sort"),
        ({"facet_limit": -2}, "facet_limit"),
        ({"since": "2022-01-01"}, "since"),
        ({"until": 1641772800}, "until"),
        ({"since": datetime(2022, 2, 1), "until": datetime(2022, 1, 1)}, "since"),
        ({"topics": [3]}, "topics"),
        ({"query": "x" * 2001}, "query"),
    ],
)
def test_request_errors_name_the_parameter(options, parameter) -> None:
    with pytest.raises(RequestError) as err:
        SearchRequest(**options)
    assert err.value.parameter == parameter
    assert "--" not in str(err.value)


def test_request_normalises_once() -> None:
    plus = timezone(timedelta(hours=5, minutes=30))
    req = SearchRequest(
        "  ukraine\x07 grain ",
        topics="AI",  # one value given bare is a list of one
        providers=["Reuters", "BBC"],
        since=datetime(2022, 1, 10, 5, 30, tzinfo=plus),
        until=date(2022, 1, 10),
    )
    assert req.text == "ukraine  grain"
    assert req.topics == ("AI",) and req.providers == ("Reuters", "BBC")
    assert req.since == datetime(2022, 1, 10, 0, 0)  # aware -> naive UTC
    assert req.until == datetime(2022, 1, 10, 23, 59, 59, 999999)  # a date: its last moment
    assert SearchRequest("*").text == "" and SearchRequest("*:*").text == ""
    with pytest.raises(AttributeError):
        req.limit = 5  # type: ignore[misc]  # frozen
    assert SearchRequest("a") == SearchRequest("a") and hash(SearchRequest("a"))


def test_from_options_refuses_unknown_options() -> None:
    assert SearchRequest.from_options("x", limit=3).limit == 3
    with pytest.raises(RequestError) as err:
        SearchRequest.from_options("x", colour="red")
    assert err.value.parameter == "colour"


# --------------------------------------------------------------------------- an index


@pytest.fixture(scope="module")
def halves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The same clips as one index and as two indexes of half the clips each."""
    base = tmp_path_factory.mktemp("halves")
    titles = [
        "Grain exports from Ukraine resume",
        "Ukraine grain deal extended again",
        "Wheat prices fall as grain ships sail",
        "Harbour cranes go electric in Rotterdam",
        "Electric ferries cross the fjord",
        "Ukraine war shifts wheat markets",
        "Grain silos fill after record harvest",
        "Fjord towns welcome electric buses",
    ]
    for n, title in enumerate(titles):
        half = "a" if n % 2 else "b"
        write_clip(
            base / "clips" / half / f"{n}.md",
            title=title,
            id=f"k-{n}",
            excerpt=f"Filed on day {n} about {title.split()[0].lower()}.",
            topics=["Food", "Trade"] if "rain" in title else ["Energy"],
        )
    for name, roots in (("all", ["a", "b"]), ("a", ["a"]), ("b", ["b"])):
        assert update_index([base / "clips" / r for r in roots], base / name).ok
    return base / "all", base / "a", base / "b"


def test_compilation_keeps_typed_words_and_protects_quotes_and_exclusions(halves) -> None:
    snap = Snapshot(str(halves[0]))
    try:
        parsed = snap.parse('grian "fjord" NOT wheat title:harbour elec*')
        assert parsed.words == ["grian"]  # not the quoted, excluded, fielded or prefix words
        assert not parsed.is_plain
        plain = snap.parse("Ukraine, grain")
        assert plain.words == ["ukraine", "grain"] and plain.is_plain
        with_alt = plain.compile({"grain": [("grains", 0.6)]})
        assert "DisjunctionMax" in type(with_alt.q.subqueries[1]).__name__
        assert snap.match(snap.parse("elec*").compile()) == snap.match(
            snap.parse("electric").compile()
        )
    finally:
        snap.close()


def test_scores_with_statistics_from_outside_equal_one_index(halves) -> None:
    """What a sharded search relies on: each half scored with the summed statistics
    gives exactly the scores of one index over all clips."""
    whole, *parts = (Snapshot(str(p)) for p in halves)
    try:
        for text in ("ukraine grain", "electric fjord", "wheat OR harbour", '"grain deal"'):
            q_all = whole.parse(text).compile()
            expected = {whole.clip_id(d): s for d, s in whole.scores(q_all).items()}
            compiled = [p.parse(text).compile() for p in parts]
            stats = QueryStats.merge(p.query_stats(c) for p, c in zip(parts, compiled, strict=True))
            got: dict[str, float] = {}
            for p, c in zip(parts, compiled, strict=True):
                got.update({p.clip_id(d): s for d, s in p.scores(c, stats).items()})
            assert got == expected, text
            # and with its own statistics a half scores differently (the test can fail)
            own = {parts[0].clip_id(d): s for d, s in parts[0].scores(compiled[0]).items()}
            assert any(own[k] != expected[k] for k in own), text
    finally:
        for s in (whole, *parts):
            s.close()


def test_facet_values_resolve_and_count_by_value(halves) -> None:
    snap = Snapshot(str(halves[0]))
    try:
        values = snap.facet_values("topic")
        assert facetlib.resolve("topic", "food", values) == ["Food"]
        assert facetlib.resolve("topic", "enrgy", values) == ["Energy"]
        with pytest.raises(RequestError) as err:
            facetlib.resolve("topic", "astrology", values)
        assert err.value.parameter == "topics" and "no such topic" in err.value.problem
        docs = snap.live_docs()
        assert snap.facet_counts("topic", docs) == {"Food": 5, "Trade": 5, "Energy": 3}
        energy = snap.docs_with_values("topic", ["Energy"])
        counts = facetlib.disjunctive_counts(snap, "topic", docs, {"topic": energy}, 1, ["Energy"])
        assert counts.counts == {"Food": 5, "Energy": 3} and counts.other_values == 2
        counts = facetlib.disjunctive_counts(snap, "provider", docs, {"topic": energy}, 5)
        assert counts.counts == {}  # no providers; the topic filter applies here
    finally:
        snap.close()


def test_top_k_breaks_ties_by_clip_id_not_document_number() -> None:
    ids = {0: "m", 1: "c", 2: "x", 3: "a", 4: "q"}
    score = {0: 1.0, 1: 2.0, 2: 1.0, 3: 1.0, 4: 0.5}
    assert top_k(list(ids), 2, score.__getitem__, ids.__getitem__) == [1, 3]  # edge tie
    assert top_k(list(ids), 4, score.__getitem__, ids.__getitem__) == [1, 3, 0, 2]
    assert top_k(reversed(list(ids)), 4, score.__getitem__, ids.__getitem__) == [1, 3, 0, 2]
    assert top_k(list(ids), 0, score.__getitem__, ids.__getitem__) == []


def test_ties_follow_clip_ids_through_the_api(halves) -> None:
    with open_index(halves[0]) as idx:
        hits = idx.search("", sort="quality", limit=8).hits  # no quality: all tie
        assert [h.id for h in hits] == sorted(h.id for h in hits)


# --------------------------------------------------------------------------- discovery


def test_discovery_knows_files_by_real_path(tmp_path: Path) -> None:
    root = tmp_path / "c"
    write_clip(root / "2022" / "a.md", title="A")
    write_clip(root / "b.md", title="B")
    os.symlink("2022", root / "latest")  # an alias folder
    os.symlink(root, root / "2022" / "up")  # a loop
    os.symlink(root, tmp_path / "zlink")  # a symlinked root
    found = discover([str(root), str(tmp_path / "zlink"), str(root / "2022"), str(root) + "/"])
    assert sorted(f.path for f in found.files) == [str(root / "2022" / "a.md"), str(root / "b.md")]
    assert [(p.path, p.error) for p in found.problems] == [
        (str(root / "2022" / "up"), "symlink loop (folder already visited), skipped")
    ]
    assert str(root) in found.scope
    missing = discover([str(tmp_path / "gone")])
    assert missing.problems[0].error == "no such file or folder"
    assert missing.scope == [str(tmp_path / "gone")]  # its clips count as deleted
    # a file modified just now is racy: its stat cannot show the next same-size edit
    assert all(f.racy for f in found.files)
    old = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(root / "b.md", (old, old))
    again = {f.path: f.racy for f in discover([str(root)]).files}
    assert again == {str(root / "2022" / "a.md"): True, str(root / "b.md"): False}


def test_discovery_by_name_in_an_open_folder_finds_what_paths_find(
    tmp_path: Path, monkeypatch
) -> None:
    """Files are looked at by name in their open folder (one name for the kernel to
    resolve, the usual file found inline): the same files, stats, racy flags and
    problems as looked at by path, symlinked files and folders and a fifo included."""
    from clipsearch.ingest import discover as discovery

    root = tmp_path / "c"
    for name in ("2022/a.md", "2022/b.txt", "c.md", "2023/x/d.md"):
        write_clip(root / name, title=name)
    os.symlink(root / "c.md", root / "2022" / "link.md")
    os.symlink(tmp_path / "nowhere.md", root / "broken.md")
    outside = write_clip(tmp_path / "out" / "e.md", title="E")
    os.symlink(outside, root / "e.md")
    os.mkfifo(root / "pipe.md")
    write_clip(tmp_path / "elsewhere" / "f.md", title="F")  # in a folder linked to
    os.symlink(tmp_path / "elsewhere", root / "linked")

    def seen() -> tuple:
        got = discover([str(root)])
        return (
            [(f.path, f.stat, f.racy, f.via) for f in got.files],
            [(p.path, p.error) for p in got.problems],
        )

    by_name = seen()
    monkeypatch.setattr(discovery, "_STAT_IN_FOLDER", False)
    assert seen() == by_name
    assert len(by_name[0]) == 6 and len(by_name[1]) == 2
    via = {path: via for path, _stat, _racy, via in by_name[0]}
    assert via[str(tmp_path / "elsewhere" / "f.md")] == str(root)


def test_the_cli_phrases_library_errors_in_its_own_terms(halves) -> None:
    from clipsearch.cli.errors import phrase

    with open_index(halves[0]) as idx, pytest.raises(RequestError) as err:
        idx.search("", topics=["astrology"])
    assert str(err.value).startswith("topics 'astrology': no such topic")
    assert phrase(err.value).startswith("--topic 'astrology': no such topic")
    with pytest.raises(RequestError) as err:
        SearchRequest(limit=-1)
    assert phrase(err.value) == "--limit must not be negative (got -1)"
