"""More like this: `ClipIndex.like` and `clipsearch like` (issue 15)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import SEED_ID

from clipsearch.cli.commands import main
from clipsearch.errors import RequestError


def test_like_excludes_the_clip_and_finds_similar(idx):
    res = idx.like(SEED_ID, limit=50)
    ids = [h.id for h in res.hits]
    assert SEED_ID not in ids
    assert res.total > 0 and res.match == "any"
    assert set(res.facets) == {"topic", "provider", "language"}
    words = idx.like_words(idx._backend.docnum_of(SEED_ID))
    assert 0 < len(words) <= 25 and "facial" in words


def test_like_with_filters(idx):
    full = idx.like(SEED_ID, limit=1000, facets=False)
    topic = next(t for h in full.hits for t in h.topics)
    res = idx.like(SEED_ID, topics=[topic], limit=1000)
    assert res.total > 0
    assert all(topic in h.topics for h in res.hits)
    assert {h.id for h in res.hits} <= {h.id for h in full.hits}


def test_like_unknown_id_is_a_clear_error(idx):
    with pytest.raises(RequestError, match="no clip has id"):
        idx.like("no-such-clip")


def test_like_cli(corpus):
    runner = CliRunner()
    out = runner.invoke(main, ["like", SEED_ID, "--index", str(corpus.index), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["total"] > 0 and SEED_ID not in [h["id"] for h in data["hits"]]
    bad = runner.invoke(main, ["like", "no-such-clip", "--index", str(corpus.index)])
    assert bad.exit_code != 0 and "no clip has id" in bad.output
