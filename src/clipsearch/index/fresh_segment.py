"""A bulk worker's new segment, written by Whoosh's own per-document writer but
with its postings kept in flat arrays per field and written to the Whoosh 3 codec
term by term, instead of a tuple per posting through Whoosh's sorting pool (sorted,
spilled to disk and merged back beyond `limitmb`) and a method call per posting into
its postings writer: 35% of a worker's time went there, and the spills made a large
build's cost grow faster than its clips.

The files are Whoosh's: the same bytes its SegmentWriter writes for the same
documents (tests compare them), so stock Whoosh reads, merges and deletes in the
segment as in any other.  Only a writer that adds documents to a segment of its own
uses this (a bulk build's worker): merging other segments in still needs Whoosh's
pool.  It holds every posting of its segment in memory (about 24 bytes a posting
beside the encoded positions, which the documents' analysis made anyway)."""

from __future__ import annotations

import datetime
import struct
from array import array
from hashlib import md5
from itertools import chain
from pickle import dumps
from typing import Any

import numpy as np
from whoosh import fields, formats, writing
from whoosh.analysis import IDTokenizer
from whoosh.codec import whoosh3
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util import numeric

from clipsearch.index import segment_postings
from clipsearch.index.analysis import ClipAnalyzer, index_columns
from clipsearch.index.whoosh_fixes import BLOCK_PROTOCOL, stored_block

#: A W3 term info without inlined postings (Whoosh's W3TermInfo._struct).
_TERM_INFO = struct.Struct("!BfIBBfII")
#: A row's key and value lengths in a Whoosh hash table (filetables._lengths).
_ROW_LENGTHS = struct.Struct("!ii")
#: Postings `_PostingsOut._terms` writes at a time.
_TERMS_RUN = 1 << 18
#: Facet values whose postings a writer keeps.
_MADE_LIMIT = 10_000
#: Postings written to the postings file at a time (bytes kept before a write).
_WRITE_CHUNK = 1 << 22


def supported(schema: Any, codec: Any = None) -> bool:
    """Whether this writer writes what Whoosh's would for `schema` with `codec`
    (None: Whoosh's default): the W3 codec without inlined postings (broken in
    Whoosh 2.7) and no field that adds spelling words to the postings."""
    if codec is None:
        from whoosh.codec import default_codec

        codec = default_codec()
    return (
        type(codec) is whoosh3.W3Codec
        and codec._inlinelimit <= 1
        and not any(field.separate_spelling() for _name, field in schema.items())
    )


def _kind(field: Any) -> str:
    """How a field's postings are made: "text" (a ClipAnalyzer field with
    positions: `analysis.index_columns`, the postings of its patched `index`),
    "id" (a plain ID field: its one term is its value), "numeric" (NUMERIC or
    DATETIME: `_numeric_columns`), "kept" (a KEYWORD or other ID field analysed by
    Whoosh's own analyzers: `field.index`, its result kept per value) or "whoosh"
    (`field.index`)."""
    if type(field.format) is formats.Positions and isinstance(field.analyzer, ClipAnalyzer):
        return "text"
    if (
        type(field) is fields.ID
        and type(field.format) is formats.Existence
        and type(field.analyzer) is IDTokenizer
    ):
        return "id"
    if type(field) in _NUMBERS and type(field.format) is formats.Existence:
        return "numeric"
    if (
        isinstance(field, fields.KEYWORD | fields.ID)
        and type(field).index is fields.FieldType.index
        and all(_whooshs(part) for part in getattr(field.analyzer, "items", [field.analyzer]))
    ):
        return "kept"
    return "whoosh"


def _whooshs(part: Any) -> bool:
    """Whether an analyzer's part is one of Whoosh's own (same text, same tokens)."""
    return type(part).__module__.startswith("whoosh.analysis.")


#: The value types `_numeric_columns` takes, by field type.
_NUMBERS = {fields.NUMERIC: (int, float), fields.DATETIME: (datetime.datetime,)}


