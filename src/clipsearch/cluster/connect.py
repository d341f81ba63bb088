"""Reaching a Dask scheduler, and starting one on this machine.  Dask is imported
here and only here (and by the modules that import this one)."""

from __future__ import annotations

import os
from typing import Any

from clipsearch.errors import ClusterError

#: Seconds to wait for a scheduler before saying it cannot be reached.
CONNECT_TIMEOUT = float(os.environ.get("CLIPSEARCH_CLUSTER_TIMEOUT") or 3)


def connect(address: str, timeout: float = CONNECT_TIMEOUT) -> Any:
    """A Dask client of the scheduler at `address`, with at least one worker; a
    ClusterError (one line) when the scheduler cannot be reached."""
    import dask
    from distributed import Client

    with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
        try:
            client = Client(address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address!r} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'})"
            ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        client.close()
        raise ClusterError(f"the Dask scheduler at {address!r} has no worker") from None
    return client


def start_local(workers: int, threads: int = 1, port: int = 0) -> Any:
    """A LocalCluster of `workers` processes on the loopback interface, no dashboard."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=threads,
        processes=True,
        host="127.0.0.1",
        scheduler_port=port,
        dashboard_address=None,
    )


def readable(paths: list[str]) -> list[str]:
    """The shard folders this worker can open (run on every worker to place actors:
    shared storage shows every shard everywhere, local disks only some)."""
    from clipsearch.index import exists

    return [p for p in paths if exists(p)]
