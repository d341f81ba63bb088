"""What is indexed: the fields and their weights, the limits on query expansion, and
the document made from a clip."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from whoosh import columns, fields
from whoosh.analysis import RegexTokenizer

from clipsearch.index.analysis import LanguageText, stem, text_analyzer
from clipsearch.language import UNDETERMINED
from clipsearch.words import surface_words

if TYPE_CHECKING:  # the YAML parser is only needed to read clips, not to search
    from clipsearch.ingest.clip import Clip

#: Part of the on-disk format: indexes written before analysis.py existed pickled the
#: analyzer's stem function under this name, so it must keep resolving.
_stem = stem

#: 2: text analysed per clip language (folding, CJK pairs, Snowball), a language facet.
SCHEMA_VERSION = 2
META_FILE = "clipsearch.json"
INDEX_NAME = "clips"

#: Searchable text fields and their BM25F weights.
TEXT_FIELDS: dict[str, float] = {"title": 3.0, "excerpt": 1.0, "body": 1.0, "related": 0.5}
FACET_FIELDS = ("topic", "provider", "language")

#: Cap on the terms one prefix or wildcard may expand to, so `a*` cannot take the machine.
MAX_EXPANSIONS = 256
#: Cap on the distinct words all prefixes and wildcards of one query expand to together
#: (399 two-letter prefixes, each under MAX_EXPANSIONS, took 10 s and 236 MB).
MAX_EXPANSIONS_PER_QUERY = 1024
#: Cap on the prefix and wildcard terms in one query: each one reads the vocabulary of
#: every text field, even when it expands to nothing.
MAX_WILDCARDS_PER_QUERY = 64
#: Postings kept in memory across queries (about 200 bytes each in Python dicts).
TERM_CACHE_POSTINGS = 1_000_000


def stored_stat(stat: str, digest: str | None, via: str = "") -> str:
    """The stat column's value: the stat, for a racy file its content digest, and
    the root of a file reached through a symlink ("mtime:size[:digest[:via]]")."""
    if via:
        return f"{stat}:{digest or ''}:{via}"
    return f"{stat}:{digest}" if digest else stat


def clip_words(clip: Clip) -> set[str]:
    """The distinct unstemmed words of a clip's searchable text: what typos are corrected to."""
    return surface_words((clip.title, clip.excerpt, clip.body, clip.related_text))


_VALUE_SEP = "\x1f"  # between facet values of one clip: never inside a topic


class FacetValuesField(fields.KEYWORD):
    """Several exact values per clip, case kept, separated by _VALUE_SEP (so a topic
    may contain commas and spaces).

    Part of the on-disk format: Whoosh pickles the schema into every commit with this
    class's import path, so it must stay importable under its name (and under the
    name `clipsearch.index._FacetValues` used by indexes written before the split)."""

    def __init__(self) -> None:
        super().__init__(lowercase=False, scorable=False)
        self.analyzer = RegexTokenizer(r"[^\x1f]+")


def one_term(field: fields.NUMERIC) -> fields.NUMERIC:
    """A NUMERIC or DATETIME field indexed as one term a value instead of one per
    precision tier (of a 64-bit value Whoosh's DATETIME makes 8, NUMERIC 16).  The
    tiers serve Whoosh's range queries, which clipsearch's query language refuses:
    dates are filtered and quality sorted through the fields' columns (columns.py).
    In a news index the tiers were 37% of all terms, nearly all of one posting.  An
    index keeps the schema it was created with, so older indexes keep their tiers."""
    field.shift_step = 0
    return field


def make_schema() -> fields.Schema:
    ana = text_analyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True, sortable=True),
        path=fields.ID(stored=True, sortable=True),
        stat=fields.COLUMN(columns.VarBytesColumn()),
        title=fields.TEXT(analyzer=ana, stored=True),
        excerpt=fields.TEXT(analyzer=ana, stored=True),
        body=fields.TEXT(analyzer=ana, stored=True),
        related=fields.TEXT(analyzer=ana, stored=True),
        topic=FacetValuesField(),
        topics=fields.STORED(),
        provider=fields.ID(stored=True),
        language=fields.ID(stored=True),
        domain=fields.ID(stored=True),
        url=fields.ID(stored=True),
        category=fields.STORED(),
        published=one_term(fields.DATETIME(stored=True, sortable=True)),
        quality=one_term(fields.NUMERIC(int, bits=64, stored=True, sortable=True)),
        heat=fields.STORED(),
    )


def document(clip: Clip, stat: str) -> dict[str, Any]:
    language = clip.language or UNDETERMINED
    doc: dict[str, Any] = {
        "id": clip.id,
        "path": clip.path,
        "stat": stat.encode("utf-8"),
        "language": language,
        "topic": _VALUE_SEP.join(clip.topics),
        "topics": list(clip.topics),
        "category": clip.category,
        "heat": clip.heat,
    }
    # Text fields are analysed in the clip's language and stored as they are.
    for name, text in (
        ("title", clip.title),
        ("excerpt", clip.excerpt),
        ("body", clip.body),
        ("related", clip.related_text),
    ):
        doc[name] = LanguageText(text, language)
        doc["_stored_" + name] = text
    for name, value in (
        ("provider", clip.provider),
        ("domain", clip.provider_domain),
        ("url", clip.url),
    ):
        if value:  # an empty value would become a facet value "" and match url:""
            doc[name] = value
    if clip.published is not None:
        doc["published"] = clip.published
    if clip.quality is not None:
        doc["quality"] = clip.quality
    return doc
