"""The `clipsearch` command through click's CliRunner: index, search (human and
--json), show, stats, facets, index location, and how user errors are reported."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    ALL_SPECS,
    EDGE_CLIPS,
    SEED,
    SEED_ID,
    SEED_TITLE,
    brute_facets,
    folded,
    specs_with_word,
    write_clip,
)

from clipsearch.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
SUMMARY = re.compile(
    r"^(\d+) added, (\d+) updated, (\d+) removed, (\d+) unchanged, "
    r"(\d+) skipped with errors(, \d+ duplicate ids \(later file wins\))? in \d+\.\d s$"
)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TOP_KEYS = {
    "query",
    "total",
    "offset",
    "hits",
    "facets",
    "corrections",
    "facets_more",
    "suggestion",
    "match",
    "match_fallback",
    "all_words_total",
    "histogram",
}
HIT_KEYS = {
    "language",
    "id",
    "score",
    "title",
    "excerpt",
    "url",
    "provider",
    "topics",
    "published",
    "path",
    "highlights",
    "quality",
    "story",
}


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def search_json(index: Path, *args: str) -> dict:
    res = run("search", *args, "--json", "--index", index)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def assert_user_error(res, code: int = 2) -> str:
    """One line on stderr, the given exit status, no traceback."""
    assert res.exit_code == code, res.output
    assert isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


# --------------------------------------------------------------------------- index


def test_index_prints_a_summary_and_exits_0(tmp_path):
    shutil.copytree(SEED.parent, tmp_path / "clips")
    res = run("index", tmp_path / "clips", "--index", tmp_path / "index")
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 1
    m = SUMMARY.match(lines[0])
    assert m and m.groups()[:5] == ("1", "0", "0", "0", "0")
    assert res.stderr == ""
    again = run("index", tmp_path / "clips", "--index", tmp_path / "index")
    assert again.exit_code == 0
    assert SUMMARY.match(again.stdout.strip()).groups()[:5] == ("0", "0", "0", "1", "0")


def test_index_rebuild(tmp_path):
    write_clip(tmp_path / "clips" / "a.md", title="Harbour cranes")
    write_clip(tmp_path / "other" / "b.md", title="Lighthouse keepers")
    index = tmp_path / "index"
    assert run("index", tmp_path / "clips", tmp_path / "other", "--index", index).exit_code == 0
    res = run("index", tmp_path / "clips", "--rebuild", "--index", index)
    assert res.exit_code == 0
    assert SUMMARY.match(res.stdout.strip()).groups()[:5] == ("1", "0", "0", "0", "0")
    assert json.loads(run("stats", "--json", "--index", index).stdout)["clips"] == 1


def test_index_with_a_bad_file_exits_1_and_indexes_the_rest(tmp_path):
    res = run("index", EDGE_CLIPS, "--index", tmp_path / "index")
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    m = SUMMARY.match(res.stdout.strip())
    assert m and m.groups()[:5] == ("4", "0", "0", "0", "1")
    skipped = [line for line in res.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1
    assert str(EDGE_CLIPS / "broken_date.md") in skipped[0]
    assert "publishedDateTime" in skipped[0] and "sometime last spring" in skipped[0]
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "offset_date.md" in warnings[0]
    # The good ones are searchable.
    found = search_json(tmp_path / "index", "ferries cranes lighthouse wealth", "--limit", "10")
    assert found["total"] == 4
    assert {Path(h["path"]).name for h in found["hits"]} == {
        "offset_date.md",
        "body.md",
        "bom.md",
        "norway.md",
    }


def test_index_strict_exits_1_and_changes_nothing(tmp_path):
    res = run("index", EDGE_CLIPS, "--strict", "--index", tmp_path / "index")
    line = assert_user_error(res, code=1)
    assert "broken_date.md" in line
    # There was no index, and there still is none (an unfinished first build is no index).
    stats = run("stats", "--json", "--index", tmp_path / "index")
    assert stats.exit_code == 2 and "did not finish" in stats.stderr


def test_index_json_summary(tmp_path):
    res = run("index", EDGE_CLIPS, "--json", "--index", tmp_path / "index")
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["added"] == 4
    assert [Path(s["path"]).name for s in data["skipped"]] == ["broken_date.md"]
    assert data["index"] == str(tmp_path / "index")


def test_index_reports_duplicates(tmp_path):
    write_clip(tmp_path / "clips" / "a.md", title="First", id="same")
    write_clip(tmp_path / "clips" / "b.md", title="Second", id="same")
    res = run("index", tmp_path / "clips", "--index", tmp_path / "index")
    assert res.exit_code == 0
    assert SUMMARY.match(res.stdout.strip()).group(6)
    assert any(line.startswith("duplicate:") for line in res.stderr.splitlines())


def test_index_refuses_to_overwrite_a_folder_that_is_not_an_index(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("keep me")
    res = run("index", SEED.parent, "--index", tmp_path / "notes")
    assert_user_error(res)
    assert (tmp_path / "notes" / "keep.txt").read_text() == "keep me"


def test_index_needs_a_path():
    assert run("index").exit_code == 2


# --------------------------------------------------------------------------- search


def test_search_human_output(corpus):
    res = run("search", "vaccine", "--index", corpus.index, "--limit", "3")
    assert res.exit_code == 0, res.output
    out = res.stdout
    total = len(specs_with_word("vaccine"))
    assert f"1-3 of {total} clips for 'vaccine'" in out
    numbered = re.findall(r"^\s+(\d+)\. (.+)$", out, re.M)
    assert [n for n, _ in numbered] == ["1", "2", "3"]
    assert all("[vaccine]" in t.lower() for _, t in numbered)  # matches marked
    topic_line = next(line for line in out.splitlines() if line.startswith("topic: "))
    provider_line = next(line for line in out.splitlines() if line.startswith("provider: "))
    assert "Vaccines (6)" in topic_line and "Health (6)" in topic_line
    assert "Reuters (2)" in provider_line
    assert "Showing results for" not in out


def test_search_human_output_with_a_typo(corpus):
    res = run("search", "vacine", "--index", corpus.index)
    assert res.exit_code == 0
    first = res.stdout.splitlines()[0]
    assert first == (
        "Showing results for corrected words (vacine -> vaccine); use --exact to search as typed."
    )
    assert re.search(r"^\s+1\. ", res.stdout, re.M)
    exact = run("search", "vacine", "--exact", "--index", corpus.index)
    assert "Showing results for" not in exact.stdout
    assert "0 clips for 'vacine'" in exact.stdout


def test_search_words_are_joined(corpus):
    one = search_json(corpus.index, "facial recognition")
    two = search_json(corpus.index, "facial", "recognition")
    assert one == two
    assert one["query"] == "facial recognition"


def test_search_filters_and_paging_options(corpus):
    data = search_json(
        corpus.index,
        "",
        "--topic",
        "climate",
        "--provider",
        "seattle times",
        "--provider",
        "reuters",
        "--sort",
        "date",
        "--limit",
        "2",
        "--offset",
        "1",
    )
    expected = sorted(
        (
            s
            for s in ALL_SPECS
            if "Climate" in s.topics and s.provider.casefold() in {"seattle times", "reuters"}
        ),
        key=lambda s: s.published or datetime.min,
        reverse=True,
    )
    assert data["total"] == len(expected) >= 3
    assert data["offset"] == 1
    assert [h["title"] for h in data["hits"]] == [s.title for s in expected[1:3]]


def test_since_until_options_are_utc(corpus):
    data = search_json(
        corpus.index, "", "--since", "2021-04-29T22:46:00+02:00", "--until", "2021-04-29T20:46Z"
    )
    assert [h["id"] for h in data["hits"]] == [SEED_ID]


def test_until_a_date_includes_that_whole_day(corpus):
    data = search_json(corpus.index, "facial recognition", "--until", "2021-04-29")
    assert SEED_ID in [h["id"] for h in data["hits"]]


@pytest.fixture
def january_index(tmp_path):
    """Clips at 2022-01-09T23:00Z, 2022-01-10T15:00Z and 2022-01-10T20:00Z."""
    for name, when in (("a", "2022-01-09T23:00:00Z"), ("b", "2022-01-10T15:00:00Z")):
        write_clip(tmp_path / "clips" / f"{name}.md", title=f"Ferry news {name}", date=when)
    write_clip(tmp_path / "clips" / "c.md", title="Ferry news c", date="2022-01-10T20:00:00Z")
    assert run("index", tmp_path / "clips", "--index", tmp_path / "index").exit_code == 0
    return tmp_path / "index"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # Issue 16 (8): every date-only form fromisoformat accepts includes its whole day.
        (("--until", "2022-01-10"), "abc"),
        (("--until", "20220110"), "abc"),
        (("--until", "2022-01-10Z"), "abc"),
        (("--until", "2022-W02-1"), "abc"),  # Monday of week 2 is January 10
        (("--until", "2022-01-10+05:30"), "ab"),  # the day ends at 18:29:59Z
        (("--until", "2022-01-09"), "a"),
        (("--since", "20220110"), "bc"),
        (("--since", "2022-01-10+05:30"), "abc"),  # the day starts at 2022-01-09T18:30Z
        (("--since", "2022-01-10-05:00"), "bc"),  # starts at 05:00Z
        (("--since", "2022-01-10", "--until", "2022-01-10"), "bc"),
        (("--until", "2022-01-10T15:00Z"), "ab"),  # a time: no end-of-day
        (("--until", "2022-01-10T10:00-05:00"), "ab"),
        # Issue 16 (9): past the ends of the calendar in UTC: clamped, no OverflowError.
        (("--until", "9999-12-31"), "abc"),
        (("--until", "9999-12-31T23:59-05:00"), "abc"),
        (("--since", "0001-01-01T00:00+01:00"), "abc"),
        (("--since", "0001-01-01", "--until", "9999-12-31Z"), "abc"),
        (("--since", "9999-12-31T23:00-05:00"), ""),
    ],
)
def test_since_until_date_forms(january_index, args, expected):
    data = search_json(january_index, "", *args, "--sort", "date")
    assert "".join(sorted(h["title"][-1] for h in data["hits"])) == expected


@pytest.mark.parametrize("value", ["2022-01-10Q", "10/01/2022", "2022-01-32", ""])
def test_bad_until_is_one_line_naming_option_and_value(january_index, value):
    res = run("search", "", "--until", value, "--index", january_index)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output
    # click's usage error: a usage line, then the one line that says what is wrong.
    line = res.stderr.strip().splitlines()[-1]
    assert "--until" in line and repr(value) in line


def test_since_after_until_names_both_options(january_index):
    res = run(
        "search", "", "--since", "2022-01-11", "--until", "20220110", "--index", january_index
    )
    line = assert_user_error(res)
    assert "--since 2022-01-11T00:00:00Z is after --until 2022-01-10T23:59:59Z" in line


# --------------------------------------------------------------------------- --json contract


def test_json_contract(corpus):
    data = search_json(corpus.index, "vaccine OR wildfire OR letters", "--limit", "50")
    assert set(data) == TOP_KEYS
    assert data["query"] == "vaccine OR wildfire OR letters"
    assert isinstance(data["total"], int) and data["total"] == len(data["hits"]) == 12
    assert data["offset"] == 0
    assert data["corrections"] == {}
    assert set(data["facets"]) == {"topic", "provider", "language"}
    for counts in data["facets"].values():
        assert all(isinstance(k, str) and type(v) is int for k, v in counts.items())
    undated = 0
    for hit in data["hits"]:
        assert set(hit) == HIT_KEYS
        assert isinstance(hit["id"], str) and hit["id"]
        assert isinstance(hit["score"], int | float) and hit["score"] > 0
        for key in ("title", "excerpt", "url", "provider", "path"):
            assert isinstance(hit[key], str)
        assert Path(hit["path"]).is_absolute() and Path(hit["path"]).exists()
        assert isinstance(hit["topics"], list) and all(isinstance(t, str) for t in hit["topics"])
        if hit["published"] is None:
            undated += 1
        else:
            assert ISO_Z.match(hit["published"]), hit["published"]
        assert isinstance(hit["highlights"], dict) and hit["highlights"]
        assert set(hit["highlights"]) <= {"title", "excerpt", "body", "related"}
        assert all("<mark>" in v for v in hit["highlights"].values())
        assert isinstance(hit["story"], str) and hit["story"]
    assert undated >= 1  # `published` null, not missing


def test_json_published_is_the_utc_instant(corpus):
    data = search_json(corpus.index, "", "--limit", "100")
    by_title = {h["title"]: h for h in data["hits"]}
    for spec in ALL_SPECS:
        expected = spec.published.strftime("%Y-%m-%dT%H:%M:%SZ") if spec.published else None
        assert by_title[spec.title]["published"] == expected


def test_json_matches_the_readme_example(tmp_path):
    text = README.read_text(encoding="utf-8")
    example = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))
    assert run("index", SEED.parent, "--index", tmp_path / "index").exit_code == 0
    data = search_json(tmp_path / "index", "facial recognition")
    assert set(data) == set(example)
    assert set(data["hits"][0]) == set(example["hits"][0])
    for key in ("query", "total", "offset", "facets", "corrections"):
        assert data[key] == example[key]
    hit, want = data["hits"][0], example["hits"][0]
    for key in ("id", "title", "url", "provider", "topics", "published"):
        assert hit[key] == want[key]
    for actual, shown in (
        (hit["excerpt"], want["excerpt"]),
        (hit["highlights"]["title"], want["highlights"]["title"]),
    ):
        pattern = ".*".join(re.escape(part.strip()) for part in shown.split("..."))
        assert re.fullmatch(pattern, actual), (actual, shown)
    assert hit["path"] == str(SEED)


def test_json_corrections(corpus):
    data = search_json(corpus.index, "faical recogniton")
    assert data["corrections"] == {"faical": "facial", "recogniton": "recognition"}
    assert data["hits"][0]["id"] == SEED_ID
    assert search_json(corpus.index, "facial recognition")["corrections"] == {}


@pytest.mark.parametrize(
    "query",
    ['"faical recogniton"', "title:faical", "2001", "provider:gcm", "vacine*"],
)
def test_json_never_corrected(corpus, query):
    data = search_json(corpus.index, query)
    assert data["corrections"] == {}
    if query == "2001":
        assert data["total"] == 0  # "2000" is in the corpus; a year is not a typo


def test_json_quoted_word_never_corrected(corpus):
    data = search_json(corpus.index, '"faical"')
    assert data["corrections"] == {}


def test_json_text_is_not_html_escaped(make_index):
    _, index = make_index(
        {"x.md": dict(title="Q&A: <Tariffs> & trade", excerpt='Fish & chips "tariff" news')}
    )
    data = search_json(index, "tariffs")
    hit = data["hits"][0]
    assert hit["title"] == "Q&A: <Tariffs> & trade"
    assert "&amp;" not in json.dumps(hit["highlights"])
    assert "<mark>Tariffs</mark>" in hit["highlights"]["title"]


# --------------------------------------------------------------------------- show, stats, facets


def test_show(corpus):
    res = run("show", SEED_ID, "--index", corpus.index)
    assert res.exit_code == 0
    fields = dict(
        line.split(": ", 1) for line in res.stdout.splitlines() if re.match(r"^[a-z]+: ", line)
    )
    assert fields["id"] == SEED_ID
    assert fields["title"] == SEED_TITLE
    assert fields["provider"] == "GCN"
    assert fields["published"] == "2021-04-29T20:46:00Z"
    assert fields["topics"] == "Computer Vision, AI"
    assert fields["quality"] == "39"
    assert "King County government" in res.stdout


def test_show_json(corpus):
    res = run("show", SEED_ID, "--json", "--index", corpus.index)
    data = json.loads(res.stdout)
    assert data["id"] == SEED_ID
    assert data["published"] == "2021-04-29T20:46:00Z"
    assert data["topics"] == ["Computer Vision", "AI"]
    assert "stat" not in data


def test_show_unknown_id(corpus):
    line = assert_user_error(run("show", "no-such-id", "--index", corpus.index))
    assert "no-such-id" in line


def test_stats(corpus):
    res = run("stats", "--index", corpus.index)
    assert res.exit_code == 0
    assert f"clips: {len(ALL_SPECS)}" in res.stdout.splitlines()
    assert re.search(r"^topics \(12 distinct\): Climate \(10\), ", res.stdout, re.M)
    data = json.loads(run("stats", "--json", "--index", corpus.index).stdout)
    assert data["clips"] == len(ALL_SPECS)
    assert folded(data["topics"]) == dict(brute_facets(ALL_SPECS)["topic"].most_common(10))
    assert ISO_Z.match(data["last_update"])
    assert data["size_bytes"] > 0


def test_facets_command(corpus):
    res = run("facets", "provider", "--index", corpus.index)
    assert res.exit_code == 0
    rows = [line.split(None, 1) for line in res.stdout.splitlines() if line.strip()]
    got = {name: int(n) for n, name in (r for r in rows if len(r) == 2)}
    assert folded(got) == brute_facets(ALL_SPECS)["provider"]
    data = json.loads(run("facets", "topic", "wildfire", "--json", "--index", corpus.index).stdout)
    assert folded(data) == brute_facets(specs_with_word("wildfire"))["topic"]


# --------------------------------------------------------------------------- which index


def test_index_env_var(corpus, tmp_path):
    env = {"CLIPSEARCH_INDEX": str(corpus.index)}
    res = run("search", "King County", "--json", env=env)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["hits"][0]["id"] == SEED_ID
    # --index wins over the variable.
    res = run("search", "x", "--index", tmp_path / "nowhere", env=env)
    assert_user_error(res)


def test_index_env_var_for_indexing(tmp_path):
    env = {"CLIPSEARCH_INDEX": str(tmp_path / "envindex")}
    assert run("index", SEED.parent, env=env).exit_code == 0
    assert (tmp_path / "envindex").is_dir()
    assert json.loads(run("stats", "--json", env=env).stdout)["clips"] == 1


def test_default_index_is_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLIPSEARCH_INDEX", raising=False)
    assert run("index", SEED.parent).exit_code == 0
    assert (tmp_path / "index").is_dir()
    res = run("search", "facial", "--json")
    assert json.loads(res.stdout)["hits"][0]["id"] == SEED_ID


# --------------------------------------------------------------------------- user errors


@pytest.mark.parametrize(
    "args",
    [
        ("search", "facial"),
        ("search", "facial", "--json"),
        ("show", SEED_ID),
        ("stats",),
        ("facets", "topic"),
    ],
)
def test_missing_index_is_a_one_line_error(tmp_path, args):
    line = assert_user_error(run(*args, "--index", tmp_path / "missing"))
    assert line.startswith("clipsearch: ")
    assert str(tmp_path / "missing") in line
    assert not (tmp_path / "missing").exists()


def test_missing_index_without_traceback_in_a_real_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "clipsearch", "search", "x", "--index", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("search", "x", "--limit", "-1"),
        ("search", "x", "--limit", "ten"),
        ("search", "x", "--offset", "-3"),
        ("search", "x", "--sort", "random"),
        ("search", "x", "--since", "yesterday"),
        ("search", "x", "--until", "2021-13-01"),
        ("search", "x", "--facet-limit", "-1"),
        ("search", "x", "--no-such-option"),
        ("facets", "colour"),
        ("stats", "--top", "many"),
    ],
)
def test_bad_option_values_exit_2(corpus, args):
    res = run(*args, "--index", corpus.index)
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert isinstance(res.exception, SystemExit)


def test_too_broad_wildcard_is_searched_as_its_letters(corpus):
    # "a?x*" has one letter before the wildcard: too broad to expand, so it is
    # searched as the plain word "ax" rather than failing the whole query.
    res = run("search", "a?x*", "--json", "--index", corpus.index)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["total"] == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("search", "x", "--provider", "times"), "ambiguous"),
        (("search", "x", "--topic", "astrology"), "no such topic"),
        (("search", "", "--since", "2022-01-01", "--until", "2021-01-01"), "--since"),
        (("search", "w" * 2100), "limit"),
        (("search", " ".join(f"{a}{b}*" for a in "abcdefghij" for b in "abcdefg")), "prefixes"),
    ],
)
def test_query_errors_are_one_line_exit_2(corpus, args, needle):
    line = assert_user_error(run(*args, "--index", corpus.index))
    assert needle in line


def test_version_and_help():
    assert run("--version").exit_code == 0
    res = run("--help")
    assert res.exit_code == 0
    for command in ("index", "search", "show", "stats", "facets"):
        assert command in res.stdout
