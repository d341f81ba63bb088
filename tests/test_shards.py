"""Sharded indexes: the same answers as one index, three ways (3 shards in this
process, the same shards through a real Dask LocalCluster, one unsharded index), and
the faults: a worker killed during a query and during a build, a scheduler that is
down, partial answers only when asked for."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_clip, write_corpus

from clipsearch import open_index
from clipsearch.cli import main
from clipsearch.errors import ClusterError, RequestError, ShardsUnavailableError
from clipsearch.index import read_manifest, shard_of
from clipsearch.ingest.update import update_index

LANGUAGES = Path(__file__).parent / "fixtures" / "languages"

QUERIES = [
    "facial recognition",
    "faical recogniton",  # typos: corrections from the merged vocabulary
    "vacine booster",
    "King County",
    '"King County" NOT china',
    "solar NOT rooftop",
    "ballot OR gdpr",
    "title:solar",
    "provider:reuters",
    "sat*",
    "police cameras robot",
    "what is gdpr?",
    "wildfyre smoke",
    "facialrecognition",
    "ukraine NEAR/5 grain",
    "facial NEAR/3 recognition",
    "zzzzqqq",
    "élections présidentielles",  # analysed in each language of the merged list
    "elecciones",
    "",
]
OPTIONS = [
    {},
    {"sort": "date", "limit": 20},
    {"sort": "quality", "limit": 20},
    {"topics": ["ai"]},
    {"providers": ["seattle times"], "topics": ["computer visoin"]},
    {"since": "2021-06-01", "until": "2021-12-31"},
    {"match": "any", "limit": 40},
    {"match": "all"},
    {"histogram": "month", "offset": 2, "limit": 3},
    {"languages": ["fr"]},
    {"languages": ["en", "es"], "match": "any"},
    {"group": True},
    {"group": True, "count": "clips", "limit": 5, "offset": 1},
    {"count": "stories", "histogram": "day"},
    {"group": True, "count": "stories", "sort": "date", "topics": ["world"]},
]

GRAIN = (
    "The first ship carrying Ukrainian grain left the port of Odesa on Monday under a "
    "deal brokered by the United Nations and Turkey, raising hopes of easing a global "
    "food crisis after months of blockade in the Black Sea."
)
STRIKE = (
    "Dock workers at the harbour ended a nine-day strike after talks with the port "
    "authority produced a new pay offer and a promise of safer cranes for the crews."
)
COPIES = {  # story -> (outlet, published) of each syndicated copy
    "grain": [
        ("Reuters", "2022-08-01T08:00:00Z"),
        ("BBC News", "2022-08-01T12:00:00Z"),
        ("Times of India", "2022-08-02T10:00:00Z"),
        ("Seattle Times", "2022-08-02T11:00:00Z"),
        ("Wired", "2022-08-20T08:00:00Z"),  # long after: another story
    ],
    "strike": [
        ("Nature Daily", "2022-07-01T09:00:00Z"),
        ("Reuters", "2022-07-01T09:00:00Z"),  # the same time: ties by clip id
        ("BBC News", "2022-07-02T09:00:00Z"),
    ],
}


COPY_IDS = [f"{story}-copy-{k}" for story, copies in COPIES.items() for k in range(len(copies))]


def _write_copies(root: Path) -> list[str]:
    """Syndicated copies of two stories (ids spread over the shards)."""
    ids = []
    for story, copies in COPIES.items():
        text = GRAIN if story == "grain" else STRIKE
        for k, (outlet, when) in enumerate(copies):
            cid = f"{story}-copy-{k}"
            write_clip(
                root / "copies" / f"{cid}.md",
                title=f"{story.title()} news: Odesa grain ship and harbour strike",
                body=text[: len(text) - 20 * k],
                date=when,
                id=cid,
                provider={"name": outlet, "domain": outlet.lower().replace(" ", "") + ".com"},
                topics=["World"],
            )
            ids.append(cid)
    return ids


def _answer(idx, query: str, options: dict) -> tuple[dict, list[float]]:
    opts = dict(options)
    for key in ("since", "until"):
        if key in opts:
            from datetime import date

            opts[key] = date.fromisoformat(opts[key])
    res = idx.search(query, facet_limit=None, **opts)
    out = res.to_dict()
    scores = [h.score for h in res.hits]
    for h in out["hits"]:
        h.pop("score")
    return out, scores


def _same(a, b) -> None:
    """`a` one index, `b` sharded: the same answers, stories and groups included."""
    for q in [*QUERIES, "odesa grain", "harbour strike"]:
        for o in OPTIONS:
            (da, sa), (db, sb) = _answer(a, q, o), _answer(b, q, o)
            assert da == db, (q, o)
            assert sa == pytest.approx(sb, abs=1e-9, rel=0), (q, o)
    for cid in COPY_IDS:
        sa, sb = a.story(cid).to_dict(), b.story(cid).to_dict()
        assert sa == sb, cid
        la, lb = a.like(cid), b.like(cid)
        assert [h.id for h in la.hits] == [h.id for h in lb.hits], cid
        assert [h.story for h in la.hits] == [h.story for h in lb.hits], cid
        assert la.total == lb.total and cid not in {h.id for h in lb.hits}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shards")
    clips = write_corpus(root / "clips")
    shutil.copytree(LANGUAGES, clips / "languages")  # clips in a dozen languages
    _write_copies(clips)
    update_index([clips], root / "one")
    update_index([clips], root / "three", shards=3)
    return {"clips": clips, "one": root / "one", "three": root / "three", "root": root}


@pytest.fixture(scope="module")
def cluster():
    """A real LocalCluster: 2 worker processes on 127.0.0.1, no dashboard; closed after."""
    from clipsearch.cluster.connect import start_local

    local = start_local(2)
    try:
        yield local
    finally:
        local.close()


def test_routing_is_by_a_stable_hash_of_the_id(built) -> None:
    assert read_manifest(str(built["three"])).count == 3
    assert shard_of("c-a9af963c4fe2bd85", 3) == shard_of("c-a9af963c4fe2bd85", 3)
    with open_index(built["three"]) as idx:
        names = [s["shard"] for s in idx.stats()["shards"]]
        assert names == ["shard-00", "shard-01", "shard-02"]
        # every clip is in the shard its id hashes to
        for i, info in enumerate(idx.stats()["shards"]):
            with open_index(info["path"]) as one:
                for h in one.search("", limit=1000).hits:
                    assert shard_of(h.id, 3) == i


def test_in_process_shards_answer_as_one_index(built) -> None:
    with open_index(built["one"]) as one, open_index(built["three"]) as three:
        assert len(one) == len(three)
        # the syndicated copies sit in different shards, and are grouped all the same
        assert len({shard_of(cid, 3) for cid in COPY_IDS}) == 3
        grain = three.story("grain-copy-2")
        assert [h.id for h in grain.hits][:1] == ["grain-copy-0"] and grain.total == 4
        assert len({shard_of(h.id, 3) for h in grain.hits}) > 1
        assert {h.story for h in three.story("strike-copy-0").hits} == {"strike-copy-0"}
        _same(one, three)
        assert one.search("", limit=0).facets["language"] == three.search(
            "", limit=0
        ).facets["language"]
        seed = one.search("vaccine").hits[0].id
        assert one.get(seed) == three.get(seed)
        assert one.facet_values("provider") == three.facet_values("provider")
        long_query = "vaccine booster shots for health workers in the county"
        e1, e3 = one.search(long_query, expand=True), three.search(long_query, expand=True)
        assert e1.expanded == e3.expanded and (e1.to_dict()) == e3.to_dict()
        s1, s3 = one.stats(), three.stats()
        assert s1["topics"] == s3["topics"] and s1["clips"] == s3["clips"]


#: What a phased search never asks of shards: match sets and score tables of every
#: matching clip would cross (and each is a round trip).
PER_OPERATION = {"match", "scores", "top", "facet_counts", "day_counts", "docs_with_values",
                 "docs_between", "live_docs", "query_stats", "token_dfs", "occurring"}


def _questions(idx, fanout_class, monkeypatch) -> list[str]:
    asked: list[str] = []
    original = fanout_class.call

    def counting(self, method, args=(), per_shard=None):  # type: ignore[no-untyped-def]
        asked.append(method)
        return original(self, method, args, per_shard)

    monkeypatch.setattr(fanout_class, "call", counting)
    return asked


def _phased_searches(idx, asked: list[str]) -> None:
    idx.search("warm up")  # the merged vocabulary and stories, once per commit
    for query, options in [
        ("faical recogniton", {}),
        ("vaccine", {"topics": ["health"], "histogram": "month", "since": date(2021, 1, 1)}),
        ("solar NOT rooftop", {"sort": "date"}),
        ("police cameras robot", {"match": "any", "offset": 1, "limit": 3}),
        ("", {"providers": ["reuters"]}),
    ]:
        asked.clear()
        res = idx.search(query, **options)
        assert res.total > 0, query
        # under 3 hits, "did you mean" probes the corrected query's matches, once
        phases = asked[:-1] if asked[-1:] == ["match"] and res.total < 3 else asked
        assert phases[-2:] == ["execute", "fetch"], (query, asked)
        assert len(phases) <= 5 and not PER_OPERATION & set(phases), (query, asked)


def test_a_search_is_a_few_questions_to_each_shard(built, monkeypatch) -> None:
    """In phases: the words learnt, statistics and match-rule sizes, one scored,
    ranked and counted page per shard, the page's fields; nothing per operation."""
    from clipsearch.search.sharded import LocalFanout

    with open_index(built["three"]) as three:
        _phased_searches(three, _questions(three, LocalFanout, monkeypatch))


