"""What a long-lived search process keeps resident, and where: ``resident.py INDEX QUERIES.tsv``.

Opens the index as a user's program does (``open_index(INDEX)``), runs every query of
the query file's ``clean`` and then its ``typo`` column through
``search(q, limit=10)`` (defaults: highlights, facets, typo tolerance), each once, and
prints the process's ``VmRSS`` and ``VmHWM`` with the resident size of every mapping
from ``/proc/self/smaps``, summed per file (anonymous memory as ``[anon]``, the heap as
``[heap]``).  A file mapped whole but read sparsely shows here as the pages a query
touched plus the kernel's fault-around (16 pages around each fault on x86-64 Linux).

``--json OUT`` writes the same figures; ``--limit N`` runs only the first N rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import struct
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")


def status_mb(key: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


def mappings() -> list[tuple[str, int, int, int, float]]:
    """(path, start, end, file offset, resident MiB) of every mapping of this process
    (anonymous memory as ``[anon]``, the heap as ``[heap]``)."""
    out: list[tuple[str, int, int, int, float]] = []
    with open("/proc/self/smaps", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            head = line.split(maxsplit=5)
            if not head:
                continue
            if "-" in head[0] and not head[0].endswith(
                ":"
            ):  # address perms offset dev inode [path]
                start, end = (int(x, 16) for x in head[0].split("-"))
                name = head[5].strip() if len(head) > 5 else "[anon]"
                out.append((name, start, end, int(head[2], 16), 0.0))
            elif head[0] == "Rss:" and out:
                out[-1] = (*out[-1][:4], int(head[1]) / 1024)
    return out


def present_pages(start: int, end: int) -> list[bool]:
    """Whether each page of [start, end) of this process is resident (pagemap bit 63)."""
    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/pagemap", "rb") as fh:
        fh.seek(start // page * 8)
        raw = fh.read((end - start) // page * 8)
    return [bool(e >> 63) for e in struct.unpack(f"<{len(raw) // 8}Q", raw)]


def file_parts(path: str) -> list[tuple[int, str]] | None:
    """(offset, part) of the parts of an index file, by offset: the files inside one
    of Whoosh's compound segment files (``.seg``), the arrays of one of clipsearch's
    array files (``.vpst``, ``derived.bin``, ...); None for another file."""
    if path.endswith(".seg"):
        from whoosh.filedb.compound import CompoundStorage
        from whoosh.filedb.structfile import StructFile

        with open(path, "rb") as fh:
            directory = CompoundStorage(StructFile(fh), use_mmap=False)
            parts = [(directory.range(n)[0], "seg " + n.split(".", 1)[1]) for n in directory.list()]
            directory.close()
        return sorted(parts)
    arrays = array_layout(path)
    if arrays is None:
        return None
    ext = os.path.basename(path).split(".", 1)[1] if path.endswith(".vpst") else path
    ext = os.path.basename(ext)
    return sorted((at, f"{ext} {name}") for name, (at, _size) in arrays.items())


def array_layout(path: str) -> dict[str, tuple[int, int]] | None:
    """Per array of one of clipsearch's array files, its (offset, size), as
    index/arrayfile.py lays them out (read here, so that any tree can be measured)."""
    head = struct.Struct("<8sQ")
    try:
        with open(path, "rb") as fh:
            tag, length = head.unpack(fh.read(head.size))
            if tag != b"CLIPARR1":
                return None
            header = json.loads(fh.read(length))
    except (OSError, ValueError, struct.error):
        return None
    start = -(-(head.size + length) // 64) * 64
    out = {}
    for name, (dtype, shape, offset) in header["arrays"].items():
        count = 1
        for n in shape:
            count *= n
        out[name] = (start + int(offset), count * int(dtype.lstrip("<>|=")[1:] or 1))
    return out


def parts_mb(maps: list[tuple[str, int, int, int, float]], folder: str) -> dict[str, float]:
    """Resident MiB per part of the index's mapped files, summed over segments (the
    ``.seg`` file's ``_stored.col``, ``trm``, ``pst``; the ``.vpst`` file's
    ``post_docs``, ...), from which pages of each mapping are present."""
    page = os.sysconf("SC_PAGE_SIZE")
    sizes: dict[str, float] = defaultdict(float)
    for path, start, end, offset, rss in maps:
        parts = file_parts(path) if rss and path.startswith(folder) else None
        if not parts:
            continue
        for i, here in enumerate(present_pages(start, end)):
            if here:
                at = offset + i * page
                part = next((k for o, k in reversed(parts) if o <= at), "header")
                sizes[part] += page / 2**20
    return dict(sizes)


def kind(path: str) -> str:
    """A short label: the index file's extension, else the path's kind."""
    if path.startswith("["):
        return path
    base = os.path.basename(path)
    if base.startswith("clips_") and "." in base:
        return "index " + base.split(".", 1)[1]
    if ".so" in base or "/lib" in path:
        return "libraries"
    return "index " + base if not path.startswith("/usr") else "libraries"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index")
    ap.add_argument("queries", help="TSV with clean and typo columns (make_queries.py)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N rows")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    sys.path.insert(0, SRC)
    from clipsearch import open_index

    with open(args.queries, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader((r.lstrip("# ") for r in fh), delimiter="\t"))
    if args.limit:
        rows = rows[: args.limit]
    queries = [r["clean"] for r in rows] + [r["typo"] for r in rows]
    before = status_mb("VmRSS:")
    idx = open_index(args.index)
    opened = status_mb("VmRSS:")
    c0, t0 = time.process_time(), time.perf_counter()
    for q in queries:
        idx.search(q, limit=10)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss, hwm = status_mb("VmRSS:"), status_mb("VmHWM:")
    maps = mappings()
    per_file: dict[str, float] = defaultdict(float)
    for path, *_range, mb in maps:
        per_file[path] += mb
    by_kind: dict[str, float] = defaultdict(float)
    for path, mb in per_file.items():
        by_kind[kind(path)] += mb
    folder = os.path.abspath(args.index)
    seg_parts = parts_mb(maps, folder)
    idx.close()
    print(f"{len(queries)} searches in {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"VmRSS {rss:.1f} MiB (before open {before:.1f}, opened {opened:.1f}), VmHWM {hwm:.1f}")
    for name, mb in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        if mb >= 0.05:
            print(f"  {mb:8.1f} MiB  {name}")
    print("largest mapped index files:")
    files = [(p, mb) for p, mb in per_file.items() if p.startswith(folder)]
    for path, mb in sorted(files, key=lambda kv: -kv[1])[:8]:
        size = os.path.getsize(path) / 2**20
        print(f"  {mb:8.1f} MiB  {os.path.basename(path)}  ({size:.0f} MiB file)")
    print("resident parts of those files (pagemap), summed over segments:")
    for part, mb in sorted(seg_parts.items(), key=lambda kv: -kv[1]):
        if mb >= 0.05:
            print(f"  {mb:8.1f} MiB  {part}")
    if args.json:
        out = {
            "searches": len(queries),
            "wall_s": wall,
            "cpu_s": cpu,
            "vmrss_mb": rss,
            "vmhwm_mb": hwm,
            "opened_mb": opened,
            "by_kind_mb": by_kind,
            "per_file_mb": per_file,
            "parts_mb": seg_parts,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
