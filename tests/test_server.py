"""The HTTP API (`clipsearch serve`) through Starlette's TestClient: every search
parameter, errors as 400 JSON naming the parameter, 404s, refresh after a commit with
requests in flight kept on their snapshot, the token rule and the security headers."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import SEED_ID, Corpus, write_clip
from starlette.testclient import TestClient

from clipsearch import SearchRequest, open_index, update_index
from clipsearch.server.app import CSP, make_app
from clipsearch.server.params import search_params
from clipsearch.server.snapshots import SnapshotPool


@pytest.fixture(scope="module")
def client(corpus: Corpus):
    with TestClient(make_app(str(corpus.index)), base_url="http://127.0.0.1") as c:
        yield c


def test_search_returns_the_json_contract(client: TestClient, corpus: Corpus) -> None:
    r = client.get("/api/search", params={"q": "facial recognition", "limit": 3})
    assert r.status_code == 200
    with open_index(corpus.index) as idx:
        assert r.json() == idx.search("facial recognition", limit=3).to_dict()


@pytest.mark.parametrize(
    "params, options",
    [
        ({"q": "vaccine", "topic": ["covid-19"]}, {"topics": ["covid-19"]}),
        ({"q": "", "topic": ["Climate", "Energy"]}, {"topics": ["Climate", "Energy"]}),
        ({"provider": ["natl law review"]}, {"providers": ["natl law review"]}),
        ({"provider": ["Reuters", "Wired"], "topic": "AI"}, {
            "providers": ["Reuters", "Wired"], "topics": ["AI"]}),
        ({"since": "2021-03-01", "until": "2021-06-30"}, {
            "since": "2021-03-01", "until": "2021-06-30"}),
        ({"since": "2021-03-01T12:00+02:00"}, {"since": "2021-03-01T12:00+02:00"}),
        ({"q": "ballot", "sort": "date"}, {"sort": "date"}),
        ({"q": "ballot", "sort": "quality"}, {"sort": "quality"}),
        ({"q": "solar", "limit": "2", "offset": "1"}, {"limit": 2, "offset": 1}),
        ({"q": "vacine", "exact": "1"}, {"exact": True}),
        ({"q": "vacine", "exact": "false"}, {"exact": False}),
        ({"q": "robot", "facet_limit": "2"}, {"facet_limit": 2}),
        ({"q": "robot", "facet_limit": "all"}, {"facet_limit": None}),
        ({"limit": "0"}, {"limit": 0}),
    ],
)
def test_every_parameter(client: TestClient, corpus: Corpus, params, options) -> None:
    r = client.get("/api/search", params=params)
    assert r.status_code == 200, r.json()
    from clipsearch import dates

    opts = dict(options)
    for key in ("since", "until"):
        if key in opts:
            opts[key] = dates.from_value(opts[key], end_of_day=key == "until")
    q = params.get("q", "")
    with open_index(corpus.index) as idx:
        assert r.json() == idx.search(q, **opts).to_dict()


def test_typos_are_corrected_and_exact_turns_it_off(client: TestClient) -> None:
    fuzzy = client.get("/api/search", params={"q": "vacine"}).json()
    assert fuzzy["corrections"] == {"vacine": "vaccine"} and fuzzy["total"] > 0
    exact = client.get("/api/search", params={"q": "vacine", "exact": "1"}).json()
    assert exact["corrections"] == {} and exact["total"] == 0


def test_parameters_follow_the_request_fields() -> None:
    """Built from SearchRequest's fields: a new field is a new parameter."""
    names = {p.name for p in search_params()}
    assert names == {
        "q", "topic", "provider", "since", "until", "sort", "limit", "offset", "exact",
        "facet_limit", "match", "histogram", "expand", "group", "count", "language",
    }


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("limit=x", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=100000", "limit"),
        ("offset=abc", "offset"),
        ("offset=99999999", "offset"),
        ("facet_limit=-3", "facet_limit"),
        ("sort=newest", "sort"),
        ("since=yesterday", "since"),
        ("until=2022-13-01", "until"),
        ("since=2022-02-01&until=2022-01-01", "since"),
        ("exact=maybe", "exact"),
        ("limit=1&limit=2", "limit"),
        ("topic=zzzzqqqq", "topic"),
        ("provider=zzzzqqqq", "provider"),
        ("q=" + "a" * 2001, "q"),
        ("q=%22unclosed", None),
        ("q=ab*+OR+ac*+OR+ad*", None),
        ("colour=red", "colour"),
    ],
)
def test_bad_parameters_are_400_naming_them(client: TestClient, query, parameter) -> None:
    r = client.get("/api/search?" + query)
    if parameter is None and r.status_code == 200:
        return  # a query the engine accepts; the point is: never a 500
    assert r.status_code == 400, r.text
    body = r.json()
    assert set(body) == {"error", "parameter"} and body["error"]
    if parameter is not None:
        assert body["parameter"] == parameter
    assert "Traceback" not in r.text