def test_incremental_updates_keep_the_same_answers(built, tmp_path: Path) -> None:
    import shutil

    clips = tmp_path / "clips"
    shutil.copytree(built["clips"], clips)
    update_index([clips], tmp_path / "one")
    update_index([clips], tmp_path / "sh", shards=3)
    victim = sorted(clips.rglob("*.md"))[3]
    victim.unlink()
    write_clip(clips / "new" / "a.md", title="Solar flares and grain prices", id="dup-1")
    write_clip(clips / "new" / "b.md", title="Later file wins the id", id="dup-1")
    r1 = update_index([clips], tmp_path / "one")
    r3 = update_index([clips], tmp_path / "sh")
    assert (r3.added, r3.removed, len(r3.duplicates)) == (r1.added, r1.removed, 1)
    with open_index(tmp_path / "one") as one, open_index(tmp_path / "sh") as sh:
        assert len(one) == len(sh)
        assert sh.search("later file wins").hits[0].title == "Later file wins the id"
    again = update_index([clips], tmp_path / "sh")
    assert again.unchanged == r3.unchanged + r3.added + r3.updated
    # a new id moves a clip to another shard: still one update, and found once
    moved = clips / "new" / "a.md"
    for k in range(2, 50):
        if shard_of(f"dup-{k}", 3) != shard_of("dup-1", 3):
            break
    write_clip(moved, title="Solar flares moved shards", id=f"dup-{k}")
    r1 = update_index([clips], tmp_path / "one")
    r3 = update_index([clips], tmp_path / "sh")
    assert (r3.added, r3.updated, r3.removed) == (r1.added, r1.updated, r1.removed)
    with open_index(tmp_path / "sh") as sh:
        assert [h.id for h in sh.search("flares moved").hits] == [f"dup-{k}"]


