"""Errors users can cause.  The CLI prints `str(error)` on one line and exits; no tracebacks."""

from __future__ import annotations


class ClipsearchError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class IndexMissingError(ClipsearchError):
    """No index where one was expected."""


class IndexIncompatibleError(ClipsearchError):
    """The index was written by another schema version, or is damaged."""


class IndexLockedError(ClipsearchError):
    """Another process holds the index's write lock past the timeout."""


class QueryError(ClipsearchError):
    """A query, filter or option that cannot be run as given."""


class StorageError(ClipsearchError):
    """The machine refused an operation the input was fine for: a full disk, a read-only
    folder, an I/O error.  Front ends give it its own exit status (not a usage error,
    and not "some files skipped"), because retrying after fixing the machine works."""

    def __init__(self, path: str, exc: OSError | str):
        detail = exc if isinstance(exc, str) else (exc.strerror or str(exc))
        self.path = path
        super().__init__(f"{path}: {detail}")
