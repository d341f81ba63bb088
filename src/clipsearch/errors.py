"""Errors users can cause.  The CLI prints `str(error)` on one line and exits; no tracebacks."""

from __future__ import annotations


class ClipsearchError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class IndexMissingError(ClipsearchError):
    """No index where one was expected (`path`)."""

    def __init__(self, message: str, *, path: str = ""):
        self.path = path
        super().__init__(message)


class IndexIncompatibleError(ClipsearchError):
    """The index was written by another schema version, is damaged, or the folder
    cannot hold one.  `rebuild` is True when rebuilding from the clips fixes it."""

    def __init__(self, message: str, *, rebuild: bool = False, path: str = ""):
        self.rebuild = rebuild
        self.path = path
        super().__init__(message)


class IndexLockedError(ClipsearchError):
    """Another process holds the index's write lock past the timeout."""


class QueryError(ClipsearchError):
    """A query, filter or option that cannot be run as given."""


class RequestError(QueryError):
    """A search parameter that cannot be used as given.  `parameter` is its name in the
    Python API (`limit`, `topics`, `since`...), `value` what was given and `problem`
    the reason, so each front end can phrase it in its own terms (a CLI flag, an HTTP
    query parameter); `str()` is the API's own one-line message."""

    def __init__(self, parameter: str, value: object, problem: str, message: str = ""):
        self.parameter, self.value, self.problem = parameter, value, problem
        super().__init__(message or f"{parameter} {value!r}: {problem}")


class StorageError(ClipsearchError):
    """The machine refused an operation the input was fine for: a full disk, a read-only
    folder, an I/O error.  Front ends give it its own exit status (not a usage error,
    and not "some files skipped"), because retrying after fixing the machine works."""

    def __init__(self, path: str, exc: OSError | str):
        detail = exc if isinstance(exc, str) else (exc.strerror or str(exc))
        self.path = path
        super().__init__(f"{path}: {detail}")


class ClusterError(ClipsearchError):
    """A Dask cluster that cannot be used: its scheduler cannot be reached, or it has
    no worker.  A usage error for front ends (fix the address, start the cluster)."""


class ShardsUnavailableError(ClipsearchError):
    """Shards of a sharded index that could not answer (their worker died and no other
    could open them).  `missing` names them; asking for partial answers (the API's
    `allow_partial`) searches the others and says which are missing instead."""

    def __init__(self, missing: list[str], detail: str = ""):
        self.missing = list(missing)
        super().__init__(
            f"shards not available: {', '.join(missing)}" + (f" ({detail})" if detail else "")
        )
