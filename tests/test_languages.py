"""Clips in any language (issue 14): folding, a language per clip (declared or
detected), per-language stemming and stop words, Chinese, Japanese and Korean words
inside sentences, the language facet and filter, and typo tolerance that ignores
accents and never crosses scripts.

The clips are tests/fixtures/languages/: news-style titles and excerpts in English,
German, French, Spanish, Italian, Portuguese, Russian, Arabic, Chinese, Japanese and
Korean, written for these tests; `declared-*.md` declare a language in the
frontmatter that detection would not give."""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import write_clip

from clipsearch import RequestError, open_index, update_index
from clipsearch import language as detection
from clipsearch.cli import main
from clipsearch.folding import fold, fold_in_place, normalise, plain_punctuation
from clipsearch.index.analysis import analyze_word
from clipsearch.ingest.clip import ClipError, read_clip
from clipsearch.language import declared, detect

FIXTURES = Path(__file__).parent / "fixtures" / "languages"
EXPECTED = {
    "lang-en": "en",
    "lang-de": "de",
    "lang-fr": "fr",
    "lang-es": "es",
    "lang-it": "it",
    "lang-pt": "pt",
    "lang-ru": "ru",
    "lang-ar": "ar",
    "lang-zh": "zh",
    "lang-ja": "ja",
    "lang-ko": "ko",
    "lang-declared-fr": "fr",
    "lang-declared-de": "de",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("languages")
    clips = root / "clips"
    shutil.copytree(FIXTURES, clips)
    # The same German title, written decomposed (NFD), in a clip of its own.
    nfd = unicodedata.normalize("NFD", "Zürich: Ölpreis steigt, Händler gelassen")
    write_clip(
        clips / "de-nfd.md",
        title=nfd,
        excerpt="Die Händler in Zürich bleiben gelassen, obwohl der Ölpreis steigt.",
        id="lang-de-nfd",
    )
    report = update_index([clips], root / "index")
    assert report.ok, report.skipped
    return clips, root / "index"


@pytest.fixture(scope="module")
def idx(built: tuple[Path, Path]):
    with open_index(built[1]) as index:
        yield index


def ids(res) -> set[str]:
    return {h.id for h in res.hits}


# --------------------------------------------------------------------------- language per clip


def test_every_clip_gets_its_language(idx) -> None:
    res = idx.search("", limit=100)
    got = {h.id: h.language for h in res.hits}
    for clip_id, lang in EXPECTED.items():
        assert got[clip_id] == lang, clip_id
    assert got["lang-de-nfd"] == "de"


def test_the_frontmatter_wins_over_detection(built) -> None:
    clips, _ = built
    # English text, declared French: the declaration is what counts.
    assert detect("Weekend markets report\nThe stalls were busy with shoppers.") == "en"
    assert read_clip(clips / "declared-fr.md").language == "fr"
    # `lang` with a region subtag: the language is its first part.
    assert read_clip(clips / "declared-lang.md").language == "de"


def test_a_bad_declared_language_names_the_field_and_value(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "bad.md", title="Hello world", language="english")
    with pytest.raises(ClipError) as exc:
        read_clip(path)
    message = str(exc.value)
    assert "language" in message and "'english'" in message and "ISO 639-1" in message


@pytest.mark.parametrize(
    "value, code",
    [("de", "de"), ("DE", "de"), ("pt-BR", "pt"), ("zh_Hant", "zh"), ("und", "und"),
     ("english", None), ("d", None), (3, None)],
)  # fmt: skip
def test_declared_values(value, code) -> None:
    assert declared(value) == code


def test_uncertain_text_is_undetermined_and_folded_only(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "short.md", title="Xq zzv 42")
    clip = read_clip(path)
    assert clip.language == "und"
    # Undetermined text is folded, never stemmed nor stopped.
    assert analyze_word("Élections", "und") == "elections"
    assert analyze_word("the", "und") == "the"


# --------------------------------------------------------------------------- folding


@pytest.mark.parametrize(
    "query", ["zurich", "Zürich", "ZÜRICH", "zürich", unicodedata.normalize("NFD", "Zürich")]
)
def test_accents_and_case_fold_both_ways(idx, query: str) -> None:
    res = idx.search(query, limit=20)
    # The German clips (NFC and NFD) and the English one spelling it "Zurich".
    assert {"lang-de", "lang-de-nfd", "lang-en"} <= ids(res)
    assert res.corrections == {}  # an accent or a case is not a typo


def test_accented_query_finds_unaccented_text_and_back(idx) -> None:
    assert "lang-fr" in ids(idx.search("election presidentielle"))
    assert "lang-fr" in ids(idx.search("ÉLECTIONS"))
    assert "lang-de" in ids(idx.search("olpreis"))


def test_display_and_highlights_keep_the_original_characters(idx) -> None:
    res = idx.search("zurich oelpreis olpreis", match="any")
    hit = next(h for h in res.hits if h.id == "lang-de")
    assert hit.title == "Zürich café: Ölpreis steigt"
    assert "<mark>Zürich</mark>" in hit.highlights["title"]
    assert "<mark>Ölpreis</mark>" in hit.highlights["title"]
    topics = idx.facet_values("topic")
    assert ("Política", 2) in topics  # facet values keep their accents


def test_folding_functions() -> None:
    nfd = unicodedata.normalize("NFD", "Zürich")
    assert fold("ZÜRICH") == fold("Zürich") == fold(normalise(nfd)) == "zurich"
    assert fold("Straße") == "strasse" and fold("Øresund") == "oresund"
    assert fold("ёлка") == "елка" and fold("йод") == "йод"  # й is a letter of its own
    text = "Zürich ÉTÉ"
    assert len(fold_in_place(text)) == len(text) and fold_in_place(text) == "zurich ete"
    # Mixed runs (ASCII lowercased apart from the rest) fold as character by character;
    # a character whose folded form is longer (ß, İ, ﬁ) stays itself.
    mixed = "“QUOTED” Straße İstanbul ﬁle naïve 東京 Øre ABC"
    by_char = "".join(fold_in_place(c) for c in mixed)
    assert fold_in_place(mixed) == by_char and len(by_char) == len(mixed)
    assert fold_in_place(mixed).startswith("“quoted” straße")
    curly = "“IT’S ‘ON’” – U.S.—NOW… "  # only curly punctuation, then not only it
    for t in (curly, curly + "ZÜRICH"):
        assert fold_in_place(t) == "".join(fold_in_place(c) for c in t)
    assert fold_in_place(curly) == curly.lower()
    # Curly quotes, dashes and the ellipsis read as ASCII for tokenising; nothing else
    text = "“It’s ‘on’” – U.S.—Zürich… ™ ″"
    assert plain_punctuation(text) == "\"It's 'on'\" - U.S.-Zürich... ™ ″"
    assert normalise(plain_punctuation("a…b")) == normalise("a…b") == "a...b"


# --------------------------------------------------------------------------- stemming


@pytest.mark.parametrize(
    "query, clip_id",
    [
        ("Москва", "lang-ru"),  # Russian case endings: Москве, Москвы
        ("станций", "lang-ru"),
        ("cheval", "lang-fr"),  # French plurals: chevaux
        ("élection", "lang-fr"),  # élections
        ("candidat", "lang-fr"),
        ("Wahl", "lang-de"),  # Wahlen
        ("elección", "lang-es"),  # elecciones
        ("candidato", "lang-es"),
        ("elezione", "lang-it"),  # elezioni
        ("eleitor", "lang-pt"),  # eleitores
        ("cidade", "lang-pt"),  # cidades
        ("رئيس", "lang-ar"),  # Arabic: the article off (الرئيس)
        ("elections", "lang-en"),  # English still Porter-stemmed: election
    ],
)
def test_stemming_per_language(idx, query: str, clip_id: str) -> None:
    res = idx.search(query)
    assert clip_id in ids(res), (query, [h.id for h in res.hits])
    assert res.corrections == {}


def test_stop_words_are_the_clip_languages() -> None:
    assert analyze_word("die", "de") is None and analyze_word("die", "en") == "die"
    assert analyze_word("the", "en") is None and analyze_word("the", "de") == "the"
    assert analyze_word("des", "fr") is None and analyze_word("une", "fr") is None


def test_a_language_filter_analyses_the_query_in_that_language(idx) -> None:
    # "die" is a German stop word: with --language de only "Wahlen" is searched.
    res = idx.search("die Wahlen", languages=["de"])
    assert ids(res) >= {"lang-de"} and all(h.language == "de" for h in res.hits)
    assert res.match == "all"


# --------------------------------------------------------------------------- CJK words


@pytest.mark.parametrize(
    "query, clip_id",
    [
        ("北京", "lang-zh"),
        ("冬奥会", "lang-zh"),
        ("体育场", "lang-zh"),
        ("東京", "lang-ja"),
        ("オリンピック", "lang-ja"),
        ("開会式", "lang-ja"),
        ("서울", "lang-ko"),
        ("선거", "lang-ko"),
    ],
)
def test_chinese_japanese_and_korean_words_inside_sentences(idx, query, clip_id) -> None:
    res = idx.search(query)
    assert ids(res) == {clip_id}, (query, [h.id for h in res.hits])
    assert res.corrections == {}


def test_cjk_highlights_mark_the_word(idx) -> None:
    hit = idx.search("冬奥会").hits[0]
    assert "<mark>冬奥会</mark>" in hit.highlights["title"]
    hit = idx.search("北京 开幕式", match="all").hits[0]
    assert "<mark>北京</mark>" in hit.highlights["title"]
    assert "<mark>开幕式</mark>" in hit.highlights["title"]


def test_a_cjk_word_that_is_not_there_finds_nothing(idx) -> None:
    assert idx.search("上海").total == 0


# --------------------------------------------------------------------------- facet and filter


def test_language_facet_counts(idx) -> None:
    res = idx.search("", facet_limit=None)
    counts = res.facets["language"]
    assert counts["de"] == 3 and counts["fr"] == 2 and counts["zh"] == 1
    assert sum(counts.values()) == res.total == len(EXPECTED) + 1


def test_language_filter_and_disjunctive_counts(idx) -> None:
    res = idx.search("", languages=["fr", "de"], facet_limit=None)
    assert {h.language for h in res.hits} == {"fr", "de"} and res.total == 5
    # Counted as if the language filter were absent, like topics and providers.
    assert res.facets["language"]["en"] == 1


def test_unknown_and_invalid_languages_are_errors(idx) -> None:
    with pytest.raises(RequestError) as exc:
        idx.search("", languages=["sv"])
    assert exc.value.parameter == "languages" and "de" in str(exc.value)
    with pytest.raises(RequestError):
        idx.search("", languages=["german"])


def test_cli_language_filter_and_json(built) -> None:
    _, index = built
    runner = CliRunner()
    res = runner.invoke(
        main, ["search", "election", "--language", "fr", "--json", "--index", str(index)]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [h["id"] for h in data["hits"]] == ["lang-fr"]
    assert data["hits"][0]["language"] == "fr"
    assert data["facets"]["language"]["fr"] == 1
    res = runner.invoke(main, ["search", "x", "--language", "xx", "--index", str(index)])
    assert res.exit_code == 2 and "--language" in res.stderr
    res = runner.invoke(main, ["facets", "language", "--index", str(index)])
    assert res.exit_code == 0 and "de" in res.stdout


def test_http_language_parameter(built) -> None:
    from starlette.testclient import TestClient

    from clipsearch.server.app import make_app

    with TestClient(make_app(str(built[1])), base_url="http://127.0.0.1") as client:
        r = client.get("/api/search", params={"q": "", "language": ["ru", "ar"]})
        assert r.status_code == 200
        assert {h["id"] for h in r.json()["hits"]} == {"lang-ru", "lang-ar"}
        r = client.get("/api/search", params={"language": "klingon"})
        assert r.status_code == 400 and r.json()["parameter"] == "language"


# --------------------------------------------------------------------------- typo tolerance


def test_typos_are_corrected_within_a_language(idx) -> None:
    res = idx.search("Моссквы")  # one letter doubled
    assert "lang-ru" in ids(res)
    assert res.corrections == {"моссквы": "москвы"}


def test_typo_tolerance_never_crosses_scripts(idx) -> None:
    # "zurich" with a Cyrillic "и": one edit from the Latin word, but another script.
    res = idx.search("zurиch")
    assert res.corrections == {}
    # A Latin typo is corrected to a Latin word, never to a same-length Cyrillic one.
    res = idx.search("zurrich")
    assert res.corrections == {"zurrich": "zurich"}


def test_whoosh_stemmers_stand_in_without_pystemmer(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from clipsearch.index.analysis import stemmer

    fast = {w: stemmer("ru")(w) for w in ("москве", "москвы", "станции")}
    monkeypatch.setitem(sys.modules, "Stemmer", None)  # import Stemmer now fails
    stemmer.cache_clear()
    try:
        slow = stemmer("ru")
        assert {w: slow(w) for w in fast} == fast
        assert stemmer("fr")("chevaux") == "cheval"
        assert stemmer("ta") is None  # a language only PyStemmer has: folded only
    finally:
        stemmer.cache_clear()


# ----------------------------------------------------------- the writer's analysis pass

_MIXED_TEXTS = [
    "The U.S. economy grew 3.5% in Q3, the fastest since 2019.",
    "Zürich's ZÜRICH zurich Zu\u0308rich: naïve café, façade, ÆSIR Øresund ß",
    "iPhone発売日は9月 東京 서울에서 the a of 北京 x",
    "Les élèves de l'école et le président; der Präsident und die Schüler",
    "Москва ёлка Ёлка и в на, Αθήνα τα και, العربية و في",
    "the the a an of to",  # only stop words
    "",
    "\u0301 \u0640 ـــ a\u0301b",  # loose marks, tatweel
    "Ⅻ ﬁle ｆｕｌｌ ＷＩＤＴＨ ²³ 1.2.3 a..b _x_ __",
]


@pytest.mark.parametrize("language", ["en", "de", "fr", "ru", "ja", "und", "xx"])
@pytest.mark.parametrize("text", _MIXED_TEXTS)
def test_the_writers_analysis_pass_is_the_analyzer_chain(language: str, text: str) -> None:
    """`index_postings` (what the writer indexes) makes exactly the terms, counts,
    weights and encoded positions of Whoosh's Positions format over ClipAnalyzer."""
    from whoosh import formats

    from clipsearch.index.analysis import ClipAnalyzer, LanguageText, index_postings

    fmt = formats.Positions()
    value = LanguageText(text * 2, language)
    chain = sorted(
        (term.encode("utf-8"), freq, weight, encoded)
        for term, freq, weight, encoded in fmt.word_values(value, ClipAnalyzer(), mode="index")
    )
    assert sorted(index_postings(value, fmt.field_boost)) == chain


def test_positions_number_the_kept_words_from_the_first_ones_place() -> None:
    from clipsearch.index.analysis import LanguageText, positions

    assert positions(LanguageText("The U.S. economy grew, the economy", "en")) == {
        "u.": [1], "economi": [2, 4], "grew": [3]
    }
    # a CJK run's pairs take the next positions; "the" is no stop word in Japanese
    assert positions(LanguageText("the 東京タワー x", "ja")) == {
        "the": [0], "東京": [1], "京タ": [2], "タワ": [3], "ワー": [4], "x": [5]
    }


def test_the_writers_analysis_pass_on_random_text() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from whoosh import formats

    from clipsearch.index.analysis import ClipAnalyzer, LanguageText, index_postings

    fmt = formats.Positions()
    chars = list("aAbé É.ü ß 9_-'\u0301\u0640日本語한국ёЁ…’“—™ the of ")
    alphabet = st.sampled_from(chars + ["the ", "a "])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(alphabet, max_size=60).map("".join), st.sampled_from(["en", "de", "und"]))
    def check(text: str, language: str) -> None:
        value = LanguageText(text, language)
        chain = sorted(
            (t.encode("utf-8"), f, w, v)
            for t, f, w, v in fmt.word_values(value, ClipAnalyzer(), mode="index")
        )
        assert sorted(index_postings(value, fmt.field_boost)) == chain

    check()


def test_which_analyses_occur_is_what_whooshs_term_table_holds(built) -> None:
    """A query's analyses in the index's other languages are kept only where their
    tokens occur; the snapshot answers from the derived postings' offsets, which must
    agree with Whoosh's own term table for every token, present or not."""
    from whoosh.index import open_dir

    from clipsearch.index.schema import INDEX_NAME, TEXT_FIELDS
    from clipsearch.index.snapshot import Snapshot

    words = set()
    for clip in FIXTURES.glob("*.md"):
        for word in clip.read_text(encoding="utf-8").split():
            word = word.strip(".,:;!?\"'()«»„“”")
            for language in ("en", "de", "fr", "es", "ru", "und"):
                token = analyze_word(word, language) if word else None
                if token:
                    words.add(token)
    words |= {"zzzunseen", "qqq"}
    tokens = sorted(words)
    snap = Snapshot(str(built[1]))
    try:
        reader = open_dir(str(built[1]), indexname=INDEX_NAME).reader()
        expected = {t for t in tokens if any((f, t) in reader for f in TEXT_FIELDS)}
        reader.close()
        assert len(expected) > 50 and "zzzunseen" not in expected
        assert snap.occurring(tokens) == expected
    finally:
        snap.close()


def test_the_language_sizes_count_live_clips_only(tmp_path: Path) -> None:
    """Clips per language, as a search orders its analyses by them: deleted clips
    (still in their segment until a merge) are not counted."""
    from whoosh.index import open_dir

    from clipsearch.index.schema import INDEX_NAME
    from clipsearch.index.snapshot import Snapshot

    clips, index = tmp_path / "clips", tmp_path / "index"
    for k in range(3):
        write_clip(clips / f"en{k}.md", title=f"Council votes on the budget {k}", language="en")
    for k in range(2):
        write_clip(clips / f"de{k}.md", title=f"Der Rat stimmt ab {k}", language="de")
    update_index([clips], index)

    def sizes() -> tuple[dict[str, int], tuple[str, ...], bool]:
        snap = Snapshot(str(index))
        reader = open_dir(str(index), indexname=INDEX_NAME).reader()
        try:
            return snap.language_sizes(), snap.languages(), reader.has_deletions()
        finally:
            reader.close()
            snap.close()

    assert sizes() == ({"en": 3, "de": 2}, ("en", "de"), False)
    (clips / "de0.md").unlink()
    (clips / "en0.md").unlink()
    update_index([clips], index)
    assert sizes() == ({"en": 2, "de": 1}, ("en", "de"), True)
    (clips / "de1.md").unlink()
    update_index([clips], index)
    assert sizes() == ({"en": 2}, ("en",), True)


# --------------------------------------------------------------------------- the model's cache


def _fresh_identifier() -> Any:
    from py3langid import langid

    identifier = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)
    identifier.set_languages(detection.DETECTED)
    return identifier


def test_the_cached_model_detects_exactly_what_py3langid_s_file_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first load writes the cache, the next reads it: every probability of
    every language is the same as from py3langid's own file."""
    monkeypatch.setenv(detection.CACHE_ENV, str(tmp_path / "cache"))
    cache = detection.model_cache()
    assert cache is not None and cache.startswith(str(tmp_path))
    texts = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.iterdir())]
    texts += ["", "12345", "Der Hund und die Katze", "the cat and the dog"]
    reference = _fresh_identifier()
    detection._identifier.cache_clear()
    try:
        written = detection._identifier()  # loads py3langid's file, writes the cache
        assert os.path.exists(cache)
        detection._identifier.cache_clear()
        cached = detection._identifier()  # from the cache
        assert cached is not written
        assert list(cached.nb_classes) == list(reference.nb_classes)
        for text in texts:
            want = reference.rank(text)
            assert written.rank(text) == want
            assert cached.rank(text) == want
    finally:
        detection._identifier.cache_clear()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "trailing bytes", "empty folder name"])