def test_query_syntax_errors_name_q(client: TestClient) -> None:
    r = client.get("/api/search", params={"q": "title:*"})  # Every: refused by the engine
    assert r.status_code == 400 and r.json()["parameter"] == "q"


def test_clip_by_id_and_404(client: TestClient) -> None:
    r = client.get(f"/api/clips/{SEED_ID}")
    assert r.status_code == 200 and r.json()["id"] == SEED_ID
    assert "stat" not in r.json()
    missing = client.get("/api/clips/no-such-clip")
    assert missing.status_code == 404 and missing.json()["parameter"] == "id"
    assert client.get("/api/nothing").status_code == 404
    assert client.get("/api/nothing").json() == {"error": "not found"}


def test_facets_and_stats(client: TestClient, corpus: Corpus) -> None:
    r = client.get("/api/facets/provider", params={"q": "vaccine"})
    with open_index(corpus.index) as idx:
        want = idx.facet_values("provider", "vaccine")
        stats = idx.stats()
    assert r.json() == {"field": "provider", "values": [{"value": v, "count": n} for v, n in want]}
    bad = client.get("/api/facets/colour")
    assert bad.status_code == 400 and bad.json()["parameter"] == "field"
    assert client.get("/api/facets/topic?limit=3").json()["parameter"] == "limit"
    got = client.get("/api/stats").json()
    assert got["clips"] == stats["clips"] == len(corpus.specs)


