"""The layout's rules, checked on the source: no import circles between clipsearch's
modules, no private name imported from another module, and Whoosh imported only by
the index package."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "clipsearch"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """(module, names) of every import, at any depth (lazy imports count too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, [a.name for a in node.names]))
    return found


def _edges(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, tree in modules.items():
        for target, names in _imports(tree):
            if target in modules:
                graph[name].add(target)
            for n in names:  # `from clipsearch.index import schema` imports a module
                if f"{target}.{n}" in modules:
                    graph[name].add(f"{target}.{n}")
    return graph


def test_no_import_circles() -> None:
    graph = _edges(_modules())
    # A package's __init__ importing its own submodules is how packages re-export;
    # a circle is a submodule needing a module that needs it back.
    def deps(m: str) -> set[str]:
        return {d for d in graph[m] if d != m and not m.startswith(d + ".")}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in deps(m):
            if state.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(d) :] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_private_name_is_imported_across_modules() -> None:
    bad = []
    for name, tree in _modules().items():
        for target, names in _imports(tree):
            if target.startswith("clipsearch"):
                bad += [f"{name}: from {target} import {n}" for n in names if n.startswith("_")]
    assert not bad, bad


def test_only_the_index_package_imports_whoosh() -> None:
    bad = [
        name
        for name, tree in _modules().items()
        if not (name == "clipsearch.index" or name.startswith("clipsearch.index."))
        and any(t == "whoosh" or t.startswith("whoosh.") for t, _ in _imports(tree))
    ]
    assert not bad, bad


def test_the_checks_can_fail() -> None:
    """The circle check finds a circle when there is one."""
    a = ast.parse("from clipsearch.b import x")
    b = ast.parse("from clipsearch.a import y")
    graph = _edges({"clipsearch.a": a, "clipsearch.b": b})
    assert graph == {"clipsearch.a": {"clipsearch.b"}, "clipsearch.b": {"clipsearch.a"}}


