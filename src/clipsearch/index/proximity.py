"""Proximity operators: `a NEAR/n b` (within n words, either order) and `a ONEAR/n b`
(within n words, a first).

Syntax: one Whoosh operator tagger for both (so a chain binds left to right whatever
the mix), binding tighter than NOT, AND and OR: `a NEAR/3 b OR c` is `(a NEAR/3 b) OR
c`.  Parsing gives a `Near` node over the operands as parsed; compile.py turns it into
a `NearQuery`: Whoosh span queries per text field (the same field for both operands,
as Whoosh's SpanNear needs) for matching, and the operands' ordinary queries for
scoring.

Distance: "within n words" means the positions of the two operands differ by at most
n (so `a NEAR/3 b` matches "a x x b"), measured between their nearest ends for
phrases and nested NEARs; two different occurrences are needed (`a NEAR/3 a` needs
two a's).  That is Whoosh's SpanNear with slop=n and mindist=1.  Stop words are
removed before positions are numbered (the analyzer's StopFilter renumbers), so they
do not count: "central of the bank" has "bank" one word after "central"."""

from __future__ import annotations

import re
from typing import Any

from whoosh import qparser, query
from whoosh.qparser import syntax
from whoosh.query import spans

from clipsearch.errors import QueryError

#: The largest n of NEAR/n and ONEAR/n.
MAX_NEAR_DISTANCE = 1000

#: NEAR/... or ONEAR/... standing alone (between spaces, parentheses or the ends); the
#: value is checked by `_distance`, so `NEAR/x` is an error rather than two words.
_NEAR_EXPR = r"(?:^|(?<=[\s()]))(?P<op>O?NEAR)/(?P<n>[^\s()]*)(?=[\s()]|$)"


def _distance(op: str, value: str) -> int:
    if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
        raise QueryError(
            f"{op}/{value}: the distance must be a whole number of words from 1 to "
            f"{MAX_NEAR_DISTANCE:,}, as in {op}/5"
        )
    n = int(value)
    if n > MAX_NEAR_DISTANCE:
        raise QueryError(f"{op}/{value}: the distance is over the limit of {MAX_NEAR_DISTANCE:,}")
    return n


class Near(query.Query):
    """`a NEAR/n b` as parsed: the operands still as the parser gave them."""

    fieldname = None

    def __init__(self, a: Any, b: Any, distance: int, ordered: bool, boost: float = 1.0):
        self.a, self.b = a, b
        self.distance = distance
        self.ordered = ordered
        self.boost = boost

    @property
    def operator(self) -> str:
        return f"{'ONEAR' if self.ordered else 'NEAR'}/{self.distance}"

    def __repr__(self) -> str:
        return f"Near({self.a!r}, {self.b!r}, {self.operator})"

    def __str__(self) -> str:
        return f"({self.a} {self.operator} {self.b})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Near)
            and (self.a, self.b, self.distance, self.ordered, self.boost)
            == (other.a, other.b, other.distance, other.ordered, other.boost)
        )

    def __hash__(self) -> int:
        return hash((Near, self.a, self.b, self.distance, self.ordered, self.boost))

    def is_leaf(self) -> bool:
        return False

    def children(self) -> Any:
        return iter((self.a, self.b))

    def apply(self, fn: Any) -> Near:
        return Near(fn(self.a), fn(self.b), self.distance, self.ordered, self.boost)

    def normalize(self) -> Near:
        return Near(self.a.normalize(), self.b.normalize(), self.distance, self.ordered, self.boost)


class NearQuery(query.Query):
    """A compiled NEAR: matches where any of `spans` (Whoosh span queries, one per text
    field) matches; scored as the sum of the `parts` (the operands' ordinary compiled
    queries: words over every field with their corrections, phrases, prefixes) on
    those documents.  The parts are its children, so the query's terms (what snippets
    mark) include the operands' words."""

    fieldname = None

    def __init__(self, spans_: tuple[Any, ...], parts: tuple[Any, ...], boost: float = 1.0):
        self.spans = spans_
        self.parts = parts
        self.boost = boost

    def __repr__(self) -> str:
        return f"NearQuery({self.spans!r}, boost={self.boost})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, NearQuery)
            and (self.spans, self.parts, self.boost) == (other.spans, other.parts, other.boost)
        )

    def __hash__(self) -> int:
        return hash((NearQuery, self.spans, self.parts, self.boost))

    def is_leaf(self) -> bool:
        return False

    def children(self) -> Any:
        return iter(self.parts)

    def apply(self, fn: Any) -> NearQuery:
        return NearQuery(self.spans, tuple(fn(p) for p in self.parts), self.boost)

    def normalize(self) -> NearQuery:
        return NearQuery(self.spans, tuple(p.normalize() for p in self.parts), self.boost)

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        return query.Or(list(self.spans)).matcher(searcher, context)


class SpanAny(spans.SpanOr):
    """Whoosh's SpanOr without merging touching spans: merged, "policy law" became one
    span, and `law NEAR/1 (policy OR law)` no longer saw "law" one word after
    "policy" (the merged span overlapped the other operand)."""

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        matchers = [q.matcher(searcher, context) for q in self.subqs]
        return spans.make_binary_tree(SpanAny.Matcher, matchers)

    class Matcher(spans.SpanOr.SpanOrMatcher):
        def _get_spans(self) -> Any:
            a, b = self.a, self.b
            if a.is_active() and b.is_active() and a.id() == b.id():
                return sorted(set(a.spans()) | set(b.spans()))
            if a.is_active() and (not b.is_active() or a.id() < b.id()):
                return a.spans()
            return b.spans()


# -- syntax


class _NearGroup(syntax.GroupNode):
    merging = False
    has_boost = False

    def query(self, parser: Any) -> Any:
        a, b = (node.query(parser) for node in self.nodes)
        near = Near(a, b, self.kwargs["distance"], self.kwargs["ordered"])
        if a is None or b is None:  # a fielded operand of stop words only
            raise QueryError(stop_words_only(near.operator))
        return syntax.attach(near, self)


class _NearOperator(syntax.InfixOperator):
    def __init__(self, text: str, distance: int, ordered: bool):
        super().__init__(text, _NearGroup, True)
        self.distance, self.ordered = distance, ordered

    def replace_self(self, parser: Any, group: Any, position: int) -> int:
        left = group[position - 1] if position > 0 else None
        right = group[position + 1] if position < len(group) - 1 else None
        if not _operand(left) or not _operand(right):
            raise QueryError(
                f"{self.text} needs a word, prefix*, \"phrase\" or (group) on each side, "
                f"as in climate {self.text} policy"
            )
        near = _NearGroup([left, right], distance=self.distance, ordered=self.ordered)
        group[position - 1 : position + 2] = [near]
        return position


def stop_words_only(operator: str) -> str:
    return f"{operator}: one side is only stop words (like 'the', 'of'), which are not indexed"


def _operand(node: Any) -> bool:
    return node is not None and not isinstance(node, syntax.Operator)


class _NearTagger(qparser.OperatorsPlugin.OpTagger):
    def __init__(self) -> None:
        super().__init__(_NEAR_EXPR, _NearGroup, _NearOperator, memo="near")

    def create(self, parser: Any, match: Any) -> Any:
        op = match.group("op")
        return _NearOperator(match.group(0), _distance(op, match.group("n")), op == "ONEAR")


def operators_plugin() -> Any:
    """Whoosh's operators plugin with NEAR/n and ONEAR/n first (binding tightest)."""
    return qparser.OperatorsPlugin(ops=[(_NearTagger(), 0)])
