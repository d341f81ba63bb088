"""HTTP query parameters to a `SearchRequest`, generically: every init field of the
request is a parameter, parsed by its declared type, so a field added to
`SearchRequest` (say `match` or `group`) becomes a parameter without code here.

Names: `q` is `query`, `topic`, `provider` and `language` (repeatable) are `topics`,
`providers` and `languages`; the others keep their field names.  Errors are
`RequestError`s whose `parameter` is the HTTP name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from clipsearch import dates
from clipsearch.errors import RequestError
from clipsearch.search.request import SearchRequest

#: SearchRequest field -> HTTP parameter, where they differ.
HTTP_NAMES = {
    "query": "q",
    "topics": "topic",
    "providers": "provider",
    "languages": "language",
}
FIELD_NAMES = {v: k for k, v in HTTP_NAMES.items()}
#: Fields a client does not set: what the API always computes.
FIXED = {"facets": True, "highlight": True}
#: Bounds the server adds, so one request cannot ask for unbounded work.
MAX_LIMIT = 100
MAX_OFFSET = 10_000
#: Parameters every endpoint accepts and ignores here (the token is checked before).
IGNORED = frozenset({"token"})

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Param:
    """One search parameter as the API shows it (also for the OpenAPI document)."""

    name: str  # HTTP name
    field: str  # SearchRequest field
    kind: str  # text, list, int, optional_int, bool, date
    default: Any


def _kind(annotation: str) -> str:
    a = annotation.replace(" ", "")
    if a.startswith("Sequence[") or a.startswith("tuple[") or a.startswith("list["):
        return "list"
    if "datetime" in a or "date" in a.split("|"):
        return "date"
    if a == "bool":
        return "bool"
    if a == "int":
        return "int"
    if a in ("int|None", "None|int"):
        return "optional_int"
    return "text"


def search_params() -> list[Param]:
    """The parameters `/api/search` takes, from SearchRequest's fields."""
    out = []
    for f in fields(SearchRequest):
        if not f.init or f.name in FIXED:
            continue
        out.append(Param(HTTP_NAMES.get(f.name, f.name), f.name, _kind(str(f.type)), f.default))
    return out


def search_request(
    query: Iterable[tuple[str, str]],
    *,
    extra: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
) -> SearchRequest:
    """A validated request from (name, value) pairs in the order given.  `extra` names
    parameters the caller reads itself (accepted, not passed on); `overrides` set
    request fields outright (such as limit=0 for counts only)."""
    params = {p.name: p for p in search_params()}
    allowed = set(params) | set(extra) | IGNORED
    given: dict[str, list[str]] = {}
    for name, value in query:
        if name not in allowed:
            raise RequestError(name, value, "is not a parameter of this endpoint")
        given.setdefault(name, []).append(value)
    options: dict[str, Any] = dict(FIXED)
    for name, values in given.items():
        p = params.get(name)
        if p is None:
            continue
        if p.kind != "list" and len(values) > 1:
            raise RequestError(name, values, "given more than once")
        options[p.field] = _convert(p, values)
    options.update(overrides or {})
    try:
        return SearchRequest(**options)
    except RequestError as exc:
        raise RequestError(
            HTTP_NAMES.get(exc.parameter, exc.parameter), exc.value, exc.problem, str(exc)
        ) from None


def _convert(p: Param, values: list[str]) -> Any:
    value = values[0]
    if p.kind == "list":
        return tuple(v for v in values if v != "")
    if p.kind == "bool":
        v = value.strip().lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        raise RequestError(p.name, value, "must be 1 or 0 (true or false)")
    if p.kind in ("int", "optional_int"):
        if p.kind == "optional_int" and value.strip().lower() in ("", "all", "none"):
            return None
        try:
            n = int(value.strip(), 10)
        except ValueError:
            raise RequestError(p.name, value, "must be a whole number") from None
        if n < 0:
            raise RequestError(p.name, value, "must not be negative")
        bound = {"limit": MAX_LIMIT, "offset": MAX_OFFSET}.get(p.field)
        if bound is not None and n > bound:
            raise RequestError(p.name, value, f"must be at most {bound:,}")
        return n
    if p.kind == "date":
        if not value.strip():
            return None
        try:
            return dates.from_value(value, end_of_day=p.field == "until", clamp=True)
        except dates.DateError as exc:
            raise RequestError(
                p.name, value, f"{exc} (use 2022-03-01 or 2022-03-01T12:00Z)"
            ) from None
    return value


def http_name(parameter: str) -> str:
    return HTTP_NAMES.get(parameter, parameter)
