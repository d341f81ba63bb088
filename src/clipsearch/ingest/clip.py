"""Clip files: one YAML-frontmatter text file in, one validated `Clip` record out.

Parsing is strict about what it cannot repair (the clip is skipped with a
`ClipError` that names the file, the field and the value) and lenient where a
repair involves no guessing (a single string `topics` becomes a one-item list,
with a warning).  Nothing here knows about the index.
"""

from __future__ import annotations

import hashlib
import os
import reprlib
import stat
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from clipsearch import dates
from clipsearch import language as languages
from clipsearch.ingest import CLIP_SUFFIXES, DEFAULT_MAX_BYTES  # noqa: F401  (re-exported)
from clipsearch.ingest.frontmatter_yaml import load as load_frontmatter
from clipsearch.paths import shown_path

#: Most `topics` and `related` items one clip may list; a clip with more is skipped.
#: Real clips list a handful; the bound keeps one hostile file from costing every
#: search (facet counting and stored fields grow with it).
MAX_TOPICS = 1000
MAX_RELATED = 1000
#: `quality` is a signed 64-bit integer, except the largest one: the index's sortable
#: column stores 2**63 - 1 for "no quality", so that value would sort as missing.
QUALITY_MIN, QUALITY_MAX = -(2**63), 2**63 - 2

_HANDLER = YAMLHandler()


class ClipError(ValueError):
    """A clip that cannot be indexed.  `str()` is the one-line message users see."""

    def __init__(self, path: str, reason: str, field: str | None = None, value: Any = None):
        self.path = path
        self.field = field
        self.value = value
        self.reason = reason
        where = f"{shown_path(path)}: {field}: " if field else f"{shown_path(path)}: "
        shown = "" if value is None else f" (got {_show(value)})"
        super().__init__(f"{where}{reason}{shown}")


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 2, 4, 4, 50, 50


def _show(value: Any, limit: int = 60) -> str:
    """A short repr: bounded in depth and width, so a YAML alias bomb stays short."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Related:
    """A related article listed inside a clip; its text is searchable with the clip."""

    title: str = ""
    excerpt: str = ""
    provider: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Clip:
    """One news clip, validated and normalised (dates in naive UTC, ints, tuples)."""

    id: str
    path: str
    title: str
    excerpt: str = ""
    body: str = ""
    published: datetime | None = None
    url: str = ""
    provider: str = ""
    provider_domain: str = ""
    topics: tuple[str, ...] = ()
    quality: int | None = None
    heat: int | None = None
    category: str = ""
    related: tuple[Related, ...] = ()
    #: ISO 639-1 code: declared (`language` or `lang`), else detected; "und" when unsure.
    language: str = languages.UNDETERMINED
    warnings: tuple[str, ...] = field(default=(), compare=False)
    #: A fingerprint of the file's bytes ("" for a clip not read from a file): it tells
    #: an edit that left the file's size and modification time as they were.
    digest: str = field(default="", compare=False)

    @property
    def related_text(self) -> str:
        """Related items' titles, excerpts and provider names as one text."""
        return "\n".join(
            part for r in self.related for part in (r.title, r.excerpt, r.provider) if part
        )


def derive_id(url: str, path: str) -> str:
    """A stable id from the canonical URL, else from the file's real path.

    The path is the whole real path, not one relative to the folder a user named:
    an id must not depend on how a file was reached (`clips/2022/a.md` and
    `clips/2023/a.md` are different clips whichever folder is indexed)."""
    basis = ("url:" + url.strip()) if url.strip() else ("path:" + path.replace(os.sep, "/"))
    return "c-" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:16]


def to_utc(value: Any, path: str, field_name: str) -> datetime | None:
    """Any YAML date or ISO 8601 string -> naive UTC datetime (Whoosh drops offsets)."""
    try:
        return dates.from_value(value)
    except dates.DateError as exc:
        raise ClipError(path, str(exc), field_name, value) from None


