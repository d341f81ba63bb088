"""The API's OpenAPI 3.1 document, built from the same parameter table the handlers
parse (`params.search_params`), so the document cannot drift from the code."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from clipsearch.search.histogram import INTERVALS
from clipsearch.server.params import MAX_LIMIT, MAX_OFFSET, Param, search_params

_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "list": {"type": "array", "items": {"type": "string"}},
    "int": {"type": "integer", "minimum": 0},
    "optional_int": {"oneOf": [{"type": "integer", "minimum": 0}, {"const": "all"}]},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "description": "ISO 8601 date or date-time (UTC if no zone)"},
}

_ERROR = {
    "description": "A bad parameter",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


_TEXT = {"type": "string"}


def _param(p: Param) -> dict[str, Any]:
    schema = dict(_SCHEMAS[p.kind])
    if p.field == "limit":
        schema["maximum"] = MAX_LIMIT
    if p.field == "offset":
        schema["maximum"] = MAX_OFFSET
    if p.default not in (None, (), "") and p.kind != "list":
        schema["default"] = p.default
    out: dict[str, Any] = {"name": p.name, "in": "query", "schema": schema}
    if p.kind == "list":
        out["explode"] = True
        out["description"] = "Repeatable: any of the values (fuzzy, case-insensitive)."
    return out


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def document() -> dict[str, Any]:
    search = [_param(p) for p in search_params()]
    interval = {
        "name": "interval",
        "in": "query",
        "schema": {"type": "string", "enum": list(INTERVALS), "default": "month"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "clipsearch",
            "version": version("clipsearch"),
            "description": "Read-only search over one clip index. With a token, send "
            "`Authorization: Bearer TOKEN` or `?token=TOKEN`.",
        },
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "Ranked search with facet counts (the `search --json` contract)",
                    "parameters": search,
                    "responses": {"200": _json("A SearchResult"), "400": _ERROR},
                }
            },
            "/api/histogram": {
                "get": {
                    "summary": "Matches per UTC day, week, month or year (all matches, not a page)",
                    "parameters": [*search, interval],
                    "responses": {"200": _json("Buckets"), "400": _ERROR},
                }
            },
            "/api/like/{id}": {
                "get": {
                    "summary": "Clips like one clip (more like this), with the search options",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": _TEXT},
                        *(p for p in search if p["name"] != "q"),
                    ],
                    "responses": {"200": _json("A SearchResult"), "400": _ERROR, "404": _ERROR},
                }
            },
            "/api/clips/{id}": {
                "get": {
                    "summary": "One stored clip",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": _json("The clip's stored fields"), "404": _ERROR},
                }
            },
            "/api/facets/{field}": {
                "get": {
                    "summary": "Every value of a facet with its count, for a query",
                    "parameters": [
                        {
                            "name": "field",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": ["topic", "provider", "language"]},
                        },
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {"name": "exact", "in": "query", "schema": {"type": "boolean"}},
                    ],
                    "responses": {"200": _json("Values and counts"), "400": _ERROR},
                }
            },
            "/api/stats": {
                "get": {"summary": "Index statistics", "responses": {"200": _json("Stats")}}
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "parameter": {"type": "string"},
                    },
                    "required": ["error"],
                }
            }
        },
    }
