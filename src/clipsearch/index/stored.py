"""The stored fields of a commit's documents, read with positioned reads.

Whoosh maps each compound segment file whole and reads a document's stored fields
through that mapping.  A search reads a few scattered documents (its hits), and on
every page fault the kernel maps the cached pages around it as well (64 KB), so a
long-lived search process that has shown a few thousand hits holds most of the
stored-fields column resident: 113 MB of its 383 MB at 155k clips.  Here each
document's bytes are read with `os.pread`, through the page cache but not into the
process's mappings, so what stays resident is what the query keeps.

The column is Whoosh's own (its reader of the W3 codec's `_stored` column over a
file object whose reads are preads): the format is read by Whoosh's code.  The files
are opened with the commit, so a commit a newer one replaced reads its own documents
as the mapping did."""

from __future__ import annotations

import io
import os
import struct
import sys
from array import array
from typing import Any

from whoosh.codec.whoosh3 import STORED_COLUMN, W3Codec
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.structfile import StructFile

#: The W3 codec's column of pickled, compressed stored fields.
COLUMN = "_stored"


class PreadFile:
    """What Whoosh's column readers read through (`get`, `get_byte`, `get_array` of
    its StructFile), as positioned reads of the open file `fh` from `base`.  Reads of
    a closed one raise ValueError (as Python's files do)."""

    def __init__(self, fh: io.FileIO, base: int, length: int) -> None:
        self.fh, self.base, self.length = fh, base, length

    def get(self, position: int, length: int) -> bytes:
        if position < 0 or position + length > self.length:
            raise EOFError(f"read of {length} bytes at {position} past the column's end")
        data = os.pread(self.fh.fileno(), length, self.base + position)
        if len(data) != length:
            raise EOFError(f"the file ends before the column does (at {position + len(data)})")
        return data

    def get_byte(self, position: int) -> int:
        return self.get(position, 1)[0]

    def get_array(self, position: int, typecode: str, length: int) -> array:
        out = array(typecode)
        out.frombytes(self.get(position, length * struct.calcsize(typecode)))
        if sys.byteorder == "little":  # Whoosh writes arrays big-endian
            out.byteswap()
        return out


class SegmentStored:
    """One segment's stored-fields column, by the segment's document number.  The
    column's lengths and offsets are read at its first document."""

    def __init__(self, fh: io.FileIO, base: int, length: int, doc_count: int) -> None:
        self._file = PreadFile(fh, base, length)
        self._doc_count = doc_count
        self._column: Any = None

    @property
    def closed(self) -> bool:
        return self._file.fh.closed

    def fields(self, docnum: int) -> dict[str, Any]:
        """The stored fields of document `docnum` of the segment (as Whoosh's
        `stored_fields`: every field, the schema's or not)."""
        column = self._column
        if column is None:
            column = STORED_COLUMN.reader(self._file, 0, self._file.length, self._doc_count)
            self._column = column
        if not 0 <= docnum < self._doc_count:
            raise IndexError(f"document {docnum} of a segment of {self._doc_count}")
        return column[docnum] or {}

    def close(self) -> None:
        self._file.fh.close()


def open_segment(folder: str, segment: Any) -> SegmentStored | None:
    """The stored-fields column of `segment` (a Whoosh segment of the index in
    `folder`), its file opened now; None when the segment has no such column."""
    name = W3Codec.column_filename(segment, COLUMN)
    if segment.is_compound():
        fh = io.FileIO(os.path.join(folder, segment.make_filename(segment.COMPOUND_EXT)))
        try:
            # Whoosh's own reading of the compound file's directory, without mapping it.
            dup = os.fdopen(os.dup(fh.fileno()), "rb")
            directory = CompoundStorage(StructFile(dup), use_mmap=False)
            try:
                found = directory.file_exists(name)
                base, length = directory.range(name) if found else (0, 0)
            finally:
                directory.close()
        except BaseException:
            fh.close()
            raise
        if not found:
            fh.close()
            return None
    else:
        try:
            fh = io.FileIO(os.path.join(folder, name))
        except FileNotFoundError:
            return None
        base, length = 0, os.fstat(fh.fileno()).st_size
    return SegmentStored(fh, base, length, segment.doc_count_all())


def open_commit(folder: str, segments: list[Any]) -> dict[Any, SegmentStored]:
    """Per segment id, the stored-fields column of each of `segments` that has one."""
    opened: dict[Any, SegmentStored] = {}
    try:
        for segment in segments:
            column = open_segment(folder, segment)
            if column is not None:
                opened[segment.segment_id()] = column
    except BaseException:
        close_all(opened)
        raise
    return opened


def close_all(columns: dict[Any, SegmentStored]) -> None:
    for column in columns.values():
        column.close()
