"""Array files (index/arrayfile.py): what is written is read back, a dropped file
leaves no descriptor open, and a damaged file is refused, never read."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from clipsearch.index import arrayfile


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "docs": rng.integers(0, 1 << 30, size=5000, dtype=np.int32),
        "weights": rng.random(5000, dtype=np.float32),
        "empty": np.zeros(0, dtype=np.int64),
        "grid": np.arange(12, dtype=np.int16).reshape(3, 4),
    }


def test_the_arrays_read_back_as_written(tmp_path: Path) -> None:
    path = str(tmp_path / "a.bin")
    arrays = _arrays()
    arrayfile.write(path, {"k": 1}, arrays)
    meta, mapped = arrayfile.read(path)
    assert meta == {"k": 1}
    for name, want in arrays.items():
        assert mapped[name].dtype == want.dtype and mapped[name].shape == want.shape, name
        assert np.array_equal(mapped[name], want), name


def test_no_file_stays_open_once_the_arrays_are_dropped(tmp_path: Path) -> None:
    import gc

    path = str(tmp_path / "a.bin")
    arrayfile.write(path, {}, _arrays())
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    kept = [arrayfile.read(path) for _ in range(20)]
    assert arrayfile.read(str(tmp_path / "missing.bin")) is None
    del kept
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_damaged_file_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "a.bin")
    arrayfile.write(path, {}, _arrays())
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) - 64)
    assert arrayfile.read(path) is None
    with open(path, "wb") as fh:
        fh.write(b"not an array file")
    assert arrayfile.read(path) is None
