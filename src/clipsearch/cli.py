"""The `clipsearch` command: a thin layer over the Python API.

User mistakes (bad options, bad queries, a missing or locked index) print one
line on stderr and exit 2 (1 for `index` runs that skipped bad files); they
never print a traceback.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from typing import Any

import click

from clipsearch import dates
from clipsearch.clip import DEFAULT_MAX_BYTES
from clipsearch.errors import ClipsearchError, IndexLockedError
from clipsearch.query import SORTS, ClipIndex, SearchResult, default_index_dir
from clipsearch.sync import StrictStop, update_index

_MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


def _index_option(f: Any) -> Any:
    return click.option(
        "--index",
        "index_dir",
        envvar="CLIPSEARCH_INDEX",
        default=None,
        metavar="DIR",
        help="Index folder (default: $CLIPSEARCH_INDEX, else ./index).",
    )(f)


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"clipsearch: {message}", err=True)
    sys.exit(code)


def _open(index_dir: str | None) -> ClipIndex:
    try:
        return ClipIndex(index_dir or default_index_dir())
    except ClipsearchError as exc:
        _fail(str(exc))
        raise  # unreachable


class _Date(click.ParamType):
    """A date or date-time (ISO 8601), as naive UTC; a naive one is taken as UTC.  With
    `end_of_day`, a date without a time part means the end of that day (so `--until
    2022-03-31` and `--until 20220331` include March 31).  Offsets that reach past year
    1 or 9999 in UTC are clamped to the first or last representable moment."""

    name = "DATE"

    def __init__(self, end_of_day: bool = False):
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return dates.naive_utc(value, clamp=True)
        try:
            return dates.naive_utc(dates.parse(str(value), end_of_day=self.end_of_day), clamp=True)
        except dates.DateError:
            self.fail(f"{value!r} is not a date like 2022-03-01 or 2022-03-01T12:00Z", param, ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clipsearch")
def main() -> None:
    """Fast, typo-tolerant, faceted search over folders of news clips."""


@main.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@_index_option
@click.option("--rebuild", is_flag=True, help="Start the index over instead of updating it.")
@click.option("--strict", is_flag=True, help="Stop at the first bad file; change nothing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--lock-timeout",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Wait this long for another indexer to finish.",
)
@click.option(
    "--max-bytes",
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    metavar="N",
    type=click.IntRange(min=1),
    help="Skip clip files larger than this.",
)
def index_cmd(
    paths: tuple[str, ...],
    index_dir: str | None,
    rebuild: bool,
    strict: bool,
    quiet: bool,
    as_json: bool,
    lock_timeout: float,
    max_bytes: int,
) -> None:
    """Index clip files and folders (recursive); incremental unless --rebuild.

    Exit status: 0 all files indexed, 1 some skipped (the rest are indexed), 2 usage error."""
    bar = None
    show_bar = not quiet and not as_json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Indexing", file=sys.stderr)
            bar.__enter__()
        bar.update(1)

    try:
        report = update_index(
            list(paths),
            index_dir or default_index_dir(),
            rebuild=rebuild,
            strict=strict,
            lock_timeout=lock_timeout,
            max_bytes=max_bytes,
            progress=progress if show_bar else None,
        )
    except StrictStop as exc:
        _fail(f"{exc.problem} (--strict: index left unchanged)", 1)
    except IndexLockedError as exc:
        _fail(f"{exc}, or raise --lock-timeout")
    except KeyboardInterrupt:
        _fail("interrupted: nothing from this run was committed; the index is as it was", 130)
    except ClipsearchError as exc:
        _fail(str(exc))
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for s in report.skipped:
            click.echo(f"skipped: {s.reason}", err=True)
        for d in report.duplicates:
            click.echo(f"duplicate: {d}", err=True)
        for w in report.warnings:
            click.echo(f"warning: {w}", err=True)
        click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("query", nargs=-1)
@_index_option
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="TOPIC",
    help="Only clips with this topic (repeat: any of them). Fuzzy.",
)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    metavar="NAME",
    help="Only clips from this provider (repeat: any of them). Fuzzy.",
)
@click.option("--since", type=_Date(), help="Published on or after (UTC).")
@click.option("--until", type=_Date(end_of_day=True), help="Published on or before (UTC).")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--exact", is_flag=True, help="No typo tolerance.")
@click.option("--facet-limit", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
def search(
    query: tuple[str, ...],
    index_dir: str | None,
    limit: int,
    offset: int,
    topics: tuple[str, ...],
    providers: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    sort: str,
    exact: bool,
    facet_limit: int,
    as_json: bool,
) -> None:
    """Ranked search. QUERY uses Whoosh syntax: AND OR NOT "phrase" field:value prefix*."""
    text = " ".join(query)
    if since is not None and until is not None and since > until:
        _fail(f"--since {dates.iso_utc(since)} is after --until {dates.iso_utc(until)}")
    with _open(index_dir) as idx:
        try:
            res = idx.search(
                text,
                limit=limit,
                offset=offset,
                topics=topics,
                providers=providers,
                since=since,
                until=until,
                sort=sort,
                exact=exact,
                facet_limit=facet_limit,
            )
        except ClipsearchError as exc:
            _fail(str(exc))
    if as_json:
        click.echo(json.dumps(res.to_dict(), ensure_ascii=False))
    else:
        _print_result(res, color=sys.stdout.isatty())


def _marked(text: str, color: bool) -> str:
    if color:
        return _MARK.sub(lambda m: click.style(m.group(1), bold=True, fg="yellow"), text)
    return _MARK.sub(r"[\1]", text)


def _print_result(res: SearchResult, color: bool) -> None:
    echo = click.echo
    if res.corrections:
        fixed = ", ".join(f"{k} -> {v}" for k, v in res.corrections.items())
        echo(f"Showing results for corrected words ({fixed}); use --exact to search as typed.")
    if res.suggestion:
        echo(f"Did you mean: {res.suggestion}")
    shown = f"{res.offset + 1}-{res.offset + len(res.hits)} of " if res.hits else ""
    echo(f"{shown}{res.total:,} clips for {res.query!r}")
    for n, hit in enumerate(res.hits, res.offset + 1):
        date = hit.published.strftime("%Y-%m-%d") if hit.published else "undated"
        title = hit.highlights.get("title") or hit.title
        echo(f"\n{n:>3}. {_marked(title, color)}")
        echo(
            f"     {hit.provider or 'unknown provider'} | {date} | score {hit.score:.2f} | {hit.id}"
        )
        snippet = next(
            (hit.highlights[f] for f in ("excerpt", "body", "related") if f in hit.highlights),
            hit.excerpt[:200],
        )
        if snippet:
            echo("     " + _marked(" ".join(snippet.split()), color))
        if hit.url:
            echo(f"     {hit.url}")
    for name, counts in res.facets.items():
        if not counts:
            continue
        parts = [f"{v} ({c:,})" for v, c in counts.items()]
        more = res.facet_other.get(name, 0)
        if more:
            parts.append(f"+{more:,} more")
        echo(f"\n{name}: " + ", ".join(parts))


@main.command()
@click.argument("clip_id")
@_index_option
@click.option("--json", "as_json", is_flag=True)
def show(clip_id: str, index_dir: str | None, as_json: bool) -> None:
    """Show the stored fields of one clip."""
    with _open(index_dir) as idx:
        stored = idx.get(clip_id)
    if stored is None:
        _fail(f"no clip with id {clip_id!r} in the index")
    if as_json:
        click.echo(json.dumps(stored, ensure_ascii=False, default=str))
        return
    for key in (
        "id",
        "title",
        "provider",
        "domain",
        "published",
        "url",
        "topics",
        "quality",
        "category",
        "path",
        "excerpt",
        "body",
        "related",
    ):
        value = stored.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        click.echo(f"{key}: {value}")


@main.command()
@_index_option
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True)
def stats(index_dir: str | None, top: int, as_json: bool) -> None:
    """Clip count, index size, last update, top topics and providers."""
    with _open(index_dir) as idx:
        info = idx.stats(top=top)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    click.echo(f"index: {info['index']}")
    click.echo(f"clips: {info['clips']:,}")
    click.echo(f"size: {info['size_bytes'] / 1e6:,.1f} MB")
    click.echo(f"last update: {info['last_update']}")
    for key, label in (("topics", "distinct_topics"), ("providers", "distinct_providers")):
        parts = ", ".join(f"{v} ({c:,})" for v, c in info[key].items())
        click.echo(f"{key} ({info[label]:,} distinct): {parts}")


@main.command()
@click.argument("field", type=click.Choice(["topic", "provider"]))
@click.argument("query", nargs=-1)
@_index_option
@click.option("--exact", is_flag=True, help="No typo tolerance in QUERY.")
@click.option("--json", "as_json", is_flag=True)
def facets(
    field: str, query: tuple[str, ...], index_dir: str | None, exact: bool, as_json: bool
) -> None:
    """All values of a facet with counts, for the whole index or a QUERY."""
    with _open(index_dir) as idx:
        try:
            values = idx.facet_values(field, " ".join(query), exact=exact)
        except ClipsearchError as exc:
            _fail(str(exc))
    if as_json:
        click.echo(json.dumps(dict(values), ensure_ascii=False))
        return
    for value, count in values:
        click.echo(f"{count:>8,}  {value}")


@main.command()
@click.argument("qrels", type=click.Path(exists=True, dir_okay=False))
@click.argument("run", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False),
    help="qid<TAB>query file to rank with the index (instead of RUN).",
)
@_index_option
@click.option(
    "--depth",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Ranks kept per query.",
)
@click.option("--exact", is_flag=True, help="No typo tolerance when ranking --queries.")
@click.option("--save-run", type=click.Path(dir_okay=False), help="Write the ranking (TREC).")
def evaluate(
    qrels: str,
    run: str | None,
    queries: str | None,
    index_dir: str | None,
    depth: int,
    exact: bool,
    save_run: str | None,
) -> None:
    """MAP, P@k and MRR of a TREC run (or of --queries ranked now) against QRELS."""
    from clipsearch import evaluate as ev

    try:
        judged = ev.read_qrels(qrels)
        if queries:
            errors: dict[str, str] = {}
            with _open(index_dir) as idx:
                ranking = ev.run_queries(
                    idx, ev.read_queries(queries), depth, errors=errors, exact=exact
                )
            for qid, msg in errors.items():
                click.echo(f"query {qid}: {msg}", err=True)
        elif run:
            ranking = ev.read_run(run)
        else:
            _fail("give a RUN file or --queries")
            return
    except (ev.EvaluationError, OSError) as exc:
        _fail(str(exc))
        return
    if save_run:
        ev.write_run(ranking, save_run, "clipsearch")
    click.echo(ev.format_evaluation(ev.evaluate(ranking, judged, depth=depth)))


if __name__ == "__main__":
    main()
