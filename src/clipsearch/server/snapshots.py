"""One opened index shared by a server's requests, kept current without closing a
snapshot under a request.

`SnapshotPool.use()` leases the current `ClipIndex` for one request.  At most every
`check_every` seconds a lease first asks whether an indexer committed since; if so the
pool opens the new commit for the requests that follow, and the old `ClipIndex` is
closed when its last lease ends, so a request always finishes on the snapshot it
started with.  (`ClipIndex.refresh()` swaps in place, which is right for one caller and
wrong for many.)

Whoosh does not promise that one reader may be searched from several threads at once,
so a snapshot runs one search at a time (`Lease` holds its lock); with the GIL and
CPU-bound searches that costs little, and a new snapshot does not wait for an old one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from clipsearch.errors import ClipsearchError
from clipsearch.search.engine import ClipIndex

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Lease:
    """One opened snapshot and the requests using it."""

    index: ClipIndex
    users: int = 0
    retired: bool = False
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class SnapshotPool:
    def __init__(
        self,
        path: str,
        *,
        check_every: float = 1.0,
        opener: Callable[[str], ClipIndex] = ClipIndex,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path = path
        self.check_every = check_every
        self._open = opener
        self._clock = clock
        self._lock = threading.Lock()  # guards _current and every lease's counts
        self._refreshing = threading.Lock()  # one refresh at a time; others go on
        self._current = Lease(opener(path))
        self._checked = clock()
        self._closed = False
        #: Snapshots opened after the first (for tests and the log).
        self.reopened = 0

    @contextmanager
    def use(self) -> Iterator[ClipIndex]:
        """The current snapshot, for one request; searches on it run one at a time."""
        lease = self._acquire()
        try:
            with lease.lock:
                yield lease.index
        finally:
            self._release(lease)

    def check(self) -> bool:
        """Open the latest commit if there is a newer one; True when it did.  A commit
        that cannot be opened (being written, damaged) keeps the current snapshot."""
        if not self._refreshing.acquire(blocking=False):
            return False  # another request is refreshing; use what is current
        try:
            self._checked = self._clock()
            with self._lock:
                if self._closed:
                    return False
                current = self._current
                current.users += 1  # is_current() must not race a close
            try:
                if current.index.is_current():
                    return False
                try:
                    fresh = Lease(self._open(self.path))
                except ClipsearchError as exc:
                    log.warning("keeping the open snapshot: %s", exc)
                    return False
                with self._lock:
                    self._current = fresh
                    current.retired = True
                self.reopened += 1
                return True
            finally:
                self._release(current)
        finally:
            self._refreshing.release()

    def close(self) -> None:
        """Close the current snapshot (and any retired one whose requests are done)."""
        with self._lock:
            self._closed = True
            lease = self._current
            lease.retired = True
            users = lease.users
        if users == 0:
            self._close(lease)

    # -- internals
    def _acquire(self) -> Lease:
        if self._clock() - self._checked >= self.check_every:
            self.check()
        with self._lock:
            if self._closed:
                raise ClipsearchError("the server is shutting down")
            lease = self._current
            lease.users += 1
            return lease

    def _release(self, lease: Lease) -> None:
        with self._lock:
            lease.users -= 1
            done = lease.retired and lease.users == 0
        if done:
            self._close(lease)

    def _close(self, lease: Lease) -> None:
        with self._lock:
            if lease.closed:
                return
            lease.closed = True
        lease.index.close()
