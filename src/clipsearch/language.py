"""A clip's language, as an ISO 639-1 code: declared in its frontmatter (`language` or
`lang`), else detected from its text, else `und` (undetermined).

Detection is py3langid (langid.py's naive Bayes model over byte n-grams, shipped
inside the package: nothing is downloaded), restricted to DETECTED, the languages
news clips are mostly written in, which makes it far more accurate on short text
than choosing among all 97 of its languages.  Two shortcuts decide without the model
(a quarter of a millisecond per clip) and the model itself loads from a cache:

- text mostly in Hangul, kana or Han characters is Korean, Japanese (any kana) or
  Chinese: the scripts say it, with no model to load;
- Latin text with several English function words and none of another language's is
  English (most clips of an English corpus; measured on 20,000 of them, the model
  agreed with every one the shortcut took, see benchmarks/languages.py).

py3langid ships its model LZMA-compressed: decompressing it took about 0.9 s of every
index run that met one clip the shortcuts do not decide (an incremental run adding a
few hundred clips), more than the rest of such a run's reading.  The first load
writes the model's arrays, restricted to DETECTED, uncompressed (numpy's .npy format)
to the user's cache folder (`model_cache`); later loads map it, in about 0.01 s.  The cache
is named by py3langid's version, its model file's size and time and DETECTED, written
atomically and rebuilt when unreadable: the arrays and so every detection are the
same either way (tests compare them).

A detection below MIN_CONFIDENCE is `und`: such clips are analysed without
stemming or stop words rather than with a wrong language's."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import unicodedata
import zlib
from array import array
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
#: Overrides the cache folder of the language model (default: $XDG_CACHE_HOME/clipsearch,
#: else ~/.cache/clipsearch); empty: no cache.
CACHE_ENV = "CLIPSEARCH_CACHE"
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
    """The model, loaded once per process on first use (a search never loads it):
    from the cache when it holds it, else from py3langid's file (then cached).
    Ctrl-C waits until it is loaded: an interrupt inside numpy's import machinery
    prints a traceback Python cannot suppress."""
    blocked = hasattr(signal, "pthread_sigmask")
    if blocked:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        from py3langid import langid

        cache = model_cache()
        identifier = _from_cache(langid, cache) if cache else None
        if identifier is None:
            identifier = langid.LanguageIdentifier.from_model_file(
                langid.MODEL_FILE, norm_probs=True
            )
            identifier.set_languages(DETECTED)
            if cache:
                _save(identifier, cache)
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return identifier


def model_cache() -> str | None:
    """The cache file of the model for this py3langid and DETECTED (None: no cache
    folder, or no model file to name it by)."""
    folder = os.environ.get(CACHE_ENV)
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "clipsearch")
    if not folder:
        return None
    try:
        import py3langid
        from py3langid import langid

        st = os.stat(langid.MODEL_DIR / langid.MODEL_FILE)
        name = "-".join(
            (
                "py3langid",
                str(getattr(py3langid, "__version__", "")),
                str(st.st_size),
                str(st.st_mtime_ns),
                f"{zlib.crc32(' '.join(DETECTED).encode()):08x}",
            )
        )
    except Exception:  # noqa: BLE001 - another py3langid layout: load it uncached
        return None
    return os.path.join(folder, name + ".npy")


#: The identifier's array parts the cache keeps (py3langid's constructor arguments).
_PARTS = ("nb_ptc", "nb_pc", "tk_nextmove", "tk_output", "tk_row")
#: Of those, the tables the byte walk reads one value at a time.
_BYTE_TABLES = ("tk_nextmove", "tk_row")


def _save(identifier: Any, cache: str) -> None:
    """Write the (restricted) model's arrays to `cache`, one after the other in
    numpy's .npy format, through a temporary file renamed; best effort."""
    import tempfile  # not at the top: a search imports this module, never this

    import numpy as np

    try:
        arrays = []
        for part in _PARTS:
            value = getattr(identifier, part)
            arrays.append(
                np.frombuffer(value, dtype=value.typecode)
                if isinstance(value, array)
                else np.asarray(value)
            )
        arrays.append(np.asarray(list(identifier.nb_classes)))
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(cache), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                for arr in arrays:
                    np.lib.format.write_array(fh, np.ascontiguousarray(arr), allow_pickle=False)
            os.replace(tmp, cache)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        _remove_stale(cache)
    except Exception:  # noqa: BLE001 - a read-only or full disk: no cache, same model
        pass


def _remove_stale(cache: str) -> None:
    """Remove the caches of other py3langid versions or language lists beside
    `cache`: each is as large as the model, and nothing reads them again."""
    folder, name = os.path.split(cache)
    for entry in os.listdir(folder):
        if entry.startswith("py3langid-") and entry != name:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(folder, entry))


def _from_cache(langid: Any, cache: str) -> Any:
    """The identifier from the arrays in `cache`, or None when it is missing,
    truncated or otherwise unreadable.  The arrays are views of the file memory-mapped,
    not copies read: the byte-transition table is 39 MB of which a clip's text visits
    a few pages (reading and copying it took 65 of a load's 67 ms, paid by every index
    run that meets one clip the shortcuts leave to the model).  The cache is only ever
    replaced whole (`_save` renames a new file over it), so the mapped file never
    changes under a running process."""
    import mmap

    import numpy as np

    try:
        with open(cache, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            spans = []
            for _ in range(len(_PARTS) + 1):
                spans.append(_array_span(np, fh, size))
                fh.seek(spans[-1][3])
            if fh.tell() != size:
                return None
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        got = [
            np.frombuffer(
                mapped, dtype=dtype, count=(end - start) // dtype.itemsize, offset=start
            ).reshape(shape)
            for dtype, shape, start, end in spans
        ]
        parts = dict(zip(_PARTS, got, strict=False))
        classes = [str(c) for c in got[-1].tolist()]
        ptc, pc = parts["nb_ptc"], parts["nb_pc"]
        if ptc.ndim != 2 or ptc.shape[1] != len(classes) or len(pc) != len(classes):
            return None
        # The two tables py3langid indexes one value at a time, as memoryviews: their
        # items are Python ints, as in the `array`s py3langid's own loader makes.
        view = memoryview(mapped)
        nextmove, row = (
            view[start:end].cast(dtype.char)
            for dtype, _shape, start, end in (spans[_PARTS.index(p)] for p in _BYTE_TABLES)
        )
        identifier = langid.LanguageIdentifier(
            ptc,
            pc,
            classes,
            nextmove,
            parts["tk_output"].tolist(),
            norm_probs=True,
            tk_row=row,
        )  # already restricted to DETECTED: what set_languages would make of it
    except Exception:  # noqa: BLE001 - damaged, or of another py3langid's layout
        return None
    return identifier


def _array_span(np: Any, fh: Any, size: int) -> tuple[Any, tuple[int, ...], int, int]:
    """The dtype, shape and byte span of the .npy array whose header starts at `fh`'s
    position; ValueError when it is not a plain native-order C array within `size`."""
    version = np.lib.format.read_magic(fh)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran_order, dtype = read_header(fh)
    if fortran_order or dtype.hasobject or not dtype.isnative:
        raise ValueError("not a plain array")
    start = fh.tell()
    end = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if end > size:
        raise ValueError("truncated")
    return dtype, tuple(shape), start, end


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
