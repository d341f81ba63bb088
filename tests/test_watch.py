"""Saved searches (issue 11): a watch over several index runs reports exactly the
clips that newly match (new, or changed and matching; not re-indexed unchanged
ones), its state advances only after the report is out (a kill -9 in between
repeats, never loses), two runs at once take turns, and one failing watch does
not stop the others."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_clip

from clipsearch import update_index
from clipsearch import watch as watching
from clipsearch.cli import main
from clipsearch.errors import RequestError

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _clip(
    root: Path, name: str, title: str, provider: str = "Reuters", date: str = "2022-03-01"
) -> None:
    write_clip(
        root / f"{name}.md",
        title=title,
        excerpt=f"{title}. More about it from the newsroom, item {name}.",
        date=date,
        id=name,
        provider={"name": provider, "domain": "x.com"},
        topics=["World"],
    )


def _new(index: Path, *names: str, since: datetime | None = None) -> dict[str, list[str]]:
    """name -> new clip ids, for a run of the given watches."""
    reports = watching.run(str(index), list(names), since=since, emit=lambda _r: None)
    return {r.name: sorted(h.id for s in r.stories for h in s.hits) for r in reports}


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    root, index = tmp_path / "clips", tmp_path / "index"
    _clip(root, "a1", "Solar farm opens in Nevada")
    _clip(root, "b1", "Election results delayed in Ohio")
    assert update_index([root], index).ok
    watching.add(str(index), "solar", "solar")
    watching.add(str(index), "ohio", "ohio", providers=["Reuters"])
    return root, index


def test_a_watch_over_several_index_runs(setup) -> None:
    root, index = setup
    assert _new(index) == {"ohio": [], "solar": []}  # first run: records where it stands

    _clip(root, "a2", "Solar panels cheaper than ever")
    _clip(root, "c1", "Rain expected tomorrow")  # matches nothing
    assert update_index([root], index).ok
    assert _new(index) == {"ohio": [], "solar": ["a2"]}
    assert _new(index) == {"ohio": [], "solar": []}  # reported once

    # Re-indexed unchanged (a new modification time): not new.
    for name in ("a1", "a2"):
        os.utime(root / f"{name}.md", ns=(1_700_000_000_000_000_000,) * 2)
    report = update_index([root], index)
    assert report.updated == 2
    assert _new(index) == {"ohio": [], "solar": []}
    # Changed and still matching: new; changed into a match: new.
    _clip(root, "a1", "Solar farm opens in Nevada, doubling its size")
    _clip(root, "c1", "Rain expected in Ohio tomorrow")
    assert update_index([root], index).ok
    assert _new(index) == {"ohio": ["c1"], "solar": ["a1"]}
    # Deleted: nothing to report, and nothing lost for the others.
    os.remove(root / "a2.md")
    _clip(root, "a3", "Solar eclipse visible in Ohio")
    assert update_index([root], index).ok
    assert _new(index, "solar") == {"solar": ["a3"]}
    assert _new(index, "ohio") == {"ohio": ["a3"]}


def test_new_matches_are_grouped_by_story(setup) -> None:
    root, index = setup
    _new(index)
    text = "Solar power plant in Chile sets a record output of 480 megawatts this week"
    for name, provider, date in (
        ("s1", "Reuters", "2022-03-02"),
        ("s2", "BBC", "2022-03-02T05:00Z"),
    ):
        write_clip(
            root / f"{name}.md",
            title=text,
            excerpt=text + " as demand peaks across the country and prices fall.",
            date=date,
            id=name,
            provider={"name": provider, "domain": "x.com"},
        )
    assert update_index([root], index).ok
    out = CliRunner().invoke(main, ["watch", "run", "solar", "--index", str(index), "--json"])
    assert out.exit_code == 0, out.output
    (w,) = json.loads(out.output)["watches"]
    assert w["new"] == 2 and len(w["stories"]) == 1
    story = w["stories"][0]
    assert story["story"] == "s1" and story["copies"] == 2
    assert story["outlets"] == ["Reuters", "BBC"]


def test_first_run_since_a_date_reports_what_was_published_since(setup) -> None:
    root, index = setup
    _clip(root, "a0", "Solar subsidies cut", date="2021-01-01")
    assert update_index([root], index).ok
    assert _new(index, "solar", since=datetime(2022, 1, 1)) == {"solar": ["a1"]}
    assert _new(index, "solar", since=datetime(2000, 1, 1)) == {"solar": []}  # not first now


_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from clipsearch import watch

    def emit(reports):
        for r in reports:
            for s in r.stories:
                for h in s.hits:
                    print(r.name, h.id)
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # after printing, before the state is saved

    watch.run(sys.argv[1], emit=emit)
    """
)


