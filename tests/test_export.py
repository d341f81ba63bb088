"""clipsearch export (issue 10): every match, in the search's order, as JSON Lines or
CSV that the csv module (and spreadsheets) read back; bounded fields; whole files."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from clipsearch import SearchRequest
from clipsearch.cli import main
from clipsearch.export import DEFAULT_FIELDS, parse_fields, write
from clipsearch.search.engine import HitStream


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("query", ["", "vaccine", "solar panel", "glacier vaccine"])
def test_jsonl_has_every_match_in_search_order(corpus, idx, query) -> None:
    res = run("export", query, "--index", corpus.index, "--exact")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    everything = idx.search(query, exact=True, limit=10_000)
    assert len(rows) == everything.total
    assert [r["id"] for r in rows] == [h.id for h in everything.hits]
    assert all(tuple(r) == DEFAULT_FIELDS for r in rows)


def test_csv_reads_back_with_the_csv_module(corpus, idx, tmp_path) -> None:
    out = tmp_path / "out.csv"
    res = run(
        "export", "", "--index", corpus.index, "--format", "csv", "-o", out,
        "--fields", "id,title,topics,published,quality,highlights", "--json",
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stderr)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read it as UTF-8
    assert b"\r\n" in raw  # RFC 4180 line ends
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert len(rows) == summary["exported"] == summary["total"] == len(idx)
    by_id = {r["id"]: r for r in rows}
    for hit in idx.search("", limit=100).hits:
        assert by_id[hit.id]["title"] == hit.title  # commas, quotes, accents survive
        assert by_id[hit.id]["topics"] == "; ".join(hit.topics)
    assert not (tmp_path / "out.csv.partial").exists()


def test_filters_and_sort_apply_as_in_search(corpus, idx) -> None:
    res = run("export", "", "--index", corpus.index, "--topic", "climate", "--sort", "date")
    ids = [json.loads(line)["id"] for line in res.stdout.splitlines()]
    assert ids == [h.id for h in idx.search("", topics=["climate"], sort="date", limit=100).hits]


def test_bad_fields_and_folders_are_usage_errors(corpus, tmp_path) -> None:
    res = run("export", "x", "--index", corpus.index, "--fields", "id,colour")
    assert res.exit_code == 2 and "--fields 'colour'" in res.stderr
    res = run("export", "x", "--index", corpus.index, "-o", tmp_path / "no" / "f.csv")
    assert res.exit_code == 2 and "does not exist" in res.stderr
    with pytest.raises(Exception, match="named twice"):
        parse_fields("id,id")


def test_a_failed_export_leaves_no_file(corpus, idx, tmp_path, monkeypatch) -> None:
    out = tmp_path / "out.jsonl"
    hits = idx.iter_hits(SearchRequest(""))

    def broken():
        yield next(hits)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        "clipsearch.search.engine.ClipIndex.iter_hits", lambda *_a: HitStream(2, broken())
    )
    res = run("export", "", "--index", corpus.index, "-o", out)
    assert res.exit_code == 3
    assert not out.exists() and not (tmp_path / "out.jsonl.partial").exists()


def test_the_library_writer_streams_hits(idx) -> None:
    out = io.StringIO()
    n = write(idx.iter_hits(SearchRequest("vaccine")), out, "jsonl", ["id", "score"])
    assert n == idx.search("vaccine").total == len(out.getvalue().splitlines())
