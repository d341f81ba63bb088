"""Near-duplicate signatures of clips: what story grouping compares.

A clip's signature is a MinHash (datasketch) over its title, excerpt and body as a
set of features: word bigrams (stop words dropped, so "the" and "of" do not make two
stories alike) and every number as a feature of its own.  Beside it are kept the
feature count (to estimate containment: a trimmed excerpt is contained in the full
one), the numbers themselves (a story built from a template, "Wordle 321 answer" and
"Wordle 322 answer", differs in its numbers and must not merge: see grouping.py) and
a content fingerprint (what saved searches compare to tell a changed clip from one
merely re-indexed).

numpy is imported only when a signature is computed (a search never needs it); the
values are datasketch's MinHash (scheme affine32, CRC-32 as its hash function),
computed here in batches without importing datasketch (tests compare the two).
Hashes are CRC-32 (zlib), stable across processes and Python versions, unlike
`hash()`."""

from __future__ import annotations

import hashlib
import re
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from clipsearch.folding import plain_punctuation
from clipsearch.words import ascii_words

#: MinHash permutations: 64 estimate a similarity of 0.5 within +-0.06 (one standard
#: error), and keep a clip's signature at 256 bytes.
NUM_PERM = 64
#: Numbers kept per clip for the template check (the first ones: titles come first).
MAX_NUMBERS = 32
#: Feature hashes kept per clip (the smallest: a bottom-k sample, the same features
#: for every clip that has them): all of a news clip's, a sample of a long body's.
SAMPLE = 128
_SEED = 11
#: Bytes of a content fingerprint (16 hex digits).
FINGERPRINT_BYTES = 8
#: The fingerprint of a row without one (a deleted document).
NO_FINGERPRINT = bytes(FINGERPRINT_BYTES)
#: datasketch's permutation scheme (2.0+): 32-bit values, a bijection per permutation.
#: Part of the stored format: signatures of another scheme cannot be compared.
SCHEME = "affine32"

_WORD = re.compile(r"\w+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
#: Words that carry no story: dropped before bigrams are made.
STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have he her his in is it its of on or "
    "our she that the their they this to was we were will with you your after over "
    "new says said say how why what who when".split()
)


@dataclass(frozen=True, slots=True)
class Signature:
    """What grouping knows of one clip: MinHash values (NUM_PERM unsigned 32-bit
    integers as bytes, for finding candidates), the smallest SAMPLE feature hashes
    (for comparing them, without the features common to many clips), the numbers
    of its text and of its title, and a fingerprint of its indexed content."""

    minhash: bytes
    sample: tuple[int, ...]
    numbers: tuple[int, ...]
    title_numbers: tuple[int, ...]
    fingerprint: str
    #: CRC-32s of the title's words (stop words dropped) and of the provider's name
    #: (casefolded; 0 for none): one outlet's template stories differ in a rare word.
    title_words: tuple[int, ...] = ()
    provider: int = 0


def tokens(text: str) -> list[str]:
    """The casefolded words (`\\w+`) of a text; curly quotes, dashes and ellipses are
    no word characters, so a text with nothing else outside ASCII is tokenised the
    ASCII way."""
    if not text.isascii():
        plain = plain_punctuation(text)
        if not plain.isascii():
            return _WORD.findall(text.casefold())
        text = plain
    return ascii_words(text.lower())


def numbers_in(text: str) -> tuple[int, ...]:
    """The distinct runs of digits of a text ("4th" and "4" are one), in order."""
    out: list[int] = []
    for run in _DIGITS.findall(text):
        n = int(run[:18])
        if n not in out and len(out) < MAX_NUMBERS:
            out.append(n)
    return tuple(out)


def features(title: str, excerpt: str, body: str) -> set[bytes]:
    """The feature set of a clip's text: word bigrams without stop words, and each
    number alone."""
    words = [w for w in tokens(f"{title}\n{excerpt}\n{body}") if w not in STOP_WORDS]
    out = {f"{a} {b}".encode() for a, b in zip(words, words[1:], strict=False)}
    # No letter is a digit: most words are letters only, and skip the scan.
    out.update(
        b"#" + w.encode() for w in words if not w.isalpha() and any(c.isdigit() for c in w)
    )
    if not out:  # a one-word clip: its word is all there is
        out = {w.encode() for w in words}
    return out


def fingerprint(
    title: str,
    excerpt: str,
    body: str,
    related: str,
    provider: str,
    url: str,
    published: datetime | None,
    topics: Any,
) -> str:
    """A digest of what is indexed of a clip (not of its file: touching or
    re-formatting a file changes nothing here)."""
    parts = [
        title or "",
        excerpt or "",
        body or "",
        related or "",
        provider or "",
        url or "",
        "" if published is None else published.isoformat(),
        "\x1f".join(topics or ()),
    ]
    return hashlib.blake2b(
        "\x1e".join(parts).encode("utf-8", "surrogatepass"), digest_size=FINGERPRINT_BYTES
    ).hexdigest()


