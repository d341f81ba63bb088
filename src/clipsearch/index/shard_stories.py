"""Story grouping over all the shards of a sharded index, exactly as one index over
the same clips groups them: copies of one story may sit in different shards, so
every shard's grouping rows (stories.Rows: clip id, publication time, signature
table) are joined and grouped once with the same code (stories.group, grouping.py), whose
answer does not depend on the order of documents.

    stories.bin   beside the manifest: the shards' commit generations and document
                  counts it was made for, and per shard, the story of each of its
                  documents as a global document number (shard i's d is d * N + i)

    stories.json  beside the manifest too: the grouping window (days), as one index
                  keeps it (`--story-window` sets it; kept by later runs)

Written atomically by a sharded build after every shard has committed; a search
loads it only when it describes the shards' current commits and window, else it
groups the shards' rows itself (never writing: a search never writes)."""

from __future__ import annotations

import marshal
import os
from array import array
from collections.abc import Sequence
from typing import Any

from clipsearch.index import stories
from clipsearch.index.snapshot import Snapshot

STORIES_FILE = "stories.bin"
FORMAT = 1
def window(folder: str) -> float:
    """The sharded index's story window (days): its own setting, else the default."""
    return stories.window_days(folder)


def group(answers: Sequence[stories.Rows | None], window_days: float | None = None) -> list[array]:
    """Per shard, the story of each document (global numbers), from every shard's
    rows (`answers[i]`: shard i's rows by document number; None for a shard that
    did not answer, grouped as empty), copies at most `window_days` apart (None:
    the default window)."""
    n = len(answers)
    parts = [stories.Rows.empty() if a is None else a for a in answers]
    numbers: list[int] = []
    for i, part in enumerate(parts):
        numbers.extend(range(i, len(part.ids) * n + i, n))
    days = stories.DEFAULT_WINDOW_DAYS if window_days is None else window_days
    reps = stories.group(stories.Rows.join(parts), days)
    out: list[array] = []
    start = 0
    for part in parts:
        size = len(part.ids)
        out.append(array("q", (numbers[r] for r in reps[start : start + size])))
        start += size
    return out


def write(folder: str, shard_paths: Sequence[str], window_days: float | None = None) -> None:
    """Group the clips of every shard's current commit and write the result beside
    the manifest (after a build has committed all shards); `window_days` (checked)
    sets the window, kept for later runs, None keeps the index's."""
    days = window(folder) if window_days is None else window_days
    if days != window(folder):
        stories.save_window(folder, days)
    generations, counts, parts = [], [], []
    for path in shard_paths:
        snap = Snapshot(path)
        try:
            generation, count, part = snap.story_rows()
        finally:
            snap.close()
        generations.append(generation)
        counts.append(count)
        parts.append(part)
    data = {
        "format": FORMAT,
        "generations": generations,
        "doc_counts": counts,
        "window_days": days,
        "story": [a.tobytes() for a in group(parts, days)],
    }
    tmp = os.path.join(folder, STORIES_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        marshal.dump(data, fh)
    os.replace(tmp, os.path.join(folder, STORIES_FILE))


def load(
    folder: str, generations: Sequence[int | None], counts: Sequence[int | None]
) -> list[array] | None:
    """The stories written for exactly these shard commits (generation and document
    count per shard; None for a shard that did not answer, not checked), or None
    when missing, damaged or stale."""
    try:
        with open(os.path.join(folder, STORIES_FILE), "rb") as fh:
            data: Any = marshal.load(fh)
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT
            or data.get("window_days") != window(folder)
            or len(data["generations"]) != len(generations)
            or len(data["doc_counts"]) != len(counts)
        ):
            return None
        pairs = zip(generations, counts, data["generations"], data["doc_counts"], strict=True)
        if any(g is not None and (g, c) != (wg, wc) for g, c, wg, wc in pairs):
            return None
        out = []
        limit = max(data["doc_counts"], default=0) * len(counts)
        for raw, count in zip(data["story"], data["doc_counts"], strict=True):
            part = array("q")
            part.frombytes(raw)
            if len(part) != count or (part and not 0 <= min(part) <= max(part) < limit):
                return None
            out.append(part)
        return out
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None
