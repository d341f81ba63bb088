"""Query syntax in, engine query out: Whoosh's parser configured for clipsearch, and
its output rewritten into what is searched (every text field per word, typo
alternatives, quoted words kept, bounded wildcards)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from whoosh import qparser, query
from whoosh.query import spans

from clipsearch.errors import QueryError
from clipsearch.index.postings import Terms
from clipsearch.index.proximity import (
    Near,
    NearQuery,
    SpanAny,
    operators_plugin,
    stop_words_only,
)
from clipsearch.index.schema import (
    FACET_FIELDS,
    MAX_EXPANSIONS,
    MAX_EXPANSIONS_PER_QUERY,
    MAX_WILDCARDS_PER_QUERY,
    TEXT_FIELDS,
)


@dataclass(frozen=True, slots=True)
class Compiled:
    """An engine query, opaque to the query layer.  `checked` is shared by the queries
    compiled from one parsed query: what its phrases and words matched, per scorer, so
    one search checks each phrase's positions once (never kept beyond the query, never
    pickled)."""

    q: Any
    checked: dict[Any, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return (Compiled, (self.q,))


_TEXT_SEARCH_FIELDS = tuple(TEXT_FIELDS)
EXACT_FIELDS = ("id", "path", "domain", "url")


class Parser:
    """Whoosh's query parser with clipsearch's syntax: OR between words, no ranges,
    boosts or `?` wildcards (a `?` ends pasted questions), quoted words protected."""

    def __init__(self, schema: Any, terms: Terms):
        self._terms = terms
        self._parsers = {
            implicit_and: self._make(schema, qparser.AndGroup if implicit_and else qparser.OrGroup)
            for implicit_and in (False, True)
        }

    @staticmethod
    def _make(schema: Any, group: Any) -> Any:
        parser = qparser.QueryParser(None, schema, group=group)
        for plugin in (
            qparser.RangePlugin,
            qparser.EveryPlugin,
            qparser.BoostPlugin,
            qparser.WildcardPlugin,
        ):
            parser.remove_plugin_class(plugin)
        parser.add_plugin(StarWildcards())
        parser.replace_plugin(operators_plugin())  # AND OR NOT ... and NEAR/n, ONEAR/n
        return parser

    def parse(
        self, text: str, implicit_and: bool = False, languages: Sequence[str] = ()
    ) -> ParsedQuery:
        """Parse user query syntax; plain words stay correctable, everything else is kept.
        Words side by side are OR'ed (ranking prefers clips with more of them), or
        AND'ed with `implicit_and`; explicit AND/OR/NOT are kept either way.  Words
        are analysed in each language of the index, or in `languages` when given."""
        plain = _only_words(text)
        try:
            if plain:  # what the parser would make of them, without its taggers
                raw = _plain_words(text, query.And if implicit_and else query.Or)
            else:
                raw = protect_quoted(self._parsers[implicit_and].parse(text, normalize=False))
            word_count = sum(_is_word(leaf) for leaf in raw.leaves())
            q = raw.normalize()
            # Explicit operators show when words side by side are AND'ed: plain words
            # give an And of words, "a OR b" still an Or.
            anded = None if plain else (
                self._parsers[True].parse(text, normalize=False).normalize()
            )
        except QueryError:  # ours (a bad NEAR/n): already says what is wrong
            raise
        except Exception:  # Whoosh's parser fails in many ways; none says much to a user
            raise QueryError(
                f"cannot parse query {text!r}: check quotes, parentheses, AND/OR/NOT, and "
                f"field names ({', '.join((*TEXT_FIELDS, *FACET_FIELDS, *EXACT_FIELDS))})"
            ) from None
        parsed = ParsedQuery(q, self._terms.narrowed(languages) if languages else self._terms)
        parsed.word_count = word_count
        parsed.pairs = parsed.adjacent_pairs(text)
        parsed.has_operators = anded is not None and not (
            _is_word(anded)
            or (isinstance(anded, query.And) and all(_is_word(c) for c in anded.subqueries))
        )
        return parsed


class _QueryTerms:
    """The terms one query compiles against, each text's analyses worked out once: a
    query analyses its words for the query, per word for the match rule and again
    with its alternatives.  Lives as long as its `ParsedQuery`, never across queries."""

    def __init__(self, terms: Terms):
        self._terms = terms
        self._analyses: dict[str, list[list[str]]] = {}

    def analyses(self, text: str) -> list[list[str]]:
        found = self._analyses.get(text)
        if found is None:
            found = self._analyses[text] = self._terms.analyses(text)
        return found

    def has_field(self, name: str) -> bool:
        return self._terms.has_field(name)

    def field_terms(self, field: str) -> list[str]:
        return self._terms.field_terms(field)

    def expand_prefix(self, field: str, prefix: str) -> Any:
        return self._terms.expand_prefix(field, prefix)


class ParsedQuery:
    """A parsed user query.  `words` are the plain words typo tolerance may correct;
    phrases, `field:value` terms, prefixes and numbers are never among them."""

    def __init__(self, q: Any, terms: Terms):
        wildcards = sum(isinstance(leaf, query.Prefix | query.Wildcard) for leaf in q.leaves())
        if wildcards > MAX_WILDCARDS_PER_QUERY:
            raise QueryError(
                f"query has {wildcards:,} prefix or wildcard words; the limit is "
                f"{MAX_WILDCARDS_PER_QUERY:,}: use fewer or longer prefixes"
            )
        self._q = q
        self._terms = _QueryTerms(terms)
        self.words: list[str] = []
        #: Plain words as typed, repeats included: how long the query is.
        self.word_count = 0
        #: Whether the query uses operators (AND, OR, NOT, field:, quotes, prefixes...).
        self.has_operators = False
        #: Plain words side by side in the text (only spaces between): what may be one
        #: word split in two ("face book").  Set by the parser, which has the text.
        self.pairs: list[tuple[str, str]] = []
        self._typed: dict[str, str] = {}  # word -> its text in the query
        self._places: list[tuple[int, int, str]] = []  # (start, end, word) of plain words
        self._collect(q)
        self.is_plain = _is_plain(q)
        self._expanded: set[str] = set()  # words the prefixes of one compile() expand to
        self._checked: dict[Any, Any] = {}  # Compiled.checked of every query compiled here

    def _collect(self, q: Any) -> None:
        if _is_word(q):
            word = typed_word(str(q.text))
            start, end = getattr(q, "startchar", None), getattr(q, "endchar", None)
            if word and start is not None and end is not None:
                self._places.append((start, end, word))
            if word and word not in self.words:
                self.words.append(word)
                self._typed[word] = str(q.text)
        elif not isinstance(q, query.Phrase | query.Not) and q.is_leaf() is False:
            # (never inside NOT: a word the user excludes is not corrected)
            for child in q.children():
                self._collect(child)

    def adjacent_pairs(self, text: str) -> list[tuple[str, str]]:
        """(left, right) plain words with only whitespace between them in `text`."""
        out: list[tuple[str, str]] = []
        spans_ = sorted(self._places)
        for (_, end, left), (start, _, right) in zip(spans_, spans_[1:], strict=False):
            gap = text[end:start]
            if gap and gap.isspace() and (left, right) not in out:
                out.append((left, right))
        return out

    def compile(
        self,
        alternatives: Mapping[str, Sequence[tuple[str, float]]] | None = None,
    ) -> Compiled:
        """An engine query: each plain word searches every text field, OR'ed with its
        weighted alternatives."""
        alts = alternatives or {}
        self._expanded = set()
        q = self._rewrite(self._q, alts)
        return Compiled(q.normalize(), self._checked)

    def word_queries(
        self, alternatives: Mapping[str, Sequence[tuple[str, float]]] | None = None
    ) -> list[tuple[Compiled, Compiled | None]]:
        """Per word in `words`: what matches it as typed, and what matches it or one of
        its alternatives (None when it has none).  For ranking by how many words a clip
        matches, and how many of those exactly."""
        alts = alternatives or {}
        out: list[tuple[Compiled, Compiled | None]] = []
        for word in self.words:
            exact = _word_query(self._terms, self._typed[word])
            group = [exact, *(_word_query(self._terms, a, w) for a, w in alts.get(word, ()))]
            group = [g for g in group if g is not query.NullQuery]
            either = (
                Compiled(query.Or(group).normalize(), self._checked) if len(group) > 1 else None
            )
            out.append((Compiled(exact, self._checked), either))
        return out

    # -- rewriting
    def _rewrite(self, q: Any, alts: Mapping[str, Sequence[tuple[str, float]]]) -> Any:
        terms = self._terms
        if isinstance(q, QuotedWord):
            if q.fieldname is None:
                return _word_query(terms, str(q.text))
            return _field_term(terms, q.fieldname, str(q.text), q.boost)
        if isinstance(q, query.Term):
            if q.fieldname is None:
                word = str(q.text)
                group = [_word_query(terms, word)]
                for alt, weight in alts.get(typed_word(word), ()):
                    group.append(_word_query(terms, alt, weight))
                group = [g for g in group if g is not query.NullQuery]
                if not group:
                    return query.NullQuery
                # A word and its corrections count once: the best of them, not the sum.
                return group[0] if len(group) == 1 else query.DisjunctionMax(group)
            return _field_term(terms, q.fieldname, str(q.text), q.boost)
        if isinstance(q, query.Phrase):
            if q.fieldname is None:  # unfielded words arrive raw: analyse them per field
                text = " ".join(q.words)
                return query.Or([_phrase(terms, f, text, q.slop) for f in _TEXT_SEARCH_FIELDS])
            if q.fieldname in TEXT_FIELDS:  # the parser analysed them with the field's analyzer
                return query.Phrase(q.fieldname, q.words, slop=q.slop, boost=q.boost)
            return _field_term(terms, q.fieldname, " ".join(q.words), q.boost)
        if isinstance(q, query.Prefix | query.Wildcard):
            return _expansion(terms, q, self._expanded)
        if isinstance(q, Near):
            return self._near(q, alts)
        if isinstance(q, query.Not):
            return query.Not(self._rewrite(q.query, alts))
        if isinstance(q, query.Or) and any(isinstance(c, query.Not) for c in q.subqueries):
            # "ukraine NOT russia" under OR grouping would match everything without
            # "russia"; users mean ukraine AND NOT russia.
            pos = [self._rewrite(c, alts) for c in q.subqueries if not isinstance(c, query.Not)]
            neg = [self._rewrite(c.query, alts) for c in q.subqueries if isinstance(c, query.Not)]
            if pos:
                return query.AndNot(query.Or(pos), query.Or(neg))
            return query.Not(query.Or(neg))
        if isinstance(q, query.Or):
            return query.Or(
                _count_repeats([self._rewrite(c, alts) for c in q.subqueries]), boost=q.boost
            )
        # ANDNOT, ANDMAYBE, REQUIRE are binary: test them before the compound case
        # (Whoosh makes them CompoundQuery subclasses with a different constructor).
        if isinstance(q, query.AndNot | query.AndMaybe | query.Require | query.Otherwise):
            return q.__class__(self._rewrite(q.a, alts), self._rewrite(q.b, alts))
        if isinstance(q, query.compound.CompoundQuery):
            return q.__class__([self._rewrite(c, alts) for c in q.subqueries], boost=q.boost)
        if q is query.NullQuery or isinstance(q, query.NullQuery.__class__):
            return q
        if isinstance(q, query.Every):
            raise QueryError("`*` alone matches everything: leave the query empty to list clips")
        if isinstance(q, query.NumericRange | query.DateRange | query.TermRange):
            raise QueryError(
                f"ranges on {q.fieldname!r} are not supported in the query; "
                "filter dates with since/until, and sort by quality instead"
            )
        raise QueryError(f"this part of the query is not supported: {q}")


    # -- proximity
    def _near(self, q: Near, alts: Mapping[str, Sequence[tuple[str, float]]]) -> Any:
        """`a NEAR/n b` as a NearQuery: a span query per text field both sides may
        match in (one field for both operands: positions compare within a field),
        scored by the operands' ordinary queries."""
        by_field, parts = self._spans(q, alts, q.operator)
        found = tuple(s for s in by_field.values() if s is not None)
        if not found:
            return query.NullQuery
        return NearQuery(found, tuple(parts), boost=q.boost)

    def _spans(
        self, q: Any, alts: Mapping[str, Sequence[tuple[str, float]]], op: str
    ) -> tuple[dict[str, Any], list[Any]]:
        """One NEAR operand: per text field it may match in, its span query there (None
        when nothing in that field can match), and the queries that score it."""
        terms = self._terms
        if isinstance(q, Near):
            a, a_parts = self._spans(q.a, alts, q.operator)
            b, b_parts = self._spans(q.b, alts, q.operator)
            if not set(a) & set(b):
                raise QueryError(
                    f"{q.operator} compares word positions within one field, but one side "
                    f"searches {'/'.join(a)} and the other {'/'.join(b)}"
                )
            near = {
                f: None
                if a[f] is None or b[f] is None
                else spans.SpanNear(a[f], b[f], slop=q.distance, ordered=q.ordered, mindist=1)
                for f in a
                if f in b
            }
            return near, a_parts + b_parts
        if isinstance(q, query.Term | query.Phrase) and q.fieldname is None:
            if isinstance(q, query.Phrase):
                texts, slop = [" ".join(q.words)], q.slop
            else:
                texts, slop = [str(q.text)], 1
                if not isinstance(q, QuotedWord):  # a typed word: its corrections too
                    texts += [alt for alt, _ in alts.get(typed_word(str(q.text)), ())]
            forms = [terms.analyses(t) for t in texts]
            if not forms[0]:
                raise QueryError(stop_words_only(op))
            analysed = [tokens for each in forms for tokens in each]
            by_field = {
                f: _span_any([_span_tokens(f, tokens, slop) for tokens in analysed if tokens])
                for f in _TEXT_SEARCH_FIELDS
            }
            return by_field, [self._rewrite(q, alts)]
        if isinstance(q, query.Term | query.Phrase):
            if q.fieldname not in TEXT_FIELDS:
                raise QueryError(
                    f"{op} works on text fields ({', '.join(TEXT_FIELDS)}), not {q.fieldname!r}"
                )
            if isinstance(q, query.Phrase):
                span = _span_tokens(q.fieldname, list(q.words), q.slop)
            else:
                span = query.Term(q.fieldname, q.text)
            return {q.fieldname: span}, [self._rewrite(q, alts)]
        if isinstance(q, query.Prefix | query.Wildcard):
            expansion = self._rewrite(q, alts)
            leaves = [t for t in expansion.leaves() if isinstance(t, query.Term)]
            fields_ = _TEXT_SEARCH_FIELDS if q.fieldname is None else (q.fieldname,)
            by_field = {f: _span_any([t for t in leaves if t.fieldname == f]) for f in fields_}
            return by_field, [expansion]
        if isinstance(q, query.Or):
            sides = [self._spans(c, alts, op) for c in q.subqueries]
            fields_ = [f for f in _TEXT_SEARCH_FIELDS if any(f in s for s, _ in sides)]
            by_field = {
                f: _span_any([s[f] for s, _ in sides if s.get(f) is not None]) for f in fields_
            }
            return by_field, [query.Or([p for _, ps in sides for p in ps])]
        raise QueryError(
            f"{op} needs a word, prefix*, \"phrase\" or (group of them OR'ed) on each side, "
            f"not {q}"
        )


