"""Human and JSON output of the CLI: text made safe for a terminal (no escape
sequences or control characters from clip text), colour only where it belongs, JSON
that survives any output encoding, and the rendering of a search result."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from typing import Any

import click

from clipsearch.search.histogram import Histogram
from clipsearch.search.result import SearchResult

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)
#: Terminal escape sequences: CSI (colours, cursor moves, clearing the screen), OSC
#: (window titles, hyperlinks) and DCS/SOS/PM/APC strings when terminated, any other
#: ESC sequence or a lone ESC.  C1 controls (8-bit forms included) go one by one with
#: _CONTROLS: an unterminated string must not swallow the text after it.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[]P^_X][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*[0-~]?"
)
_SPACES = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and newline, DEL, C1


def line(value: Any) -> str:
    """Text for one line of human output: escape sequences and control characters
    dropped, line breaks and tabs made spaces."""
    text = _ESCAPES.sub("", str(value))
    return _CONTROLS.sub("", _SPACES.sub(" ", text))


def lines(value: Any) -> str:
    """Multi-line text for human output: like `line`, but line breaks are kept."""
    text = _ESCAPES.sub("", str(value)).replace("\r\n", "\n")
    return _CONTROLS.sub("", text)


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to a non-empty value
    (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def tolerate_unencodable_output() -> None:
    """Write characters the output encoding cannot represent (PYTHONIOENCODING=latin-1,
    an ASCII locale) as backslash escapes instead of dying with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None or getattr(stream, "errors", None) in _TOLERANT:
            continue
        with contextlib.suppress(ValueError, OSError):  # closed or odd: leave it as it is
            reconfigure(errors="backslashreplace")


_TOLERANT = ("backslashreplace", "replace", "namereplace", "xmlcharrefreplace", "ignore")


def echo_json(data: Any, default: Any = None) -> None:
    """JSON on stdout: UTF-8 text when stdout can take it, else ASCII with \\u escapes
    (valid JSON in any encoding, where backslashreplace could make it invalid)."""
    text = json.dumps(data, ensure_ascii=False, default=default)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(data, ensure_ascii=True, default=default)
    click.echo(text)


def marked(text: str, color: bool) -> str:
    """A highlighted fragment on one line, matches in colour or [brackets]; the clip's
    own text is cleaned before the colour codes are added."""
    text = line(text)
    if color:
        return _MARK.sub(lambda m: click.style(m.group(1), bold=True, fg="yellow"), text)
    return _MARK.sub(r"[\1]", text)


def fallback_reason(with_all: int | None) -> str:
    """Why `auto` counted clips with any word: none, or only a handful, had them all."""
    if not with_all:
        return "No clip has all the words"
    if with_all == 1:
        return "Only 1 clip has all the words"
    return f"Only {with_all} clips have all the words"


def print_result(res: SearchResult, color: bool) -> None:
    echo = click.echo
    if res.corrections:
        fixed = ", ".join(f"{line(k)} -> {line(v)}" for k, v in res.corrections.items())
        echo(f"Showing results for corrected words ({fixed}); use --exact to search as typed.")
    if res.suggestion:
        echo(f"Did you mean: {line(res.suggestion)}")
    if res.match_fallback:
        echo(f"{fallback_reason(res.all_words_total)}; showing clips with any of them.")
    if res.expanded:
        echo(f"Expanded with: {line(', '.join(res.expanded))}")
    shown = f"{res.offset + 1}-{res.offset + len(res.hits)} of " if res.hits else ""
    which = " (any of the words)" if res.match == "any" else ""
    unit = "stories" if res.counted == "stories" else "clips"
    echo(f"{shown}{res.total:,} {unit} for {res.query!r}{which}")
    for n, hit in enumerate(res.hits, res.offset + 1):
        date = hit.published.strftime("%Y-%m-%d") if hit.published else "undated"
        title = hit.highlights.get("title") or hit.title
        echo(f"\n{n:>3}. {marked(title, color)}")
        provider = line(hit.provider) or "unknown provider"
        echo(f"     {provider} | {date} | score {hit.score:.2f} | {line(hit.id)}")
        if hit.copies is not None and hit.copies > 1:
            outlets = ", ".join(line(o) for o in hit.outlets[:5])
            more = f" +{len(hit.outlets) - 5:,} more" if len(hit.outlets) > 5 else ""
            first = hit.first_published.strftime("%Y-%m-%d") if hit.first_published else "undated"
            echo(f"     {hit.copies:,} copies since {first}: {outlets}{more}")
        snippet = next(
            (hit.highlights[f] for f in ("excerpt", "body", "related") if f in hit.highlights),
            hit.excerpt[:200],
        )
        if snippet:
            echo("     " + marked(" ".join(snippet.split()), color))
        if hit.url:
            echo(f"     {line(hit.url)}")
    for name, counts in res.facets.items():
        if not counts:
            continue
        parts = [f"{line(v)} ({c:,})" for v, c in counts.items()]
        more = res.facet_other.get(name, 0)
        if more:
            parts.append(f"+{more:,} more")
        echo(f"\n{name}: " + ", ".join(parts))
    if res.histogram is not None:
        echo("")
        for row in chart(res.histogram, shutil.get_terminal_size((80, 24)).columns):
            echo(row)


#: Bars of a sparkline, lowest first.
_SPARKS = "▁▂▃▄▅▆▇█"
_LABELS = {"day": "%Y-%m-%d", "week": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}


def chart(hist: Histogram, width: int) -> list[str]:
    """Volume over time that fits `width` columns: a bar per line for up to 24 buckets,
    else a sparkline wrapped to the width, labelled with its first and last bucket."""
    width = max(width, 20)
    label = _LABELS[hist.interval]
    undated = f" ({hist.undated:,} undated)" if hist.undated else ""
    out = [f"{hist.interval}ly volume{undated}:".replace("dayly", "daily")]
    if not hist.buckets:
        return out + ["  (no dated matches)"]
    top = max(n for _s, n in hist.buckets) or 1
    if len(hist.buckets) <= 24:
        names = [s.strftime(label) for s, _n in hist.buckets]
        counts = [f"{n:,}" for _s, n in hist.buckets]
        room = max(1, width - max(map(len, names)) - max(map(len, counts)) - 4)
        for name, shown, (_s, n) in zip(names, counts, hist.buckets, strict=True):
            bar = "█" * round(n / top * room) if n else ""
            out.append(f"  {name:<{len(max(names, key=len))}} {bar} {shown}")
        return out
    first, last = hist.buckets[0][0].strftime(label), hist.buckets[-1][0].strftime(label)
    sparks = "".join(
        _SPARKS[min(len(_SPARKS) - 1, n * len(_SPARKS) // (top + 1))] if n else " "
        for _s, n in hist.buckets
    )
    per_row = width - 2
    rows = [sparks[i : i + per_row] for i in range(0, len(sparks), per_row)]
    out += ["  " + r for r in rows]
    span, size = f"{first} ... {last}", f"{len(hist.buckets):,} {hist.interval}s, peak {top:,}"
    if len(span) + len(size) + 4 <= width:
        return [*out, f"  {span}, {size}"]
    return [*out, f"  {span}", f"  {size}"]


MULTI_LINE = frozenset({"excerpt", "body", "related"})