def test_changing_the_shard_count_needs_a_rebuild(built, tmp_path: Path) -> None:
    update_index([built["clips"]], tmp_path / "ix", shards=2)
    with pytest.raises(RequestError, match="needs a rebuild"):
        update_index([built["clips"]], tmp_path / "ix", shards=4)
    update_index([built["clips"]], tmp_path / "ix", shards=4, rebuild=True)
    assert sorted(p.name for p in (tmp_path / "ix").iterdir() if p.is_dir()) == [
        "shard-00", "shard-01", "shard-02", "shard-03"
    ]
    with open_index(tmp_path / "ix") as four, open_index(built["one"]) as one:
        _same(one, four)


def test_strict_stops_before_any_shard_is_written(built, tmp_path: Path) -> None:
    from clipsearch.ingest.sync import StrictStop

    update_index([built["clips"]], tmp_path / "ix", shards=2)
    bad = tmp_path / "more" / "bad.md"
    bad.parent.mkdir()
    bad.write_text("---\ntitle: [unclosed\n---\n", encoding="utf-8")
    with open_index(tmp_path / "ix") as before:
        n = len(before)
    with pytest.raises(StrictStop):
        update_index([built["clips"], tmp_path / "more"], tmp_path / "ix", strict=True)
    with open_index(tmp_path / "ix") as after:
        assert len(after) == n