def test_kill_between_printing_and_saving_repeats_the_matches(setup) -> None:
    root, index = setup
    _new(index)
    _clip(root, "a2", "Solar panels cheaper than ever")
    assert update_index([root], index).ok
    env = {**os.environ, "PYTHONPATH": SRC}
    for _ in range(2):  # killed each time: the same matches again, never lost
        proc = subprocess.run(
            [sys.executable, "-c", _KILLER, str(index)], capture_output=True, text=True, env=env
        )
        assert proc.returncode == -9
        assert proc.stdout.split() == ["solar", "a2"]
    assert _new(index) == {"ohio": [], "solar": ["a2"]}  # then a run that completes
    assert _new(index) == {"ohio": [], "solar": []}


_SLOW = textwrap.dedent(
    """
    import json, sys, time
    from clipsearch import watch

    def emit(reports):
        time.sleep(0.5)  # hold the lock while the other run starts
        print(json.dumps({r.name: [h.id for s in r.stories for h in s.hits] for r in reports}))

    watch.run(sys.argv[1], emit=emit)
    """
)


def test_two_concurrent_runs_take_turns(setup) -> None:
    root, index = setup
    _new(index)
    _clip(root, "a2", "Solar panels cheaper than ever")
    _clip(root, "b2", "Ohio governor signs budget")
    assert update_index([root], index).ok
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SLOW, str(index)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    reported = sorted(i for out in outs for ids in out.values() for i in ids)
    assert reported == ["a2", "b2"]  # each new match once, by one of the two
    state = json.loads((index / watching.WATCH_FILE).read_text())
    assert set(state["watches"]) == {"ohio", "solar"}
    assert _new(index) == {"ohio": [], "solar": []}


def test_a_failing_watch_is_reported_and_the_others_run(setup) -> None:
    root, index = setup
    _new(index)
    # Its provider filter no longer resolves once Reuters' clips are gone.
    for name in ("a1", "b1"):
        _clip(root, name, "Solar farm opens in Nevada" if name == "a1" else "Other", provider="AP")
    _clip(root, "a2", "Solar panels cheaper than ever", provider="AP")
    assert update_index([root], index, rebuild=True).ok  # no deleted clip keeps Reuters
    runner = CliRunner()
    out = runner.invoke(main, ["watch", "run", "--index", str(index)])
    assert out.exit_code == 1
    assert "== ohio: failed" in out.output and "Reuters" in out.output
    assert "== solar: 2 new" in out.output  # a1 changed provider, a2 is new


def test_cli_add_list_remove_and_errors(setup) -> None:
    _root, index = setup
    runner = CliRunner()
    args = ["--index", str(index)]
    out = runner.invoke(main, ["watch", "add", "grid", "power", "grid", "--topic", "world", *args])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["watch", "list", "--json", *args])
    rows = {r["name"]: r for r in json.loads(out.output)}
    assert rows["grid"]["query"] == "power grid" and rows["grid"]["topics"] == ["world"]
    assert rows["grid"]["last_run"] is None
    for bad in (
        ["add", "grid", "x"],
        ["add", "bad name", "x"],
        ["remove", "nope"],
        ["run", "nope"],
    ):
        out = runner.invoke(main, ["watch", *bad, *args])
        assert out.exit_code == 2, (bad, out.output)
        assert out.output.startswith("clipsearch: ") and "Traceback" not in out.output
    out = runner.invoke(main, ["watch", "add", "q", "x" * 2001, *args])  # refused query
    assert out.exit_code == 2
    out = runner.invoke(main, ["watch", "remove", "grid", *args])
    assert out.exit_code == 0
    assert "grid" not in watching.load(str(index))
    with pytest.raises(RequestError):
        watching.add(str(index), "solar", "again")


def test_watches_survive_a_rebuild_and_a_rebuild_reports_nothing_new(setup) -> None:
    root, index = setup
    _new(index)
    assert update_index([root], index, rebuild=True).ok
    assert set(watching.load(str(index))) == {"ohio", "solar"}
    assert _new(index) == {"ohio": [], "solar": []}


def test_a_watch_keeps_the_match_rule_auto_chose_when_it_was_added(tmp_path: Path) -> None:
    # 150 clips with "budget", 1 with "glacier budget": auto reads that handful as
    # any word, but a watch for words that rarely meet alerts when they do meet.
    root, index = tmp_path / "clips", tmp_path / "index"
    for i in range(150):
        _clip(root, f"b{i:03}", f"Budget note {i}")
    _clip(root, "g0", "Glacier budget shrinks")
    assert update_index([root], index).ok
    watching.add(str(index), "rare", "glacier budget")
    watching.add(str(index), "common", "budget note")
    watching.add(str(index), "long", "what is the budget of the glacier park this year")
    kept = {name: w["match"] for name, w in watching.load(str(index)).items()}
    assert kept == {"rare": "all", "common": "all", "long": "any"}
    _new(index, "rare", "common", "long")  # first runs record where they stand
    _clip(root, "b150", "Budget note 150")
    _clip(root, "g1", "Glacier budget grows")
    assert update_index([root], index).ok
    assert _new(index, "rare", "common", "long") == {
        "rare": ["g1"],  # not every new clip with "budget"
        "common": ["b150"],
        "long": ["b150", "g1"],
    }
