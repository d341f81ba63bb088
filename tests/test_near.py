"""Proximity search: `a NEAR/n b` (within n words, either order) and `a ONEAR/n b`
(a first), checked against a brute-force token distance computed from the clips'
text the way the analyzer sees it (TOKEN, lowercase, stop words removed and not
counted, compared by stem)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from conftest import SEED_ID, write_clip

from clipsearch import QueryError, open_index, update_index
from clipsearch.index.analysis import analyze_word
from clipsearch.index.proximity import MAX_NEAR_DISTANCE
from clipsearch.words import TOKEN

#: Content words (some sharing a stem: "banks", "banking" are "bank"), stop words,
#: and filler; every clip is a random sequence of them.
CONTENT = ["bank", "banks", "banking", "climate", "change", "policy", "law", "rates", "storm"]
STOPS = ["the", "of", "and", "in", "to"]
FILLER = ["river", "green", "window"]
FIELDS = ("title", "body")


def _clips(seed: int = 10, n: int = 40) -> dict[str, dict[str, str]]:
    rng = random.Random(seed)
    vocab = CONTENT + STOPS + FILLER
    out = {}
    for i in range(n):
        title = " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 6))).capitalize()
        body = " ".join(rng.choice(vocab) for _ in range(rng.randint(5, 30))) + "."
        out[f"c{i:02d}.md"] = {"title": title, "body": body}
    return out


CLIPS = _clips()


def stems(text: str) -> list[str]:
    """A field's words as positions see them: stop words dropped, then numbered."""
    out = [analyze_word(m.group().lower()) for m in TOKEN.finditer(text)]
    return [s for s in out if s is not None]


def spans_of(tokens: list[str], operand: str) -> list[tuple[int, int]]:
    """(start, end) positions where an operand (a word or a "phrase") occurs."""
    words = [analyze_word(w) for w in operand.strip('"').split()]
    k = len(words)
    return [(i, i + k - 1) for i in range(len(tokens) - k + 1) if tokens[i : i + k] == words]


def near(a: list[tuple[int, int]], b: list[tuple[int, int]], n: int, ordered: bool) -> bool:
    """Some occurrence of b within n positions of one of a (nearest ends), not
    overlapping it; after it when ordered."""
    for (s1, e1), (s2, e2) in itertools.product(a, b):
        if s2 > e1:
            dist = s2 - e1
        elif s1 > e2:
            if ordered:
                continue
            dist = s1 - e2
        else:
            continue  # overlapping: the same words
        if dist <= n:
            return True
    return False


def brute(a: str | list[str], b: str | list[str], n: int, ordered: bool) -> set[str]:
    """Names of the clips where operand a (or any of a list) is near b in one field."""
    a_ops = [a] if isinstance(a, str) else a
    b_ops = [b] if isinstance(b, str) else b
    out = set()
    for name, clip in CLIPS.items():
        for f in FIELDS:
            tokens = stems(clip[f])
            sa = [s for op in a_ops for s in spans_of(tokens, op)]
            sb = [s for op in b_ops for s in spans_of(tokens, op)]
            if near(sa, sb, n, ordered):
                out.add(name)
    return out


