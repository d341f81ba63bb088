"""Snippets: the best fragment of a field with the query's words in <mark> tags.

A word matches when it analyses to one of the query's terms (so "recognised"
marks for a query "recognition" when both stem alike, and "Zürich" for "zurich":
words are found in the text folded in place, so positions stay the original
text's).  In Chinese, Japanese and Korean runs, the characters of every pair that is
a query term are marked.  This replaces Whoosh's highlighter, whose token pipeline
cost more than the search itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from clipsearch.folding import CJK_RUN, fold_in_place, has_cjk
from clipsearch.words import TOKEN

#: The longest fragment shown, in characters.
MAX_CHARS = 240
#: Characters of context kept before the first marked word.
LEAD = 60
#: What follows a candidate's prefix to the end of its word (as TOKEN continues it).
_REST = re.compile(r"\w*(?:\.\w+)*")
_WORD = re.compile(r"\w*")


class Candidates:
    """Where the words that may analyse to one of a query's terms are in a folded
    text: a stem without its last letter is a prefix of the words it comes from
    (Porter turns "happy" into "happi"), so only words starting with one of those
    prefixes need analysing.  Found with `str.find`, prefix by prefix: a regular
    expression of the prefixes cost more to compile, per query, than to scan with,
    and scanned slower than finding each prefix."""

    __slots__ = ("_prefixes", "cjk")

    def __init__(self, prefixes: Collection[str], cjk: bool = True):
        # A prefix that extends a shorter one by word characters only finds nothing
        # more: wherever it starts the shorter one does, and the rest of the word
        # (`_REST`) ends in the same place.  Longest first otherwise.
        ordered = sorted(set(prefixes), key=len)
        kept: list[str] = []
        for p in ordered:
            if not any(p.startswith(q) and _WORD.fullmatch(p, len(q)) for q in kept):
                kept.append(p)
        self._prefixes = tuple(reversed(kept))
        #: Whether a query term has CJK characters (else no CJK pair is ever marked).
        self.cjk = cjk

    def spans(self, folded: str) -> list[tuple[int, int]]:
        """(start, end) of each candidate word of `folded`, left to right, not
        overlapping: a prefix at a word start (no letter, digit or _ before it)
        and the rest of its word, as `(?<!\\w)(?:prefixes)\\w*(?:\\.\\w+)*` finds them."""
        starts: dict[int, int] = {}
        find = folded.find
        for prefix in self._prefixes:
            i = find(prefix)
            while i >= 0:
                if i not in starts:
                    # What a regular expression's `\w` matches, tested inline: a
                    # function call per occurrence cost a tenth of the scan.
                    before = folded[i - 1] if i else " "
                    if not (before.isalnum() or before == "_"):
                        starts[i] = i + len(prefix)
                i = find(prefix, i + 1)
        out: list[tuple[int, int]] = []
        end = 0
        for start in sorted(starts):
            if start >= end:
                found = _REST.match(folded, starts[start])
                end = found.end() if found else starts[start]
                out.append((start, end))
        return out


def candidates(terms: Collection[str]) -> Candidates | None:
    """The candidate words of `terms` (None: every word is one).  Make once per query."""
    words = [t for t in terms if t and not has_cjk(t)]
    if not words and terms:
        return Candidates(())  # CJK pairs only: snippet() finds those itself
    if not words:
        return None
    cjk = any(has_cjk(t) for t in terms)
    return Candidates([t[: max(2, len(t) - 1)] for t in words], cjk)


def snippet(
    text: str,
    terms: Collection[str],
    analyze_word: Callable[[str], str | None],
    found: Candidates | None = None,
    max_chars: int = MAX_CHARS,
) -> str:
    """The window of `text` with the most matching words, marked; "" when none match.
    `found` (from `candidates` of the same `terms`) only narrows which words are
    analysed, and, when no term has CJK characters, spares searching the whole text
    for them (a regular expression over every character: a tenth of a snippet's
    cost); then only the candidate words are tested."""
    if not text or not terms:
        return ""
    folded = fold_in_place(text)
    places = (
        [m.span() for m in TOKEN.finditer(folded)] if found is None else found.spans(folded)
    )
    # CJK words are never matched as words (their pairs are: `_cjk_spans`), and
    # without a CJK term (`found.cjk`) no pair can match: the whole text is searched
    # for CJK characters only when one may (a tenth of a snippet's cost).
    spans = [
        (start, end)
        for start, end in places
        if ((word := folded[start:end]).isascii() or not has_cjk(word))
        and analyze_word(word) in terms
    ]
    if (found is None or found.cjk) and has_cjk(folded):
        spans = sorted(spans + _cjk_spans(folded, terms))
    if not spans:
        return ""
    best, best_n, j = 0, 0, 0
    for i, (start, _end) in enumerate(spans):
        j = max(j, i)
        while j < len(spans) and spans[j][1] - start <= max_chars - LEAD:
            j += 1
        if j - i > best_n:
            best, best_n = i, j - i
    first = spans[best][0]
    lo = 0 if first <= LEAD else _word_start(text, first - LEAD)
    hi = min(len(text), lo + max_chars)
    if hi < len(text):
        hi = _word_end(text, hi)
    out, pos = [], lo
    for start, end in spans[best:]:
        if end > hi:
            break
        out.append(text[pos:start])
        out.append(f"<mark>{text[start:end]}</mark>")
        pos = end
    out.append(text[pos:hi])
    body = " ".join("".join(out).split())
    return ("… " if lo > 0 else "") + body + (" …" if hi < len(text) else "")


def _cjk_spans(text: str, terms: Collection[str]) -> list[tuple[int, int]]:
    """Spans of CJK characters covered by a pair (or a lone character) in `terms`."""
    out: list[tuple[int, int]] = []
    for m in CJK_RUN.finditer(text):
        run, base = m.group(), m.start()
        if len(run) == 1:
            if run in terms:
                out.append((base, base + 1))
            continue
        marked = [False] * len(run)
        for i in range(len(run) - 1):
            if run[i : i + 2] in terms:
                marked[i] = marked[i + 1] = True
        i = 0
        while i < len(run):
            if marked[i]:
                j = i
                while j < len(run) and marked[j]:
                    j += 1
                out.append((base + i, base + j))
                i = j
            else:
                i += 1
    return out


def _word_start(text: str, i: int) -> int:
    space = text.find(" ", i)
    return i if space < 0 else space + 1


def _word_end(text: str, i: int) -> int:
    space = text.rfind(" ", 0, i)
    return i if space <= 0 else space
