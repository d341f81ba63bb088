"""Story grouping: which clips are copies of one story.

Two clips are copies when they were published within the window of each other, their
estimated overlap (MinHash, signatures.py) reaches the threshold, and their numbers
agree.  A story is a connected group of copies (single link); its id is the clip id
of its earliest copy (ties by clip id), a function of the members alone, so the same
files give the same ids in any order of runs, and a story whose first copy is
deleted keeps its other copies (under the next one's id).

Candidates come from banding (locality-sensitive hashing): the signature is cut into
bands of ROWS values; clips equal on a whole band are candidates, and only those are
compared.  With 32 bands of 2 rows, a pair of Jaccard similarity 0.3 is a candidate
with probability 0.95, one of 0.1 with 0.28: the threshold below is applied after.

Overlap is the overlap coefficient |A & B| / min(|A|, |B|), estimated from the
MinHash Jaccard J and the feature counts (|A & B| = J (|A| + |B|) / (1 + J)): a copy
with a trimmed excerpt is contained in the full one even when their Jaccard is low.

Numbers: neither title may have a number the other lacks, and when both clips have
numbers, at least half of the smaller set must be in the other; "Wordle 321 answer"
and "Wordle 322 answer" share everything else.  Titles: two clips of one outlet
whose titles each have a rare word the other lacks are two stories of one template
(a fantasy-cricket preview per match, a highlights video per game).

Pure numpy over arrays indexed by document number; imported only by index runs (and
by a search that finds no grouping written for its commit)."""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from clipsearch.index.docsets import sorted_unique

A = TypeVar("A")
B = TypeVar("B")

#: Days between two copies' publication times, at most (default; an index option).
DEFAULT_WINDOW_DAYS = 3.0
#: Estimated overlap coefficient from which two clips are copies (chosen by measurement:
#: benchmarks/story_pairs.py).
THRESHOLD = 0.5
#: Of the numbers of the clip with fewer, the share the other must also have.
NUMBER_AGREEMENT = 0.5
#: A feature in more clips than this share of the index (and than COMMON_MIN) is
#: boilerplate or template text, left out when clips are compared.
COMMON_SHARE = 0.001
COMMON_MIN = 10
#: A title word in at most this share of the clips (and at least TITLE_RARE_MIN) is
#: rare: two clips of one outlet whose titles each have a rare word the other lacks
#: are two stories of one template (measured: benchmarks/story_pairs.py).
TITLE_RARE_SHARE = 0.0025
TITLE_RARE_MIN = 5
#: Clips with fewer features than this once common ones are left out are no one's copy.
MIN_FEATURES = 3
#: Signature values per band: two 32-bit values, one 64-bit key.
ROWS = 2
#: Neighbours (in time order) compared inside one band bucket: a bucket of identical
#: copies is still linked end to end, a bucket of thousands costs no more than this.
NEIGHBOURS = 8
#: Microseconds in a day (publication times are Whoosh's microseconds).
_DAY_US = 86_400_000_000


def prefix_length(rows: np.ndarray) -> int | None:
    """k when `rows` is 0, 1, .., k-1 (taking them is a slice: every document live,
    in order, the usual case at 155k clips, where a copy is 40 MB of MinHashes);
    None otherwise."""
    k = len(rows)
    return k if np.array_equal(rows, np.arange(k)) else None


def take_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """values[rows], a view when `rows` is 0..k-1."""
    k = prefix_length(rows)
    return values[rows] if k is None else values[:k]


