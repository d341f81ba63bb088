"""The `clipsearch` command: a thin layer over the Python API.

Exit status, the same for every command:

* 0  done;
* 1  an `index` run skipped bad files (the rest are indexed and committed), or
  `index --strict` stopped at one;
* 2  usage error: bad options or arguments, a bad query, a missing, damaged or
  locked index, a path that cannot be used;
* 3  the machine refused (`StorageError`, or any OSError): full disk, read-only
  folder, permission denied, I/O error; retrying after fixing it works;
* 130  interrupted (Ctrl-C).

Errors print one line on stderr, `clipsearch: ...`, naming the file, field or
parameter and the value; never a traceback.  Human output never writes the
control characters or terminal escape sequences clip text may hold, and never
fails on characters the output encoding cannot represent.  `--json` output keeps
the data as it is (JSON escapes control characters).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click

from clipsearch import dates
from clipsearch.cli.errors import (
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SKIPPED,
    error,
    fail,
    os_message,
)
from clipsearch.cli.output import (
    MULTI_LINE,
    echo_json,
    line,
    lines,
    print_result,
    tolerate_unencodable_output,
    use_color,
)
from clipsearch.errors import ClipsearchError, IndexLockedError, RequestError, StorageError
from clipsearch.export import DEFAULT_FIELDS, FIELDS, FORMATS
from clipsearch.ingest import DEFAULT_MAX_BYTES
from clipsearch.paths import default_index_dir, shown_path
from clipsearch.search.histogram import INTERVALS
from clipsearch.search.request import COUNTS, MATCH_MODES, SORTS, SearchRequest
from clipsearch.search.result import SearchResult

if TYPE_CHECKING:  # an index run never needs the query engine: imported by `_open`
    from clipsearch.search.engine import ClipIndex


class _Main(click.Group):
    """The command group: output that survives any encoding, and the exit status of
    what commands leave uncaught (environment failures, interrupts)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        tolerate_unencodable_output()
        return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StorageError as exc:
            fail(str(exc), EXIT_ENVIRONMENT)
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # `| head` closed the pipe: click exits quietly
                raise
            fail(os_message(exc), EXIT_ENVIRONMENT)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep an option every command shares in the context (not in each signature)."""
    ctx.meta[f"clipsearch.{param.name}"] = value
    return value


def _index_option(f: Any) -> Any:
    f = click.option(
        "--cluster",
        envvar="CLIPSEARCH_CLUSTER",
        default=None,
        metavar="ADDRESS",
        expose_value=False,
        callback=_remember,
        help="Run on the Dask cluster whose scheduler is at ADDRESS "
        "(default: $CLIPSEARCH_CLUSTER; none: this process).",
    )(f)
    return click.option(
        "--index",
        "index_dir",
        envvar="CLIPSEARCH_INDEX",
        default=None,
        metavar="DIR",
        help="Index folder (default: $CLIPSEARCH_INDEX, else ./index).",
    )(f)


def _shared(name: str) -> Any:
    return click.get_current_context().meta.get(f"clipsearch.{name}")


#: Whether this process may end without tearing down what it built (see `run`): set
#: by the commands that only read the index and print, when no cluster is involved.
_quick_exit = False
#: Whether this process is the `clipsearch` command (`run`), not a caller of `main`.
_own_process = False


def run() -> NoReturn:
    """The `clipsearch` process (the console script and `python -m clipsearch`):
    `main`, then, after a command that only read the index and printed, flush the
    output and end the process at once.  Tearing down what one search built (every
    per-document array of the index, Whoosh's readers) is pure cost at exit: about
    60 ms of CPU per search at 155k clips.  Other commands (index, serve, watch,
    cluster, export) exit as usual, running every atexit handler.

    What the imports made lives as long as the process: frozen, the collector never
    scans it again (`clipsearch.cli.run` imported it with the collector off)."""
    global _own_process
    _own_process = True
    gc.freeze()
    gc.enable()
    try:
        main(prog_name="clipsearch")
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if not _quick_exit:
        sys.exit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe exits as click does
            stream.flush()
    os._exit(code or 0)


def _open(index_dir: str | None, *, quick_exit: bool = False) -> ClipIndex:
    """The index to search; `quick_exit` for commands that only read and print."""
    global _quick_exit
    cluster = _shared("cluster")
    _quick_exit = quick_exit and cluster is None
    if _quick_exit and _own_process:
        # One answer, printed, then the process ends: what it allocates is freed by
        # reference counting or by the exit, and the collector's passes over what
        # opening the index imports and reads (numpy, the derived arrays) are pure cost.
        gc.disable()
    from clipsearch.search.engine import ClipIndex

    try:
        return ClipIndex(
            index_dir or default_index_dir(),
            cluster=cluster,
            allow_partial=bool(_shared("allow_partial")),
        )
    except ClipsearchError as exc:
        error(exc)


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


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="clipsearch")
def main() -> None:
    """Fast, typo-tolerant, faceted search over folders of news clips.

    Exit status: 0 ok, 1 an index run skipped bad files, 2 usage error (bad option or
    query, missing or damaged index), 3 the machine refused (disk full, read-only,
    permission, I/O error), 130 interrupted."""


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
    "--shards",
    default=None,
    metavar="N",
    type=click.IntRange(min=1, max=1024),
    help="Make a sharded index of N shards (changing N needs --rebuild).",
)
@click.option(
    "--max-bytes",
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    metavar="N",
    type=click.IntRange(min=1),
    help="Skip clip files larger than this.",
)
@click.option(
    "--story-window",
    default=None,
    metavar="DAYS",
    type=click.FloatRange(0, 3650),
    help="Days apart two copies of one story may be published (default 3; recorded).",
)
def index_cmd(
    paths: tuple[str, ...],
    index_dir: str | None,
    rebuild: bool,
    strict: bool,
    quiet: bool,
    as_json: bool,
    lock_timeout: float,
    shards: int | None,
    max_bytes: int,
    story_window: float | None,
) -> None:
    """Index clip files and folders (recursive); incremental unless --rebuild.

    Exit status: 0 all files indexed, 1 some skipped (the rest are indexed), 2 usage
    error, 3 the machine refused (disk full, read-only, permission, I/O error), 130
    interrupted (nothing from the run committed)."""
    bar = None
    show_bar = not quiet and not as_json and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Indexing", file=sys.stderr)
            bar.__enter__()
        bar.update(1)

    from clipsearch.ingest.sync import StrictStop  # only indexing needs them
    from clipsearch.ingest.update import update_index

    try:
        report = update_index(
            list(paths),
            index_dir or default_index_dir(),
            rebuild=rebuild,
            strict=strict,
            lock_timeout=lock_timeout,
            max_bytes=max_bytes,
            progress=progress if show_bar else None,
            story_window=story_window,
            shards=shards,
            cluster=_shared("cluster"),
        )
    except StrictStop as exc:
        fail(f"{exc.problem} (--strict: index left unchanged)", EXIT_SKIPPED)
    except IndexLockedError as exc:
        fail(f"{exc}, or raise --lock-timeout")
    except KeyboardInterrupt:
        fail(
            "interrupted: nothing from this run was committed; the index is as it was",
            EXIT_INTERRUPTED,
        )
    except ClipsearchError as exc:
        error(exc)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        echo_json(report.to_dict())
    else:
        for s in report.skipped:
            click.echo(f"skipped: {line(s.reason)}", err=True)
        for d in report.duplicates:
            click.echo(f"duplicate: {line(d)}", err=True)
        for w in report.warnings:
            click.echo(f"warning: {line(w)}", err=True)
        click.echo(report.summary())
    sys.exit(EXIT_OK if report.ok else EXIT_SKIPPED)


def _filter_options(f: Any) -> Any:
    """The options that choose which clips a search matches, and their order."""
    for option in reversed(_FILTER_OPTIONS):
        f = option(f)
    return f


_FILTER_OPTIONS = [
    click.option(
        "--topic",
        "topics",
        multiple=True,
        metavar="TOPIC",
        help="Only clips with this topic (repeat: any of them). Fuzzy.",
    ),
    click.option(
        "--provider",
        "providers",
        multiple=True,
        metavar="NAME",
        help="Only clips from this provider (repeat: any of them). Fuzzy.",
    ),
    click.option("--since", type=_Date(), help="Published on or after (UTC)."),
    click.option("--until", type=_Date(end_of_day=True), help="Published on or before (UTC)."),
    click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True),
    click.option("--exact", is_flag=True, help="No typo tolerance."),
    click.option(
        "--match",
        type=click.Choice(MATCH_MODES),
        default="auto",
        show_default=True,
        help="Clips with all the words, any of them, or auto: all when some clip has them all.",
    ),
    click.option(
        "--language",
        "languages",
        multiple=True,
        metavar="CODE",
        help="Only clips in this language (ISO 639-1 code, or und; repeat: any of them).",
    ),
]


_EXPAND_HELP = (
    "Expand a long query (more than 5 words) with words of its best clips "
    "(RM3 pseudo-relevance feedback); short queries are unchanged."
)


@main.command()
@click.argument("query", nargs=-1)
@_index_option
@click.option(
    "--allow-partial",
    is_flag=True,
    expose_value=False,
    callback=_remember,
    help="With shards that cannot answer, search the others and say which are missing.",
)
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0))
@_filter_options
@click.option(
    "--histogram",
    type=click.Choice(INTERVALS),
    default=None,
    help="Also count the matches per UTC day, week, month or year.",
)
@click.option("--expand", is_flag=True, help=_EXPAND_HELP)
@click.option("--group", is_flag=True, help="One row per story: copies of one story shown once.")
@click.option(
    "--count",
    type=click.Choice(COUNTS),
    default=None,
    help="What the total, facets and histogram count (default: stories with --group).",
)
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
    match: str,
    languages: tuple[str, ...],
    histogram: str | None,
    expand: bool,
    group: bool,
    count: str | None,
    facet_limit: int,
    as_json: bool,
) -> None:
    """Ranked search. QUERY uses Whoosh syntax: AND OR NOT "phrase" field:value prefix*."""
    _check_dates(since, until)
    _answer(
        index_dir,
        as_json,
        lambda idx: idx.search(
            " ".join(query),
            limit=limit,
            offset=offset,
            topics=topics,
            providers=providers,
            since=since,
            until=until,
            sort=sort,
            exact=exact,
            match=match,
            histogram=histogram,
            expand=expand,
            group=group,
            count=count,
            facet_limit=facet_limit,
            languages=languages,
        ),
    )


def _check_dates(since: datetime | None, until: datetime | None) -> None:
    """--since after --until is a usage error, said in the CLI's terms."""
    if since is not None and until is not None and since > until:
        fail(f"--since {dates.iso_utc(since)} is after --until {dates.iso_utc(until)}")


def _answer(
    index_dir: str | None, as_json: bool, ask: Callable[[ClipIndex], SearchResult]
) -> None:
    """Open the index, get one result from it, and print it (JSON or human)."""
    with _open(index_dir, quick_exit=True) as idx:
        try:
            res = ask(idx)
        except ClipsearchError as exc:
            error(exc)
    if res.missing_shards:
        click.echo(f"partial: shards missing: {', '.join(res.missing_shards)}", err=True)
    if as_json:
        echo_json(res.to_dict())
    else:
        print_result(res, color=use_color())


@main.command()
@click.argument("clip_id")
@_index_option
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0))
@_FILTER_OPTIONS[0]
@_FILTER_OPTIONS[1]
@_FILTER_OPTIONS[2]
@_FILTER_OPTIONS[3]
@click.option("--facet-limit", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (as search's).")
def like(
    clip_id: str,
    index_dir: str | None,
    limit: int,
    offset: int,
    topics: tuple[str, ...],
    providers: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    facet_limit: int,
    as_json: bool,
) -> None:
    """Clips like CLIP_ID: its most telling words (tf * idf), any of them, ranked."""
    _check_dates(since, until)
    _answer(
        index_dir,
        as_json,
        lambda idx: idx.like(
            clip_id,
            limit=limit,
            offset=offset,
            topics=topics,
            providers=providers,
            since=since,
            until=until,
            facet_limit=facet_limit,
        ),
    )


@main.command()
@click.argument("clip_id")
@_index_option
@click.option("--json", "as_json", is_flag=True)
def show(clip_id: str, index_dir: str | None, as_json: bool) -> None:
    """Show the stored fields of one clip."""
    with _open(index_dir, quick_exit=True) as idx:
        stored = idx.get(clip_id)
    if stored is None:
        fail(f"no clip with id {clip_id!r} in the index")
    if as_json:
        echo_json(stored, default=str)
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
        "language",
        "path",
        "excerpt",
        "body",
        "related",
    ):
        value = stored.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            text = ", ".join(line(v) for v in value)
        elif key == "path":
            text = shown_path(str(value))  # escaped, not dropped: the file must be findable
        elif key in MULTI_LINE:
            text = lines(value)
        else:
            text = line(value)
        click.echo(f"{key}: {text}")


@main.command()
@click.argument("clip_id")
@_index_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (as search's).")
def story(clip_id: str, index_dir: str | None, as_json: bool) -> None:
    """Every copy of CLIP_ID's story (syndicated copies), earliest first."""
    _answer(index_dir, as_json, lambda idx: idx.story(clip_id))


@main.command()
@_index_option
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--json", "as_json", is_flag=True)
def stats(index_dir: str | None, top: int, as_json: bool) -> None:
    """Clip count, index size, last update, top topics and providers."""
    with _open(index_dir, quick_exit=True) as idx:
        info = idx.stats(top=top)
    if as_json:
        echo_json(info)
        return
    click.echo(f"index: {shown_path(str(info['index']))}")
    click.echo(f"clips: {info['clips']:,}")
    click.echo(f"size: {info['size_bytes'] / 1e6:,.1f} MB")
    click.echo(f"last update: {info['last_update']}")
    for key, label in (("topics", "distinct_topics"), ("providers", "distinct_providers")):
        parts = ", ".join(f"{line(v)} ({c:,})" for v, c in info[key].items())
        click.echo(f"{key} ({info[label]:,} distinct): {parts}")
    for shard in info.get("shards", ()):
        click.echo(
            f"{shard['shard']}: {shard['clips']:,} clips, "
            f"{shard['size_bytes'] / 1e6:,.1f} MB, {shown_path(shard['path'])}"
        )


@main.command()
@click.argument("field", type=click.Choice(["topic", "provider", "language"]))
@click.argument("query", nargs=-1)
@_index_option
@click.option("--exact", is_flag=True, help="No typo tolerance in QUERY.")
@click.option("--json", "as_json", is_flag=True)
def facets(
    field: str, query: tuple[str, ...], index_dir: str | None, exact: bool, as_json: bool
) -> None:
    """All values of a facet with counts, for the whole index or a QUERY."""
    with _open(index_dir, quick_exit=True) as idx:
        try:
            values = idx.facet_values(field, " ".join(query), exact=exact)
        except ClipsearchError as exc:
            error(exc)
    if as_json:
        echo_json(dict(values))
        return
    for value, count in values:
        click.echo(f"{count:>8,}  {line(value)}")


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
@click.option("--expand", is_flag=True, help="Expand long --queries (RM3, as search --expand).")
@click.option(
    "--save-run",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Also write the evaluated ranking as a TREC run file (its folder must exist).",
)
def evaluate(
    qrels: str,
    run: str | None,
    queries: str | None,
    index_dir: str | None,
    depth: int,
    exact: bool,
    expand: bool,
    save_run: str | None,
) -> None:
    """MAP, P@k and MRR of a TREC run (or of --queries ranked now) against QRELS."""
    from clipsearch import evaluate as ev

    if save_run:  # before the ranking, which can take long
        _check_output_folder("--save-run", save_run)
    try:
        judged = ev.read_qrels(qrels)
        if queries:
            errors: dict[str, str] = {}
            with _open(index_dir) as idx:
                ranking = ev.run_queries(
                    idx, ev.read_queries(queries), depth, errors=errors, exact=exact, expand=expand
                )
            for qid, msg in errors.items():
                click.echo(f"query {line(qid)}: {line(msg)}", err=True)
        elif run:
            ranking = ev.read_run(run)
        else:
            fail("give a RUN file or --queries")
    except ev.EvaluationError as exc:
        fail(str(exc))
    if save_run:
        ev.write_run(ranking, save_run, "clipsearch")
    click.echo(ev.format_evaluation(ev.evaluate(ranking, judged, depth=depth)))


def _check_output_folder(option: str, path: str) -> None:
    """A usage error (exit 2) when an output file's folder is missing or is no folder;
    a refusal when it is finally written (permission, full disk) is exit 3."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        why = "is not a folder" if os.path.exists(folder) else "does not exist"
        fail(f"{option} {shown_path(path)}: the folder {shown_path(folder)} {why}")


@main.command()
@_index_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="CLIPSEARCH_TOKEN",
    default=None,
    help="Require this token (Bearer header or ?token=); needed for a non-loopback --host.",
)
def serve(index_dir: str | None, host: str, port: int, token: str | None) -> None:
    """Serve the search page and the read-only JSON API (see README); Ctrl-C stops it."""
    from clipsearch.server.run import LOOPBACK_HOSTS
    from clipsearch.server.run import serve as run_server

    if host not in LOOPBACK_HOSTS and not token:
        fail(f"--host {host} is reachable from other machines: give --token (or CLIPSEARCH_TOKEN)")
    if _shared("cluster"):  # every index the server opens searches through it
        os.environ["CLIPSEARCH_CLUSTER"] = _shared("cluster")
    try:
        run_server(index_dir or default_index_dir(), host=host, port=port, token=token)
    except ClipsearchError as exc:
        error(exc)




@main.command()
@click.argument("query", nargs=-1)
@_index_option
@_filter_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option(
    "--fields",
    default=",".join(DEFAULT_FIELDS),
    show_default=True,
    help=f"Comma-separated, from: {', '.join(FIELDS)}.",
)
@click.option(
    "--output",
    "-o",
    default="-",
    metavar="FILE",
    help="Write here (default: standard output). Written whole or not at all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stderr.")
def export(
    query: tuple[str, ...],
    index_dir: str | None,
    topics: tuple[str, ...],
    providers: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    sort: str,
    exact: bool,
    match: str,
    languages: tuple[str, ...],
    fmt: str,
    fields: str,
    output: str,
    as_json: bool,
) -> None:
    """Write every match of QUERY (no limit) as JSON Lines or CSV, streaming."""
    from clipsearch import export as exporting

    text = " ".join(query)
    _check_dates(since, until)
    try:
        names = exporting.parse_fields(fields)
    except RequestError as exc:
        fail(f"--fields {exc.value!r}: {exc.problem}")
    if output != "-":
        _check_output_folder("--output", output)
    with _open(index_dir) as idx:
        try:
            request = SearchRequest(
                text,
                topics=topics,
                providers=providers,
                since=since,
                until=until,
                sort=sort,
                exact=exact,
                match=match,
                languages=languages,
                facets=False,
                highlight="highlights" in names,
            )
            hits = idx.iter_hits(request)
            total = len(hits)
            bar = None
            if sys.stderr.isatty() and not as_json:
                bar = click.progressbar(length=total, label="Exporting", file=sys.stderr)
                bar.__enter__()
            tick = (lambda: bar.update(1)) if bar is not None else None
            try:
                written = _write_export(hits, output, fmt, names, tick)
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
        except ClipsearchError as exc:
            error(exc)
    summary = {"exported": written, "total": total, "format": fmt, "output": output}
    if as_json:
        click.echo(json.dumps(summary), err=True)
    elif output != "-":
        click.echo(f"exported {written:,} clips to {shown_path(output)}", err=True)


def _write_export(
    hits: Any, output: str, fmt: str, names: tuple[str, ...], tick: Any
) -> int:
    """Stream to stdout, or to a temporary file beside `output` renamed over it at the
    end, so an interrupted export never leaves half a file under the final name."""
    from clipsearch import export as exporting

    if output == "-":
        stream = sys.stdout
        return exporting.write(hits, stream, fmt, names, tick)
    partial = f"{output}.partial"
    try:
        # A BOM tells spreadsheets the CSV is UTF-8; JSON Lines has none.
        encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
        with open(partial, "w", encoding=encoding, newline="") as fh:
            written = exporting.write(hits, fh, fmt, names, tick)
        os.replace(partial, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
    return written


@main.group()
def cluster() -> None:
    """A Dask cluster for sharded indexes (see README: Sharding and clusters)."""


@cluster.command("start")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Scheduler port (0: any).")
def cluster_start(workers: int, threads: int, port: int) -> None:
    """Start a LocalCluster on this machine (127.0.0.1), print its address, and keep it
    running until interrupted (Ctrl-C).  Use the address with --cluster."""
    from clipsearch.cluster.connect import start_local

    try:
        local = start_local(workers, threads, port)
    except OSError as exc:
        fail(f"cannot start the cluster: {os_message(exc)}", EXIT_ENVIRONMENT)

    def stop(*_: Any) -> None:
        raise KeyboardInterrupt

    try:  # from here on an interrupt always closes the cluster
        signal.signal(signal.SIGTERM, stop)
        click.echo(local.scheduler_address)
        sys.stdout.flush()
        click.echo(
            f"{workers} workers; export CLIPSEARCH_CLUSTER={local.scheduler_address}; "
            "Ctrl-C stops",
            err=True,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        local.close()


@main.group()
def watch() -> None:
    """Saved searches that report the clips newly matching since their last run."""


@watch.command("add")
@click.argument("name")
@click.argument("query", nargs=-1, required=True)
@_index_option
@_FILTER_OPTIONS[0]
@_FILTER_OPTIONS[1]
@_FILTER_OPTIONS[5]
@_FILTER_OPTIONS[6]
def watch_add(
    name: str,
    query: tuple[str, ...],
    index_dir: str | None,
    topics: tuple[str, ...],
    providers: tuple[str, ...],
    exact: bool,
    match: str,
) -> None:
    """Save QUERY (with filters) as watch NAME; its first run records where it stands."""
    from clipsearch import watch as watching

    options: dict[str, Any] = {"exact": exact, "match": match}
    if topics:
        options["topics"] = list(topics)
    if providers:
        options["providers"] = list(providers)
    try:
        watching.add(index_dir or default_index_dir(), name, " ".join(query), **options)
    except ClipsearchError as exc:
        error(exc)
    click.echo(f"watch {line(name)} added")


@watch.command("list")
@_index_option
@click.option("--json", "as_json", is_flag=True)
def watch_list(index_dir: str | None, as_json: bool) -> None:
    """The saved watches, their queries and when each last ran."""
    from clipsearch import watch as watching

    try:
        watches = watching.load(index_dir or default_index_dir())
    except ClipsearchError as exc:
        error(exc)
    rows = [
        {
            "name": name,
            "query": w.get("query", ""),
            **{k: w[k] for k in watching.OPTIONS if k in w},
            "last_run": w.get("last_run"),
        }
        for name, w in sorted(watches.items())
    ]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        filters = "".join(
            f" --{flag} {line(v)!r}"
            for key, flag in (("topics", "topic"), ("providers", "provider"))
            for v in r.get(key, ())
        )
        last = r["last_run"] or "never run"
        click.echo(f"{line(r['name'])}: {line(r['query'])!r}{filters} (last run: {last})")


@watch.command("remove")
@click.argument("name")
@_index_option
def watch_remove(name: str, index_dir: str | None) -> None:
    """Delete watch NAME and its state."""
    from clipsearch import watch as watching

    try:
        watching.remove(index_dir or default_index_dir(), name)
    except ClipsearchError as exc:
        error(exc)
    click.echo(f"watch {line(name)} removed")


@watch.command("run")
@click.argument("names", nargs=-1)
@_index_option
@click.option("--since", type=_Date(), help="A first run reports the matches published since.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
@click.option("--lock-timeout", default=30.0, show_default=True, metavar="SECONDS")
def watch_run(
    names: tuple[str, ...],
    index_dir: str | None,
    since: datetime | None,
    as_json: bool,
    lock_timeout: float,
) -> None:
    """Print what newly matches each watch (or the NAMES given), grouped by story.

    Exit status: 0 done, 1 some watch failed (its error is printed; the others ran)."""
    from clipsearch import watch as watching

    def emit(reports: list[watching.WatchReport]) -> None:
        if as_json:
            echo_json({"watches": [r.to_dict() for r in reports]})
        else:
            _print_watches(reports)
        sys.stdout.flush()  # all of it out before the state advances

    try:
        reports = watching.run(
            index_dir or default_index_dir(),
            list(names),
            since=since,
            emit=emit,
            lock_timeout=lock_timeout,
        )
    except ClipsearchError as exc:
        error(exc)
    for r in reports:
        if r.error is not None:
            click.echo(f"clipsearch: watch {line(r.name)}: {line(r.error)}", err=True)
    sys.exit(EXIT_SKIPPED if any(r.error is not None for r in reports) else EXIT_OK)


def _print_watches(reports: list[Any]) -> None:
    for r in reports:
        if r.error is not None:
            click.echo(f"== {line(r.name)}: failed ({line(r.error)})")
            continue
        note = " (first run: recorded where it stands)" if r.first_run and not r.new else ""
        click.echo(
            f"== {line(r.name)}: {r.new:,} new in {len(r.stories):,} stories "
            f"for {line(r.query)!r}{note}"
        )
        for s in r.stories:
            first = s.hits[0]
            date = first.published.strftime("%Y-%m-%d") if first.published else "undated"
            click.echo(f"  - {line(first.title)}")
            outlets = ", ".join(dict.fromkeys(line(h.provider) for h in s.hits if h.provider))
            click.echo(f"    {date} | {len(s.hits)} new copies | {outlets or 'unknown provider'}")
            for h in s.hits:
                click.echo(f"    {line(h.id)} {line(h.url)}")


if __name__ == "__main__":
    main()