def _span_tokens(field: str, tokens: Sequence[str], slop: int = 1) -> Any:
    """The span of analysed words in one field: a term, or a phrase as a span."""
    if len(tokens) == 1:
        return query.Term(field, tokens[0])
    return spans.SpanNear2([query.Term(field, t) for t in tokens], slop=slop, ordered=True)


def _span_any(alternatives: list[Any]) -> Any:
    """Any of some spans (None for none)."""
    if not alternatives:
        return None
    return alternatives[0] if len(alternatives) == 1 else SpanAny(alternatives)


def _count_repeats(subqueries: list[Any]) -> list[Any]:
    """A word repeated in a query weighs that many times (query term frequency, as in
    Lucene); Whoosh's normalisation would silently drop the repeats."""
    counts: dict[Any, int] = {}
    for q in subqueries:
        counts[q] = counts.get(q, 0) + 1
    return [q if n == 1 else q.with_boost(q.boost * n) for q, n in counts.items()]


class StarWildcards(qparser.WildcardPlugin):
    """Only `*` is a wildcard: a `?` ends questions people paste ("what is covid?")
    far more often than it stands for one letter."""

    expr = r"(?P<text>[*])"


def typed_word(text: str) -> str:
    """A query word as typo tolerance sees it: lowercase, without the punctuation
    that sticks to words in pasted text ("recogniton," -> "recogniton")."""
    return text.strip(_PUNCTUATION).lower()