def _numeric_columns(field: Any, value: Any) -> tuple:
    """NUMERIC.index of one number or datetime as four columns, the number
    converted once instead of once per tier (as `to_bytes` does)."""
    x = field.prepare_datetime(value) if type(field) is fields.DATETIME else value
    x = numeric.to_sortable(field.numtype, field.bits, field.signed, field.prepare_number(x))
    step = field.shift_step
    shifts = range(0, field.bits, step) if step else (0,)
    texts = [field.sortable_to_bytes(x, shift) for shift in shifts]
    n = len(texts)
    return texts, [1] * n, [1.0] * n, [b""] * n


class _TermIds(dict):
    """A field's terms (bytes; a text field's as text), numbered in order of first
    occurrence."""

    def __missing__(self, key: bytes | str) -> int:
        n = self[key] = len(self)
        return n


class _FieldPostings:
    """One field's postings in order of addition (so by document, then by term)."""

    __slots__ = ("ids", "terms", "docs", "weights", "values")

    def __init__(self) -> None:
        self.ids = _TermIds()
        self.terms = array("i")
        self.docs = array("i")
        self.weights = array("d")
        self.values: list[bytes | None] = []


class FreshSegmentWriter(writing.SegmentWriter):
    """Whoosh's SegmentWriter for a segment that only gets new documents
    (`add_document`); its postings go to `_FieldPostings`, not the pool."""

    def __init__(self, ix: Any, **kwargs: Any):
        super().__init__(ix, **kwargs)
        self.postings: dict[str, _FieldPostings] = {}
        self._kinds: dict[str, str] = {}
        #: The postings of a "kept" field's value (a facet's values repeat).
        self._made: dict[tuple[str, str], tuple] = {}

    def postings_held(self) -> int:
        """Postings added and not yet written: what this writer holds in memory."""
        return sum(len(got.docs) for got in self.postings.values())

    def add_reader(self, reader: Any) -> None:
        raise NotImplementedError("a fresh segment writer only adds documents")

    def add_document(self, **fields: Any) -> None:
        """Whoosh's add_document (2.7), the postings of a field added together."""
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)

        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    kind = self._kinds.get(fieldname)
                    if kind is None:
                        kind = self._kinds[fieldname] = _kind(field)
                    if kind == "text" and isinstance(value, str):
                        columns = index_columns(value, field.format.field_boost)
                    elif kind == "id" and isinstance(value, str):
                        columns = ([value.encode("utf-8")], [1], [field.format.field_boost], [b""])
                    elif kind == "numeric" and type(value) in _NUMBERS[type(field)]:
                        columns = _numeric_columns(field, value)
                    else:
                        key = (fieldname, value) if kind == "kept" and type(value) is str else None
                        columns = self._made.get(key) if key else None
                        if columns is None:
                            items = list(field.index(value))
                            columns = tuple(zip(*items, strict=True)) if items else ((),)
                            if kind == "text" and items:  # a text field's terms are text
                                columns = ([t.decode("utf-8") for t in columns[0]], *columns[1:])
                            if key and len(self._made) < _MADE_LIMIT:
                                self._made[key] = columns
                    if columns[0]:
                        length = self._add_postings(fieldname, docnum, columns, fieldboost)
                        if not field.scorable:
                            length = 0
                vformat = field.vector
                if vformat:
                    vitems = vformat.word_values(value, field.analyzer, mode="index")
                    vitems = sorted((text, weight, vb) for text, _, weight, vb in vitems)
                    perdocwriter.add_vector_items(fieldname, field, vitems)
                customval = fields.get(f"_stored_{fieldname}", value)
                stored = customval if field.stored else None
                perdocwriter.add_field(fieldname, field, stored, length)
                column = field.column_type
                if column and customval is not None:
                    column_value = field.to_column_value(customval)
                    perdocwriter.add_column_value(fieldname, column, column_value)
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_postings(self, fieldname: str, docnum: int, columns: tuple, fieldboost: float) -> int:
        """Add one document's postings of a field (term bytes, frequencies, weights,
        encoded values); its length (the frequencies' sum)."""
        got = self.postings.get(fieldname)
        if got is None:
            got = self.postings[fieldname] = _FieldPostings()
        texts, freqs, weights, values = columns
        # An array extends itself from an array in one copy, from anything else
        # item by item through the generic sequence protocol (twice the time).
        got.terms.extend(array("i", map(got.ids.__getitem__, texts)))
        got.docs.extend(array("i", (docnum,)) * len(texts))
        # x * 1.0 is x (an int becomes the float the array stores anyway)
        got.weights.extend(
            array("d", weights if fieldboost == 1.0 else [w * fieldboost for w in weights])
        )
        got.values.extend(values)
        return sum(freqs)

    def _flush_segment(self) -> None:
        from clipsearch.index.schema import TEXT_FIELDS

        self.perdocwriter.close()
        pdr = self.per_document_reader()
        hand = None
        if getattr(self.storage, "folder", None):
            hand = segment_postings.InHand(TEXT_FIELDS)
        write_postings(self.fieldwriter, self.schema, pdr, self.postings, hand)
        self.postings = {}
        self.fieldwriter.close()
        if hand is not None:
            hand.read_lengths(pdr)
            self.postings_in_hand = hand  # written once the segment is assembled
        pdr.close()