def test_histogram_counts_all_matches_per_month(client: TestClient, corpus: Corpus) -> None:
    from collections import Counter

    body = client.get("/api/histogram", params={"q": "", "interval": "month"}).json()
    months = Counter(
        f"{s.published:%Y-%m}" for s in corpus.specs if s.published is not None
    )
    got = {b["start"][:7]: b["count"] for b in body["buckets"]}
    assert {k: v for k, v in got.items() if v} == dict(months)
    assert len(got) == _months_between(min(months), max(months))
    assert body["undated"] == sum(s.published is None for s in corpus.specs)
    assert body["total"] == len(corpus.specs)
    vaccine = client.get("/api/histogram", params={"q": "vaccine", "topic": "COVID-19"}).json()
    assert vaccine["total"] == client.get(
        "/api/search", params={"q": "vaccine", "topic": "COVID-19"}
    ).json()["total"]
    years = client.get("/api/histogram", params={"interval": "year"}).json()
    assert [b["start"][:4] for b in years["buckets"]] == ["2021", "2022"]
    bad = client.get("/api/histogram", params={"interval": "fortnight"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "interval"


def _months_between(first: str, last: str) -> int:
    y1, m1 = map(int, first.split("-"))
    y2, m2 = map(int, last.split("-"))
    return (y2 - y1) * 12 + m2 - m1 + 1


def test_openapi_document_lists_the_endpoints_and_parameters(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/search", "/api/histogram", "/api/clips/{id}", "/api/facets/{field}",
            "/api/stats"} <= set(doc["paths"])
    names = {p["name"] for p in doc["paths"]["/api/search"]["get"]["parameters"]}
    assert names == {p.name for p in search_params()}


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/", "/api/stats", "/static/app.js", "/api/clips/none", "/openapi.json"):
        r = client.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert r.headers["x-content-type-options"] == "nosniff"


def test_page_has_no_inline_script_or_handlers(client: TestClient) -> None:
    html = client.get("/").text
    import re

    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']
    assert not re.search(r"\son\w+\s*=", html)
    js = client.get("/static/app.js").text
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js and "eval(" not in js


def test_read_only_no_endpoint_writes(client: TestClient) -> None:
    for method in ("post", "put", "delete", "patch"):
        r = getattr(client, method)("/api/search")
        assert r.status_code in (404, 405)
        assert r.status_code != 500


def test_token_rule(corpus: Corpus) -> None:
    app = make_app(str(corpus.index), token="s3cret")
    with TestClient(app, base_url="http://192.0.2.1") as c:
        for path in ("/", "/api/search", "/api/stats", f"/api/clips/{SEED_ID}", "/openapi.json"):
            r = c.get(path)
            assert r.status_code == 401 and r.json()["parameter"] == "token", path
            assert r.headers["content-security-policy"] == CSP
        assert c.get("/api/stats", params={"token": "wrong"}).status_code == 401
        assert c.get("/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/stats", params={"token": "s3cret"}).status_code == 200
        assert c.get("/api/stats", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/?token=s3cret").status_code == 200
        # The page's own code carries no data and a <script> tag cannot send a header.
        assert c.get("/static/app.js").status_code == 200
        # The token is a parameter every endpoint accepts, not a search option.
        assert c.get("/api/search?token=s3cret&q=vaccine").json()["total"] > 0


def test_without_a_token_only_loopback_hosts_are_answered(corpus: Corpus) -> None:
    """A page elsewhere cannot reach the API by pointing its DNS name at 127.0.0.1."""
    with TestClient(make_app(str(corpus.index)), base_url="http://127.0.0.1") as c:
        for host in ("evil.example", "evil.example:8765", "192.0.2.1"):
            assert c.get("/api/stats", headers={"host": host}).status_code == 403, host
        for host in ("127.0.0.1:8765", "localhost", "[::1]:8765"):
            assert c.get("/api/stats", headers={"host": host}).status_code == 200, host


def test_refresh_after_a_commit(tmp_path: Path) -> None:
    root = tmp_path / "clips"
    write_clip(root / "a.md", title="Lighthouse keepers retire", date="2022-01-05")
    update_index([root], tmp_path / "index")
    app = make_app(str(tmp_path / "index"), check_every=0)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/api/search", params={"q": "lighthouse"}).json()["total"] == 1
        write_clip(root / "b.md", title="Lighthouse restored by volunteers", date="2022-02-05")
        update_index([root], tmp_path / "index")
        assert c.get("/api/search", params={"q": "lighthouse"}).json()["total"] == 2
        assert c.get("/api/stats").json()["clips"] == 2
        assert app.state.pool.reopened == 1


def test_a_request_in_flight_keeps_its_snapshot(tmp_path: Path) -> None:
    """A commit while a request holds a snapshot: the next request gets the new commit,
    the old snapshot stays open until the first request ends, then is closed."""
    root = tmp_path / "clips"
    write_clip(root / "a.md", title="Harbour seals return")
    update_index([root], tmp_path / "index")
    closed: list[object] = []

    class Tracked:
        def __init__(self, path: str):
            from clipsearch import ClipIndex

            self.inner = ClipIndex(path)

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

        def close(self) -> None:
            closed.append(self)
            self.inner.close()

    pool = SnapshotPool(str(tmp_path / "index"), check_every=0, opener=Tracked)  # type: ignore[arg-type]
    started, release = threading.Event(), threading.Event()
    totals: list[int] = []

    def slow_request() -> None:
        with pool.use() as ix:
            started.set()
            assert release.wait(10)
            totals.append(ix.run(SearchRequest("harbour")).total)  # the old snapshot

    t = threading.Thread(target=slow_request)
    t.start()
    assert started.wait(10)
    old = pool._current.index  # noqa: SLF001 (the test looks inside)
    write_clip(root / "b.md", title="Harbour ferry timetable")
    update_index([root], tmp_path / "index")
    assert pool.check()
    assert closed == []  # the old snapshot is still in use
    with pool.use() as ix:
        assert ix.run(SearchRequest("harbour")).total == 2
    release.set()
    t.join(10)
    assert totals == [1]
    assert closed == [old]
    pool.close()
    assert len(closed) == 2


def test_plain_search_does_not_import_the_server(corpus: Corpus) -> None:
    code = (
        "import sys\n"
        "from clipsearch.cli import main\n"
        "try:\n"
        f"    main(['search', '--index', {str(corpus.index)!r}, 'vaccine'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "bad = [m for m in ('starlette', 'uvicorn', 'clipsearch.server') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_serve_refuses_an_outside_host_without_a_token(corpus: Corpus) -> None:
    from click.testing import CliRunner

    from clipsearch.cli import main

    r = CliRunner().invoke(main, ["serve", "--index", str(corpus.index), "--host", "0.0.0.0"],
                           env={"CLIPSEARCH_TOKEN": ""})
    assert r.exit_code == 2 and "--token" in r.output
    missing = CliRunner().invoke(main, ["serve", "--index", str(corpus.index) + "-none"])
    assert missing.exit_code == 2 and "clipsearch index" in missing.output


def test_match_is_a_parameter_with_the_cli_meaning(client: TestClient) -> None:
    auto = client.get("/api/search", params={"q": "glacier vaccine", "exact": "1"}).json()
    assert auto["match"] == "any" and auto["match_fallback"] is True
    strict = client.get(
        "/api/search", params={"q": "glacier vaccine", "exact": "1", "match": "all"}
    ).json()
    assert strict["total"] == 0 and strict["match"] == "all"
    bad = client.get("/api/search", params={"q": "x", "match": "most"})
    assert bad.status_code == 400 and bad.json()["parameter"] == "match"


def test_like_is_served_with_the_search_options(client: TestClient, idx) -> None:
    seed = idx.search("vaccine", limit=1).hits[0].id
    body = client.get(f"/api/like/{seed}", params={"limit": 3}).json()
    assert seed not in [h["id"] for h in body["hits"]] and len(body["hits"]) <= 3
    assert body == idx.like(seed, limit=3).to_dict()
    filtered = client.get(f"/api/like/{seed}", params={"topic": "Climate"}).json()
    assert all("Climate" in h["topics"] for h in filtered["hits"])
    assert client.get("/api/like/no-such-clip").status_code == 404
    assert client.get(f"/api/like/{seed}", params={"limit": "x"}).status_code == 400
    assert "/api/like/{id}" in client.get("/openapi.json").json()["paths"]