def test_the_cli_builds_and_searches_a_sharded_folder(built, tmp_path: Path) -> None:
    runner = CliRunner()
    ix = str(tmp_path / "ix")
    out = runner.invoke(main, ["index", str(built["clips"]), "--index", ix, "--shards", "3"])
    assert out.exit_code == 0, out.output
    a = runner.invoke(main, ["search", "faical recogniton", "--index", ix, "--json"])
    b = runner.invoke(main, ["search", "faical recogniton", "--index", str(built["one"]), "--json"])
    da, db = json.loads(a.output), json.loads(b.output)
    for h in da["hits"] + db["hits"]:
        h.pop("path")
    assert da == (db)
    stats = runner.invoke(main, ["stats", "--index", ix])
    assert "shard-02:" in stats.output


def test_a_scheduler_that_is_down_is_one_line_and_exit_2(built) -> None:
    runner = CliRunner()
    started = time.monotonic()
    out = runner.invoke(
        main, ["search", "solar", "--index", str(built["three"]), "--cluster", "tcp://127.0.0.1:9"]
    )
    assert out.exit_code == 2
    assert out.output.count("\n") == 1 and "cannot reach the Dask scheduler" in out.output
    assert time.monotonic() - started < 30
    with pytest.raises(ClusterError):
        open_index(built["three"], cluster="tcp://127.0.0.1:9")


# -- on a real cluster


def test_through_the_cluster_the_answers_are_the_same(built, cluster) -> None:
    with (
        open_index(built["one"]) as one,
        open_index(built["three"], cluster=cluster.scheduler_address) as remote,
    ):
        _same(one, remote)
        seed = one.search("vaccine").hits[0].id
        assert one.get(seed) == remote.get(seed)


def test_through_the_cluster_a_search_is_a_few_round_trips(built, cluster, monkeypatch) -> None:
    from clipsearch.cluster.search import ClusterFanout

    with open_index(built["three"], cluster=cluster.scheduler_address) as remote:
        _phased_searches(remote, _questions(remote, ClusterFanout, monkeypatch))


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def _kill_worker_of(client, address: str) -> None:
    os.kill(_worker_pids(client)[address], signal.SIGKILL)