def write_postings(
    fieldwriter: Any,
    schema: Any,
    perdoc: Any,
    postings: dict[str, _FieldPostings],
    hand: segment_postings.InHand | None = None,
) -> None:
    """Write every field's postings through a W3FieldWriter's files, as its
    `add_postings` would from the sorted pool; the derived postings of the text
    fields go to `hand` on the way."""
    out = _PostingsOut(fieldwriter)
    for fieldname in sorted(postings):
        got = postings[fieldname]
        if not len(got.docs):
            continue
        lengths = segment_postings.perdoc_lengths(perdoc, fieldname)
        out.field(fieldname, schema[fieldname].format, got, lengths, hand)
    out.flush()


class _PostingsOut:
    """Writes terms to a W3FieldWriter's postings file and terms table."""

    def __init__(self, fieldwriter: Any):
        codec = fieldwriter._codec
        self._blocklimit, self._compression = codec._blocklimit, codec._compression
        self._postfile = fieldwriter._postfile
        self._tindex = fieldwriter._tindex
        self._fieldmap = fieldwriter._fieldmap
        self._pos = self._postfile.tell()
        self._parts: list[bytes] = []
        self._pending = 0
        # The terms table's rows, as OrderedHashWriter.add writes them.
        self._tfile = self._tindex.dbfile
        self._tpos = self._tfile.tell()
        self._rows: list[bytes] = []
        self._tails: dict[bytes, bytes] = {}  # one_posting_tail of each value
        # The terms table's 256 hash tables, written at its close a table at a time.
        tindex = self._tindex
        tindex._write_hashes = lambda: write_hash_tables(tindex)

    def flush(self) -> None:
        if self._parts:
            self._postfile.write(b"".join(self._parts))
            self._parts.clear()  # in place: `_terms` holds it
            self._pending = 0
        if self._rows:
            self._tfile.write(b"".join(self._rows))
            self._rows.clear()
            self._tindex.lastkey = self._lastkey

    def _add_rows(self, keys: list[bytes], values: list[bytes]) -> None:
        """OrderedHashWriter.add of each key and value (keys in order), the rows
        kept for one write and the hashes taken as its md5_hash does."""
        tindex = self._tindex
        if tindex.hashtype != 0 or (keys and keys[0] <= tindex.lastkey):
            for key, value in zip(keys, values, strict=True):
                self.flush()
                tindex.add(key, value)
            return
        if not keys:
            return
        key_lens, value_lens = list(map(len, keys)), list(map(len, values))
        lengths = map(_ROW_LENGTHS.pack, key_lens, value_lens)
        self._rows += chain.from_iterable(zip(lengths, keys, values, strict=True))
        ends = np.cumsum(np.add(key_lens, value_lens, dtype=np.int64) + 8) + self._tpos
        starts = np.empty_like(ends)
        starts[0], starts[1:] = self._tpos, ends[:-1]
        positions = starts.tolist()
        index = tindex.index
        try:  # one array of the index's type, unless a position needs a larger one
            index.array.extend(array(index.array.typecode, positions))
        except (AttributeError, OverflowError):  # GrowableArray retypes it
            for pos in positions:
                index.append(pos)
        # md5_hash: the digest's last 4 bytes; each bucket gets its keys in order.
        digests = b"".join([md5(key, usedforsecurity=False).digest() for key in keys])
        hashes = np.frombuffer(digests, dtype=">u4")[3::4].astype(np.int64)
        by_bucket = np.argsort(hashes & 255, kind="stable")
        cuts = np.searchsorted((hashes & 255)[by_bucket], np.arange(257)).tolist()
        hash_list, pos_list = hashes[by_bucket].tolist(), starts[by_bucket].tolist()
        buckets = tindex.buckets
        for b in np.flatnonzero(np.diff(cuts)).tolist():
            a, z = cuts[b], cuts[b + 1]
            buckets[b] += zip(hash_list[a:z], pos_list[a:z], strict=True)
        self._tpos = int(ends[-1])
        self._lastkey = keys[-1]

    def field(
        self,
        fieldname: str,
        fmt: Any,
        got: _FieldPostings,
        lengths: np.ndarray,
        hand: segment_postings.InHand | None,
    ) -> None:
        fieldid = self._fieldmap[fieldname] = len(self._fieldmap)
        prefix = pack_ushort(fieldid)
        texts = list(got.ids)
        if texts and type(texts[0]) is str:  # a text field's (index_columns)
            texts = [t.encode("utf-8") for t in texts]
        n_terms = len(texts)
        by_text = sorted(range(n_terms), key=texts.__getitem__)
        rank = np.empty(n_terms, dtype=np.int64)
        rank[by_text] = np.arange(n_terms)
        term_of = np.frombuffer(got.terms, dtype=np.int32)
        # Stable: each term's postings stay in document order.
        order = np.argsort(rank[term_of], kind="stable")
        docs = np.frombuffer(got.docs, dtype=np.int32)[order]
        w64 = np.frombuffer(got.weights, dtype=np.float64)[order]
        w32 = w64.astype(np.float32)
        counts = np.bincount(term_of, minlength=n_terms)[by_text]
        values = got.values
        got.__init__()  # what was sorted is not needed twice
        sorted_texts = [texts[t] for t in by_text]
        if hand is not None:
            hand.extend(fieldname, sorted_texts, counts, docs, w32)
        lens = lengths[docs]
        # A run of terms at a time: the per-posting lists `_terms` makes (Python
        # ints and floats) would otherwise cost ~100 bytes a posting of the field.
        ends = np.cumsum(counts)
        t0 = 0
        while t0 < n_terms:
            p0 = int(ends[t0 - 1]) if t0 else 0
            t1 = max(t0 + 1, int(np.searchsorted(ends, p0 + _TERMS_RUN, side="right")))
            p1 = int(ends[t1 - 1])
            run_values = [values[i] for i in order[p0:p1].tolist()]
            self._terms(
                prefix,
                fmt,
                sorted_texts[t0:t1],
                docs[p0:p1],
                w64[p0:p1],
                w32[p0:p1],
                run_values,
                counts[t0:t1],
                lens[p0:p1],
            )
            t0 = t1

    def _terms(
        self,
        prefix: bytes,
        fmt: Any,
        texts: list[bytes],
        docs: np.ndarray,
        w64: np.ndarray,
        w32: np.ndarray,
        values: list,
        counts: np.ndarray,
        lens: np.ndarray,
    ) -> None:
        limit, comp = self._blocklimit, self._compression
        term_starts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=term_starts[1:])
        term_ends = term_starts + counts
        n_blocks = (counts + limit - 1) // limit
        first_block = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(n_blocks[:-1], out=first_block[1:])
        within = np.arange(int(n_blocks.sum())) - np.repeat(first_block, n_blocks)
        starts = np.repeat(term_starts, n_blocks) + within * limit
        ends = np.minimum(starts + limit, np.repeat(term_ends, n_blocks))
        # Per block and per term, what Whoosh's postings writer tracks posting by
        # posting: the largest weight (as given, not rounded to float32: it is
        # pickled), the weights' kind, the shortest non-zero and longest length.
        maxw = np.maximum.reduceat(w64, starts).tolist()
        minw32 = np.minimum.reduceat(w32, starts)
        maxw32 = np.maximum.reduceat(w32, starts)
        same = (minw32 == maxw32).tolist()
        ones = ((minw32 == 1.0) & (maxw32 == 1.0)).tolist()
        lens = lens.astype(np.int64)
        big = np.iinfo(np.int64).max
        nonzero = np.where(lens > 0, lens, big)
        minlen = np.minimum.reduceat(nonzero, starts)
        minbyte = _length_bytes(np.where(minlen == big, 0, minlen)).tolist()
        maxbyte = _length_bytes(np.maximum.reduceat(lens, starts)).tolist()
        term_minlen = np.minimum.reduceat(nonzero, term_starts)
        term_minbyte = _length_bytes(np.where(term_minlen == big, 0, term_minlen)).tolist()
        term_maxbyte = _length_bytes(np.maximum.reduceat(lens, term_starts)).tolist()
        term_maxw = np.maximum(np.maximum.reduceat(w64, term_starts), 0.0).tolist()
        firsts, lasts = docs[term_starts].tolist(), docs[term_ends - 1].tolist()
        lastid = docs[ends - 1].tolist()
        deltas = np.diff(docs.astype(np.int64), prepend=0)
        deltas[starts] = docs[starts]
        delta_list, w32_list = deltas.tolist(), w32.tolist()
        fixed = fmt.fixed_value_size()
        keep_values = fixed is None or fixed < 0
        bounds = starts.tolist() + [len(docs)]

        parts = self._parts
        keys, infos = [prefix + text for text in texts], []
        magic = whoosh3.WHOOSH3_HEADER_MAGIC
        pack_info = _TERM_INFO.pack
        # A term with one posting (most of a segment's: ids, rare words) has its
        # block's pickles made from templates, not by `dumps` and slicing.
        one_ok = (fixed == 0 or keep_values) and 0 <= comp <= 255
        tails = self._tails
        first = 0
        for t, nb in enumerate(n_blocks.tolist()):
            start = self._pos
            a = bounds[first]
            if one_ok and bounds[first + 1] - a == 1:
                d = delta_list[a]
                if fixed == 0:
                    tail = NO_VALUES_TAIL
                else:
                    v = values[a]
                    tail = tails.get(v)
                    if tail is None:
                        tail = tails[v] = one_posting_tail(v)
                w = w32_list[a]
                data, c = stored_block(one_posting_data(d, None if ones[first] else w, tail), comp)
                info = one_posting_info(d, maxw[first], c, minbyte[first], maxbyte[first])
                size = len(info) + len(data)
                parts += (magic, pack_int(-size), info, data)
                written = 8 + size
                self._pos += written
                self._pending += written
                value = pack_info(0, 0 + w, 1, term_minbyte[t], term_maxbyte[t], term_maxw[t], d, d)
                infos.append(value + pack_long(start) + pack_int(written))
                first += 1
                if self._pending >= _WRITE_CHUNK:
                    self.flush()
                continue
            parts.append(magic)
            written = 4
            weight = 0
            last = first + nb - 1
            for block in range(first, first + nb):
                a, b = bounds[block], bounds[block + 1]
                bw = w32_list[a:b]
                if ones[block]:
                    mini_w: Any = None
                elif same[block]:
                    mini_w = bw[0]
                else:
                    mini_w = tuple(bw)
                if keep_values:
                    mini_v: Any = tuple(filter(None, values[a:b]))
                elif fixed == 0:
                    mini_v = None
                else:
                    mini_v = b"".join(filter(None, values[a:b]))
                data, c = stored_block(
                    dumps((tuple(delta_list[a:b]), mini_w, mini_v), BLOCK_PROTOCOL), comp
                )
                mw = maxw[block]
                mw = mw if mw > 0 else 0
                info = dumps((b - a, lastid[block], mw, c, minbyte[block], maxbyte[block]), 2)
                size = len(info) + len(data)
                parts += (pack_int(-size if block == last else size), info, data)
                written += 4 + size
                weight += sum(bw)
            first = last + 1
            self._pos += written
            self._pending += written
            value = pack_info(
                0,
                weight,
                int(counts[t]),
                term_minbyte[t],
                term_maxbyte[t],
                term_maxw[t],
                firsts[t],
                lasts[t],
            )
            infos.append(value + pack_long(start) + pack_int(written))
            if self._pending >= _WRITE_CHUNK:
                self.flush()
        self._add_rows(keys, infos)


