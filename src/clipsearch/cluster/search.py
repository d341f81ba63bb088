"""Searching shards on a Dask cluster: one actor per shard (a `ShardSearcher` that
keeps its shard open and answers a search's phases), placed on a worker that can
read that shard, and every question fanned out to the actors at once (the answers
merged by the sharded backend, exactly as in one process).

Faults: a shard whose worker died is reopened on another worker that can read it
and the call retried, once per request; a shard that still cannot answer is an
error naming it, unless partial answers were asked for, then it is left out and
named in the result."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from clipsearch.cluster.connect import connect, readable
from clipsearch.errors import ClipsearchError, ClusterError, ShardsUnavailableError
from clipsearch.search.shard_phases import ShardSearcher

#: Seconds one fanned-out call may take before its shard counts as lost.
CALL_TIMEOUT = float(os.environ.get("CLIPSEARCH_CLUSTER_CALL_TIMEOUT") or 120)
#: Times to ask the workers again for a shard none of them can read (0.5 s apart).
READER_TRIES = 4


class ClusterFanout:
    """The shards of one index as actors on a cluster (the sharded backend's `Fanout`)."""

    def __init__(
        self,
        address: str | Any,
        paths: list[str],
        *,
        allow_partial: bool = False,
    ):
        self.names = [os.path.basename(p.rstrip("/")) for p in paths]
        self._paths = paths
        self._allow_partial = allow_partial
        self._own_client = isinstance(address, str)
        self._client = connect(address) if isinstance(address, str) else address
        self._actors: list[Any] = [None] * len(paths)
        self._missing: dict[int, str] = {}
        self._retried: set[int] = set()
        try:
            self._place(list(range(len(paths))))
        except BaseException:
            self.close()
            raise

    # -- placement
    def _readers(self) -> dict[str, list[str]]:
        """Worker address -> the shard paths it can read."""
        try:
            answers = self._client.run(readable, self._paths, on_error="return")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"the cluster stopped answering ({exc})") from None
        return {w: ps for w, ps in answers.items() if isinstance(ps, list)}  # dead ones out

    def _place(self, shards: list[int], avoid: str | None = None) -> None:
        """Open actors for `shards`, each on the least loaded worker that can read it;
        a shard no worker can read is missing (an error unless partial)."""
        readers = self._readers()
        for _ in range(READER_TRIES):  # workers just restarted may not have answered yet
            if all(any(self._paths[i] in ps for ps in readers.values()) for i in shards):
                break
            time.sleep(0.5)
            readers = self._readers()
        load = {w: 0 for w in readers}
        for a in self._actors:
            worker = getattr(a, "_address", None)
            if worker in load:
                load[worker] += 1
        futures = {}
        for i in shards:
            able = [w for w, ps in readers.items() if self._paths[i] in ps and w != avoid]
            able = able or [w for w, ps in readers.items() if self._paths[i] in ps]
            if not able:
                self._lose(i, "no worker can read it")
                continue
            worker = min(able, key=lambda w: (load[w], w))
            load[worker] += 1
            futures[i] = self._client.submit(
                ShardSearcher,
                self._paths[i],
                actor=True,
                workers=[worker],
                allow_other_workers=False,
                pure=False,
            )
        for i, fut in futures.items():
            try:
                with self._client.as_current():  # the actor handle binds to this client
                    self._actors[i] = fut.result(timeout=CALL_TIMEOUT)
                self._missing.pop(i, None)
            except ClipsearchError:
                raise
            except Exception as exc:  # the worker died while opening it
                self._lose(i, f"{type(exc).__name__}: {exc}")

    def _lose(self, shard: int, why: str) -> None:
        self._actors[shard] = None
        self._missing[shard] = why
        if not self._allow_partial:
            raise ShardsUnavailableError([self.names[shard]], why)

    # -- the Fanout protocol
    def begin(self) -> None:
        self._retried.clear()
        if self._missing:  # maybe a worker that can read them is back
            lost = sorted(self._missing)
            self._missing.clear()
            allow, self._allow_partial = self._allow_partial, True
            try:
                self._place(lost)
            finally:
                self._allow_partial = allow

    def missing(self) -> list[str]:
        return [self.names[i] for i in sorted(self._missing)]

    def call(
        self, method: str, args: tuple = (), per_shard: Mapping[int, tuple] | None = None
    ) -> list[tuple[int, Any]]:
        calls = per_shard if per_shard is not None else dict.fromkeys(range(len(self._paths)), args)
        pending = {}
        for i, a in calls.items():
            if i not in self._missing:
                pending[i] = self._start(i, method, a)
        out = []
        for i in sorted(pending):
            value, ok = self._finish(pending[i])
            if not ok:
                value, ok = self._retry(i, method, calls[i])
            if ok:
                out.append((i, value))
        return out

    def _start(self, shard: int, method: str, args: tuple) -> Any:
        try:
            return getattr(self._actors[shard], method)(*args)
        except ClipsearchError:
            raise
        except Exception as exc:
            return exc

    @staticmethod
    def _finish(future: Any) -> tuple[Any, bool]:
        if isinstance(future, Exception):
            return future, False
        try:
            return future.result(timeout=CALL_TIMEOUT), True
        except ClipsearchError:  # the shard's own answer: a bad query, a damaged shard
            raise
        except Exception as exc:  # the worker died or cannot be reached
            return exc, False

    def _retry(self, shard: int, method: str, args: tuple) -> tuple[Any, bool]:
        """Reopen a lost shard on another worker and ask again, once per request."""
        if shard in self._retried:
            self._lose(shard, "its worker was lost")
            return None, False
        self._retried.add(shard)
        old = getattr(self._actors[shard], "_address", None)
        self._place([shard], avoid=old)
        if shard in self._missing:
            return None, False
        value, ok = self._finish(self._start(shard, method, args))
        if not ok:
            self._lose(shard, f"{type(value).__name__}: {value}")
        return value, ok

    def close(self) -> None:
        self._actors = [None] * len(self._paths)
        if self._own_client:
            self._client.close()
