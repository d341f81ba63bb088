"""What a word is, in one place: the pattern the index tokenises with (snippets mark
with the same one), the surface words typo tolerance corrects to, and stop words."""

from __future__ import annotations

import re
from collections.abc import Iterable

from clipsearch.folding import fold_words, has_cjk, normalise, plain_punctuation

#: Lucene's English stop words (what Anserini's CACM reference uses); unlike
#: Whoosh's own list it keeps "us", "may" and "can", which matter in news.
STOP_WORDS = frozenset(
    (
        "a an and are as at be but by for if in into is it no not of on or such that the "
        "their then there these they this to was will with"
    ).split()
)
#: A token of indexed text: letters and digits, with inner dots ("U.S.", "3.5").
TOKEN_PATTERN = r"\w+(\.?\w+)*"
TOKEN = re.compile(r"\w+(?:\.?\w+)*")
#: A surface word typos may be corrected to: three or more letters, no digits.
SURFACE_WORD = re.compile(r"[^\W\d_]{3,}")


def surface_words(texts: Iterable[str]) -> set[str]:
    """The distinct surface words of some texts, folded (lowercase, no accents: an
    accent is no typo); Chinese, Japanese and Korean runs are not words to correct."""
    text = "\n".join(texts)
    if not text.isascii():
        text = plain_punctuation(text)  # the same words, and mostly an ASCII text
    if text.isascii():
        return set(SURFACE_WORD.findall(text.lower()))
    text = normalise(text)
    words = fold_words(set(SURFACE_WORD.findall(text)))
    if not has_cjk(text):  # NFKC's (of "㊀", say), folding makes none
        return set(words)
    return {w for w in words if w.isascii() or not has_cjk(w)}  # ASCII holds no CJK