@pytest.fixture(scope="module")
def nidx(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("near")
    for rel, kw in CLIPS.items():
        write_clip(base / "clips" / rel, **kw)
    report = update_index([base / "clips"], base / "index")
    assert report.ok
    with open_index(base / "index") as opened:
        yield opened


def found(idx, q: str, **kw) -> set[str]:
    kw.setdefault("exact", True)
    res = idx.search(q, limit=1000, facets=False, highlight=False, **kw)
    return {Path(h.path).name for h in res.hits}


# --------------------------------------------------------------------------- brute force


def test_the_corpus_has_near_and_far_pairs():
    """The brute force sees both outcomes often (or the comparison proves little)."""
    pairs = list(itertools.combinations(CONTENT, 2))
    hits = sum(len(brute(a, b, 2, False)) for a, b in pairs)
    assert 0.1 < hits / (len(pairs) * len(CLIPS)) < 0.6


@pytest.mark.parametrize("op", ["NEAR", "ONEAR"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_words_near_match_brute_force(nidx, op, n):
    for a, b in itertools.product(CONTENT, repeat=2):
        want = brute(a, b, n, op == "ONEAR")
        assert found(nidx, f"{a} {op}/{n} {b}") == want, (a, op, n, b)


@pytest.mark.parametrize("op", ["NEAR", "ONEAR"])
@pytest.mark.parametrize(
    "a, b",
    [
        ('"climate change"', "policy"),
        ("policy", '"climate change"'),
        ('"bank rates"', '"storm law"'),
        ('"climate change"', "change"),  # overlapping occurrences do not count
        ("law", "law"),  # two occurrences needed
    ],
)
@pytest.mark.parametrize("n", [1, 3, 6])
def test_phrase_operands_match_brute_force(nidx, op, a, b, n):
    assert found(nidx, f"{a} {op}/{n} {b}") == brute(a, b, n, op == "ONEAR")


@pytest.mark.parametrize("op", ["NEAR", "ONEAR"])
@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize(
    "a, group",
    [
        ("storm", ["policy", "law"]),
        ("law", ["policy", "law"]),  # "policy law" touching, and law near law
        ('"climate change"', ["policy", "law"]),
        ("rates", ["storm", '"climate change"']),
    ],
)
def test_or_group_operands_match_brute_force(nidx, op, n, a, group):
    q = f"{a} {op}/{n} ({' OR '.join(group)})"
    assert found(nidx, q) == brute(a, group, n, op == "ONEAR"), q
    q = f"({' OR '.join(group)}) {op}/{n} {a}"
    assert found(nidx, q) == brute(group, a, n, op == "ONEAR"), q


@pytest.mark.parametrize("n", [1, 3])
def test_prefix_operands_expand_as_elsewhere(nidx, n):
    banks = ["bank", "banks", "banking"]
    assert found(nidx, f"ban* NEAR/{n} storm") == brute(banks, "storm", n, False)
    assert found(nidx, f"storm ONEAR/{n} cl*") == brute("storm", "climate", n, True)


def near_spans(tokens: list[str], a: str, b: str, n: int) -> list[tuple[int, int]]:
    """The spans of `a NEAR/n b` (words): from the first of the pair to the last."""
    return [
        (min(s1, s2), max(s1, s2))
        for (s1, _), (s2, _) in itertools.product(spans_of(tokens, a), spans_of(tokens, b))
        if 1 <= abs(s1 - s2) <= n
    ]


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("op", ["NEAR", "ONEAR"])
def test_nested_near_is_the_inner_span_near_the_other_operand(nidx, n, op):
    want = set()
    for name, clip in CLIPS.items():
        for f in FIELDS:
            tokens = stems(clip[f])
            inner = near_spans(tokens, "climate", "bank", 2)
            if near(inner, spans_of(tokens, "policy"), n, op == "ONEAR"):
                want.add(name)
    assert want
    assert found(nidx, f"(climate NEAR/2 bank) {op}/{n} policy") == want
    assert found(nidx, f"climate NEAR/2 bank {op}/{n} policy") == want  # left to right


def test_near_binds_tighter_than_or_and_and(nidx):
    near_ = found(nidx, "storm NEAR/2 law")
    assert found(nidx, "storm NEAR/2 law OR river") == near_ | found(nidx, "river")
    assert found(nidx, "storm NEAR/2 law AND rates") == near_ & found(nidx, "rates")
    assert found(nidx, "NOT storm NEAR/2 law") == set(CLIPS) - near_


# --------------------------------------------------------------------------- distances


def test_within_n_means_positions_differ_by_at_most_n(make_index):
    _, index = make_index({"a.md": {"title": "t", "body": "alpha river green bravo"}})
    with open_index(index) as idx:
        assert found(idx, "alpha NEAR/3 bravo") == {"a.md"}
        assert found(idx, "bravo NEAR/3 alpha") == {"a.md"}
        assert found(idx, "alpha NEAR/2 bravo") == set()
        assert found(idx, "alpha ONEAR/3 bravo") == {"a.md"}
        assert found(idx, "bravo ONEAR/3 alpha") == set()
        assert found(idx, "bravo ONEAR/1000 alpha") == set()


def test_stop_words_do_not_count_toward_distance(make_index):
    """Pinned: the analyzer drops stop words before numbering positions (no reindex
    needed), so "central of the bank" has "bank" right after "central", for NEAR
    and for phrases alike."""
    _, index = make_index({"a.md": {"title": "t", "body": "The central of the bank said."}})
    with open_index(index) as idx:
        assert found(idx, "central ONEAR/1 bank") == {"a.md"}
        assert found(idx, '"central bank"') == {"a.md"}
        assert found(idx, "central NEAR/1 said") == set()  # "bank" is a word between


def test_phrase_slop_keeps_whooshs_meaning(make_index):
    """`"a b"~n`: the words in order, at most n positions apart (a Whoosh phrase)."""
    _, index = make_index(
        {
            "near.md": {"title": "t", "body": "alpha river bravo"},
            "far.md": {"title": "t", "body": "alpha river green window bravo"},
            "reversed.md": {"title": "t", "body": "bravo river alpha"},
        }
    )
    with open_index(index) as idx:
        assert found(idx, '"alpha bravo"~2') == {"near.md"}
        assert found(idx, '"alpha bravo"~4') == {"near.md", "far.md"}
        assert found(idx, '"alpha bravo"') == set()
        assert found(idx, 'body:"alpha bravo"~2') == {"near.md"}
        assert found(idx, '"alpha bravo"~2 NEAR/1 green') == set()
        assert found(idx, '"alpha bravo"~4 NEAR/1 green') == set()  # green is inside
        assert found(idx, '"river bravo"~1 NEAR/1 alpha') == {"near.md"}


def test_operands_are_compared_within_one_field(make_index):
    _, index = make_index({"a.md": {"title": "Alpha news", "body": "bravo comes first"}})
    with open_index(index) as idx:
        assert found(idx, "alpha NEAR/5 bravo") == set()  # title and body: no distance
        assert found(idx, "title:alpha NEAR/1 news") == {"a.md"}
        assert found(idx, "body:alpha NEAR/1 news") == set()
        with pytest.raises(QueryError, match=r"NEAR/2 .*one field.*title.*body"):
            idx.search("title:alpha NEAR/2 body:bravo")


# --------------------------------------------------------------------------- typos, scores


@pytest.fixture
def typo_index(make_index):
    clips = {
        f"c{i}.md": {"title": f"Report {i}", "body": "The central bank raised rates again."}
        for i in range(12)
    }
    clips["far.md"] = {"title": "Far", "body": "central river green window storm bank"}
    _, index = make_index(clips)
    with open_index(index) as idx:
        yield idx


def test_typo_corrections_apply_inside_near(typo_index):
    res = typo_index.search("centrel NEAR/2 bank", limit=100)
    assert res.corrections == {"centrel": "central"}
    assert res.total == 12  # far.md has them 5 apart
    assert typo_index.search("centrel NEAR/2 bank", exact=True).total == 0
    # and inside OR groups and nested NEARs
    assert typo_index.search("(centrel OR storm) NEAR/2 bank").total == 13
    assert typo_index.search("raised NEAR/3 (centrel NEAR/1 bank)").total == 12


def test_no_correction_inside_quotes_within_near(typo_index):
    for q in ('"centrel" NEAR/2 bank', '"centrel bank" NEAR/2 raised'):
        res = typo_index.search(q)
        assert res.total == 0 and res.corrections == {}, q


def test_words_inside_near_are_the_querys_correctable_words(typo_index):
    backend = typo_index._backend
    parsed = backend.parse('centrel NEAR/2 (bank OR rats*) "quoted word" NEAR/1 raised')
    assert parsed.words == ["centrel", "bank", "raised"]


def test_near_is_scored_like_its_operands_not_a_constant(typo_index):
    near_ = {h.id: h.score for h in typo_index.search("central NEAR/2 bank", limit=100).hits}
    both = {h.id: h.score for h in typo_index.search("central AND bank", limit=100).hits}
    assert len(near_) == 12 and len(both) == 13
    for clip_id, score in near_.items():
        assert score == pytest.approx(both[clip_id])
    res = typo_index.search("report NEAR/1 3")
    assert res.hits[0].title == "Report 3"
    assert res.hits[0].score > 0


def test_title_matches_outrank_body_matches(make_index):
    _, index = make_index(
        {
            "title.md": {"title": "Storm policy", "body": "nothing here at all"},
            "body.md": {"title": "Other news", "body": "a storm policy was long discussed today"},
        }
    )
    with open_index(index) as idx:
        hits = idx.search("storm NEAR/1 policy").hits
        assert [Path(h.path).name for h in hits] == ["title.md", "body.md"]
        assert hits[0].score > hits[1].score > 0


def test_highlights_mark_the_operands_words(typo_index):
    hit = typo_index.search('"central bank" NEAR/1 rais*').hits[0]
    assert hit.highlights["body"] == (
        "The <mark>central</mark> <mark>bank</mark> <mark>raised</mark> rates again."
    )
    hit = typo_index.search("centrel NEAR/2 bank").hits[0]
    assert "<mark>central</mark> <mark>bank</mark>" in hit.highlights["body"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "q, message",
    [
        ("storm NEAR/0 law", r"^NEAR/0: the distance must be a whole number of words from 1 to"),
        ("storm NEAR/x law", r"^NEAR/x: the distance must be a whole number"),
        ("storm ONEAR/-2 law", r"^ONEAR/-2: the distance must be a whole number"),
        ("storm NEAR/ law", r"^NEAR/: the distance must be a whole number"),
        (f"storm NEAR/{MAX_NEAR_DISTANCE + 1} law", r"^NEAR/1001: the distance is over the limit"),
        ("storm NEAR/3", r"^NEAR/3 needs a word, prefix\*, \"phrase\" or \(group\) on each side"),
        ("NEAR/3 law", r"^NEAR/3 needs a word"),
        ("(storm ONEAR/3) law", r"^ONEAR/3 needs a word"),
        ("storm NEAR/3 NOT law", r"^NEAR/3 needs a word"),
        ("storm AND NEAR/3 law", r"^NEAR/3 needs a word"),
        ("the NEAR/3 law", r"^NEAR/3: one side is only stop words"),
        ('storm NEAR/3 "of the"', r"^NEAR/3: one side is only stop words"),
        ("storm NEAR/3 (law AND policy)", r"^NEAR/3 needs a word, prefix\*"),
        ("storm NEAR/3 topic:Climate", r"^NEAR/3 works on text fields"),
    ],
)
def test_bad_near_is_a_clear_one_line_error(nidx, q, message):
    with pytest.raises(QueryError, match=message) as err:
        nidx.search(q)
    assert "\n" not in str(err.value)
    assert "--" not in str(err.value)  # library messages never name CLI flags


def test_near_words_are_words_where_not_an_operator(make_index):
    _, index = make_index({"a.md": {"title": "Near far", "body": "NEAR/3 is a label"}})
    with open_index(index) as idx:
        assert found(idx, '"NEAR/3"') == {"a.md"}
        assert found(idx, "near/3") == {"a.md"}  # lowercase: plain words
        assert found(idx, "near") == {"a.md"}


def test_readme_proximity_examples_run(idx):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("**Proximity**") :]
    block = section[section.index("```\n") + 4 : section.index("\n```", section.index("```\n"))]
    queries = [line.split("'")[1] for line in block.splitlines()]
    assert len(queries) == 3
    for q in queries:
        idx.search(q)
    assert idx.search(queries[2]).hits[0].id == SEED_ID


def test_near_statistics_count_its_words_for_sharded_scoring(typo_index):
    """Shards add up the document frequencies of a query's scored units: a NEAR's
    words must be among them, as they are for the same words outside NEAR."""
    backend = typo_index._backend
    near_ = backend.query_stats(backend.parse("central NEAR/2 bank").compile())
    both = backend.query_stats(backend.parse("central AND bank").compile())
    assert near_.dfs == both.dfs and len(near_.dfs) == 2
