"""The Starlette application: the static page at `/`, the read-only JSON API under
`/api/`, its OpenAPI document at `/openapi.json`.

Starlette rather than FastAPI: the search parameters are built generically from
`SearchRequest`'s fields (params.py) instead of being declared once more as function
arguments, errors must be our `{"error", "parameter"}` JSON rather than FastAPI's 422
shape, and the OpenAPI document is generated from the same parameter table; that
leaves FastAPI nothing to do but add dependencies (pydantic).

Every response carries a Content-Security-Policy that allows only this server's own
script, style and connections (no inline script, no outside requests).  Without a
token only loopback Host names are answered (a page elsewhere cannot reach the API by
pointing a DNS name at 127.0.0.1); with one, every request but the static files must
carry it (`Authorization: Bearer T` or `?token=T`).  Nothing here writes, and a
clip's `path` is only ever shown, never opened."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipsearch.errors import ClipsearchError, QueryError, RequestError
from clipsearch.search.engine import ClipIndex
from clipsearch.search.histogram import INTERVALS
from clipsearch.search.request import SearchRequest
from clipsearch.server import openapi
from clipsearch.server.params import http_name, search_request
from clipsearch.server.snapshots import SnapshotPool

log = logging.getLogger(__name__)

PAGE = Path(__file__).parent / "page"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=str).encode("utf-8")


def _error(status: int, message: str, parameter: str | None = None) -> JSON:
    body: dict[str, Any] = {"error": message}
    if parameter is not None:
        body["parameter"] = parameter
    return JSON(body, status_code=status)


def _request_error(exc: RequestError) -> JSON:
    name = http_name(exc.parameter)
    if exc.problem == "is after until":
        return _error(400, str(exc), name)
    value = exc.value if not isinstance(exc.value, str) or len(exc.value) < 80 else "..."
    return _error(400, f"{name} {value!r}: {exc.problem}", name)


def histogram(index: ClipIndex, request: SearchRequest, interval: str) -> dict[str, Any]:
    """Matches per period.  The one place the chart's numbers come from: when the
    engine grows its own histogram option, only this function changes."""
    if interval not in INTERVALS:
        raise RequestError("interval", interval, f"choose one of {', '.join(INTERVALS)}")
    result = index.run(replace(request, histogram=interval))
    assert result.histogram is not None
    return {**result.histogram.to_dict(), "total": result.total}


def make_app(
    index_dir: str,
    token: str | None = None,
    *,
    check_every: float = 1.0,
) -> Starlette:
    """The application over the index at `index_dir` (opened now: a missing or damaged
    index raises here, before any server starts).  With `token`, requests must carry
    it.  `check_every`: seconds between checks for a new commit."""
    pool = SnapshotPool(str(index_dir), check_every=check_every)

    async def call(fn: Callable[[ClipIndex], Any]) -> Any:
        def work() -> Any:
            with pool.use() as index:
                return fn(index)

        return await run_in_threadpool(work)

    async def api(fn: Callable[[ClipIndex], Any]) -> Response:
        try:
            out = await call(fn)
        except RequestError as exc:
            return _request_error(exc)
        except QueryError as exc:
            return _error(400, str(exc), "q")
        except ClipsearchError as exc:
            log.warning("index problem: %s", exc)
            return _error(503, str(exc))
        return out if isinstance(out, Response) else JSON(out)

    async def search(request: Request) -> Response:
        pairs = request.query_params.multi_items()
        return await api(lambda ix: ix.run(search_request(pairs)).to_dict())

    async def histogram_route(request: Request) -> Response:
        pairs = request.query_params.multi_items()

        def work(ix: ClipIndex) -> Any:
            req = search_request(
                pairs, extra=("interval",), overrides={"limit": 0, "facets": False}
            )
            interval = request.query_params.get("interval", "month")
            return histogram(ix, req, interval)

        return await api(work)

    async def clip(request: Request) -> Response:
        clip_id = request.path_params["clip_id"]

        def work(ix: ClipIndex) -> Any:
            stored = ix.get(clip_id)
            if stored is None:
                return _error(404, f"no clip with id {clip_id!r}", "id")
            return stored

        return await api(work)

    async def like(request: Request) -> Response:
        clip_id = request.path_params["clip_id"]
        pairs = request.query_params.multi_items()

        def work(ix: ClipIndex) -> Any:
            if ix.get(clip_id) is None:
                return _error(404, f"no clip with id {clip_id!r}", "id")
            return ix.like(clip_id, search_request(pairs)).to_dict()

        return await api(work)

    async def facets(request: Request) -> Response:
        field = request.path_params["field"]
        for name in request.query_params:
            if name not in ("q", "exact", "token"):
                return _error(400, f"{name}: is not a parameter of this endpoint", name)
        pairs = [("q", request.query_params.get("q", ""))]
        if "exact" in request.query_params:
            pairs.append(("exact", request.query_params["exact"]))

        def work(ix: ClipIndex) -> Any:
            req = search_request(pairs)  # validates q and exact like /api/search
            values = ix.facet_values(field, req.query, exact=req.exact)
            return {"field": field, "values": [{"value": v, "count": n} for v, n in values]}

        return await api(work)

    async def stats(request: Request) -> Response:
        return await api(lambda ix: ix.stats())

    async def openapi_route(request: Request) -> Response:
        return JSON(openapi.document())

    async def page(request: Request) -> Response:
        return FileResponse(PAGE / "index.html", headers={"cache-control": "no-cache"})

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, "not found")

    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s", request.url.path)
        return _error(500, "internal error")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pool.close()

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/api/search", search),
            Route("/api/histogram", histogram_route),
            Route("/api/like/{clip_id:path}", like),
            Route("/api/clips/{clip_id:path}", clip),
            Route("/api/facets/{field}", facets),
            Route("/api/stats", stats),
            Route("/openapi.json", openapi_route),
            Mount("/static", StaticFiles(directory=PAGE), name="static"),
        ],
        exception_handlers={404: not_found, 405: not_found, Exception: internal},
        lifespan=lifespan,
    )
    app.state.pool = pool
    app.add_middleware(Guard, token=token)
    return app


class Guard:
    """The token rule (or, without a token, loopback Host names only) and the security
    headers on every response, as plain ASGI middleware."""

    def __init__(self, app: ASGIApp, token: str | None = None):
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> Response | None:
        headers = dict(scope.get("headers", []))
        if self.token is None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in LOOPBACK_NAMES:
                return _error(403, "this server answers on 127.0.0.1 only (no --token given)")
            return None
        if scope["path"].startswith("/static/"):
            return None  # the page's own code and style: no data, and no way to add a header
        given = b""
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        else:
            qs = scope.get("query_string", b"").decode("latin-1")
            for k, v in parse_qsl(qs, keep_blank_values=True):
                if k == "token":
                    given = v.encode("utf-8")
                    break
        if given and hmac.compare_digest(given, self.token):
            return None
        response = _error(401, "this server needs its token", "token")
        response.headers["www-authenticate"] = "Bearer"
        return response
