"""How the CLI ends: its exit statuses, and library errors phrased in CLI terms (a
parameter named as its flag, the command that rebuilds an index), on one line."""

from __future__ import annotations

import errno
import os
import sys
from typing import NoReturn

import click

from clipsearch.cli.output import line
from clipsearch.errors import (
    ClipsearchError,
    IndexIncompatibleError,
    IndexMissingError,
    RequestError,
    StorageError,
)
from clipsearch.paths import shown_path

EXIT_OK = 0
EXIT_SKIPPED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130

#: Search parameters (as the Python API names them) and the CLI's flag for each.
FLAGS = {
    "topics": "--topic",
    "providers": "--provider",
    "languages": "--language",
    "since": "--since",
    "until": "--until",
    "sort": "--sort",
    "limit": "--limit",
    "offset": "--offset",
    "facet_limit": "--facet-limit",
    "field": "FIELD",
    "shards": "--shards",
    "group": "--group",
    "count": "--count",
    "story_window": "--story-window",
}


def os_message(exc: OSError) -> str:
    """One line for an OSError: the path it names (if any), the reason and errno code."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = f" [{errno.errorcode[exc.errno]}]" if exc.errno in errno.errorcode else ""
    if exc.filename is None:
        return f"{reason}{code}"
    return f"{shown_path(os.fsdecode(exc.filename))}: {reason}{code}"


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"clipsearch: {line(message)}", err=True)
    sys.exit(code)


def error(exc: ClipsearchError) -> NoReturn:
    """Exit for a library error: 3 when the machine refused, else a usage error."""
    fail(phrase(exc), EXIT_ENVIRONMENT if isinstance(exc, StorageError) else EXIT_USAGE)


def phrase(exc: ClipsearchError, index_dir: str = "DIR") -> str:
    """A library error in the CLI's terms."""
    if isinstance(exc, RequestError) and exc.parameter in FLAGS:
        flag = FLAGS[exc.parameter]
        if exc.parameter == "since" and exc.problem == "is after until":
            return str(exc).replace("since", "--since", 1).replace("until", "--until", 1)
        if exc.parameter in ("limit", "offset", "sort", "field"):
            return f"{flag} {str(exc).split(' ', 1)[1]}"
        if exc.value is True:  # a flag: its value says nothing
            return f"{flag}: {exc.problem}"
        return f"{flag} {exc.value!r}: {exc.problem}"
    if isinstance(exc, IndexIncompatibleError) and exc.rebuild:
        return f"{exc}: `clipsearch index --rebuild --index {exc.path or index_dir} PATH...`"
    if isinstance(exc, IndexMissingError):
        return f"{exc}: `clipsearch index --index {exc.path or index_dir} PATH...`"
    return str(exc)
