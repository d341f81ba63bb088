"""Named numpy arrays in one file, written atomically and opened by memory-mapping.

The layout is a magic tag, the length of a JSON header, the header (the caller's
metadata and, per array, its dtype, shape and offset) and the arrays, each aligned
to 64 bytes.  Opening checks the tag, the header and that the file is as long as the
header says, so a truncated or overwritten file is refused (None) instead of read;
the arrays are then views of one read-only `np.memmap`, so opening costs no copy and
only the pages a query touches are read.

An array a query reads in a few short runs of a large whole (a posting list of all
the postings) can instead be read by positioned reads (`read(..., positioned=...)`,
`PositionedArray`): a run is copied from the page cache into an array of the query's
own, and nothing of the file stays mapped into the process.  Through a mapping each
run's pages would stay resident for the process's life, and more than them: the
kernel maps the cached pages around every fault too (on Linux 6.18 with ext4 a whole
large folio, up to 2 MB), so a long-lived search process would come to hold most of
every posting file."""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

MAGIC = b"CLIPARR1"
_ALIGN = 64
_HEAD = struct.Struct("<8sQ")


def _aligned(n: int) -> int:
    """`n` rounded up to the alignment every array starts at."""
    return -(-n // _ALIGN) * _ALIGN


def write(path: str, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Write `arrays` with `meta` to `path` through a temporary file renamed over it."""
    layout: dict[str, list[Any]] = {}
    offset = 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        layout[name] = [arr.dtype.str, list(arr.shape), offset]
        offset += _aligned(arr.nbytes)
    header = json.dumps({"meta": dict(meta), "arrays": layout, "size": offset}).encode()
    start = _aligned(_HEAD.size + len(header))
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(_HEAD.pack(MAGIC, len(header)))
        fh.write(header)
        fh.write(b"\0" * (start - _HEAD.size - len(header)))
        for arr in arrays.values():
            data = np.ascontiguousarray(arr)
            fh.write(memoryview(data).cast("B") if data.nbytes else b"")  # no copy
            fh.write(b"\0" * (-data.nbytes % _ALIGN))
    os.replace(tmp, path)


class PositionedArray:
    """A one-dimensional array of an array file, read by positioned reads: a slice
    (step 1) or an item is read from the file when asked for, into a new array.  The
    file stays open (a file replaced or deleted meanwhile is still the one read)."""

    def __init__(self, fh: io.FileIO, offset: int, dtype: np.dtype, length: int) -> None:
        self._fh, self._offset, self.dtype, self._length = fh, offset, dtype, length
        self._itemsize = dtype.itemsize
        self.shape = (length,)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, key: int | slice) -> Any:
        if type(key) is slice and key.step is None:  # a run [lo:hi]: what a query reads
            lo, hi = key.start, key.stop
            if type(lo) is int and type(hi) is int and 0 <= lo <= hi <= self._length:
                return self._run(lo, hi)
        if isinstance(key, slice):
            lo, hi, step = key.indices(self._length)
            if step != 1:
                raise IndexError("a positioned array is read in runs (step 1)")
            return self._run(lo, max(lo, hi))
        i = int(key) + self._length if int(key) < 0 else int(key)
        if not 0 <= i < self._length:
            raise IndexError(f"index {key} of an array of {self._length}")
        return self._run(i, i + 1)[0]

    def _run(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty(hi - lo, dtype=self.dtype)
        if hi > lo:
            at = self._offset + lo * self._itemsize
            if os.preadv(self._fh.fileno(), (out,), at) != out.nbytes:
                raise EOFError(f"{self._fh.name}: the file ends inside an array")
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self._run(0, self._length)
        return whole if dtype is None else whole.astype(dtype)


def read(
    path: str, positioned: Collection[str] = ()
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(meta, arrays) of the file at `path`, or None when it is missing or damaged.
    The arrays are views of one memory-mapping, but those named in `positioned`
    (one-dimensional) are `PositionedArray`s: read when sliced, never mapped."""
    try:
        fh = io.FileIO(path)
    except OSError:
        return None
    kept = False  # whether a positioned array reads through `fh`: else it is closed
    try:
        tag, length = _HEAD.unpack(fh.read(_HEAD.size))
        if tag != MAGIC or length > 1 << 26:
            return None
        header = json.loads(fh.read(length))
        size = os.fstat(fh.fileno()).st_size
        start = _aligned(_HEAD.size + length)
        if size != start + int(header["size"]):
            return None
        layout = header["arrays"]
        mapped = {
            n for n, (_d, shape, _o) in layout.items() if n not in positioned or len(shape) != 1
        }
        # A plain ndarray over the mapping (the memmap subclass slows every operation).
        whole = (
            np.asarray(np.memmap(fh, dtype=np.uint8, mode="r"))
            if header["size"] and mapped
            else None
        )
        arrays: dict[str, Any] = {}
        for name, (dtype, shape, offset) in layout.items():
            dt = np.dtype(dtype)
            count = int(np.prod(shape)) if shape else 1
            nbytes = count * dt.itemsize
            begin = start + int(offset)
            if begin + nbytes > size:
                return None
            if name not in mapped:
                arrays[name] = PositionedArray(fh, begin, dt, count)
            elif nbytes == 0 or whole is None:
                arrays[name] = np.empty(shape, dtype=dt)
            else:
                arrays[name] = whole[begin : begin + nbytes].view(dt).reshape(shape)
        kept = len(mapped) < len(layout)
        return header["meta"], arrays
    except (OSError, ValueError, TypeError, KeyError, struct.error, json.JSONDecodeError):
        return None
    finally:
        if not kept:
            fh.close()
