"""Peak memory of a process, or of a process and every process it starts, from /proc.

`ru_maxrss` is not used: on Linux a child inherits its parent's high-water mark across
``fork``/``exec``, so a child of a large harness would report the harness's size.
`VmHWM` belongs to the process's own address space (new after ``exec``), so it is exact
for one process; a build that forks helpers (clipsearch's bulk writer) is covered by
`TreeMemory`, which sums the resident size of a process and all its descendants every
0.1 s (a spike shorter than that in a helper can be missed).
"""

from __future__ import annotations

import glob
import os
import threading


def _status_mb(pid: int | str, key: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident set of this process so far (VmHWM), in MiB; 0 when unknown."""
    return _status_mb("self", "VmHWM:") or 0.0


def children(pid: int) -> list[int]:
    """Direct children of `pid` (all its threads' children)."""
    kids: list[int] = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path, encoding="ascii") as fh:
                kids += [int(k) for k in fh.read().split()]
        except OSError:
            pass
    return kids


class TreeMemory(threading.Thread):
    """Peak summed RSS of process `root` and its descendants, sampled every `interval` s.

    RSS, not PSS: it is what `VmHWM` and the issue's "resident" targets count, and a
    forked helper's pages shared with its parent are then counted twice (an upper
    bound).  `peak_single` is the largest one process reached."""

    def __init__(self, root: int | None = None, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root = root or os.getpid()
        self.interval = interval
        self.halt = threading.Event()
        self.peak = 0.0
        self.peak_single = 0.0
        self.max_procs = 0

    def sample(self) -> float:
        pids, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo += children(pid)
        sizes = [_status_mb(pid, "VmRSS:") or 0.0 for pid in pids]
        total = sum(sizes)
        self.max_procs = max(self.max_procs, len(pids))
        self.peak = max(self.peak, total)
        self.peak_single = max(self.peak_single, max(sizes, default=0.0))
        return total

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            self.sample()

    def finish(self) -> float:
        """Stop sampling; the peak summed RSS seen, in MiB."""
        self.halt.set()
        self.join()
        return self.peak