@cache
def _permutations() -> Any:
    """datasketch's affine32 permutations (a, b) for NUM_PERM and the seed, made as
    its `MinHash._init_permutations` makes them (numpy's RandomState, an odd `a`):
    importing datasketch costs 0.5 s of CPU (it imports scipy), which a small
    update paid for 64 pairs of numbers.  Tests compare the MinHashes with
    datasketch's own."""
    import numpy as np

    gen = np.random.RandomState(_SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


#: MurmurHash3's 32-bit finalizer, which datasketch's affine32 scheme applies to each
#: feature hash before its permutations (so the values below are datasketch's).
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)
#: Feature hashes turned into MinHash values at once (a 64-column uint32 array each):
#: bounded so a batch of long bodies stays at a few tens of megabytes.
_BATCH_FEATURES = 32_768


def feature_hashes(feats: set[bytes]) -> array:
    """The CRC-32 of every feature: MinHash's input and the sample's."""
    return array("I", map(zlib.crc32, feats))


def minhashes(hash_lists: Sequence[array]) -> list[bytes]:
    """The MinHash of each clip's feature hashes (NUM_PERM little-endian uint32
    values), exactly datasketch's `MinHash(hashfunc=crc32, scheme="affine32")` after
    `update_batch`, computed for many clips in a few numpy operations instead of a
    MinHash object and a dozen small array operations per clip."""
    import numpy as np

    a, b = (np.asarray(x, dtype=np.uint32) for x in _permutations())
    empty = np.full(NUM_PERM, 0xFFFFFFFF, dtype="<u4").tobytes()
    out: list[bytes] = [empty] * len(hash_lists)
    start = 0
    while start < len(hash_lists):
        stop, size = start, 0
        while stop < len(hash_lists) and (
            size == 0 or size + len(hash_lists[stop]) <= _BATCH_FEATURES
        ):
            size += len(hash_lists[stop])
            stop += 1
        rows = [k for k in range(start, stop) if hash_lists[k]]
        if rows:
            lengths = np.asarray([len(hash_lists[k]) for k in rows], dtype=np.int64)
            hv = np.frombuffer(
                b"".join(hash_lists[k].tobytes() for k in rows), dtype=np.uint32
            ).copy()
            s1, m1, s2, m2, s3 = _FMIX32
            hv ^= hv >> np.uint32(s1)
            hv *= np.uint32(m1)
            hv ^= hv >> np.uint32(s2)
            hv *= np.uint32(m2)
            hv ^= hv >> np.uint32(s3)
            with np.errstate(over="ignore"):
                phv = hv[:, None] * a + b  # uint32 arithmetic wraps: mod 2**32
            offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
            mins = np.minimum.reduceat(phv, offsets, axis=0).astype("<u4")
            for k, row in zip(rows, mins, strict=True):
                out[k] = row.tobytes()
        start = stop
    return out


#: The values a signature is made of, as the index stores them: title, excerpt,
#: body, related text, provider, url, publication time, topics.
Texts = tuple[str, str, str, str, str, str, "datetime | None", Any]


def signature(
    title: str,
    excerpt: str,
    body: str,
    related: str,
    provider: str,
    url: str,
    published: datetime | None,
    topics: Any,
) -> Signature:
    """The signature of one clip, from the values the index stores for it."""
    return signatures([(title, excerpt, body, related, provider, url, published, topics)])[0]


def signatures(items: Sequence[Texts]) -> list[Signature]:
    """The signatures of many clips at once (their MinHashes in one batch)."""
    hash_lists, partial = [], []
    for title, excerpt, body, related, provider, url, published, topics in items:
        hashes = feature_hashes(features(title or "", excerpt or "", body or ""))
        hash_lists.append(hashes)
        partial.append(
            (
                tuple(sorted(hashes)[:SAMPLE]),
                numbers_in(f"{title}\n{excerpt}\n{body}"),
                numbers_in(title or ""),
                fingerprint(title, excerpt, body, related, provider, url, published, topics),
                tuple(
                    sorted(
                        {zlib.crc32(w.encode()) for w in tokens(title or "") if w not in STOP_WORDS}
                    )
                )[:MAX_NUMBERS],
                zlib.crc32((provider or "").casefold().encode()) if provider else 0,
            )
        )
    return [Signature(mh, *rest) for mh, rest in zip(minhashes(hash_lists), partial, strict=True)]


def clip_texts(clip: Any) -> Texts:
    """What a signature is made of, from a clip as read (ingest.clip.Clip)."""
    return (
        clip.title,
        clip.excerpt,
        clip.body,
        clip.related_text,
        clip.provider,
        clip.url,
        clip.published,
        clip.topics,
    )


def texts_of(stored: dict[str, Any]) -> Texts:
    """What a signature is made of, from an indexed clip's stored fields."""
    return (
        stored.get("title") or "",
        stored.get("excerpt") or "",
        stored.get("body") or "",
        stored.get("related") or "",
        stored.get("provider") or "",
        stored.get("url") or "",
        stored.get("published"),
        stored.get("topics") or (),
    )
