"""The `clipsearch` command: a thin click layer over the Python API.

commands.py  the command group and its commands
output.py    terminal-safe human output, colour, JSON, rendering a search result
errors.py    exit statuses, library errors phrased in CLI terms
"""

import os

# numpy's OpenBLAS starts a thread per core when it is imported, and clipsearch never
# multiplies matrices: one thread takes a third off a whole search process's CPU time
# (0.217 s to 0.153 s at 155k clips).  Set before numpy loads; a user's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from clipsearch.cli.commands import main, run  # noqa: E402  (after the setting above)

__all__ = ["main", "run"]