def _text(meta: dict, key: str, path: str, required: bool = False) -> str:
    value = meta.get(key)
    if value is None:
        if required:
            raise ClipError(path, "missing", key)
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ClipError(path, "must be text", key, value)
    text = str(value).strip()
    if required and not text:
        raise ClipError(path, "empty", key, value)
    return text


def _int(meta: dict, key: str, path: str, lo: int = -(2**63), hi: int = 2**63 - 1) -> int | None:
    """An integer field (a float or numeric string is rounded) within [lo, hi]."""
    value = meta.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ClipError(path, "must be a number", key, value)
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float | str):
        try:
            number = round(float(value.strip() if isinstance(value, str) else value))
        except (ValueError, OverflowError):  # not a number, inf or nan
            raise ClipError(path, "must be a number", key, value) from None
    if number is None:
        raise ClipError(path, "must be a number", key, value)
    if not lo <= number <= hi:
        raise ClipError(path, "number out of range", key, value)
    return number


def _provider(value: Any, path: str, key: str = "provider") -> tuple[str, str]:
    if value is None:
        return "", ""
    if isinstance(value, str):
        return value.strip(), ""
    if not isinstance(value, dict):
        raise ClipError(path, "must be a mapping with name and domain", key, value)
    name, domain = value.get("name"), value.get("domain")
    for sub, v in (("name", name), ("domain", domain)):
        if v is not None and not isinstance(v, str | int | float):
            raise ClipError(path, "must be text", f"{key}.{sub}", v)
    return str(name or "").strip(), str(domain or "").strip().lower()