def test_a_search_imports_only_what_it_uses() -> None:
    """The CLI and a search never import the YAML parser, the clip reader, the
    multi-process writer, the web server (issue 8: lazy imports) or the language
    detector (issue 14); nor the writer, the shards, or what Whoosh loads at import
    but a search never uses (urllib.request with http, ssl and email; asyncio, for
    the cached_property package): index/whoosh_imports.py."""
    import subprocess
    import sys

    unused = (
        "yaml frontmatter whoosh.multiproc whoosh.writing whoosh.externalsort ctypes rapidfuzz"
        " starlette uvicorn clipsearch.ingest.clip clipsearch.ingest.sync py3langid numpy"
        " datasketch dask distributed clipsearch.index.writer clipsearch.index.shard_stories"
        " clipsearch.search.sharded urllib.request http.client ssl socket email.parser"
        " asyncio concurrent.futures logging subprocess cached_property whoosh.lang.morph_en"
    ).split()
    code = (
        "import sys, clipsearch.cli, clipsearch.search.engine;"
        f"print(sorted(m for m in {unused!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _cli_process(argv: list[str], unused: str, then: str = "") -> tuple[str, list[str]]:
    """Run the CLI with `argv` in a fresh interpreter: what it printed, and which of
    `unused` (module names, space-separated) it imported; then the code `then`."""
    import json
    import subprocess
    import sys

    code = (
        "import sys, io, contextlib, json\n"
        "from clipsearch.cli import main\n"
        f"sys.argv = ['clipsearch', *{argv!r}]\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    main()\n"
        f"found = sorted(m for m in {unused.split()!r} if m in sys.modules)\n"
        "print(json.dumps([out.getvalue(), found]))\n" + then
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    printed, found = json.loads(run.stdout.splitlines()[0])
    return printed, found


def test_a_whole_cli_search_imports_only_what_it_uses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same for a whole `clipsearch search` process on an index, typo corrected:
    opening, searching, correcting and printing import none of them either (numpy
    aside: the query path runs on its arrays), nor the standard modules Whoosh imports
    for what a search does not do (queue, calendar, tempfile, html), nor Whoosh's
    searcher (a query of plain words never needs one) or its own spelling and fuzzy
    matching modules; and what Whoosh was given as stand-ins is the real thing
    afterwards."""
    from conftest import write_corpus

    from clipsearch import update_index

    index = tmp_path / "index"
    assert update_index([write_corpus(tmp_path / "clips")], index).ok
    unused = (
        "yaml frontmatter whoosh.multiproc whoosh.writing urllib.request"
        " asyncio clipsearch.index.writer clipsearch.search.sharded datasketch"
        " queue calendar tempfile html csv whoosh.searching whoosh.lang.dmetaphone"
        " whoosh.support.levenshtein whoosh.automata.lev whoosh.automata.fsa"
    )
    then = (
        "import urllib.request, cached_property, whoosh.lang.morph_en\n"
        "assert urllib.request.urlopen and cached_property.__version__\n"
        "from whoosh.query.terms import variations\n"
        "assert 'runs' in variations('running')\n"
        "import queue, calendar, tempfile\n"
        "from whoosh import compat, util\n"
        "from whoosh.filedb import filestore\n"
        "assert compat.queue.Empty is queue.Empty\n"
        "assert util.times.calendar.monthrange(2024, 2) == (3, 29)\n"
        "assert filestore.tempfile.gettempdir() == tempfile.gettempdir()\n"
        "assert compat.htmlescape('<a & b>') == '&lt;a &amp; b&gt;'\n"
        "from whoosh.analysis import morph\n"
        "from whoosh.codec import base\n"
        "assert morph.double_metaphone('smith') == ('SM0', 'XMT')\n"
        "assert whoosh.reading.distance('abc', 'acb') == 1\n"
        "assert base.lev.levenshtein_automaton('ab', 1).to_dfa().accept('ac')\n"
    )
    printed, found = _cli_process(["search", "vacine", "--index", str(index)], unused, then)
    assert "vaccine" in printed, printed
    assert found == []


def test_the_cli_collects_garbage_except_in_a_search_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The `clipsearch` process imports with the garbage collector off; a command that
    may run for hours (here `index`) gets it back, a search (which reads, prints and
    exits at once) keeps it off; a caller of `main` in its own process keeps its own."""
    import subprocess
    import sys

    from conftest import write_corpus

    clips, index = write_corpus(tmp_path / "clips"), tmp_path / "index"

    def process(*args: str) -> str:
        code = (
            "import atexit, gc, os, sys\n"
            "def report(*_): print('collecting', gc.isenabled(), file=sys.stderr)\n"
            "atexit.register(report)\n"
            "real_exit = os._exit\n"
            "os._exit = lambda code: (report(), real_exit(code))\n"
            f"sys.argv = ['clipsearch', *{list(args)!r}]\n"
            "from clipsearch.cli import run\n"
            "run()\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stderr.strip().splitlines()[-1]

    assert process("index", str(clips), "--index", str(index), "-q") == "collecting True"
    assert process("search", "vaccine", "--index", str(index)) == "collecting False"
    code = (
        "import gc, sys\n"
        "from clipsearch.cli import main\n"
        f"sys.argv = ['clipsearch', 'search', 'vaccine', '--index', {str(index)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('collecting', gc.isenabled())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "collecting True", out.stderr[-2000:]


def test_an_index_run_imports_no_query_engine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A whole `clipsearch index` process imports what writing needs and not the
    query engine (with its typo corrections and matching, some 35 ms of every index
    run) or the web server."""
    from conftest import write_corpus

    clips = write_corpus(tmp_path / "clips")
    unused = (
        "clipsearch.search.engine clipsearch.search.corrections clipsearch.search.matching"
        " clipsearch.search.highlight starlette uvicorn"
    )
    argv = ["index", str(clips), "--index", str(tmp_path / "index"), "--quiet"]
    printed, found = _cli_process(argv, unused)
    assert "added" in printed, printed
    assert found == []