@dataclass(frozen=True)
class Packed:
    """Many variable-length lists of integers (a sample, numbers, title words per
    clip) as one array of values and each list's length: a column of 155k clips is
    two arrays, not 155k objects, and selecting rows is one vectorised gather."""

    values: np.ndarray
    counts: np.ndarray
    starts: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.int64)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "starts", np.cumsum(counts) - counts)

    @classmethod
    def of(cls, lists: Sequence[Sequence[int]] | Packed, dtype: Any = np.uint32) -> Packed:
        """`lists` packed (packed arrays of uint32 are joined as bytes, without an
        object per value); a Packed is returned as it is."""
        if isinstance(lists, Packed):
            return lists
        counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
        if np.dtype(dtype) == np.uint32 and all(
            isinstance(x, array) and x.typecode == "I" for x in lists
        ):
            values = np.frombuffer(b"".join(x.tobytes() for x in lists), dtype=np.uint32)
        else:
            values = np.fromiter((h for s in lists for h in s), dtype=dtype)
        return cls(values, counts)

    @classmethod
    def join(cls, parts: Sequence[Packed]) -> Packed:
        """The rows of every part, in order."""
        if not parts:
            return cls(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64))
        return cls(
            np.concatenate([p.values for p in parts]), np.concatenate([p.counts for p in parts])
        )

    def __len__(self) -> int:
        return len(self.counts)

    def row(self, i: int) -> list[int]:
        start = int(self.starts[i])
        return self.values[start : start + int(self.counts[i])].tolist()

    def take(self, rows: np.ndarray | Sequence[int]) -> Packed:
        """The lists of `rows` (indices, in that order); views, not copies, when
        `rows` is 0..k-1."""
        rows = np.asarray(rows, dtype=np.int64)
        k = prefix_length(rows)
        if k is not None:
            end = int(self.starts[k - 1] + self.counts[k - 1]) if k else 0
            return Packed(self.values[:end], self.counts[:k])
        counts = self.counts[rows]
        offsets = np.repeat(self.starts[rows] - (np.cumsum(counts) - counts), counts)
        return Packed(self.values[np.arange(int(counts.sum()), dtype=np.int64) + offsets], counts)


def common_features(samples: Sequence[Sequence[int]]) -> set[int]:
    """Features in more than COMMON_SHARE of the clips (and at least COMMON_MIN):
    an outlet's boilerplate ("Bollywood News: Latest Bollywood News..."), a
    template's fixed words ("Dream11 Prediction, Fantasy Cricket Tips")."""
    if not len(samples):
        return set()
    return set(_common_values(Packed.of(samples).values, len(samples)).tolist())


def _common_values(flat: np.ndarray, n: int) -> np.ndarray:
    """The common features (common_features) of `n` clips whose samples are `flat`."""
    return _more_than(flat, max(COMMON_MIN, int(COMMON_SHARE * n)))


#: Low bits of a value that _more_than counts values by.
_BUCKET_BITS = 20


def _in_crowded_bucket(values: np.ndarray, bits: int, limit: int) -> np.ndarray:
    """Per value (non-negative integers), whether more than `limit` of `values` share
    its low `bits` bits: a value occurring more than `limit` times does, as every copy
    of it is in that bucket.  A mask, not each value's bucket size: on 4M sampled
    features the sizes were 32 MB written and read again, in a fresh process every
    page of it a fault."""
    low = values & values.dtype.type((1 << bits) - 1)
    return (np.bincount(low, minlength=1 << bits) > limit)[low]


def _more_than(values: np.ndarray, limit: int) -> np.ndarray:
    """The distinct `values` (non-negative integers) that occur more than `limit`
    times, sorted.  Only values whose bucket holds more than `limit` values can: one
    count over the buckets leaves the few values worth counting exactly (sorting all
    4.2M sampled features to count them was a sixth of grouping 155k clips)."""
    if not len(values):
        return values[:0]
    found, counts = np.unique(
        values[_in_crowded_bucket(values, _BUCKET_BITS, limit)], return_counts=True
    )
    return found[counts > limit]


#: Low bits of a value looked up in _members' bitmap.
_BITMAP_BITS = 20