def test_a_worker_killed_during_queries_is_replaced_and_the_query_retried(
    built, cluster
) -> None:
    from distributed import Client

    client = Client(cluster.scheduler_address, set_as_default=False)
    try:
        with (
            open_index(built["one"]) as one,
            open_index(built["three"], cluster=client) as remote,
        ):
            want, _ = _answer(one, "facial recognition", {})
            want = (want)
            got, _ = _answer(remote, "facial recognition", {})
            assert got == want
            victim = next(iter(client.run(os.getpid)))
            _kill_worker_of(client, victim)
            got, _ = _answer(remote, "facial recognition", {})  # shards moved, retried
            assert got == want and "partial" not in got
            for q in QUERIES[:6]:
                (da, sa), (db, sb) = (_answer(x, q, {"topics": ["ai"]}) for x in (one, remote))
                assert ((da), sa) == (db, sb)
    finally:
        client.close()


def test_a_shard_no_worker_can_read_is_named_or_left_out_when_partial(
    built, cluster, tmp_path: Path
) -> None:
    import shutil

    from distributed import Client

    ix = tmp_path / "ix"
    shutil.copytree(built["three"], ix)
    client = Client(cluster.scheduler_address, set_as_default=False)
    try:
        strict = open_index(ix, cluster=client)
        partial = open_index(ix, cluster=client, allow_partial=True)
        assert partial.search("solar").to_dict().get("partial") is None
        (ix / "shard-01").rename(tmp_path / "away")  # now no worker can reopen it
        old = set(client.run(os.getpid).values())
        for pid in old:
            os.kill(pid, signal.SIGKILL)
        _wait_for_new_workers(client, old)
        with pytest.raises(ShardsUnavailableError, match="shard-01"):
            strict.search("solar")
        res = partial.search("solar", limit=50).to_dict()
        assert res["partial"] is True and res["missing_shards"] == ["shard-01"]
        with open_index(ix.parent / "away") as away:
            assert res["total"] == len(built_total(built, "solar")) - away.search("solar").total
        strict.close()
        partial.close()
    finally:
        client.close()


