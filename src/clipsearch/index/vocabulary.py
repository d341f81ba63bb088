"""The surface vocabulary of one commit (word -> document frequency: what typos are
corrected to), written beside the commit with its typo look-up buckets already made.

A search process used to parse the whole vocabulary (JSON) and bucket every word in
Python before its first correction (about 0.3 s at 155k clips).  This file holds
the words sorted, their document frequencies, and every bucket search/fuzzy.py
probes, each as one run of text; a search memory-maps it, checks it, and decodes only
the buckets a query probes (and finds a word by binary search).

    header   MAGIC, then the length and text of a JSON header: format, the commit
             (generation, document count) it describes, the byte order, the
             sections' offsets and lengths, and a CRC-32 of everything after it
    words    the words, sorted, joined by newlines (UTF-8); `word_offsets` (uint32,
             n + 1) where each starts; `dfs` (uint32, n)
    keys     the bucket keys (kind, letters, length), sorted, concatenated;
             `key_offsets` (uint32, m + 1); `buckets`, each bucket's words joined by
             newlines, sorted, and `bucket_offsets` (uint32, m + 1)

Derived data, like derived.py's file: the writer writes it after each commit,
atomically (a temporary file renamed); a file that is missing, damaged (any check or
the CRC fails) or of another commit is never used.  The words of deleted clips stay
until a rebuild (the query layer checks a correction against the live index), as in
the JSON file this replaces; that one (`vocabulary.json`) is still read when no
vocabulary file describes the commit, and rebuilt from the stored fields when neither
does."""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import re
import struct
import sys
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from clipsearch.index.schema import TEXT_FIELDS
from clipsearch.words import surface_words

VOCABULARY_FILE = "vocabulary.bin"
LEGACY_FILE = "vocabulary.json"
FORMAT = 1
MAGIC = b"CSVOCAB\n"
_LENGTH = struct.Struct("<I")
_DIGIT = re.compile(r"\d")

#: Bucket kinds, as search/fuzzy.py probes them (its docstring says why):
HEAD = "h"  # (first letter, length): two edits
HEAD2 = "2"  # (first two letters, length): one edit, second letter kept
HEAD13 = "3"  # (first and third letters, length): one edit at the second letter
TAIL = "t"  # (second and third letters, length): first letter changed


def bucketed(word: str) -> bool:
    """Whether `word` can be proposed as a correction: words with digits (numbers,
    codes, ids) are counted but never proposed."""
    return bool(word) and _DIGIT.search(word) is None


def bucket_keys(word: str) -> list[tuple[str, str, int]]:
    """(kind, letters, length) of every bucket that holds `word`."""
    n = len(word)
    keys = [(HEAD, word[0], n)]
    if n >= 2:
        keys.append((HEAD2, word[:2], n))
    if n >= 3:
        keys.append((HEAD13, word[0] + word[2], n))
        keys.append((TAIL, word[1:3], n))
    return keys


def _key_bytes(kind: str, letters: str, length: int) -> bytes:
    return f"{kind}{letters}\x00{length}".encode()


def _uint32s(values: Iterable[int]) -> bytes:
    return array("I", values).tobytes()


