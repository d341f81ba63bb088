"""Parsing one clip file into a validated `Clip` (clip.py)."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from conftest import EDGE_CLIPS, SEED, SEED_ID, SEED_TITLE, write_clip

from clipsearch import Clip, ClipError, Related, read_clip
from clipsearch.ingest.clip import (
    MAX_RELATED,
    MAX_TOPICS,
    QUALITY_MAX,
    QUALITY_MIN,
    clip_from_text,
)

REPO_SEED = Path(__file__).resolve().parents[1] / "seeds" / SEED.name


def parse(yaml_text: str, body: str = "", path: str = "clip.md") -> Clip:
    return clip_from_text("---\n" + yaml_text.strip("\n") + "\n---\n" + body, path)


# --------------------------------------------------------------------------- the real seed


def test_seed_fixture_is_an_unchanged_copy():
    assert SEED.read_bytes() == REPO_SEED.read_bytes()


def test_seed_every_field():
    clip = read_clip(SEED)
    assert clip.id == SEED_ID
    assert clip.path == str(SEED)
    assert clip.title == SEED_TITLE
    assert clip.excerpt == (
        "The National League of Cities has published recommendations for guiding "
        "conversations around how facial recognition technology is being implemented."
    )
    assert clip.body == ""
    assert clip.published == datetime(2021, 4, 29, 20, 46)
    assert clip.published.tzinfo is None
    assert clip.url == "https://gcn.com/articles/2021/04/29/nlc-facial-recognition.aspx"
    assert clip.provider == "GCN"
    assert clip.provider_domain == "gcn.com"
    assert clip.topics == ("Computer Vision", "AI")
    assert clip.quality == 39
    assert clip.heat == -1
    assert clip.category == "news"
    assert clip.warnings == ()
    assert [r.provider for r in clip.related] == [
        "The National Law Review",
        "Seattle Times",
        "Biometric Companies",
        "TAPinto",
    ]
    first = clip.related[0]
    assert first == Related(
        title="China Publishes Draft Security Standard on Facial Recognition",
        excerpt=(
            "On April 23, 2021, the National Information Security Standardization Technical "
            "Committee of China published a\xa0draft standard\xa0(in Chinese) on Security "
            "Requirements of Facial Recognition Data"
        ),
        provider="The National Law Review",
        url="https://www.natlawreview.com/article/china-publishes-draft-security-standard-facial-recognition",
    )
    assert clip.related[1].title == (
        "King County government must turn its back on facial recognition technology"
    )


def test_seed_related_text_holds_titles_excerpts_and_provider_names():
    clip = read_clip(SEED)
    text = clip.related_text
    for r in clip.related:
        assert r.title in text
        assert r.excerpt in text
        assert r.provider in text
    assert "King County government" in text
    assert "Biometric Companies" in text
    assert "The missing component required for public acceptance" in text
    # Fields outside the documented set stay out of the searchable text.
    assert "natlawreview.com" not in text
    assert "IJEsU" not in text  # `secured`
    assert "facialrecognition2.png" not in text  # `images`


# --------------------------------------------------------------------------- ids


def test_frontmatter_id_wins_over_urls():
    clip = parse("id: na-14a58baede36a808\ntitle: T\nwebUrl: https://x.org/a")
    assert clip.id == "na-14a58baede36a808"


def test_numeric_frontmatter_id_is_text():
    assert parse("id: 12345\ntitle: T").id == "12345"


def test_id_from_web_url_is_stable_and_ignores_path_and_other_fields():
    a = clip_from_text("---\ntitle: A\nwebUrl: https://x.org/a\n---\n", "one.md")
    b = clip_from_text(
        "---\ntitle: B\nwebUrl: https://x.org/a\nquality: 3\n---\nbody", "two/b.md"
    )
    assert a.id == b.id
    assert a.id.startswith("c-")
    other = parse("title: A\nwebUrl: https://x.org/b")
    assert other.id != a.id


def test_id_prefers_web_url_over_original_url():
    both = parse("title: T\nwebUrl: https://x.org/web\noriginalUrl: https://x.org/orig")
    web = parse("title: T\nwebUrl: https://x.org/web")
    orig = parse("title: T\noriginalUrl: https://x.org/orig")
    assert both.id == web.id
    assert both.id != orig.id
    assert both.url == "https://x.org/web"


def test_id_from_original_url_when_no_web_url():
    a = parse("title: T\noriginalUrl: https://x.org/orig", path="a.md")
    b = parse("title: U\noriginalUrl: https://x.org/orig", path="b.md")
    assert a.id == b.id
    assert a.url == "https://x.org/orig"


def test_seed_id_does_not_depend_on_where_the_file_is(tmp_path):
    copy = tmp_path / "elsewhere" / "deep" / "renamed.md"
    copy.parent.mkdir(parents=True)
    shutil.copy(SEED, copy)
    assert read_clip(copy).id == SEED_ID
    assert read_clip(copy).id == SEED_ID


def test_path_id_comes_from_the_real_path_whichever_way_the_file_is_named(tmp_path, monkeypatch):
    """Issue 16 (3, 4c): an id derived from a path must not depend on the root named."""
    first = write_clip(tmp_path / "clips" / "2022" / "a.md", title="No URL here")
    other = write_clip(tmp_path / "clips" / "2023" / "a.md", title="No URL here")
    id1 = read_clip(first).id
    assert id1 != read_clip(other).id  # same name in another folder: another clip
    monkeypatch.chdir(tmp_path / "clips")
    assert read_clip("2022/a.md").id == id1  # a relative name
    os.symlink(tmp_path / "clips" / "2022", tmp_path / "latest")
    assert read_clip(tmp_path / "latest" / "a.md").id == id1  # through a symlink


def test_blank_id_falls_back_to_the_url():
    assert (
        parse("id: '  '\ntitle: T\nwebUrl: https://x.org/a").id
        == parse("title: T\nwebUrl: https://x.org/a").id
    )


@pytest.mark.parametrize("bad", ["[1, 2]", "{a: b}", "true"])
def test_id_that_is_not_text_is_an_error(bad):
    with pytest.raises(ClipError) as err:
        parse(f"id: {bad}\ntitle: T")
    assert err.value.field == "id"


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2021-04-29T20:46:00Z", datetime(2021, 4, 29, 20, 46)),  # YAML datetime, Z
        ('"2021-04-29T20:46:00Z"', datetime(2021, 4, 29, 20, 46)),  # quoted string, Z
        ('"2021-04-29T20:46:00z"', datetime(2021, 4, 29, 20, 46)),
        ('"2021-06-01T01:30:00+02:00"', datetime(2021, 5, 31, 23, 30)),  # string, offset
        ("2021-06-01T01:30:00+02:00", datetime(2021, 5, 31, 23, 30)),  # YAML, offset
        ("2021-09-10T16:45:00-04:00", datetime(2021, 9, 10, 20, 45)),
        ("2021-04-29 20:46:00", datetime(2021, 4, 29, 20, 46)),  # YAML naive: UTC
        ("2021-04-29 20:46:00.5 +01:00", datetime(2021, 4, 29, 19, 46, 0, 500000)),
        ("2021-08-02", datetime(2021, 8, 2)),  # YAML date
        ('"2021-08-02"', datetime(2021, 8, 2)),  # quoted date
        ("'2021-08-02T23:30:00-01:00'", datetime(2021, 8, 3, 0, 30)),  # crosses a day
        ('"2021-08-02+02:00"', datetime(2021, 8, 1, 22, 0)),  # a date in a zone, not 02:00
        ('"20210802"', datetime(2021, 8, 2)),  # basic format
    ],
)
def test_dates_become_naive_utc(raw, expected):
    clip = parse(f"title: T\npublishedDateTime: {raw}")
    assert clip.published == expected
    assert clip.published.tzinfo is None


@pytest.mark.parametrize("raw", ["", "~", "null", "''"])
def test_missing_date_is_none(raw):
    assert parse(f"title: T\npublishedDateTime: {raw}").published is None


@pytest.mark.parametrize("raw", ['"sometime last spring"', '"29/04/2021"', "12", "[2021]"])
def test_unreadable_date_is_an_error_naming_field_and_value(raw):
    with pytest.raises(ClipError) as err:
        parse(f"title: T\npublishedDateTime: {raw}", path="dated.md")
    assert err.value.field == "publishedDateTime"
    assert "dated.md" in str(err.value)
    assert "publishedDateTime" in str(err.value)


# --------------------------------------------------------------------------- topics


def test_single_string_topics_become_a_one_item_list_with_a_warning():
    clip = parse("title: T\ntopics: Computer Vision", path="single.md")
    assert clip.topics == ("Computer Vision",)
    assert len(clip.warnings) == 1
    assert "single.md" in clip.warnings[0]
    assert "topics" in clip.warnings[0]


def test_topic_list_has_no_warning_and_is_cleaned():
    clip = parse("title: T\ntopics:\n  - '  Computer   Vision '\n  - AI\n  - AI\n  - 2020")
    assert clip.topics == ("Computer Vision", "AI", "2020")
    assert clip.warnings == ()


def test_topic_dedup_keeps_the_first_place_of_each_topic():
    clip = parse("title: T\ntopics: [b, a, b, ' a ', c, a, 'c', d]")
    assert clip.topics == ("b", "a", "c", "d")


@pytest.mark.parametrize(("key", "item"), [("topics", "T{n}"), ("related", "{{title: R{n}}}")])
def test_topics_and_related_up_to_the_limit_are_read(key, item):
    limit = MAX_TOPICS if key == "topics" else MAX_RELATED
    items = ", ".join(item.format(n=n) for n in range(limit))
    clip = parse(f"title: T\n{key}: [{items}]")
    assert len(getattr(clip, key)) == limit


# Regression test (was a bug, issue 16 G): _topics deduplicated with `not in` over a list:
# 100k topics in one 1.6 MB clip took 40 s to read, and every search 2 s after that
@pytest.mark.parametrize(("key", "item"), [("topics", "T{n}"), ("related", "{{title: R{n}}}")])
def test_more_topics_or_related_than_the_limit_skip_the_clip(key, item):
    limit = MAX_TOPICS if key == "topics" else MAX_RELATED
    items = ", ".join(item.format(n=n) for n in range(limit + 1))
    with pytest.raises(ClipError) as err:
        parse(f"title: T\n{key}: [{items}]", path="many.md")
    assert err.value.field == key
    assert str(err.value) == f"many.md: {key}: {limit + 1:,} items, over the limit of {limit:,}"


def test_a_clip_with_100k_topics_is_skipped_naming_file_field_and_count(tmp_path):
    path = tmp_path / "topics.md"
    topics = ", ".join(f"topic number {n}" for n in range(100_000))
    path.write_text(f"---\ntitle: Many topics\ntopics: [{topics}]\n---\n", encoding="utf-8")
    with pytest.raises(ClipError) as err:
        read_clip(path, max_bytes=4 * 1024 * 1024)
    assert str(err.value) == f"{path}: topics: 100,000 items, over the limit of {MAX_TOPICS:,}"


def test_yaml_yes_no_on_off_topics_stay_strings():
    clip = parse("title: T\ntopics: [NO, yes, on, Off, n, Y]")
    assert clip.topics == ("NO", "yes", "on", "Off", "n", "Y")
    single = parse("title: T\ntopics: NO")
    assert single.topics == ("NO",)


def test_real_booleans_in_topics_are_refused():
    with pytest.raises(ClipError) as err:
        parse("title: T\ntopics: [AI, true]")
    assert err.value.field == "topics"


def test_yaml_tags_that_construct_objects_are_refused():
    with pytest.raises(ClipError, match="YAML tag refused"):
        parse("title: !!python/object/apply:os.system ['true']")


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("39", 39), ("-1", -1), ('"55"', 55), ("' 12 '", 12), ("61.7", 62), ("7.4", 7)],
)
def test_quality_and_heat_are_ints(raw, expected):
    clip = parse(f"title: T\nquality: {raw}\nheat: {raw}")
    assert clip.quality == expected
    assert clip.heat == expected
    assert type(clip.quality) is int
    assert type(clip.heat) is int


def test_missing_numbers_are_none():
    clip = parse("title: T\nquality:\nheat: ''")
    assert clip.quality is None
    assert clip.heat is None


# Regression test (was a bug, issue 16 F): quality 2**63-1 was accepted, but it is the value
# the sortable quality column stores for "missing", so the clip sorted as if it had none
def test_quality_range_leaves_out_the_columns_missing_marker():
    assert parse(f"title: T\nquality: {QUALITY_MIN}").quality == -(2**63)
    assert parse(f"title: T\nquality: {QUALITY_MAX}").quality == 2**63 - 2
    for raw in (2**63 - 1, 2**63, -(2**63) - 1):
        with pytest.raises(ClipError) as err:
            parse(f"title: T\nquality: {raw}", path="q.md")
        assert str(err.value) == f"q.md: quality: number out of range (got {raw})"
    assert parse(f"title: T\nheat: {2**63 - 1}").heat == 2**63 - 1  # heat is not sorted on


@pytest.mark.parametrize("raw", ['"high"', "true", "[1]"])
def test_non_numeric_quality_is_an_error(raw):
    with pytest.raises(ClipError) as err:
        parse(f"title: T\nquality: {raw}")
    assert err.value.field == "quality"


# --------------------------------------------------------------------------- files


def test_bom_file(tmp_path):
    path = EDGE_CLIPS / "bom.md"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf---")
    clip = read_clip(path)
    assert clip.title == "Byte order marks survive the newsroom CMS"
    assert clip.published == datetime(2021, 7, 14, 9, 0)
    assert clip.provider_domain == "example.org"  # lower-cased
    assert clip.body == "The body of the BOM clip mentions lighthouse keepers."


def test_crlf_line_endings(tmp_path):
    text = (
        "---\r\ntitle: Windows clip\r\ntopics:\r\n  - AI\r\n  - Privacy\r\n"
        "publishedDateTime: 2021-05-03T10:15:00+02:00\r\nquality: 4\r\n---\r\n"
        "Line one\r\nLine two\r\n"
    )
    path = tmp_path / "crlf.md"
    path.write_bytes(text.encode("utf-8"))
    clip = read_clip(path)
    assert clip.title == "Windows clip"
    assert clip.topics == ("AI", "Privacy")
    assert clip.published == datetime(2021, 5, 3, 8, 15)
    assert clip.quality == 4
    assert clip.body.splitlines() == ["Line one", "Line two"]


def test_bom_and_crlf_together(tmp_path):
    path = tmp_path / "both.txt"
    path.write_bytes(b"\xef\xbb\xbf---\r\ntitle: Both\r\n---\r\nText\r\n")
    clip = read_clip(path)
    assert clip.title == "Both"
    assert clip.body == "Text"


def test_markdown_body_is_kept():
    clip = read_clip(EDGE_CLIPS / "body.md")
    assert clip.body.startswith("# Harbour cranes\n\nThe *quayside* cranes draw power")
    assert clip.body.endswith("pays for itself within seven years.")
    assert clip.provider == "Example Wire"  # provider given as a plain string
    assert clip.provider_domain == ""
    assert clip.published == datetime(2021, 9, 10, 20, 45)
    assert clip.related == (
        Related(
            title="Dockworkers welcome quieter quays",
            excerpt="Union leaders say the new cranes cut noise.",
            provider="Coastal Gazette",
        ),
    )
    assert clip.related_text == (
        "Dockworkers welcome quieter quays\nUnion leaders say the new cranes cut noise.\n"
        "Coastal Gazette"
    )


def test_edge_fixture_offset_date_numbers_and_single_topic():
    clip = read_clip(EDGE_CLIPS / "offset_date.md")
    assert clip.published == datetime(2021, 5, 31, 23, 30)
    assert clip.quality == 55
    assert clip.heat == 62
    assert clip.topics == ("Energy",)
    assert len(clip.warnings) == 1
    assert clip.url == "https://example.org/news/fjord-ferries"


def test_edge_fixture_norway():
    clip = read_clip(EDGE_CLIPS / "norway.md")
    assert clip.id == "na-norway-0001"
    assert clip.topics == ("NO", "yes", "Energy")
    assert clip.published == datetime(2021, 8, 2)
    assert clip.quality == 7
    assert clip.heat == 3


def test_edge_fixture_broken_date_names_file_field_and_value():
    path = EDGE_CLIPS / "broken_date.md"
    with pytest.raises(ClipError) as err:
        read_clip(path)
    message = str(err.value)
    assert str(path) in message
    assert "publishedDateTime" in message
    assert "sometime last spring" in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"just text, no frontmatter\n", "no YAML frontmatter"),
        (b"---\ntitle: T\n", "not closed"),
        (b"---\n- a\n- b\n---\n", "must be a mapping"),
        (b"---\ntitle: [unclosed\n---\n", "malformed YAML"),
        (b"---\nexcerpt: no title\n---\n", "missing"),
        (b"---\ntitle: '   '\n---\n", "empty"),
        (b"---\ntitle: T\x00\n---\n", "binary"),
        (b"---\ntitle: caf\xe9\n---\n", "not UTF-8"),
    ],
)
def test_bad_files_raise_clip_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    with pytest.raises(ClipError, match=reason) as err:
        read_clip(path)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_oversized_file_is_refused(tmp_path):
    path = write_clip(tmp_path / "big.md", title="Big", body="x" * 5000)
    with pytest.raises(ClipError, match="limit"):
        read_clip(path, max_bytes=1000)
    assert read_clip(path).title == "Big"
