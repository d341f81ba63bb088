"""Whoosh imported without what it loads at import time and a search never uses: a
third of what `import clipsearch.index` cost (issue 8: lazy imports).

* `whoosh.compat` does `from urllib.request import urlretrieve` (for a download
  helper nothing here calls), which pulls in http.client, ssl, socket and email.*;
  and `import queue` (for the multi-process writer) and `from html import escape`
  (html.entities' tables, for an HTML formatter clipsearch does not use);
* `whoosh.reading` decorates one method (`deleted_docs_set`) with the
  `cached_property` package, which imports asyncio (and with it concurrent.futures,
  logging, subprocess ...) only to support coroutine functions;
* `whoosh.query.terms` imports `whoosh.lang.morph_en` (English word variations, a
  few hundred regular expressions compiled at import) for its `Variations` query,
  which clipsearch never builds;
* `whoosh.analysis.morph` imports `whoosh.lang.dmetaphone` (for a phonetic filter),
  `whoosh.reading` `whoosh.support.levenshtein` (for its own spelling suggestions)
  and `whoosh.codec.base` `whoosh.automata.lev` with `whoosh.automata.fsa` (for
  Whoosh's fuzzy terms): clipsearch corrects words itself and uses none of them
  (~1.5 ms of a CLI search);
* `whoosh.util.times` imports `calendar` (for parsing dates in queries) and
  `whoosh.filedb.filestore` imports `tempfile` (for a temporary storage).

While those Whoosh modules are imported, these modules are stand-ins: `urlretrieve`,
`variations`, `double_metaphone`, `distance` and `escape` import the real function
on their first call, `queue`, `calendar`, `tempfile` and `whoosh.automata.lev`
import the real module on the first use of any of their attributes, and
`cached_property` is the package's own class without its coroutine branch (the
decorated method is a plain function: the package then does exactly this).  The
stand-ins leave `sys.modules` right after, so any later import of those
modules (by the server, Dask, a user) gets the real one; a module already imported
is used as it is.  Imported first by the package, before anything else touches
Whoosh."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


def urlretrieve(*args: Any, **kwargs: Any) -> Any:
    """urllib.request.urlretrieve, imported on first use."""
    from urllib.request import urlretrieve as real

    return real(*args, **kwargs)


def variations(word: str) -> Any:
    """whoosh.lang.morph_en.variations, imported on first use."""
    from whoosh.lang.morph_en import variations as real

    return real(word)


def double_metaphone(word: str) -> Any:
    """whoosh.lang.dmetaphone.double_metaphone, imported on first use."""
    from whoosh.lang.dmetaphone import double_metaphone as real

    return real(word)


def distance(seq1: Any, seq2: Any, limit: int | None = None) -> Any:
    """whoosh.support.levenshtein.distance, imported on first use."""
    from whoosh.support.levenshtein import distance as real

    return real(seq1, seq2, limit)


def escape(s: str, quote: bool = True) -> str:
    """html.escape, imported on first use."""
    from html import escape as real

    return real(s, quote)


class _Module(types.ModuleType):
    """A module whose attributes are the real module's, imported on first use (for
    Whoosh modules that `import` it and use it only inside functions)."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get(self.__name__) is self:  # Whoosh is still importing
            raise AttributeError(f"{self.__name__}.{name} is not used at import")
        return getattr(importlib.import_module(self.__name__), name)


class cached_property:  # noqa: N801  (the name Whoosh imports)
    """A property computed once per instance, then an ordinary attribute: the
    `cached_property` package's class for plain functions."""

    def __init__(self, func: Callable[[Any], Any]):
        self.__doc__ = func.__doc__
        self.func = func

    def __get__(self, obj: Any, cls: type) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.func.__name__] = self.func(obj)
        return value


_STAND_IN_DOC = f"clipsearch's stand-in while Whoosh imports ({__name__})"


def _stand_in(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name, _STAND_IN_DOC)
    module.__dict__.update(attrs)
    return module


def import_whoosh() -> None:
    """Import the Whoosh modules that load those libraries, with the stand-ins."""
    if "whoosh.reading" in sys.modules:
        return
    stand_ins = {
        "urllib.request": _stand_in("urllib.request", urlretrieve=urlretrieve),
        "cached_property": _stand_in("cached_property", cached_property=cached_property),
        "whoosh.lang.morph_en": _stand_in("whoosh.lang.morph_en", variations=variations),
        "whoosh.lang.dmetaphone": _stand_in(
            "whoosh.lang.dmetaphone", double_metaphone=double_metaphone
        ),
        "whoosh.support.levenshtein": _stand_in("whoosh.support.levenshtein", distance=distance),
        "html": _stand_in("html", escape=escape),
        **{
            name: _Module(name, _STAND_IN_DOC)
            for name in ("queue", "calendar", "tempfile", "whoosh.automata.lev")
        },
    }
    installed = [n for n in stand_ins if n not in sys.modules]
    for name in installed:
        sys.modules[name] = stand_ins[name]
    try:
        import whoosh.codec.base  # noqa: F401  (whoosh.automata.lev)
        import whoosh.compat  # noqa: F401
        import whoosh.query  # noqa: F401  (whoosh.query.terms)
        import whoosh.reading  # noqa: F401
    finally:
        for name in installed:
            if sys.modules.get(name) is stand_ins[name]:
                del sys.modules[name]


import_whoosh()
