"""A clip's language, as an ISO 639-1 code: declared in its frontmatter (`language` or
`lang`), else detected from its text, else `und` (undetermined).

Detection is py3langid (langid.py's naive Bayes model over byte n-grams, shipped
inside the package: nothing is downloaded), restricted to DETECTED, the languages
news clips are mostly written in, which makes it far more accurate on short text
than choosing among all 97 of its languages.  Two shortcuts decide without the model
(which takes about 1.5 s to load and a quarter of a millisecond per clip):

- text mostly in Hangul, kana or Han characters is Korean, Japanese (any kana) or
  Chinese: the scripts say it, with no model to load;
- Latin text with several English function words and none of another language's is
  English (most clips of an English corpus; measured on 20,000 of them, the model
  agreed with every one the shortcut took, see benchmarks/languages.py).

A detection below MIN_CONFIDENCE is `und`: such clips are analysed without
stemming or stop words rather than with a wrong language's."""

from __future__ import annotations

import functools
import re
import signal
import unicodedata
from typing import Any

#: The code of a clip whose language is unknown (BCP 47's "undetermined").
UNDETERMINED = "und"
#: The languages detection chooses among.
DETECTED = (
    "ar bg ca cs da de el en es et fa fi fr he hi hr hu id it ja ko lt lv nl no pl pt "
    "ro ru sk sl sv th tr uk vi zh"
).split()
#: Below this probability (normalised over DETECTED) a detection is `und`.
MIN_CONFIDENCE = 0.6
#: How much of a clip's text detection reads: its opening is enough, and the cost
#: grows with the length.
DETECT_CHARS = 600

_DECLARED = re.compile(r"([A-Za-z]{2})(?:[-_][A-Za-z0-9]{1,8})*")
_WORD = re.compile(r"[^\W\d_]+")
#: Frequent words of English that other languages written in Latin letters lack.
_ENGLISH = frozenset(
    "the of and to for with that from has have was were this will its are by after said "
    "which who their been says about than over into more".split()
)
#: Frequent words of other Latin-script languages that are no English words (a
#: name like "de Blasio" or "per cent" must not veto English).
_NOT_ENGLISH = frozenset(
    "der das und ist nicht mit den von zu des im für auf ein eine sich "
    "les des est du une dans pour sur pas avec que qui "
    "los las del por para con una "
    "il della di che è sono gli "
    "não uma das dos "
    "het een voor niet zijn".split()
)
#: Below this many English function words, or with fewer than this many per word of
#: another language, the model decides.
ENGLISH_WORDS, ENGLISH_MARGIN = 2, 4


def declared(value: Any) -> str | None:
    """The ISO 639-1 code of a frontmatter `language` value ("de", "pt-BR", "und"),
    or None when it is not one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.lower() == UNDETERMINED:
        return UNDETERMINED
    m = _DECLARED.fullmatch(text)
    return m.group(1).lower() if m else None


def detect(text: str) -> str:
    """The language of a clip's text (its title and excerpt first), or `und`."""
    text = text[:DETECT_CHARS]
    by_script = _by_script(text)
    if by_script is not None:
        return by_script
    words = _WORD.findall(text.lower())
    if not words:
        return UNDETERMINED
    english = sum(w in _ENGLISH for w in words)
    if english >= ENGLISH_WORDS and english >= ENGLISH_MARGIN * sum(
        w in _NOT_ENGLISH for w in words
    ):
        return "en"
    return _model_language(text)


def model_language(text: str) -> tuple[str, float]:
    """py3langid's language for `text` among DETECTED, and its probability (for the
    accuracy benchmark: no shortcut, no threshold)."""
    return _identifier().classify(text[:DETECT_CHARS])


def _model_language(text: str) -> str:
    language, probability = model_language(text)
    return language if probability >= MIN_CONFIDENCE else UNDETERMINED


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    """The model, loaded once per process on first use (a search never loads it).
    Ctrl-C waits until it is loaded: an interrupt inside numpy's import machinery
    prints a traceback Python cannot suppress."""
    blocked = hasattr(signal, "pthread_sigmask")
    if blocked:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        from py3langid import langid

        identifier = langid.LanguageIdentifier.from_model_file(
            langid.MODEL_FILE, norm_probs=True
        )
        identifier.set_languages(DETECTED)
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return identifier


@functools.lru_cache(maxsize=1)
def _cjk() -> re.Pattern[str]:
    """Hangul, kana and Han, compiled on first use: a class this wide takes a few ms
    to compile, a search imports this module and never detects a language."""
    return re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u9fff\uac00-\ud7af]")


def _by_script(text: str) -> str | None:
    """ko, ja or zh for text whose letters are mostly Hangul, kana or Han."""
    if not _cjk().search(text):
        return None
    hangul = kana = han = letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        if ch < "\u1100":
            continue
        name = unicodedata.name(ch, "")
        if name.startswith("HANGUL"):
            hangul += 1
        elif name.startswith(("HIRAGANA", "KATAKANA")):
            kana += 1
        elif name.startswith("CJK"):
            han += 1
    cjk = hangul + kana + han
    if not letters or cjk * 2 < letters:
        return None
    if hangul >= kana + han:
        return "ko"
    return "ja" if kana else "zh"  # Chinese is never written with kana
