"""The form text is matched in, in every language: Unicode NFKC, case folding and
diacritic folding, so `zurich`, `Zürich`, `ZÜRICH` and a decomposed (NFD) "Zürich"
are one word; and the runs of Chinese, Japanese and Korean characters, which are
matched as overlapping character pairs (search/highlight.py marks them, the index's
analysis makes its terms of them).

Folding removes the accents of Latin and Greek letters (é -> e, ø -> o, ß -> ss,
æ -> ae), Arabic short-vowel marks and tatweel, and turns the Cyrillic ё into е.
Other letters are kept: й is a letter of its own in Russian, not an accented и, and
the vowel signs of Indic scripts are part of their words.  Stored text, snippets and
facet values keep the original characters; only matching sees folded ones."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: Marks that would cut a word in two for the tokenizer (`\\w` does not match them):
#: combining diacritics left uncomposed, Arabic harakat and the tatweel.
_LOOSE_MARKS = re.compile("[\u0300-\u036f\u0640\u064b-\u065f\u0670]+")
#: A run of Han, kana or Hangul characters (with the iteration mark and long-vowel sign).
CJK_RUN = re.compile(
    "[\u1100-\u11ff\u3005\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff]+"
)
#: Runs of non-ASCII characters (captured: splitting keeps them at odd positions).
_NON_ASCII_RUNS = re.compile("([^\x00-\x7f]+)")
#: Letters that NFKC does not decompose but folding should (ICU's folding does too).
_SPECIAL = {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}


#: Punctuation of news text outside ASCII (curly quotes, dashes, the ellipsis) and
#: the ASCII read instead when tokenising: either way no part of a word and never
#: the dot inside one ("U.S."), the ellipsis's being its NFKC form.  69% of the
#: characters of news clips are in texts with one of them and nothing else non-ASCII.
_PUNCTUATION = (
    ("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'),
    ("\u2013", "-"), ("\u2014", "-"), ("\u2026", "..."),
)  # fmt: skip


def plain_punctuation(text: str) -> str:
    """`text` with those curly quotes, dashes and ellipses in ASCII, for finding its
    words: what the words of a text are does not change, and a text with nothing
    else outside ASCII can then take the ASCII ways of tokenising and folding."""
    for fancy, plain in _PUNCTUATION:
        text = text.replace(fancy, plain)
    return text


def normalise(text: str) -> str:
    """Text as it is tokenised: NFKC, without the marks that would split its words.
    ASCII text is returned as it is."""
    if text.isascii():
        return text
    return _LOOSE_MARKS.sub("", unicodedata.normalize("NFKC", text))


def fold(word: str) -> str:
    """A word's matching form: case-folded, accents off ("Zürich" -> "zurich")."""
    if word.isascii():
        return word.lower()
    return word.casefold().translate(_FOLD)


def fold_words(words: Iterable[str]) -> list[str]:
    """`fold` of each word, the ASCII ones (most words of news text, even of a text
    with a curly quote or an accent) lowercased without a call per word."""
    return [w.lower() if w.isascii() else fold(w) for w in words]


def fold_in_place(text: str) -> str:
    """`text` folded character by character into a string of the same length (a
    character whose folded form is not one character stays as it is): for finding
    words in stored text without losing their positions."""
    if text.isascii() or plain_punctuation(text).isascii():
        # Curly quotes, dashes and the ellipsis (most news text's only characters
        # outside ASCII) fold and lowercase to themselves: the text lowercased whole.
        return text.lower()
    # Character by character, so its ASCII runs may be lowercased in C: translating
    # them through the table costs a dictionary look-up per character (snippets fold
    # every hit's stored text, mostly ASCII with a few curly quotes or accents).
    parts = _NON_ASCII_RUNS.split(text)
    parts[0::2] = [p.lower() for p in parts[0::2]]
    parts[1::2] = [p.translate(_FOLD_IN_PLACE) for p in parts[1::2]]
    return "".join(parts)


def script(word: str) -> str:
    """The script of a word's letters ("LATIN", "CYRILLIC", "ARABIC", "CJK", ...),
    or "" when they mix scripts or it has none."""
    if word.isascii():
        return "LATIN" if any(c.isalpha() for c in word) else ""
    found = ""
    for ch in word:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "").split(" ", 1)[0]
        if found and name != found:
            return ""
        found = name
    return found


def has_cjk(text: str) -> bool:
    return not text.isascii() and CJK_RUN.search(text) is not None


def cjk_pieces(word: str) -> list[tuple[str, int]]:
    """A word cut into what is matched, with each piece's offset: its CJK runs as
    overlapping pairs of characters (a run of one as itself), the rest whole
    ("iphone発売日" -> "iphone", "発売", "売日")."""
    out: list[tuple[str, int]] = []
    pos = 0
    for m in CJK_RUN.finditer(word):
        if m.start() > pos:
            out.append((word[pos : m.start()], pos))
        run, start = m.group(), m.start()
        if len(run) == 1:
            out.append((run, start))
        else:
            out.extend((run[i : i + 2], start + i) for i in range(len(run) - 1))
        pos = m.end()
    if pos < len(word):
        out.append((word[pos:], pos))
    return out


def _folded_char(ch: str) -> str:
    special = _SPECIAL.get(ch)
    if special is not None:
        return special
    if ch == "ё":
        return "е"
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0]
    if (
        len(decomposed) > 1
        and all(unicodedata.combining(c) for c in decomposed[1:])
        and unicodedata.name(base, "").startswith(("LATIN", "GREEK"))
    ):
        return base
    if unicodedata.combining(ch) and "\u0300" <= ch <= "\u036f":
        return ""
    return ch


class _FoldTable(dict):
    """str.translate table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        folded = _folded_char(chr(code))
        self[code] = folded
        return folded


class _FoldInPlaceTable(dict):
    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = fold(ch)
        if len(folded) != 1:
            lower = ch.lower()
            folded = lower if len(lower) == 1 else ch
        self[code] = folded
        return folded


_FOLD = _FoldTable()
_FOLD_IN_PLACE = _FoldInPlaceTable()
