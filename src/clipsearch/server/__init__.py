"""`clipsearch serve`: the web page and the read-only JSON API over one index.

Modules: `snapshots` (one opened index shared by requests, refreshed on new commits
without closing a snapshot under a request), `params` (query parameters to a
`SearchRequest`, generically), `app` (the Starlette application: routes, errors,
token and security headers), `openapi` (the API's OpenAPI document), `run` (uvicorn).  `page/` holds
the static page (HTML, CSS, JS; no build step)."""
