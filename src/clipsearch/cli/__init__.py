"""The `clipsearch` command: a thin click layer over the Python API.

commands.py  the command group and its commands
output.py    terminal-safe human output, colour, JSON, rendering a search result
errors.py    exit statuses, library errors phrased in CLI terms
"""

from clipsearch.cli.commands import main, run

__all__ = ["main", "run"]
