"""Array files (index/arrayfile.py): what is written is read back, mapped or by
positioned reads; a positioned array reads the same values as the mapped one, keeps
reading a file replaced meanwhile, and a damaged file is refused, never read."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from clipsearch.index import arrayfile


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "docs": rng.integers(0, 1 << 30, size=5000, dtype=np.int32),
        "weights": rng.random(5000, dtype=np.float32),
        "empty": np.zeros(0, dtype=np.int64),
        "grid": np.arange(12, dtype=np.int16).reshape(3, 4),
    }


def test_positioned_arrays_read_what_the_mapped_ones_hold(tmp_path: Path) -> None:
    path = str(tmp_path / "a.bin")
    arrays = _arrays()
    arrayfile.write(path, {"k": 1}, arrays)
    meta, mapped = arrayfile.read(path)
    meta2, positioned = arrayfile.read(path, positioned=("docs", "weights", "empty", "grid"))
    assert meta == meta2 == {"k": 1}
    assert isinstance(positioned["docs"], arrayfile.PositionedArray)
    assert isinstance(positioned["grid"], np.ndarray)  # only one-dimensional ones are
    for name, want in arrays.items():
        assert np.array_equal(mapped[name], want)
        assert np.array_equal(np.asarray(positioned[name]), want), name
    docs, weights = positioned["docs"], positioned["weights"]
    assert len(docs) == 5000 and docs.dtype == np.int32 and docs.shape == (5000,)
    for lo, hi in [(0, 0), (0, 1), (17, 4000), (4999, 5000), (3, 2), (-10, 5000), (0, 9999)]:
        assert np.array_equal(docs[lo:hi], arrays["docs"][lo:hi]), (lo, hi)
        assert np.array_equal(weights[lo:hi], arrays["weights"][lo:hi]), (lo, hi)
    assert docs[5] == arrays["docs"][5] and docs[-1] == arrays["docs"][-1]
    with pytest.raises(IndexError):
        docs[5000]
    with pytest.raises(IndexError):
        docs[::2]
    run = docs[10:20]
    run[0] = -1  # a run is the caller's own copy
    assert docs[10] == arrays["docs"][10]


def test_a_positioned_array_reads_the_file_it_opened(tmp_path: Path) -> None:
    path = str(tmp_path / "a.bin")
    arrays = _arrays()
    arrayfile.write(path, {}, arrays)
    _meta, positioned = arrayfile.read(path, positioned=("docs",))
    arrayfile.write(path, {}, {"docs": np.zeros(5000, dtype=np.int32)})  # replaced
    os.remove(path)
    assert np.array_equal(positioned["docs"][100:200], arrays["docs"][100:200])


def test_no_file_stays_open_once_the_arrays_are_dropped(tmp_path: Path) -> None:
    import gc

    path = str(tmp_path / "a.bin")
    arrayfile.write(path, {}, _arrays())
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    kept = [arrayfile.read(path, positioned=("docs",) * (i % 2)) for i in range(20)]
    assert arrayfile.read(str(tmp_path / "missing.bin")) is None
    assert len(os.listdir("/proc/self/fd")) <= before + 2 * len(kept)
    del kept
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_damaged_file_is_refused_and_a_truncated_one_not_read_past(tmp_path: Path) -> None:
    path = str(tmp_path / "a.bin")
    arrayfile.write(path, {}, _arrays())
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) - 64)
    assert arrayfile.read(path) is None
    assert arrayfile.read(path, positioned=("docs",)) is None
    arrayfile.write(path, {}, _arrays())
    _meta, positioned = arrayfile.read(path, positioned=("docs",))
    with open(path, "r+b") as fh:  # cut after opening: the read says so
        fh.truncate(64)
    with pytest.raises(EOFError):
        positioned["docs"][0:100]