_PUNCTUATION = "".join(chr(c) for c in range(0x20, 0x7F) if not chr(c).isalnum()) + "“”‘’«»…"


class QuotedWord(query.Term):
    """A single word the user put in quotes: searched as typed, never corrected.
    (Whoosh would normalise the one-word phrase into a plain, correctable term.)"""


def protect_quoted(q: Any) -> Any:
    if isinstance(q, query.Phrase) and len(q.words) == 1:
        return QuotedWord(q.fieldname, q.words[0], boost=q.boost)
    if isinstance(q, query.compound.CompoundQuery):
        q.subqueries = [protect_quoted(c) for c in q.subqueries]
    elif isinstance(q, query.Not):
        q.query = protect_quoted(q.query)
    elif isinstance(q, query.AndNot | query.AndMaybe | query.Require | query.Otherwise | Near):
        q.a, q.b = protect_quoted(q.a), protect_quoted(q.b)
    return q


#: The words Whoosh's operators plugin reads as operators (NEAR/n has a slash).
_OPERATOR_WORDS = frozenset(("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "REQUIRE"))


_NOT_SPACE = re.compile(r"\S+")


def _only_words(text: str) -> bool:
    """Whether `text` is words of letters and digits only, none an operator: what
    the parser reads as plain words (no tagger but the whitespace one matches)."""
    words = text.split()
    return bool(words) and all(w.isalnum() and w not in _OPERATOR_WORDS for w in words)


def _plain_words(text: str, group: Any) -> Any:
    """The parser's output for `_only_words` text, built directly (Whoosh's parser
    tries each tagger at each character): one Term per word, with its place in the
    text, in an Or (or And) spanning them."""
    words = []
    for m in _NOT_SPACE.finditer(text):
        term = query.Term(None, m.group())
        term.startchar, term.endchar = m.span()
        words.append(term)
    out = group(words)
    out.startchar, out.endchar = words[0].startchar, words[-1].endchar
    return out


def _is_word(q: Any) -> bool:
    return isinstance(q, query.Term) and not isinstance(q, QuotedWord) and q.fieldname is None


def _is_plain(q: Any) -> bool:
    if isinstance(q, query.Or):
        return all(_is_word(c) for c in q.subqueries)
    return _is_word(q)


class WordQuery(query.compound.CompoundQuery):
    """One query word searched in every text field, scored as BM25F: the field-weighted,
    length-normalised term frequencies are added up before saturating, so a word in
    both title and excerpt does not count as two words.  Not an `Or` subclass, so
    Whoosh's normalisation does not flatten it into the surrounding query."""

    JOINT = " | "
    intersect_merge = False
    matcher_type = query.Or.matcher_type

    def _matcher(self, subs: Any, searcher: Any, context: Any) -> Any:
        return query.Or._matcher(self, subs, searcher, context)

    def normalize(self) -> Any:
        # As made here (several distinct plain terms) it is already normal: Whoosh's
        # normalisation would only copy it, hashing every term on the way.
        subs = self.subqueries
        if len(subs) > 1 and all(type(t) is query.Term for t in subs):
            keys = {(t.fieldname, t.text, t.boost) for t in subs}
            if len(keys) == len(subs):
                return self
        return super().normalize()


class Apart(str):
    """An alternative of several words searched anywhere in a clip (all of them), not
    as a phrase: the weaker half of a joined word's split (search/joins.py)."""

    __slots__ = ()


def _word_query(terms: _QueryTerms, word: str, weight: float = 1.0) -> Any:
    """A word in every text field, BM25F.  Analysed in several languages, its
    one-term forms are one word: one WordQuery over every form in every field, so
    its document frequency counts the clips of every language that have it (a clip
    has one language, so it has one form); a form of several terms (a phrase, CJK
    pairs) is searched beside it, the best counting."""
    apart = isinstance(word, Apart)
    analyses = terms.analyses(word)
    if not analyses:
        return query.NullQuery
    if len(analyses) == 1:
        return _tokens_query(analyses[0], weight, apart)
    single = [tokens[0] for tokens in analyses if len(tokens) == 1]
    forms = [_tokens_query(tokens, weight, apart) for tokens in analyses if len(tokens) > 1]
    if single:
        forms.insert(
            0,
            WordQuery(
                [query.Term(f, t, boost=w) for t in single for f, w in TEXT_FIELDS.items()],
                weight,
            ),
        )
    return forms[0] if len(forms) == 1 else query.DisjunctionMax(forms)


def _tokens_query(tokens: list[str], weight: float, apart: bool) -> Any:
    if apart and len(tokens) > 1:
        return query.And(
            [
                WordQuery([query.Term(f, t, boost=w) for f, w in TEXT_FIELDS.items()], weight)
                for t in tokens
            ]
        )
    if len(tokens) == 1:
        return WordQuery(
            [query.Term(f, tokens[0], boost=w) for f, w in TEXT_FIELDS.items()], weight
        )
    return query.Or([query.Phrase(f, tokens, boost=w * weight) for f, w in TEXT_FIELDS.items()])


def _phrase(terms: _QueryTerms, field: str, text: str, slop: int = 1) -> Any:
    forms = [
        query.Term(field, tokens[0]) if len(tokens) == 1 else query.Phrase(field, tokens, slop=slop)
        for tokens in terms.analyses(text)
    ]
    if not forms:
        return query.NullQuery
    return forms[0] if len(forms) == 1 else query.Or(forms)


def _field_term(terms: _QueryTerms, field: str, text: str, boost: float = 1.0) -> Any:
    if field in FACET_FIELDS:
        want = text.casefold()
        spellings = [v for v in _spellings(terms, field) if v.casefold() == want]
        return query.Or([query.Term(field, v, boost=boost) for v in spellings] or [query.NullQuery])
    if field in TEXT_FIELDS:
        return query.Term(field, text, boost=boost)  # already analysed by the parser
    if field in EXACT_FIELDS:
        if field == "domain":
            text = text.lower()
        return query.Term(field, text, boost=boost)
    if terms.has_field(field):
        raise QueryError(
            f"{field}:... cannot be searched; filter dates with since/until, "
            "and sort by quality instead"
        )
    raise QueryError(
        f"unknown field {field!r} in query; fields: "
        + ", ".join(sorted((*TEXT_FIELDS, *FACET_FIELDS, *EXACT_FIELDS)))
    )


def _spellings(terms: _QueryTerms, field: str) -> list[str]:
    return terms.field_terms(field)


def _expansion(terms: _QueryTerms, q: Any, expanded: set[str]) -> Any:
    """A prefix or wildcard as an OR of at most MAX_EXPANSIONS real terms, per text field.
    `expanded` collects the words of every expansion of the query, so that together they
    stay under MAX_EXPANSIONS_PER_QUERY (a QueryError past it)."""
    fields_ = _TEXT_SEARCH_FIELDS if q.fieldname is None else (q.fieldname,)
    text = str(q.text).lower()
    literal = re.split(r"[*?]", text, maxsplit=1)[0]
    if isinstance(q, query.Wildcard) and len(literal) < 2:
        # "*", "a*b", a stray "*," in pasted text: too broad to expand; search the
        # letters it has as a plain word instead of failing the whole query.
        bare = re.sub(r"[*?]", "", text)
        return _word_query(terms, bare) if bare else query.NullQuery
    parts = (text + "*").split("*") if isinstance(q, query.Prefix) else text.split("*")
    out = []
    for f in fields_:
        if f not in TEXT_FIELDS:
            raise QueryError(f"prefix and wildcard searches work on text fields, not {f!r}")
        n = 0
        for raw in terms.expand_prefix(f, literal):
            term = raw.decode("utf-8")
            if _glob_match(parts, term):
                out.append(query.Term(f, term))
                expanded.add(term)
                if len(expanded) > MAX_EXPANSIONS_PER_QUERY:
                    raise QueryError(
                        f"query expands to more than {MAX_EXPANSIONS_PER_QUERY:,} words; "
                        "use fewer or longer prefixes"
                    )
                n += 1
                if n >= MAX_EXPANSIONS:
                    break
    return query.Or(out) if out else query.NullQuery


def _glob_match(parts: list[str], term: str) -> bool:
    """Whether `term` matches the `*`-separated literal `parts` (in linear time: a
    regex with one `.*` per star backtracks exponentially on `a*a*a*a*b`)."""
    first, last = parts[0], parts[-1]
    if len(parts) == 1:
        return term == first
    if not term.startswith(first) or not term.endswith(last) or len(term) < len(first) + len(last):
        return False
    pos, end = len(first), len(term) - len(last)
    for middle in parts[1:-1]:
        found = term.find(middle, pos, end)
        if found < 0:
            return False
        pos = found + len(middle)
    return True


def _stem_query(stem: str, weight: float) -> Any:
    return WordQuery([query.Term(f, stem, boost=w) for f, w in TEXT_FIELDS.items()], weight)


def stem_query(stem: str) -> Compiled:
    """One analysed word (an index term, not analysed again: a stem of a stem may
    differ) searched in every text field, BM25F."""
    return Compiled(_stem_query(stem, 1.0))


def interpolated(
    original: Compiled, original_weight: float, stems: Sequence[tuple[str, float]]
) -> Compiled:
    """`original` with its scores times `original_weight`, OR'ed with one BM25F word
    query per (analysed stem, weight): query expansion."""
    words = [_stem_query(stem, weight) for stem, weight in stems if weight > 0]
    # Not normalised: Whoosh's normalisation would merge a stem with the same word of
    # the original query, losing one of the two weights.
    q = query.Or([original.q.with_boost(original.q.boost * original_weight), *words])
    return Compiled(q, original.checked)
