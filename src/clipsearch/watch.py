"""Saved searches ("watches") that report what is new since they last ran.

A watch is a query with filters, kept beside the index in `watches.json` with what
it matched at its last run: each matching clip's id and content fingerprint
(index/signatures.py).  A run reports the clips that newly match: new clips, and
changed clips that now match; a clip re-indexed without a change has the same
fingerprint and is not new.  The first run of a watch reports nothing and records
where it stands, unless it is given a `since` date (then the matches published
since are reported).

The state advances only after the report was handed over completely (`emit`
returned), by writing a temporary file and renaming it over the old one: a crash or
kill in between repeats those matches next time and never loses one (at least
once).  Runs, additions and removals hold `watches.lock` (an exclusive `flock`), so
two runs at once take turns instead of both reporting and overwriting each other.
A watch whose query or filter fails reports its error; the others still run."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clipsearch import dates
from clipsearch.errors import ClipsearchError, IndexLockedError, RequestError, StorageError
from clipsearch.search.engine import ClipIndex
from clipsearch.search.request import SearchRequest
from clipsearch.search.result import Hit

WATCH_FILE = "watches.json"
LOCK_FILE = "watches.lock"
FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: The search options a watch keeps.
OPTIONS = ("topics", "providers", "exact", "match")


@dataclass
class StoryReport:
    """The new copies of one story a watch found, earliest first."""

    story: str
    hits: list[Hit]

    def to_dict(self) -> dict[str, Any]:
        outlets: list[str] = []
        for h in self.hits:
            if h.provider and h.provider not in outlets:
                outlets.append(h.provider)
        return {
            "story": self.story,
            "copies": len(self.hits),
            "outlets": outlets,
            "first_published": dates.iso_utc(self.hits[0].published) if self.hits else None,
            "hits": [h.to_dict() for h in self.hits],
        }


@dataclass
class WatchReport:
    """What one watch found in one run: new matches grouped by story, or an error."""

    name: str
    query: str
    stories: list[StoryReport] = field(default_factory=list)
    error: str | None = None
    first_run: bool = False

    @property
    def new(self) -> int:
        return sum(len(s.hits) for s in self.stories)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "query": self.query,
            "new": self.new,
            "stories": [s.to_dict() for s in self.stories],
            "error": self.error,
            "first_run": self.first_run,
        }


def _path(index_dir: str, name: str) -> str:
    return os.path.join(index_dir, name)


@contextlib.contextmanager
def locked(index_dir: str, timeout: float = 30.0) -> Iterator[None]:
    """Hold the watches' lock (waiting up to `timeout` seconds for another run)."""
    if not os.path.isdir(index_dir):
        raise StorageError(index_dir, "no index folder here")
    try:
        fd = os.open(_path(index_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(index_dir, f"cannot open {LOCK_FILE} ({exc.strerror or exc})") from None
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise IndexLockedError(
                        f"{index_dir}: another `watch` command is running "
                        f"(waited {timeout:g} s for {LOCK_FILE}); try again later"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def load(index_dir: str) -> dict[str, dict[str, Any]]:
    """Every watch by name (definition and state); nothing when none was added."""
    try:
        with open(_path(index_dir, WATCH_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StorageError(index_dir, f"{WATCH_FILE} is unreadable ({exc})") from None
    watches = data.get("watches") if isinstance(data, dict) else None
    if not isinstance(watches, dict):
        raise StorageError(index_dir, f"{WATCH_FILE} is not a watch file")
    return watches


def _save(index_dir: str, watches: dict[str, dict[str, Any]]) -> None:
    """Replace the watch file atomically (written, flushed to disk, renamed)."""
    tmp = _path(index_dir, WATCH_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"format": FORMAT, "watches": watches}, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, _path(index_dir, WATCH_FILE))


def request_of(definition: dict[str, Any]) -> SearchRequest:
    """The search a watch runs."""
    options = {k: definition[k] for k in OPTIONS if k in definition}
    return SearchRequest(definition.get("query", ""), facets=False, highlight=False, **options)


def pinned_match(used: str, fell_back: bool) -> str:
    """The match rule a watch keeps, from what `auto` decided when it was added.

    `auto` decides per search, and its decision moves as the collection grows (all
    words while a few clips have them all, any word once they are under 1% of the
    clips with some word): a watch following it would report every clip with one of
    the words as new the day it flipped.  So a watch keeps the rule `auto` chose, and
    words that (nearly) never occur together yet are watched for all of them: the
    alert a rare combination asks for."""
    if fell_back or used == "all":
        return "all"
    return "any" if used == "any" else "auto"  # as written: auto reads it the same


def add(index_dir: str, name: str, query: str, **options: Any) -> None:
    """Save a new watch (a RequestError for a bad name, query option or a name in use)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise RequestError(
            "name", name, "use 1-64 letters, digits, ., _ or -, starting with a letter or digit"
        )
    unknown = set(options) - set(OPTIONS)
    if unknown:
        first = sorted(unknown)[0]
        raise RequestError(first, options[first], "is not a watch option")
    definition = {"query": query, **{k: _plain(v) for k, v in options.items()}}
    request_of(definition)  # validated now: a bad option never gets saved
    with ClipIndex(index_dir) as idx:  # the query must parse against this index
        res = idx.search(query, limit=0, facets=False, **options)
    if definition.get("match", "auto") == "auto":
        definition["match"] = pinned_match(res.match, res.match_fallback)
    with locked(index_dir):
        watches = load(index_dir)
        if name in watches:
            raise RequestError("name", name, "a watch of this name exists; remove it first")
        watches[name] = {**definition, "created": _now(), "last_run": None, "seen": None}
        _save(index_dir, watches)


def remove(index_dir: str, name: str) -> None:
    with locked(index_dir):
        watches = load(index_dir)
        if name not in watches:
            raise RequestError("name", name, "no watch of this name")
        del watches[name]
        _save(index_dir, watches)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def _now() -> str:
    return dates.iso_utc(datetime.now(UTC).replace(tzinfo=None)) or ""


def run(
    index_dir: str,
    names: Sequence[str] = (),
    *,
    since: datetime | None = None,
    emit: Callable[[list[WatchReport]], None],
    lock_timeout: float = 30.0,
) -> list[WatchReport]:
    """Run the named watches (all when none are named), hand their reports to `emit`,
    then advance their state.  `since` (naive UTC) makes a first run report the
    matches published since then.  Unknown names are a RequestError."""
    with locked(index_dir, lock_timeout):
        watches = load(index_dir)
        for name in names:
            if name not in watches:
                raise RequestError("name", name, "no watch of this name")
        chosen = list(names) or sorted(watches)
        reports: list[WatchReport] = []
        updated: dict[str, dict[str, Any]] = {}
        with ClipIndex(index_dir) as idx:
            for name in chosen:
                report, state = _run_one(idx, name, watches[name], since)
                reports.append(report)
                if state is not None:
                    updated[name] = state
        emit(reports)  # the whole report is out before the state moves
        for name, state in updated.items():
            watches[name] = state
        _save(index_dir, watches)
        return reports


def _run_one(
    idx: ClipIndex, name: str, definition: dict[str, Any], since: datetime | None
) -> tuple[WatchReport, dict[str, Any] | None]:
    query = definition.get("query", "")
    report = WatchReport(name, query)
    try:
        current = idx.match_fingerprints(request_of(definition))
    except ClipsearchError as exc:
        report.error = str(exc)
        return report, None
    seen = definition.get("seen")
    if seen is None:
        report.first_run = True
        new = []
        if since is not None:
            hits = idx.hits_of(sorted(current))
            new = [h.id for h in hits if h.published and h.published >= since]
    else:
        new = sorted(c for c, fp in current.items() if seen.get(c) != fp)
    report.stories = _by_story(idx.hits_of(new))
    state = {**definition, "last_run": _now(), "seen": current}
    return report, state


def _by_story(hits: list[Hit]) -> list[StoryReport]:
    """Hits grouped by story, each story's copies earliest first, stories by their
    first copy."""
    groups: dict[str, list[Hit]] = {}
    for h in hits:
        groups.setdefault(h.story or h.id, []).append(h)

    def when(h: Hit) -> tuple[bool, datetime, str]:
        return (h.published is None, h.published or datetime.min, h.id)

    out = [StoryReport(s, sorted(hs, key=when)) for s, hs in groups.items()]
    out.sort(key=lambda r: when(r.hits[0]))
    return out