def _wait_for_new_workers(client, old: set[int]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = client.run(os.getpid, on_error="return").values()
        if len([p for p in pids if isinstance(p, int) and p not in old]) >= 2:
            return
        time.sleep(0.2)


def built_total(built, query: str) -> list[str]:
    with open_index(built["one"]) as one:
        return [h.id for h in one.search(query, limit=1000).hits]


def test_cluster_builds_the_same_index_and_survives_a_killed_worker(
    built, cluster, tmp_path: Path
) -> None:
    from distributed import Client

    clips = tmp_path / "clips"
    for i in range(400):  # enough for the shard tasks to be running when a worker dies
        write_clip(
            clips / f"{i:04d}.md",
            title=f"Grain harvest report {i} solar storm",
            body=" ".join(f"word{(i * 7 + k) % 97}" for k in range(120)),
            id=f"bulk-{i}",
        )
    update_index([clips], tmp_path / "one")
    client = Client(cluster.scheduler_address, set_as_default=False)
    try:
        import threading

        def kill_soon() -> None:
            time.sleep(0.5)
            _kill_worker_of(client, next(iter(client.run(os.getpid))))

        killer = threading.Thread(target=kill_soon)
        killer.start()
        try:
            update_index([clips], tmp_path / "sh", shards=3, cluster=client)
        except Exception as exc:  # a shard task lost with its worker: said, then completed
            assert "run the same command again" in str(exc)
        killer.join()
        cluster.wait_for_workers(1, timeout=60)
        update_index([clips], tmp_path / "sh", cluster=client)  # completes what is missing
        with open_index(tmp_path / "one") as one, open_index(tmp_path / "sh") as sh:
            assert len(sh) == len(one) == 400
            # Same clips and counts; scores may differ after the retried commit, as on
            # one index: Whoosh counts deleted documents in idf until segments merge.
            for q in ("grain harvest", "word13 word14", "sola storm"):
                a, b = one.search(q, limit=1000), sh.search(q, limit=1000)
                assert a.total == b.total and {h.id for h in a.hits} == {h.id for h in b.hits}
                assert a.facets == b.facets and a.corrections == b.corrections
    finally:
        client.close()


def test_a_damaged_manifest_or_foreign_files_are_refused(built, tmp_path: Path) -> None:
    from clipsearch.errors import IndexIncompatibleError

    ix = tmp_path / "ix"
    update_index([built["clips"]], ix, shards=2)
    (ix / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(IndexIncompatibleError, match="notes.txt"):
        update_index([built["clips"]], ix, shards=3, rebuild=True)
    assert (ix / "notes.txt").exists() and read_manifest(str(ix)).count == 2
    (ix / "shards.json").write_text("{", encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(main, ["search", "solar", "--index", str(ix)])
    assert out.exit_code == 2 and "damaged shard manifest" in out.output
    assert out.output.count("\n") == 1


def test_cluster_start_prints_its_address_and_stops_on_interrupt() -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "clipsearch", "cluster", "start", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # a test run started in the background ignores SIGINT, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("tcp://127.0.0.1:")
        from clipsearch.cluster.connect import connect

        client = connect(address)
        assert len(client.scheduler_info()["workers"]) == 1
        client.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_server_searches_through_the_cluster(built, cluster, monkeypatch) -> None:
    from starlette.testclient import TestClient

    from clipsearch.server.app import make_app

    with TestClient(make_app(str(built["one"])), base_url="http://127.0.0.1") as c:
        want = (
            c.get("/api/search", params={"q": "vacine booster", "topic": "health"}).json()
        )
    monkeypatch.setenv("CLIPSEARCH_CLUSTER", cluster.scheduler_address)
    with TestClient(make_app(str(built["three"])), base_url="http://127.0.0.1") as c:
        got = c.get("/api/search", params={"q": "vacine booster", "topic": "health"}).json()
        stats = c.get("/api/stats").json()
    assert got == want
    assert [s["shard"] for s in stats["shards"]] == ["shard-00", "shard-01", "shard-02"]


def test_stories_beside_the_manifest_are_used_only_for_their_commits(
    built, tmp_path: Path
) -> None:
    from clipsearch.index import load_shard_stories

    clips = tmp_path / "clips"
    shutil.copytree(built["clips"], clips)
    sh, one = tmp_path / "sh", tmp_path / "one"
    update_index([clips], sh, shards=3)
    assert (sh / "stories.bin").is_file()
    # a new copy, added to one shard only; the derived file is left stale on purpose
    saved = (sh / "stories.bin").read_bytes()
    write_clip(
        clips / "copies" / "grain-copy-late.md",
        title="Grain news: Odesa grain ship and harbour strike",
        body=GRAIN,
        date="2022-08-01T07:00:00Z",
        id="grain-copy-late",
        provider={"name": "Wired", "domain": "wired.com"},
        topics=["World"],
    )
    update_index([clips], sh)
    update_index([clips], one)
    fresh = (sh / "stories.bin").read_bytes()
    assert fresh != saved
    (sh / "stories.bin").write_bytes(saved)
    with open_index(sh) as idx, open_index(one) as want:
        keys = [s["clips"] for s in idx.stats()["shards"]]
        assert keys and idx.story("grain-copy-0").to_dict() == want.story("grain-copy-0").to_dict()
        assert idx.story("grain-copy-0").hits[0].id == "grain-copy-late"
        got = idx.search("odesa grain", group=True, count="stories").to_dict()
        assert got == want.search("odesa grain", group=True, count="stories").to_dict()
    (sh / "stories.bin").write_bytes(b"damaged")
    with open_index(sh) as idx, open_index(one) as want:
        assert idx.story("grain-copy-1").to_dict() == want.story("grain-copy-1").to_dict()
    assert load_shard_stories(str(sh), [0, 0, 0], [1, 1, 1]) is None


def test_a_story_window_groups_shards_as_one_index_and_is_kept(built, tmp_path: Path) -> None:
    """The Wired copy of the grain story is 18 days after the others: another story
    with the default window, the same story with 30 days, on one index and shards."""
    clips = built["clips"]
    update_index([clips], tmp_path / "one", story_window=30)
    update_index([clips], tmp_path / "sh", shards=3, story_window=30)
    assert len({shard_of(f"grain-copy-{k}", 3) for k in range(5)}) > 1  # across shards

    def story(path: Path, cid: str = "grain-copy-4") -> dict:
        with open_index(path) as idx:
            return idx.story(cid).to_dict()

    assert story(tmp_path / "sh") == story(tmp_path / "one")
    assert story(tmp_path / "sh")["total"] == 5
    assert update_index([clips], tmp_path / "sh").ok  # no window given: the recorded one
    assert story(tmp_path / "sh")["total"] == 5
    (tmp_path / "sh" / "stories.bin").unlink()  # grouped by the search itself, same window
    assert story(tmp_path / "sh")["total"] == 5
    runner = CliRunner()
    out = runner.invoke(main, ["index", str(clips), "--index", str(tmp_path / "sh"),
                               "--story-window", "3", "-q"])
    assert out.exit_code == 0, out.output
    assert story(tmp_path / "sh")["total"] == 1
    assert story(tmp_path / "sh", "grain-copy-1") == story(built["one"], "grain-copy-1")
    with pytest.raises(RequestError, match="story_window"):
        update_index([clips], tmp_path / "sh", story_window=-1)
    out = runner.invoke(main, ["search", "odesa", "--group", "--index", str(built["three"])])
    assert out.exit_code == 0 and "copies" in out.output, out.output


def test_a_cluster_build_groups_with_the_story_window_too(built, cluster, tmp_path: Path) -> None:
    clips = built["clips"]
    update_index([clips], tmp_path / "one", story_window=30)
    update_index(
        [clips], tmp_path / "sh", shards=3, story_window=30, cluster=cluster.scheduler_address
    )
    with open_index(tmp_path / "one") as one, open_index(
        tmp_path / "sh", cluster=cluster.scheduler_address
    ) as sh:
        want = one.story("grain-copy-4").to_dict()
        assert sh.story("grain-copy-4").to_dict() == want and want["total"] == 5
        a, b = one.search("odesa", group=True), sh.search("odesa", group=True)
        assert [(h.id, h.copies) for h in a.hits] == [(h.id, h.copies) for h in b.hits]
        assert a.total == b.total


def test_watches_on_a_sharded_index_report_what_one_index_reports(
    built, tmp_path: Path
) -> None:
    from clipsearch import watch as watching

    clips = tmp_path / "clips"
    shutil.copytree(built["clips"], clips)
    folders = {"one": tmp_path / "one", "sh": tmp_path / "sh"}
    update_index([clips], folders["one"])
    update_index([clips], folders["sh"], shards=3)

    def new_ids(folder: Path) -> list[str]:
        reports = watching.run(str(folder), ["solar"], emit=lambda _r: None)
        return sorted(h.id for s in reports[0].stories for h in s.hits)

    for folder in folders.values():
        watching.add(str(folder), "solar", "solar", topics=["energy"])
        assert new_ids(folder) == []  # the first run records where it stands
    for k in range(6):
        write_clip(clips / "new" / f"s{k}.md", title=f"Solar array number {k}", id=f"sol-{k}",
                   topics=["Energy"])
    victim = next(clips.rglob("*.md"))
    victim.write_text(victim.read_text(encoding="utf-8") + "\nSolar power too.\n", encoding="utf-8")
    answers = {}
    for name, folder in folders.items():
        update_index([clips], folder)
        answers[name] = new_ids(folder)
        assert new_ids(folder) == []  # reported once
    assert answers["sh"] == answers["one"] and len(answers["one"]) >= 6
    # turning the unsharded index into shards keeps its watches and where they stand
    update_index([clips], folders["one"], shards=2, rebuild=True)
    assert watching.load(str(folders["one"]))["solar"]["query"] == "solar"
    assert new_ids(folders["one"]) == []