#: A slot of a Whoosh hash table (filetables._pointer, "!Iq": hash, key position).
_SLOT = np.dtype([("hash", ">u4"), ("position", ">i8")])


def write_hash_tables(writer: Any) -> None:
    """HashWriter._write_hashes of a Whoosh hash file: each of its 256 buckets as a
    table of twice its entries' slots, an entry in the slot its hash picks or the next
    free one (positions are never 0: the header is there).  A table is written in one
    piece, not a struct packed and written per slot (two per term of a segment)."""
    dbfile = writer.dbfile
    for entries in writer.buckets:
        numslots = 2 * len(entries)
        writer.directory.append((dbfile.tell(), numslots))
        if not numslots:
            continue
        hashes, positions = [0] * numslots, [0] * numslots
        for hashval, position in entries:
            slot = (hashval >> 8) % numslots
            while positions[slot]:
                slot = (slot + 1) % numslots
            hashes[slot], positions[slot] = hashval, position
        table = np.empty(numslots, dtype=_SLOT)
        table["hash"], table["position"] = hashes, positions
        dbfile.write(table.tobytes())


def _pickled_int(n: int) -> bytes:
    """pickle's encoding of an int from 0 to 2**31 - 1 (protocols 2 and 3 alike)."""
    if n < 256:
        return _BININT1[n]
    if n < 65536:
        return b"M" + n.to_bytes(2, "little")
    return b"J" + n.to_bytes(4, "little")