def _members(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each of `values` is in `sorted_set`: a bitmap of the set's low bits
    passes the values that may be, a binary search settles those (a binary search
    for each of 4M sampled features was half of _kept_features at 155k clips)."""
    out = np.zeros(len(values), dtype=bool)
    if not len(sorted_set) or not len(values):
        return out
    low = np.uint32((1 << _BITMAP_BITS) - 1)
    bitmap = np.zeros(1 << _BITMAP_BITS, dtype=bool)
    bitmap[sorted_set & low] = True
    maybe = np.flatnonzero(bitmap[values & low])
    if len(maybe):
        v = values[maybe]
        at = np.minimum(np.searchsorted(sorted_set, v), len(sorted_set) - 1)
        out[maybe] = sorted_set[at] == v
    return out


def _kept_features(samples: Packed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every clip's distinct sampled features with the common ones left out, as one
    array of values (each clip's sorted) and each clip's start and count in it:
    what `copies` compares, vectorised (a set difference per clip was most of it)."""
    flat = samples.values
    n = len(samples)
    keep = ~_members(flat, _common_values(flat, n))
    rows = np.repeat(np.arange(n, dtype=np.uint64), samples.counts)[keep]
    # Rows come in order, so the keys are runs that a merge sort joins (a fifth of
    # the time numpy's default sort took on 3.7M keys at 155k clips; same result).
    key = np.sort((rows << np.uint64(32)) | flat[keep].astype(np.uint64), kind="stable")
    if len(key):
        key = key[np.concatenate(([True], key[1:] != key[:-1]))]  # a set per clip
    counts = np.bincount((key >> np.uint64(32)).astype(np.int64), minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return (key & np.uint64(0xFFFFFFFF)).astype(np.uint32), starts, counts


#: Candidate pairs whose shared features are counted in one numpy batch.
_PAIR_BATCH = 50_000


def _shared(
    values: np.ndarray, starts: np.ndarray, counts: np.ndarray, pairs: np.ndarray
) -> np.ndarray:
    """Per pair (i, j), how many features rows i and j share (|A & B| of two sets,
    counted over all pairs at once: both rows' values under the pair's number, sorted,
    a value twice is a shared one)."""
    out = np.zeros(len(pairs), dtype=np.int64)
    for lo in range(0, len(pairs), _PAIR_BATCH):
        batch = pairs[lo : lo + _PAIR_BATCH]
        both = np.concatenate((batch[:, 0], batch[:, 1]))
        sizes = counts[both]
        pair_of = np.repeat(np.tile(np.arange(len(batch), dtype=np.uint64), 2), sizes)
        offsets = np.repeat(starts[both] - (np.cumsum(sizes) - sizes), sizes)
        taken = values[np.arange(int(sizes.sum()), dtype=np.int64) + offsets]
        # Each half (first rows, then second rows) is already in order, each row's
        # values sorted (_kept_features): two runs, which a merge sort joins in one
        # pass where the default sort took 0.13 s a batch at 155k clips.
        key = np.sort((pair_of << np.uint64(32)) | taken.astype(np.uint64), kind="stable")
        twice = key[1:][key[1:] == key[:-1]] >> np.uint64(32)
        out[lo : lo + len(batch)] = np.bincount(twice.astype(np.int64), minlength=len(batch))
    return out


def overlap(x: Sequence[int], y: Sequence[int], common: set[int]) -> float:
    """The overlap coefficient |A & B| / min(|A|, |B|) of two clips' sampled
    features, common features left out; 0 when either keeps fewer than MIN_FEATURES."""
    a, b = set(x) - common, set(y) - common
    if len(a) < MIN_FEATURES or len(b) < MIN_FEATURES:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def numbers_agree(
    x: Sequence[int], y: Sequence[int], title_x: Sequence[int], title_y: Sequence[int]
) -> bool:
    """Whether two clips' numbers allow them to be one story: each title has no
    number the other lacks ("Wordle 321" / "Wordle 322"), and of the text's numbers,
    the clip with fewer shares at least NUMBER_AGREEMENT of them with the other."""
    tx, ty = set(title_x), set(title_y)
    if tx - ty and ty - tx:
        return False
    if not x or not y:
        return True
    small, large = (x, y) if len(x) <= len(y) else (y, x)
    shared = len(set(small) & set(large))
    return shared >= NUMBER_AGREEMENT * len(small)


def frequent_title_words(titles: Sequence[Sequence[int]] | Packed) -> set[int]:
    """Title words in more than TITLE_RARE_SHARE of the clips (and TITLE_RARE_MIN):
    every other word of these titles is rare.  The frequent ones are the few (a set
    of the rare ones held most of 155k clips' title words)."""
    limit = max(TITLE_RARE_MIN, int(TITLE_RARE_SHARE * len(titles)))
    return set(_more_than(Packed.of(titles).values, limit).tolist())


def titles_agree(x: Sequence[int], y: Sequence[int], frequent: set[int]) -> bool:
    """Whether two titles of one outlet can be one story: not when each has a rare
    word (one not in `frequent`, of the titles' words) the other lacks ("GLA vs CHA
    Dream11 Prediction" / "GLA vs FIG ...")."""
    a, b = set(x), set(y)
    return not ((a - b) - frequent and (b - a) - frequent)


def candidate_pairs(
    minhash: np.ndarray, times: np.ndarray, window_us: int, ranks: np.ndarray | None = None
) -> np.ndarray:
    """Pairs (i, j), i < j, of rows equal on some band and within the window.  Rows
    of one band bucket are ordered by time, then by `ranks` (the clip ids' order),
    so the neighbours compared do not depend on the order documents were written."""
    n, perms = minhash.shape
    if ranks is None:
        ranks = np.arange(n)
    # Ranks are distinct, so (time, rank) orders the rows totally: a stable sort by
    # band key of the rows in that order is the (key, time, rank) order, one sort a band.
    by_time = np.lexsort((ranks, times))
    times_in_order = times[by_time]
    bands = list(_band_keys(minhash))

    def pairs_of(some: list[np.ndarray]) -> list[np.ndarray]:
        return [p for band in some for p in _band_pairs(band, by_time, times_in_order, window_us)]

    half, other_half = _side_by_side(
        n, lambda: pairs_of(bands[0::2]), lambda: pairs_of(bands[1::2])
    )
    found = half + other_half
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    codes = sorted_unique(np.concatenate(found))  # np.unique would import numpy.ma
    return np.stack([codes // n, codes % n], axis=1)


#: Rows from which grouping's independent parts run side by side (_side_by_side).
_THREADED_ROWS = 20_000


def _side_by_side(rows: int, first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """(first(), second()), the second in a thread of its own for `rows` of at least
    _THREADED_ROWS on more than one core: grouping is numpy sorts and comparisons,
    which let go of the GIL, and it runs when a commit's other work is done."""
    if rows < _THREADED_ROWS or (os.cpu_count() or 1) < 2:
        return first(), second()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        later = pool.submit(second)
        return first(), later.result()


def _band_pairs(
    band: np.ndarray, by_time: np.ndarray, times_in_order: np.ndarray, window_us: int
) -> list[np.ndarray]:
    """candidate_pairs of one band, as codes i * n + j (i < j), n the rows."""
    n = len(band)
    key = band[by_time]  # a band's keys in time order: 1 MB, not all bands' 40 MB
    # Only rows sharing their key with another can pair: a bucket of one is dropped
    # whole, so distances inside the other buckets stay as they were.  Most keys are
    # unique; those alone in their low bits' bucket are dropped before sorting (in
    # order, so the stable order of the rest is unchanged).
    maybe = _maybe_shared(key)
    sub, ks = _stable_order(key[maybe])
    within = maybe[sub]
    shared = np.zeros(len(ks), dtype=bool)
    twin = ks[1:] == ks[:-1]
    shared[1:] |= twin
    shared[:-1] |= twin
    within, ks = within[shared], ks[shared]
    order, ts = by_time[within], times_in_order[within]
    found = []
    for off in range(1, min(NEIGHBOURS, len(ks) - 1) + 1):
        same = (ks[:-off] == ks[off:]) & (ts[off:] - ts[:-off] <= window_us)
        if same.any():
            i, j = order[:-off][same], order[off:][same]
            found.append(np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j))
    return found


def _ranks(values: Sequence[str]) -> np.ndarray:
    """Each value's place in their sorted order (ties in order of position): Python's
    sort of the strings, 3x faster than numpy's of a unicode array made of them."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[sorted(range(len(values)), key=values.__getitem__)] = np.arange(len(values))
    return ranks


def _maybe_shared(key: np.ndarray) -> np.ndarray:
    """Indices, ascending, of the keys that may equal another: all but those alone
    in their bucket of low bits (about eight buckets a key)."""
    return np.flatnonzero(_in_crowded_bucket(key, min(24, max(8, len(key).bit_length() + 3)), 1))


def _stable_order(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.argsort(key, kind="stable") and the sorted keys: a quick sort, then each
    run of equal keys put back in index order by one sort of (run, index) codes.
    numpy's stable sort of 64-bit keys is a timsort, 2.5x slower, and it ran once
    a band (32 a grouping)."""
    n = len(key)
    perm = np.argsort(key)
    ks = key[perm]
    if n < 2:
        return perm, ks
    code = np.empty(n, dtype=np.int64)
    code[0] = 0
    np.cumsum(ks[1:] != ks[:-1], out=code[1:])
    code *= n
    code += perm
    code.sort(kind="stable")  # in order but inside runs: a merge sort's best case
    code %= n
    return code, ks


def _band_keys(minhash: np.ndarray) -> np.ndarray:
    """Each band's key per row (a row of the answer per band): the band's two 32-bit
    values read as the 64-bit word their bytes make, without a shift per value
    (equal bands, equal words)."""
    words = np.ascontiguousarray(minhash[:, : 2 * (minhash.shape[1] // 2)], dtype=np.uint32)
    return np.ascontiguousarray(words.view(np.uint64).T)


#: A column of variable-length integer lists, one per row: packed or as sequences.
Lists = Sequence[Sequence[int]] | Packed


def copies(
    minhash: np.ndarray,
    samples: Lists,
    numbers: Lists,
    title_numbers: Lists,
    times: np.ndarray,
    window_days: float,
    threshold: float = THRESHOLD,
    title_words: Lists | None = None,
    providers: Sequence[int] | np.ndarray | None = None,
    ranks: np.ndarray | None = None,
) -> list[tuple[int, int]]:
    """Every pair of rows (i, j) taken as copies of one story.  With `title_words`
    and `providers`, two clips of one outlet must also have agreeing titles."""
    if len(minhash) < 2:
        return []
    pairs, (values, starts, counts) = _side_by_side(
        len(minhash),
        lambda: candidate_pairs(minhash, times, int(window_days * _DAY_US), ranks),
        lambda: _kept_features(Packed.of(samples)),
    )
    nums = Packed.of(numbers, np.int64)
    title_nums = Packed.of(title_numbers, np.int64)
    titles = Packed.of(title_words) if title_words is not None else None
    frequent = frequent_title_words(titles) if titles is not None else set()
    a, b = counts[pairs[:, 0]], counts[pairs[:, 1]]
    pairs = pairs[(a >= MIN_FEATURES) & (b >= MIN_FEATURES)]
    # As overlap() computes it (a quotient of two integers, rounded once, as Python's).
    a, b = counts[pairs[:, 0]], counts[pairs[:, 1]]
    pairs = pairs[_shared(values, starts, counts, pairs) / np.minimum(a, b) >= threshold]
    outlets = None if providers is None else np.asarray(providers).tolist()
    out: list[tuple[int, int]] = []
    for i, j in pairs.tolist():
        if not numbers_agree(nums.row(i), nums.row(j), title_nums.row(i), title_nums.row(j)):
            continue
        if (
            titles is not None
            and outlets is not None
            and outlets[i]
            and outlets[i] == outlets[j]
            and not titles_agree(titles.row(i), titles.row(j), frequent)
        ):
            continue
        out.append((i, j))
    return out


def stories(
    ids: Sequence[str],
    published: Sequence[int | None],
    live: Sequence[bool],
    minhash: np.ndarray,
    samples: Lists,
    numbers: Lists,
    title_numbers: Lists,
    title_words: Lists,
    providers: Sequence[int] | np.ndarray,
    window_days: float = DEFAULT_WINDOW_DAYS,
    threshold: float = THRESHOLD,
) -> list[int]:
    """The story of every document number: the document number of its story's
    earliest copy (itself for a clip without copies, an undated or a deleted one)."""
    n = len(ids)
    rows = [
        d
        for d, (alive, t) in enumerate(zip(live, published, strict=True))
        if alive and t is not None
    ]
    reps = list(range(n))
    if len(rows) < 2:
        return reps
    idx = np.asarray(rows, dtype=np.int64)
    times = np.asarray([published[d] for d in rows], dtype=np.int64)
    parent = list(range(len(rows)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    found = copies(
        take_rows(minhash, idx),
        Packed.of(samples).take(idx),
        Packed.of(numbers, np.int64).take(idx),
        Packed.of(title_numbers, np.int64).take(idx),
        times,
        window_days,
        threshold,
        Packed.of(title_words).take(idx),
        take_rows(np.asarray(providers), idx),
        _ranks([ids[d] for d in rows]),
    )
    for i, j in found:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    # A row in no pair is a story of its own (its own earliest copy): only the rows
    # of some pair are looked at, not a Python step per document.
    linked = sorted({k for pair in found for k in pair})
    first: dict[int, int] = {}
    for k in linked:
        d, root = rows[k], find(k)
        best = first.get(root)
        if best is None or (published[d], ids[d]) < (published[best], ids[best]):
            first[root] = d
    for k in linked:
        reps[rows[k]] = first[find(k)]
    return reps
