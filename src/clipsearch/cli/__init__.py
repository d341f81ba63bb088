"""The `clipsearch` command: a thin click layer over the Python API.

commands.py  the command group and its commands
output.py    terminal-safe human output, colour, JSON, rendering a search result
errors.py    exit statuses, library errors phrased in CLI terms
"""

import gc
import os
from typing import Any, NoReturn

# numpy's OpenBLAS starts a thread per core when it is imported, and clipsearch never
# multiplies matrices: one thread takes a third off a whole search process's CPU time
# (0.217 s to 0.153 s at 155k clips).  Set before numpy loads; a user's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def run() -> NoReturn:
    """The `clipsearch` process (the console script and `python -m clipsearch`).

    The garbage collector is off while the command's modules import: imports create
    a hundred thousand long-lived objects and no garbage, and the collector's passes
    over them cost ~5% of a whole search process.  `commands.run` then freezes what
    was imported and turns it back on, except for a command that reads and exits."""
    gc.disable()
    from clipsearch.cli.commands import run as run_command

    run_command()


def __getattr__(name: str) -> Any:
    """`main`, the click group, imported on first use (callers in this process)."""
    if name != "main":
        raise AttributeError(f"module 'clipsearch.cli' has no attribute {name!r}")
    from clipsearch.cli.commands import main

    return main


__all__ = ["main", "run"]