_BININT1 = [b"K" + bytes((n,)) for n in range(256)]
#: The end of `dumps(((doc,), weight, None), BLOCK_PROTOCOL)` after the weight: a
#: block of a format without values.
NO_VALUES_TAIL = b"N\x87q\x01."


def one_posting_tail(value: bytes | None) -> bytes:
    """The end of `dumps(((doc,), weight, values), BLOCK_PROTOCOL)` after the weight,
    for the values of a posting alone in its block: `(value,)`, or `()` for an empty
    or no value (a block leaves those out).  Protocol 3 pickles bytes as they are."""
    if not value:
        return b")\x87q\x01."
    n = len(value)
    size = b"C" + bytes((n,)) if n < 256 else b"B" + n.to_bytes(4, "little")
    return size + value + b"q\x01\x85q\x02\x87q\x03."


def one_posting_data(doc: int, weight: float | None, tail: bytes) -> bytes:
    """`dumps(((doc,), weight, values), BLOCK_PROTOCOL)`, the block data of a posting
    alone in its block (`doc` from 0 to 2**31 - 1), `tail` the values' part
    (`one_posting_tail` or None's)."""
    w = b"N" if weight is None else b"G" + _DOUBLE(weight)
    return _BLOCK_HEADER + _pickled_int(doc) + b"\x85q\x00" + w + tail


_BLOCK_HEADER = b"\x80" + bytes((BLOCK_PROTOCOL,))


def one_posting_info(
    doc: int, maxweight: float, compression: int, minbyte: int, maxbyte: int
) -> bytes:
    """`dumps((1, doc, max(maxweight, 0), compression, minbyte, maxbyte), 2)` (an int
    0 for a weight not above 0), the block info of a posting alone in its block;
    `compression`, `minbyte` and `maxbyte` from 0 to 255."""
    w = b"G" + _DOUBLE(maxweight) if maxweight > 0 else b"K\x00"
    return (
        b"\x80\x02(K\x01"
        + _pickled_int(doc)
        + w
        + _BININT1[compression]
        + _BININT1[minbyte]
        + _BININT1[maxbyte]
        + b"tq\x00."
    )


_DOUBLE = struct.Struct(">d").pack


_BYTE_LENGTHS = np.array([numeric.byte_to_length(b) for b in range(256)], dtype=np.int64)


def _length_bytes(lengths: np.ndarray) -> np.ndarray:
    """Whoosh's length_to_byte of each length (0 for 0)."""
    return np.minimum(np.searchsorted(_BYTE_LENGTHS, lengths, side="left"), 255)