def test_a_damaged_or_unusable_cache_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv(detection.CACHE_ENV, "" if damage == "empty folder name" else str(folder))
    detection._identifier.cache_clear()
    try:
        detection._identifier()
        if damage != "empty folder name":
            cache = Path(detection.model_cache() or "")
            raw = cache.read_bytes()
            cache.write_bytes(
                {"truncate": raw[: len(raw) // 2], "trailing bytes": raw + b"\0" * 8}.get(
                    damage, b"x" * len(raw)
                )
            )
        else:
            assert detection.model_cache() is None and not folder.exists()
        detection._identifier.cache_clear()
        text = "Le président a annoncé des élections pour le mois prochain."
        assert detection._identifier().rank(text) == _fresh_identifier().rank(text)
        assert detect(text) == "fr"
    finally:
        detection._identifier.cache_clear()


def test_writing_the_cache_removes_the_caches_of_other_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    stale = folder / "py3langid-0.1.0-123-456-00000000.npy"
    stale.write_bytes(b"x" * 100)
    unrelated = folder / "notes.txt"
    unrelated.write_text("kept", encoding="utf-8")
    monkeypatch.setenv(detection.CACHE_ENV, str(folder))
    detection._identifier.cache_clear()
    try:
        detection._identifier()
    finally:
        detection._identifier.cache_clear()
    cache = Path(detection.model_cache() or "")
    assert sorted(p.name for p in folder.iterdir()) == sorted([cache.name, "notes.txt"])
    assert unrelated.read_text(encoding="utf-8") == "kept"


def test_english_stems_are_porters_when_the_stem_cache_starts_over(monkeypatch) -> None:
    """The stem cache is bounded: when it is full it starts over, and every stem,
    through `stem` and through the analysis of a text, is still Porter's."""
    from whoosh.lang import porter

    from clipsearch.index import analysis

    monkeypatch.setattr(analysis, "STEM_CACHE", 4)
    words = ["running", "markets", "inflationary", "presidents", "companies", "reported"]
    for _ in range(3):
        assert [analysis.stem(w) for w in words] == [porter.stem(w) for w in words]
        found = analysis.positions(" ".join(words))
        assert list(found) == [porter.stem(w) for w in words]
        terms = analysis.index_columns("reported running")[0]
        assert terms == [porter.stem(w) for w in ("reported", "running")]
