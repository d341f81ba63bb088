"""The Python API: `from clipsearch import open_index, update_index`."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ALL_SPECS, SEED, SEED_ID, SEED_TITLE, specs_with_word, write_clip

import clipsearch
from clipsearch import (
    ClipIndex,
    ClipsearchError,
    Hit,
    IndexMissingError,
    QueryError,
    SearchResult,
    UpdateReport,
    default_index_dir,
    open_index,
    update_index,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_python_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_example_runs(tmp_path, monkeypatch):
    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds" / SEED.name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLIPSEARCH_INDEX", raising=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_python_example(), "README.md", "exec"), {"__name__": "readme"})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("1 added, 0 updated, 0 removed, 0 unchanged, ")
    assert lines[1] == "1 {'GCN': 1} {}"
    assert lines[2].endswith(f"{SEED_TITLE} 2021-04-29 20:46:00 ('Computer Vision', 'AI')")
    assert float(lines[2].split()[0]) > 0
    assert lines[3] == SEED_ID
    assert lines[4] == "[('AI', 1), ('Computer Vision', 1)]"
    assert len(lines) == 5
    assert (tmp_path / "index").is_dir()


def test_package_docstring_example_runs(tmp_path, monkeypatch):
    shutil.copytree(SEED.parent, tmp_path / "clips")
    monkeypatch.chdir(tmp_path)
    code = "\n".join(
        line
        for line in clipsearch.__doc__.splitlines()
        if line.startswith(("from ", "update", "with", "    "))
    )
    namespace: dict = {}
    exec(code, namespace)
    assert namespace["result"].hits[0].id == SEED_ID


def test_open_once_search_many(idx):
    assert isinstance(idx, ClipIndex)
    assert len(idx) == len(ALL_SPECS)
    queries = ["vaccine", "wildfire", "ballot", "solar", "satellite", "gdpr", "robot"]
    first = {q: [h.id for h in idx.search(q, limit=50).hits] for q in queries}
    for _ in range(3):
        for q in queries:
            res = idx.search(q, limit=50)
            assert [h.id for h in res.hits] == first[q]
            assert res.total == len(specs_with_word(q))


def test_results_are_typed(idx):
    res = idx.search("wildfire OR letters", limit=50)
    assert isinstance(res, SearchResult)
    assert isinstance(res.total, int) and res.total == len(res.hits) == 6
    assert isinstance(res.facets, dict) and set(res.facets) == {"topic", "provider", "language"}
    assert res.corrections == {} and res.suggestion is None
    for hit in res.hits:
        assert isinstance(hit, Hit)
        assert isinstance(hit.score, float)
        assert isinstance(hit.topics, tuple)
        assert hit.published is None or (
            isinstance(hit.published, datetime) and hit.published.tzinfo is None
        )
        assert hit.quality is None or type(hit.quality) is int
        assert isinstance(hit.highlights, dict)
    assert any(h.published is None for h in res.hits)
    json.dumps(res.to_dict())  # serialisable as is


def test_hits_carry_the_clip_data(idx):
    specs = {s.title: s for s in ALL_SPECS}
    for hit in idx.search("", limit=100).hits:
        spec = specs[hit.title]
        assert hit.provider == spec.provider
        assert hit.topics == spec.topics
        assert hit.published == spec.published
        assert hit.quality == spec.quality_int
        assert hit.url == spec.url
        assert Path(hit.path).name == Path(spec.name).name


def test_get_and_facet_values(idx):
    stored = idx.get(SEED_ID)
    assert stored["title"] == SEED_TITLE
    assert stored["published"] == "2021-04-29T20:46:00Z"
    assert "stat" not in stored
    assert idx.get("nope") is None
    values = idx.facet_values("topic", "satellite")
    # "AI" three times and "ai" once; ties by name.
    assert values == [("AI", 4), ("Space", 4)]


def test_stats(idx):
    info = idx.stats(top=3)
    assert info["clips"] == len(ALL_SPECS)
    assert info["topics"] == {"Climate": 10, "AI": 9, "Law": 9}
    assert info["distinct_topics"] == 12


def test_refresh_picks_up_updates(tmp_path):
    root = tmp_path / "clips"
    write_clip(root / "a.md", title="Harbour cranes go electric")
    update_index([root], tmp_path / "index")
    with open_index(tmp_path / "index") as idx:
        assert idx.refresh() is False
        assert idx.search("lighthouse").total == 0
        write_clip(root / "b.md", title="Lighthouse keepers retire")
        report = update_index([root], tmp_path / "index")
        assert isinstance(report, UpdateReport) and report.added == 1
        assert idx.search("lighthouse").total == 0  # still the old snapshot
        assert idx.refresh() is True
        assert [h.title for h in idx.search("lighthouse").hits] == ["Lighthouse keepers retire"]
        assert len(idx) == 2
        # Typo tolerance knows the new words after a refresh.
        assert idx.search("lighthuose").corrections == {"lighthuose": "lighthouse"}
        (root / "a.md").unlink()
        update_index([str(root)], str(tmp_path / "index"))
        assert idx.search("cranes").total == 1
        assert idx.refresh() is True
        assert idx.search("cranes").total == 0
        assert len(idx) == 1
        assert idx.refresh() is False


def test_errors_are_clipsearch_errors(tmp_path, idx):
    with pytest.raises(IndexMissingError) as err:
        open_index(tmp_path / "missing")
    assert isinstance(err.value, ClipsearchError)
    assert "\n" not in str(err.value)
    with pytest.raises(QueryError) as qerr:
        idx.search("x", sort="shuffle")
    assert isinstance(qerr.value, ClipsearchError)


def test_default_index_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPSEARCH_INDEX", str(tmp_path / "from-env"))
    assert default_index_dir() == str(tmp_path / "from-env")
    update_index([SEED], tmp_path / "from-env")
    with open_index() as idx:
        assert idx.path == str(tmp_path / "from-env")
        assert idx.search("King County").hits[0].id == SEED_ID
    monkeypatch.delenv("CLIPSEARCH_INDEX")
    monkeypatch.chdir(tmp_path)
    assert default_index_dir() == str(tmp_path / "index")
