"""Whoosh's index files read with positioned reads (`os.pread`), not memory-mapped:
the storage a commit opened for searching reads through.

Whoosh maps each compound segment file whole.  A search reads a few scattered
places of it (a hit's stored fields, a term's entry, a phrase's positions), and on
every page fault the kernel maps the cached pages around it as well (64 KB), so a
long-lived search process came to hold most of the parts it reads sparsely: 113 MB of
stored fields of its 383 MB at 155k clips, and the term dictionary and postings
growing with every new query.  Read with `os.pread`, the bytes come from the page
cache into the reader's own objects, and nothing of the file stays in the process.

`PreadFile` is Whoosh's StructFile over a region of one open file: the positioned
reads (`get`, `get_array` and what builds on them) are one `pread` each, with no
shared file position, and its sequential reads (`read`, `seek`) keep a position of
its own, as Whoosh's files over a mapping do.  The files stay open while the commit
is, so a commit a newer one replaced still reads its own files."""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
from array import array
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile


class _Region:
    """The raw file under a PreadFile: `length` bytes of `fh` from `base`, read from a
    position of its own."""

    def __init__(self, fh: io.FileIO, base: int, length: int) -> None:
        self.fh, self.base, self.length, self.pos = fh, base, length, 0

    def pread(self, position: int, size: int) -> bytes:
        """Up to `size` bytes at `position` (fewer at the region's end, as a slice);
        EOFError when the file ends before the region does (it was cut short)."""
        size = min(size, self.length - position)
        if size <= 0 or position < 0:
            return b""
        data = os.pread(self.fh.fileno(), size, self.base + position)
        if len(data) != size:
            raise EOFError(f"{self.fh.name}: the file ends at {self.base + position + len(data)}")
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.length - self.pos
        data = self.pread(self.pos, size)
        self.pos += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        start, line = self.pos, b""
        while not line.endswith(b"\n"):
            chunk = self.pread(self.pos, 4096)
            if not chunk:
                break
            cut = chunk.find(b"\n")
            line += chunk if cut < 0 else chunk[: cut + 1]
            self.pos = start + len(line)
        return line

    def seek(self, where: int, whence: int = 0) -> int:
        base = (0, self.pos, self.length)[whence]  # from the start, here, the end
        self.pos = base + where
        return self.pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        """A region does not close the file: its storage does (PreadFile.owner)."""


#: Bytes read at once for a pickle (a postings block's info is some 30).
_PICKLE_READ = 256


class PreadFile(StructFile):
    """Whoosh's StructFile over `length` bytes of the open file `fh` from `base`, read
    with `os.pread`.  The file that `owns` its descriptor closes it."""

    def __init__(
        self, fh: io.FileIO, base: int, length: int, name: str | None = None, owns: bool = False
    ) -> None:
        self._region = _Region(fh, base, length)
        super().__init__(self._region, name=name)
        self._owns = owns

    def get(self, position: int, length: int) -> bytes:
        return self._region.pread(position, length)

    def get_array(self, position: int, typecode: str, length: int) -> array:
        out = array(typecode)
        out.frombytes(self.get(position, length * struct.calcsize(typecode)))
        if sys.byteorder == "little":  # Whoosh writes arrays big-endian
            out.byteswap()
        return out

    def read_array(self, typecode: str, length: int) -> array:
        out = self.get_array(self._region.pos, typecode, length)
        self._region.pos += length * struct.calcsize(typecode)
        return out

    def read_pickle(self) -> Any:
        """The pickled object at the position, from one read of the bytes there: read
        from the file, the unpickler asks for each opcode apart, a `pread` each (19
        for a postings block's info, which every term matcher and phrase check reads).
        A pickle longer than that read is read Whoosh's way."""
        region = self._region
        start = region.pos
        buf = io.BytesIO(region.pread(start, _PICKLE_READ))
        try:
            value = pickle.load(buf)
        except (EOFError, pickle.UnpicklingError):  # longer than the read, or damaged
            region.pos = start
            return super().read_pickle()
        region.pos = start + buf.tell()
        return value

    def subset(self, position: int, length: int, name: str | None = None) -> PreadFile:
        """A part of this file (what Whoosh's compound storage opens each part as)."""
        region = self._region
        return PreadFile(region.fh, region.base + position, length, name or self._name)

    def close(self) -> None:
        super().close()
        if self._owns:
            self._region.fh.close()


class PreadStorage(FileStorage):
    """A folder of Whoosh index files, read with positioned reads: the compound
    segment files too, since a storage without mmap makes Whoosh open each part of
    one through `subset` of the file this opens."""

    supports_mmap = False

    def __init__(self, path: str) -> None:
        super().__init__(path, supports_mmap=False, readonly=True)

    def open_file(self, name: str, **kwargs: Any) -> PreadFile:
        fh = io.FileIO(os.path.join(self.folder, name))
        try:
            size = os.fstat(fh.fileno()).st_size
        except BaseException:
            fh.close()
            raise
        return PreadFile(fh, 0, size, name, owns=True)