def write(
    path: str,
    generation: int,
    doc_count_all: int,
    words: Mapping[str, int],
    previous: Vocabulary | None = None,
) -> None:
    """Write the vocabulary of commit `generation` (and its buckets) beside it.
    `previous`, the vocabulary of the commit the write started from: when `words`
    only adds to it (an update: words are never dropped), its buckets are kept and
    only those of the new words remade; the file is the same byte for byte."""
    made = _grown(previous, words) if previous is not None else None
    ordered, keys, runs = made if made is not None else _bucketed(words)
    encoded = [w.encode() for w in ordered]
    sections = {
        "words": b"\n".join(encoded),
        "word_offsets": _uint32s(_starts(len(e) + 1 for e in encoded)),
        "dfs": _uint32s(min(words[w], 0xFFFFFFFF) for w in ordered),
        "keys": b"".join(keys),
        "key_offsets": _uint32s(_starts(len(k) for k in keys)),
        "buckets": b"".join(runs),
        "bucket_offsets": _uint32s(_starts(len(r) for r in runs)),
    }
    layout, payload, at = {}, [], 0
    for name, data in sections.items():
        pad = -at % 8  # uint32 arrays start aligned
        payload.append(b"\0" * pad)
        at += pad
        layout[name] = [at, len(data)]
        payload.append(data)
        at += len(data)
    body = b"".join(payload)
    header = json.dumps(
        {
            "format": FORMAT,
            "generation": generation,
            "doc_count_all": doc_count_all,
            "byteorder": sys.byteorder,
            "words": len(ordered),
            "keys": len(keys),
            "sections": layout,
            "crc32": zlib.crc32(body),
        },
        separators=(",", ":"),
    ).encode()
    head = MAGIC + _LENGTH.pack(len(header)) + header
    head += b"\0" * (-len(head) % 8)
    tmp = os.path.join(path, VOCABULARY_FILE + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(head)
        fh.write(body)
    os.replace(tmp, os.path.join(path, VOCABULARY_FILE))


Buckets = tuple[list[str], list[bytes], list[bytes]]


def _buckets_of(ordered: Iterable[str]) -> dict[bytes, list[str]]:
    """The typo buckets of some sorted words (so every bucket is sorted too)."""
    buckets: dict[bytes, list[str]] = {}
    for word in ordered:
        if bucketed(word):
            for key in bucket_keys(word):
                buckets.setdefault(_key_bytes(*key), []).append(word)
    return buckets


def _bucketed(words: Mapping[str, int]) -> Buckets:
    """The words to write (sorted), the bucket keys (sorted) and each bucket's run."""
    ordered = sorted(w for w, df in words.items() if df > 0 and "\n" not in w)
    buckets = _buckets_of(ordered)
    keys = sorted(buckets)
    return ordered, keys, ["\n".join(buckets[k]).encode() for k in keys]


def _grown(previous: Vocabulary, words: Mapping[str, int]) -> Buckets | None:
    """What `_bucketed` makes of `words`, from `previous`'s buckets plus those of the
    words it lacks; None unless every word of `previous` is still in `words`."""
    old = previous.words()
    if any(words.get(w, 0) <= 0 for w in old):
        return None
    known = set(old)
    added = sorted(w for w, df in words.items() if df > 0 and "\n" not in w and w not in known)
    new = _buckets_of(added)
    old_keys, old_runs = previous.buckets()
    position = {k: i for i, k in enumerate(old_keys)} if new else {}
    runs = list(old_runs)
    fresh: list[bytes] = []
    for key, extra in new.items():
        i = position.get(key)
        if i is None:
            fresh.append(key)
        else:
            merged = sorted(runs[i].decode().split("\n") + extra)
            runs[i] = "\n".join(merged).encode()
    if fresh:
        fresh.sort()
        keys = sorted(old_keys + fresh)
        run_of = dict(zip(old_keys, runs, strict=True))
        run_of.update((k, "\n".join(new[k]).encode()) for k in fresh)
        runs = [run_of[k] for k in keys]
    else:
        keys = old_keys
    return sorted(old + added), keys, runs


def _starts(lengths: Iterable[int]) -> Iterator[int]:
    """Offsets of consecutive runs of these lengths, and the end: n + 1 values."""
    at = 0
    yield at
    for n in lengths:
        at += n
        yield at


class Vocabulary(Mapping[str, int]):
    """One commit's stored vocabulary: a read-only word -> document frequency mapping
    over the memory-mapped file, with the typo buckets (`bucket`).  Pickles as a plain
    dict (a shard's vocabulary sent to a coordinator)."""

    def __init__(self, mm: mmap.mmap, header: dict[str, Any], base: int):
        self.generation: int = header["generation"]
        self.doc_count_all: int = header["doc_count_all"]
        self._mm = mm
        self._dict: dict[str, int] | None = None
        self._n = header["words"]
        self._m = header["keys"]
        view = memoryview(mm)
        sec = {k: (base + o, base + o + n) for k, (o, n) in header["sections"].items()}
        self._words = sec["words"][0]
        self._keys = sec["keys"][0]
        self._buckets = sec["buckets"][0]
        self._word_at = view[slice(*sec["word_offsets"])].cast("I")
        self._dfs = view[slice(*sec["dfs"])].cast("I")
        self._key_at = view[slice(*sec["key_offsets"])].cast("I")
        self._bucket_at = view[slice(*sec["bucket_offsets"])].cast("I")
        if not (
            len(self._word_at) == self._n + 1
            and len(self._dfs) == self._n
            and len(self._key_at) == len(self._bucket_at) == self._m + 1
            and self._word_at[-1] == sec["words"][1] - sec["words"][0] + (self._n > 0)
            and self._key_at[-1] == sec["keys"][1] - sec["keys"][0]
            and self._bucket_at[-1] == sec["buckets"][1] - sec["buckets"][0]
        ):
            raise ValueError("inconsistent vocabulary sections")

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[str]:
        # Whoever iterates reads every word (a sharded index merging vocabularies:
        # `dict.update` then looks each one up): decode them all once, as a dict.
        return iter(self.to_dict())

    def words(self) -> list[str]:
        """Every word, sorted."""
        if not self._n:
            return []
        end = self._words + self._word_at[self._n] - 1
        return self._mm[self._words : end].decode().split("\n")

    def items(self) -> Any:  # one decode and one copy, not a search per word
        return self.to_dict().items()

    def to_dict(self) -> dict[str, int]:
        """Every word with its frequency (decoded once, then kept: do not change it)."""
        if self._dict is None:
            self._dict = dict(zip(self.words(), self._dfs.tolist(), strict=True))
        return self._dict

    def __reduce__(self) -> Any:
        return (dict, (self.to_dict(),))

    def _word(self, i: int) -> bytes:
        at = self._word_at
        return self._mm[self._words + at[i] : self._words + at[i + 1] - 1]

    def __getitem__(self, word: str) -> int:
        if self._dict is not None:
            return self._dict[word]
        probe = word.encode("utf-8", "surrogatepass")
        mm, base, at = self._mm, self._words, self._word_at
        lo, hi = 0, self._n
        while lo < hi:  # the first word >= probe (`_word` inline: a call a step cost a fifth)
            mid = (lo + hi) // 2
            if mm[base + at[mid] : base + at[mid + 1] - 1] < probe:
                lo = mid + 1
            else:
                hi = mid
        if lo < self._n and self._word(lo) == probe:
            return self._dfs[lo]
        raise KeyError(word)

    def get(self, word: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[word]
        except KeyError:
            return default

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None

    def buckets(self) -> tuple[list[bytes], list[bytes]]:
        """Every bucket key (sorted) and its run (the bucket's words joined by
        newlines), as stored: what the next commit's file keeps of them."""
        mm, at, b = self._mm, self._key_at, self._bucket_at
        keys = self._keys
        runs = self._buckets
        return (
            [mm[keys + at[i] : keys + at[i + 1]] for i in range(self._m)],
            [mm[runs + b[i] : runs + b[i + 1]] for i in range(self._m)],
        )

    def bucket(self, kind: str, letters: str, length: int) -> list[str]:
        """The words of one bucket (sorted); [] when there is none."""
        probe = _key_bytes(kind, letters, length)
        at, keys, mm = self._key_at, self._keys, self._mm
        lo, hi = 0, self._m
        while lo < hi:
            mid = (lo + hi) // 2
            if mm[keys + at[mid] : keys + at[mid + 1]] < probe:
                lo = mid + 1
            else:
                hi = mid
        if lo == self._m or mm[keys + at[lo] : keys + at[lo + 1]] != probe:
            return []
        b = self._bucket_at
        return mm[self._buckets + b[lo] : self._buckets + b[lo + 1]].decode().split("\n")


def load(path: str, generation: int, doc_count_all: int | None = None) -> Vocabulary | None:
    """The vocabulary written for commit `generation` (and, when given, of
    `doc_count_all` documents), or None when the file is missing, damaged, of another
    format or byte order, or describes another commit."""
    try:
        with open(os.path.join(path, VOCABULARY_FILE), "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return None
    try:
        if mm[: len(MAGIC)] != MAGIC:
            return None
        start = len(MAGIC) + _LENGTH.size
        (size,) = _LENGTH.unpack(mm[len(MAGIC) : start])
        header = json.loads(mm[start : start + size])
        base = start + size + (-(start + size) % 8)
        if not (
            isinstance(header, dict)
            and header.get("format") == FORMAT
            and header.get("byteorder") == sys.byteorder
            and header.get("generation") == generation
            and (doc_count_all is None or header.get("doc_count_all") == doc_count_all)
            and zlib.crc32(memoryview(mm)[base:]) == header.get("crc32")
        ):
            return None
        return Vocabulary(mm, header, base)
    except (ValueError, TypeError, KeyError, IndexError, struct.error):
        return None


def load_legacy(path: str, generation: int | None) -> dict[str, int] | None:
    """The JSON vocabulary older versions wrote, when it describes commit `generation`
    (None: any commit, for the writer of an index whose file predates the check)."""
    try:
        with open(os.path.join(path, LEGACY_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
        if generation is not None and data.get("generation") != generation:
            return None
        words = data.get("words")
    except (OSError, ValueError, AttributeError):
        return None
    return words if isinstance(words, dict) else None


def from_stored_fields(reader: Any) -> dict[str, int]:
    """The vocabulary of a commit's live clips, from their stored text: what a fresh
    build counts, for a commit whose vocabulary file is missing or stale."""
    counts: Counter[str] = Counter()
    for _docnum, stored in reader.iter_docs():
        counts.update(surface_words(stored.get(f) or "" for f in TEXT_FIELDS))
    return dict(counts)


def remove_legacy(path: str) -> None:
    """Drop the JSON vocabulary once the file of this format describes the commit."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(path, LEGACY_FILE))
