"""Fixes to Whoosh 2.7 behaviour that clipsearch depends on.  The reading fixes and
the storage folder's creation apply at import; the segment writer's and text
indexing's when a write starts (`patch_segment_flush`, `patch_text_indexing`).  The
multi-process writer's are in bulk.py, so a search never imports multiprocessing,
ctypes or asyncio."""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import struct
import zlib
from array import array
from typing import Any

from whoosh import columns
from whoosh.codec import whoosh3
from whoosh.filedb import filetables, structfile

from clipsearch.index.analysis import ClipAnalyzer, index_postings


class _ViewFile:
    """A read-only file over a memoryview, without copying it."""

    __slots__ = ("_buf", "_pos", "_len")

    def __init__(self, buf: memoryview):
        self._buf, self._pos, self._len = buf, 0, len(buf)

    def read(self, n: int | None = -1) -> bytes:
        pos = self._pos
        end = self._len if n is None or n < 0 else min(self._len, pos + n)
        self._pos = end
        return self._buf[pos:end].tobytes()

    def readline(self, size: int | None = -1) -> bytes:
        end = self._len if size is None or size < 0 else min(self._len, self._pos + size)
        chunk = self._buf[self._pos : end].tobytes()
        i = chunk.find(b"\n")
        line = chunk if i < 0 else chunk[: i + 1]
        self._pos += len(line)
        return line

    def seek(self, pos: int, whence: int = 0) -> int:
        base = (0, self._pos, self._len)[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._buf = memoryview(b"")


def _read_offsets_and_lengths(self: Any) -> None:
    """VarBytesColumn.Reader's start with the offsets summed by numpy, not in a Python
    loop over every document of the segment: opening the stored fields' column of
    each segment a hit is in cost ~25 ms of a search at 155k clips (6 segments).
    Otherwise Whoosh's own: the lengths (and offsets, if written) at the end."""
    dbfile, doccount = self._dbfile, self._doccount
    lastbyte = self._basepos + self._length - 1
    lens_code = chr(dbfile.get_byte(lastbyte))
    offsets = None
    if lens_code == "X":
        self.had_stored_offsets = True
        lens_code = chr(dbfile.get_byte(lastbyte - 2))
        offsets_code = chr(dbfile.get_byte(lastbyte - 1))
        offsetstart = (lastbyte - 2) - doccount * struct.calcsize(offsets_code)
        offsets = dbfile.get_array(offsetstart, offsets_code, doccount)
        lastbyte = offsetstart
    lenstart = lastbyte - struct.calcsize(lens_code) * doccount
    lengths = dbfile.get_array(lenstart, lens_code, doccount)
    if offsets is None:
        import numpy as np  # a search has it imported; the writer's merges too

        summed = np.zeros(doccount, dtype=f"=u{array('L').itemsize}")
        np.cumsum(np.frombuffer(lengths, dtype=lengths.typecode)[:-1], out=summed[1:])
        offsets = array("L")
        offsets.frombytes(summed.tobytes())
    self._offsets = offsets
    self._lengths = lengths


def _hash_reader_init(
    self: Any, dbfile: Any, length: int | None = None, magic: bytes = b"HSH3", startoffset: int = 0
) -> None:
    """HashReader's own start, with its directory of 256 hash tables read in one read
    instead of one read per table: opening a segment's term dictionary made 256
    positioned reads, 90% of the reads of opening an index (1,536 at 155k clips)."""
    self.dbfile = dbfile
    self.startoffset = startoffset
    self.is_closed = False
    if length is None:
        dbfile.seek(0, os.SEEK_END)
        length = dbfile.tell() - startoffset
    dbfile.seek(startoffset)
    filemagic = dbfile.read(4)
    if filemagic != magic:
        raise filetables.FileFormatError(f"Unknown file header {filemagic!r}")
    self.hashtype = dbfile.read_byte()
    self.hashfn = filetables._hash_functions[self.hashtype]
    dbfile.read_int()  # unused future expansion bits
    dbfile.read_int()
    self.startofdata = dbfile.tell()
    exptr = startoffset + length - filetables._INT_SIZE
    expos = exptr - dbfile.get_int(exptr)  # the extras end where their length starts
    dbfile.seek(expos)
    self._read_extras()
    dbfile.seek(expos - filetables._directory_size)
    entries = filetables._dir_entry.iter_unpack(dbfile.read(filetables._directory_size))
    self.tables = list(entries)  # (position, number of slots) of each hash table
    self.endofdata = self.tables[0][0]


def _patch_reading() -> None:
    """Four fixes to Whoosh 2.7's reading, applied once.

    A compound segment is memory-mapped, but Whoosh then copies each sub-file into a
    BytesIO: opening the 155k-clip index cost 935 MB.  Reading the map in place keeps
    it at tens of MB, and an open snapshot keeps reading its own commit after a
    later commit deletes the segment (the map outlives the file).

    While merging postings Whoosh re-checks the disk (a stat per posting) for the
    length column of every unscored field, because it does not cache a missing
    column; caching the answer cut commit time by a third.

    A stored-fields column's offsets are summed in C (`_read_offsets_and_lengths`),
    and a hash file's directory is read in one read (`_hash_reader_init`)."""
    if getattr(whoosh3.W3PerDocReader, "_clipsearch_patched", False):
        return

    def buffer_file_init(self: Any, buf: Any, name: str | None = None, onclose: Any = None):
        self._buf = buf
        self._name = name
        self.file = _ViewFile(memoryview(buf))
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    structfile.BufferFile.__init__ = buffer_file_init

    cls = whoosh3.W3PerDocReader
    original = cls._cached_reader

    def cached_reader(self: Any, fieldname: str, column: Any) -> Any:
        try:
            return self._readers[fieldname]
        except KeyError:
            reader = self._readers[fieldname] = original(self, fieldname, column)
            return reader

    cls._cached_reader = cached_reader
    columns.VarBytesColumn.Reader._read_offsets_and_lengths = _read_offsets_and_lengths
    filetables.HashReader.__init__ = _hash_reader_init
    cls._clipsearch_patched = True


_patch_reading()


class _SegmentLengths:
    """A new segment's field lengths as lists, for writing its postings: Whoosh
    asks the length of every posting's document through its column reader (a
    name built, a column looked up, a byte decoded per posting: 8% of a bulk
    worker's time on 20,000 clips); each document's length is decoded once here."""

    def __init__(self, reader: Any, doc_count: int):
        self._reader, self._count = reader, doc_count
        self._lists: dict[str, list[int]] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        try:
            return self._lists[fieldname][docnum]
        except KeyError:
            get = self._reader.doc_field_length
            self._lists[fieldname] = [get(d, fieldname, default) for d in range(self._count)]
            return self._lists[fieldname][docnum]


def patch_segment_flush() -> None:
    """Write a new segment's postings with its lengths decoded once per document
    (`_SegmentLengths`), and its derived postings file (segment_postings.InHand)
    from the postings on their way to the codec instead of reading the segment back
    after the commit, a small postings block stored uncompressed (`_write_block`),
    and larger ones and stored fields compressed by ISA-L (`_use_isal`), stored
    fields pickled at STORED_PROTOCOL (`_add_pickled`); applied once before the
    first write."""
    from whoosh import writing

    if getattr(writing.SegmentWriter, "_clipsearch_flush_patched", False):
        return
    _use_isal()

    def flush_segment(self: Any) -> None:
        from clipsearch.index import segment_postings
        from clipsearch.index.schema import TEXT_FIELDS

        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        lengths = _SegmentLengths(pdr, pdr.doc_count_all()) if pdr is not None else None
        hand = None
        if getattr(self.storage, "folder", None) and pdr is not None:
            hand = segment_postings.InHand(TEXT_FIELDS)
        items = self.pool.iter_postings()
        self.fieldwriter.add_postings(self.schema, lengths, hand.tee(items) if hand else items)
        self.fieldwriter.close()
        if hand is not None:
            hand.read_lengths(pdr)
            self.postings_in_hand = hand
        if pdr:
            pdr.close()

    assemble = writing.SegmentWriter._assemble_segment

    def assemble_segment(self: Any) -> None:
        assemble(self)
        # After assembling: that removes every loose file named after the segment.
        hand = getattr(self, "postings_in_hand", None)
        if hand is not None:
            self.postings_in_hand = None
            # Derived data: should this fail, the writer makes it after the commit.
            with contextlib.suppress(Exception):
                hand.write(self.storage.folder, self.newsegment.segment_id())

    writing.SegmentWriter._flush_segment = flush_segment
    writing.SegmentWriter._assemble_segment = assemble_segment
    writing.SegmentWriter._clipsearch_flush_patched = True
    whoosh3.W3PostingsWriter._write_block = _write_block
    columns.PickleColumn.Writer.add = _add_pickled


#: A postings block whose pickle is shorter is written uncompressed: zlib makes such
#: a pickle no smaller, or a few bytes smaller (news clips: 74 bytes -> 75, 85 -> 81,
#: 108 -> 92), and each `zlib.compress` call sets up a deflate state of some 260 KB
#: (30-60 us here): that was the largest single cost of writing a segment, which has
#: a block per term and most terms with one posting.  Readers take each block's
#: compression from its block info, so old and new blocks read alike.
UNCOMPRESSED_BELOW = 96

#: The pickle protocol of a postings block's data.  Whoosh writes protocol 2, which
#: pickles each bytes value (a posting's encoded positions) as a call of
#: `_codecs.encode` on its latin-1 text, stored UTF-8: 8x slower to write than
#: protocol 3's bytes as they are, and 40% larger.  Readers `pickle.loads` a block
#: whatever its protocol, so blocks of both protocols read alike in one index.
BLOCK_PROTOCOL = 3


#: What postings blocks are compressed with (`patch_segment_flush` sets ISA-L's): a
#: zlib stream, which every reader (zlib.decompress) reads whoever wrote it.
_deflate: Any = zlib.compress
#: isal_zlib.compress, imported with the first write (a search never compresses).
_isal_compress: Any = None


def _isal_deflate(data: bytes, _level: int = 3) -> bytes:
    """ISA-L's deflate at its level 1, whatever zlib level was asked for: 8 against
    zlib's 20 us a call on news clips' postings blocks and stored fields (7.7 calls a
    clip, some 5% of a build's CPU), 3% larger.  Whoosh's readers only look at
    whether a block is compressed, never at its level."""
    return _isal_compress(data, 1)


def stored_block(pickled: bytes, compression: int) -> tuple[bytes, int]:
    """A postings block's pickle as it is stored, and the compression its block info
    records: compressed at `compression` unless it is under `UNCOMPRESSED_BELOW`
    bytes (or `compression` is 0)."""
    if compression and len(pickled) >= UNCOMPRESSED_BELOW:
        return _deflate(pickled, compression), compression
    return pickled, 0


def _use_isal() -> None:
    """Compress postings blocks and stored fields with ISA-L (`_isal_deflate`)."""
    global _deflate, _isal_compress
    from isal import isal_zlib

    _isal_compress, _deflate = isal_zlib.compress, _isal_deflate
    make = columns.CompressedBytesColumn.Writer.__init__

    def stored_writer(self: Any, dbfile: Any, level: int, module: str) -> None:
        make(self, dbfile, level, module)
        if module == "zlib":
            self._compress = _isal_deflate

    columns.CompressedBytesColumn.Writer.__init__ = stored_writer


#: The pickle protocol of a document's stored fields (Whoosh's PickleColumn, which
#: only stored fields use).  Whoosh writes protocol 2: a clip's stat (bytes) and
#: publication time (a datetime, whose state is bytes) each became a `_codecs.encode`
#: call to pickle and to unpickle.  At protocol 4 a clip's stored fields pickle in 5.4
#: against 8.1 us, unpickle in 5.3 against 9.3 us (ten of them a search's page) and
#: compress 10% smaller; readers `pickle.loads` them whatever the protocol.
STORED_PROTOCOL = 4


def _add_pickled(self: Any, docnum: int, v: Any) -> None:
    """PickleColumn.Writer.add, pickling at STORED_PROTOCOL."""
    self._child.add(docnum, b"" if v is None else pickle.dumps(v, STORED_PROTOCOL))


def _write_block(self: Any, last: bool = False) -> None:
    """W3PostingsWriter._write_block doing what its comment says: a small pickle
    stays uncompressed, compression 0 in its block info (Whoosh 2.7 sets that and
    then overwrites it), below `UNCOMPRESSED_BELOW` bytes rather than its 20; the
    data pickled at `BLOCK_PROTOCOL`."""
    if not self._blockcount:
        self._postfile.write(whoosh3.WHOOSH3_HEADER_MAGIC)
    self._terminfo.add_block(self)
    data = (self._mini_ids(), self._mini_weights(), self._mini_values())
    databytes, comp = stored_block(whoosh3.dumps(data, BLOCK_PROTOCOL), self._compression)
    ids = self._ids
    infobytes = whoosh3.dumps(
        (
            len(ids),
            ids[-1],
            self._maxweight,
            comp,
            whoosh3.length_to_byte(self._minlength),
            whoosh3.length_to_byte(self._maxlength),
        ),
        2,
    )
    blocklength = len(infobytes) + len(databytes)
    self._postfile.write_int(-blocklength if last else blocklength)
    self._postfile.write(infobytes)
    self._postfile.write(databytes)
    self._blockcount += 1
    self._new_block()


def _patch_storage_create() -> None:
    """Create a storage folder that may exist without keeping the exception.

    Every Whoosh writer asks twice for its `<index>.tmp` folder (the segment writer,
    then the codec's per-document writer), and FileStorage.create keeps the second
    FileExistsError in a local (`e = sys.exc_info()[1]`): exception, traceback and
    frame then form a cycle that holds every caller's frame, so an index run's
    locals (at 155k clips, the 155k found files and the 153k indexed ones) stayed
    until a full garbage collection instead of going when the run returned."""
    from whoosh.filedb import filestore

    if getattr(filestore.FileStorage, "_clipsearch_create_patched", False):
        return

    def create(self: Any) -> Any:
        dirpath = os.path.abspath(self.folder)
        with contextlib.suppress(FileExistsError):  # as Whoosh: EEXIST is ignored
            os.makedirs(dirpath)
        if not os.path.isdir(dirpath):
            error = OSError(f"{dirpath!r} is not a directory")
            error.errno = errno.ENOTDIR
            raise error
        return self

    filestore.FileStorage.create = create
    filestore.FileStorage._clipsearch_create_patched = True


_patch_storage_create()


def patch_text_indexing() -> None:
    """Index the text fields with `analysis.index_postings` (the terms and positions
    of ClipAnalyzer's chain without a Token object per word: the analyzer chain
    was 28% of a bulk worker's time), applied once before the first write; any
    other field, analyzer or format keeps Whoosh's own `index`."""
    from whoosh import fields, formats

    if getattr(fields.TEXT, "_clipsearch_index_patched", False):
        return
    whoosh_index = fields.TEXT.index

    def index(self: Any, value: Any, **kwargs: Any) -> Any:
        if (
            type(self.format) is formats.Positions
            and isinstance(self.analyzer, ClipAnalyzer)
            and isinstance(value, str)
            and kwargs.get("mode", "index") == "index"
        ):
            return index_postings(value, self.format.field_boost)
        return whoosh_index(self, value, **kwargs)

    fields.TEXT.index = index
    fields.TEXT._clipsearch_index_patched = True