def _topics(value: Any, path: str, warnings: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        warnings.append(
            f"{shown_path(path)}: topics: a single string, read as a one-item list ({value!r})"
        )
        value = [value]
    if not isinstance(value, list):
        raise ClipError(path, "must be a list of strings", "topics", value)
    _check_count(value, MAX_TOPICS, path, "topics")
    out: dict[str, None] = {}  # insertion-ordered set: first spelling, first place
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ClipError(path, "must be a list of strings", "topics", value)
        text = " ".join(str(item).split())
        if text:
            out[text] = None
    return tuple(out)


def _check_count(items: list, limit: int, path: str, key: str) -> None:
    if len(items) > limit:
        raise ClipError(path, f"{len(items):,} items, over the limit of {limit:,}", key)


def _related(value: Any, path: str) -> tuple[Related, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ClipError(path, "must be a list of articles", "related", value)
    _check_count(value, MAX_RELATED, path, "related")
    items = []
    for n, item in enumerate(value):
        key = f"related[{n}]"
        if not isinstance(item, dict):
            raise ClipError(path, "must be a mapping", key, item)
        provider, _domain = _provider(item.get("provider"), path, key + ".provider")
        items.append(
            Related(
                title=_text(item, "title", path),
                excerpt=_text(item, "excerpt", path),
                provider=provider,
                url=_text(item, "webUrl", path) or _text(item, "originalUrl", path),
            )
        )
    return tuple(items)


def split_frontmatter(text: str, path: str) -> tuple[dict, str]:
    """Frontmatter mapping and body.  Every case python-frontmatter lets pass silently
    (no frontmatter, unclosed, a list or scalar) is an error here."""
    if not text.strip():
        raise ClipError(path, "empty file")
    if "\x00" in text:
        raise ClipError(path, "binary file (NUL bytes), not a clip")
    if not text.lstrip("\ufeff").startswith("---"):
        raise ClipError(path, "no YAML frontmatter (the file must start with a '---' line)")
    try:
        fm, body = _HANDLER.split(text)
    except ValueError:
        raise ClipError(path, "frontmatter is not closed by a '---' line") from None
    try:
        meta = load_frontmatter(fm)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line = f" at line {mark.line + 1}" if mark else ""
        raise ClipError(path, f"YAML tag refused{line}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # The text YAML sees starts with the newline ending the '---' line: its 0-based
        # line numbers are the file's 1-based ones.
        line = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ClipError(path, f"malformed YAML{line}: {problem}") from None
    except (ValueError, OverflowError) as exc:  # e.g. a timestamp like 2021-02-30
        raise ClipError(path, f"malformed YAML value: {exc}") from None
    except RecursionError:
        raise ClipError(path, "malformed YAML: nested too deeply") from None
    if meta is None:
        raise ClipError(path, "frontmatter is empty")
    if not isinstance(meta, dict):
        raise ClipError(path, f"frontmatter must be a mapping, not a {type(meta).__name__}")
    return meta, body.strip()


def clip_from_text(text: str, path: str) -> Clip:
    """Build a `Clip` from a file's text; `path` is used in messages and stored as given,
    and its real path derives the id when the clip has neither id nor URL."""
    meta, body = split_frontmatter(text, path)
    warnings: list[str] = []
    title = _text(meta, "title", path, required=True)
    web_url = _text(meta, "webUrl", path)
    original_url = _text(meta, "originalUrl", path)
    url = web_url or original_url
    raw_id = meta.get("id")
    if raw_id is not None and not isinstance(raw_id, bool) and isinstance(raw_id, str | int):
        clip_id = str(raw_id).strip()
    elif raw_id is not None:
        raise ClipError(path, "must be text", "id", raw_id)
    else:
        clip_id = ""
    if not clip_id:
        clip_id = derive_id(url, os.path.realpath(path))
    provider, domain = _provider(meta.get("provider"), path)
    excerpt = _text(meta, "excerpt", path)
    return Clip(
        id=clip_id,
        path=path,
        title=title,
        excerpt=excerpt,
        body=body,
        published=to_utc(meta.get("publishedDateTime"), path, "publishedDateTime"),
        url=url,
        provider=provider,
        provider_domain=domain,
        topics=_topics(meta.get("topics"), path, warnings),
        quality=_int(meta, "quality", path, QUALITY_MIN, QUALITY_MAX),
        heat=_int(meta, "heat", path),
        category=_text(meta, "category", path),
        related=_related(meta.get("related"), path),
        language=_language(meta, path, title, excerpt, body),
        warnings=tuple(warnings),
    )


def _language(meta: dict, path: str, title: str, excerpt: str, body: str) -> str:
    """The declared language (`language`, else `lang`), else the detected one."""
    for key in ("language", "lang"):
        value = meta.get(key)
        if value is None or value == "":
            continue
        code = languages.declared(value)
        if code is None:
            raise ClipError(path, "must be an ISO 639-1 language code such as en or de", key, value)
        return code
    return languages.detect("\n".join((title, excerpt, body[: languages.DETECT_CHARS])))


def read_clip(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Clip:
    """Read and parse one clip file; errors are `ClipError`, never a traceback."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a pipe would block, a device never end
            raise ClipError(path, "not a regular file")
        if st.st_size > max_bytes:
            raise ClipError(
                path, f"file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit"
            )
        with open(path, "rb") as fh:
            # The size it has, plus one byte to see it grew: asking for max_bytes
            # made Python allocate 10 MB per clip.
            raw = fh.read(st.st_size + 1)
            if len(raw) > st.st_size:
                raw += fh.read(max_bytes + 1 - len(raw))
        if len(raw) > max_bytes:  # grew since the stat
            raise ClipError(path, f"file is over the {max_bytes:,}-byte limit")
    except OSError as exc:
        raise ClipError(path, f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in raw[:8192]:
        raise ClipError(path, "binary file (NUL bytes), not a clip")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ClipError(
            path, f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        ) from None
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
    return replace(clip_from_text(text, path), digest=digest)


def read_outcome(path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Clip | ClipError:
    """`read_clip`, the error returned instead of raised (what a bulk build's worker
    process sends back to the run that reports it)."""
    try:
        return read_clip(path, max_bytes=max_bytes)
    except ClipError as exc:
        return exc
