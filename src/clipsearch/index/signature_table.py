"""Signature records of many clips as columns (one array per field), the form
signatures.bin keeps and story grouping reads: loading 155k clips' records is a
dozen arrays, not 155k tuples, and gathering one commit's rows out of the previous
commit's table is a vectorised take, not a Python step per field per clip.

A record (stories.record) is what one index run computed for one clip: stat,
MinHash bytes, sample, numbers, title numbers, fingerprint (hex), title words,
provider.  A table keeps each field as a column; a row's stat and path live beside
it in signatures.bin (stories.py).

Imported by index runs, and by a search only when it must group stories itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clipsearch.index import signatures as sig
from clipsearch.index.grouping import Packed, take_rows

#: The columns of variable length, with the dtype of their values.
_LISTS = {
    "sample": np.uint32,
    "numbers": np.int64,
    "title_numbers": np.int64,
    "title_words": np.uint32,
}


@dataclass(frozen=True)
class Table:
    """Per row: `minhash[i]` (NUM_PERM uint32), `sample`, `numbers`,
    `title_numbers`, `title_words` (Packed lists), `provider[i]` (uint32) and the
    8-byte content fingerprint at `fingerprint[8 i : 8 i + 8]` (zeros: none)."""

    minhash: np.ndarray
    sample: Packed
    numbers: Packed
    title_numbers: Packed
    title_words: Packed
    provider: np.ndarray
    fingerprint: bytes

    def __len__(self) -> int:
        return len(self.provider)

    @classmethod
    def blank(cls, n: int) -> Table:
        """`n` rows of nothing: what a deleted document's row holds."""
        return cls(
            np.zeros((n, sig.NUM_PERM), dtype=np.uint32),
            *(Packed(np.zeros(0, dtype=t), np.zeros(n, dtype=np.int64)) for t in _LISTS.values()),
            np.zeros(n, dtype=np.uint32),
            sig.NO_FINGERPRINT * n,
        )

    @classmethod
    def from_records(cls, records: Sequence[tuple]) -> Table:
        """The table of signature records (stories.record tuples, already checked)."""
        if not records:
            return cls.blank(0)
        minhash = np.frombuffer(b"".join(r[1] for r in records), dtype="<u4")
        return cls(
            minhash.astype(np.uint32).reshape(len(records), sig.NUM_PERM),
            _packed_bytes([r[2] for r in records]),
            Packed.of([r[3] for r in records], np.int64),
            Packed.of([r[4] for r in records], np.int64),
            _packed_bytes([r[6] for r in records]),
            np.fromiter((r[7] for r in records), dtype=np.uint32, count=len(records)),
            b"".join(_fingerprint(r[5]) for r in records),
        )

    @classmethod
    def join(cls, parts: Sequence[Table]) -> Table:
        """The rows of every part, in order."""
        if not parts:
            return cls.blank(0)
        return cls(
            np.concatenate([p.minhash for p in parts]),
            *(Packed.join([getattr(p, name) for p in parts]) for name in _LISTS),
            np.concatenate([p.provider for p in parts]),
            b"".join(p.fingerprint for p in parts),
        )

    def take(self, rows: np.ndarray | Sequence[int]) -> Table:
        """The rows `rows` (indices, in that order); views of these arrays when
        `rows` is 0..k-1."""
        rows = np.asarray(rows, dtype=np.int64)
        prints = np.frombuffer(self.fingerprint, dtype=np.uint64)
        return Table(
            take_rows(self.minhash, rows),
            *(getattr(self, name).take(rows) for name in _LISTS),
            take_rows(self.provider, rows),
            take_rows(prints, rows).tobytes(),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The table as named arrays (what signatures.bin keeps: arrayfile.py)."""
        out = {"minhash": self.minhash, "provider": self.provider}
        for name in _LISTS:
            lists = getattr(self, name)
            out[name] = lists.values
            out[name + ".counts"] = lists.counts.astype(np.uint32)
        out["fingerprint"] = np.frombuffer(self.fingerprint, dtype=np.uint8)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], n: int) -> Table | None:
        """The table of `n` rows that `arrays` made (views of them where the types
        agree), or None when one is missing or of the wrong size or type."""
        try:
            minhash = _typed(arrays["minhash"], np.uint32)
            provider = _typed(arrays["provider"], np.uint32)
            prints = _typed(arrays["fingerprint"], np.uint8)
            if (
                minhash.shape != (n, sig.NUM_PERM)
                or provider.shape != (n,)
                or prints.shape != (n * sig.FINGERPRINT_BYTES,)
            ):
                return None
            lists = []
            for name, dtype in _LISTS.items():
                values = _typed(arrays[name], dtype)
                counts = _typed(arrays[name + ".counts"], np.uint32)
                if values.ndim != 1 or counts.shape != (n,) or int(counts.sum()) != len(values):
                    return None
                lists.append(Packed(values, counts.astype(np.int64)))
            return cls(minhash, *lists, provider, prints.tobytes())
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    @classmethod
    def from_columns(cls, data: Any, n: int) -> Table | None:
        """The table of `n` rows of signatures.bin's previous format (6: little-endian
        byte strings), or None when a column is missing or of the wrong size."""
        try:
            # Native order is little-endian almost everywhere: then no copy is made.
            minhash = np.frombuffer(data["minhash"], dtype="<u4").astype(np.uint32, copy=False)
            provider = np.frombuffer(data["provider"], dtype="<u4").astype(np.uint32, copy=False)
            prints = data["fingerprint"]
            if (
                len(minhash) != n * sig.NUM_PERM
                or len(provider) != n
                or not isinstance(prints, bytes)
                or len(prints) != n * sig.FINGERPRINT_BYTES
            ):
                return None
            lists = []
            for name, dtype in _LISTS.items():
                values = np.frombuffer(data[name], dtype=np.dtype(dtype).newbyteorder("<"))
                counts = np.frombuffer(data[name + ".counts"], dtype="<u4").astype(np.int64)
                if len(counts) != n or int(counts.sum()) != len(values):
                    return None
                lists.append(Packed(values.astype(dtype, copy=False), counts))
            return cls(minhash.reshape(n, sig.NUM_PERM), *lists, provider, prints)
        except (KeyError, TypeError, ValueError):
            return None


def _packed_bytes(packed: Sequence[bytes]) -> Packed:
    """Lists kept as packed uint32 bytes (a record's sample and title words)."""
    counts = np.fromiter((len(b) // 4 for b in packed), dtype=np.int64, count=len(packed))
    return Packed(np.frombuffer(b"".join(packed), dtype=np.uint32), counts)


def _fingerprint(digest: Any) -> bytes:
    """A record's hex fingerprint as its 8 bytes (zeros when it is not one)."""
    try:
        raw = bytes.fromhex(digest)
    except (TypeError, ValueError):
        return sig.NO_FINGERPRINT
    return raw if len(raw) == sig.FINGERPRINT_BYTES else sig.NO_FINGERPRINT


def _typed(values: Any, dtype: Any) -> np.ndarray:
    """`values` as an array of the native `dtype` (no copy when it is one: the kind
    must agree, only the byte order may differ)."""
    want = np.dtype(dtype)
    if not isinstance(values, np.ndarray) or values.dtype.kind != want.kind:
        raise TypeError("wrong type")
    if values.dtype.itemsize != want.itemsize:
        raise TypeError("wrong size")
    return values.astype(want, copy=False)
