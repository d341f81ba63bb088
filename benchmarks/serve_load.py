"""Load on `clipsearch serve`: N concurrent clients for a while, optionally with an
indexer committing new clips meanwhile; 127.0.0.1 only.

    python benchmarks/serve_load.py --index IDX [--clients 32] [--duration 30] [--indexer]

The server runs in its own process (`python -m clipsearch serve`), the clients in this
one (asyncio + httpx), so they do not share a GIL.  With `--indexer` the index is
copied to a temporary folder first (the original is never modified) and a second
process adds `--batch` generated clips every `--every` seconds while the clients run.
Queries mix plain words, typos, filters, sorts, pages, histograms and clip views.
Prints one JSON object: requests, throughput, p50/p99 latency (ms), errors, commits.
The 20 queries repeat all the time, so the latencies are of a warm server under load
(``"warm_cache": true`` in the output), never a cold per-query figure: those come from
run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUERIES = [
    "climate", "vaccine", "election", "facial recognition", "artificial intelligence",
    "covid", "goverment", "recogniton", "ransomware", "privacy law", "solar energy",
    "electon results", "supply chain", "inflation", "cybersecurity", "data breach",
    "", "police", "housing", "wildfire",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request_for(rng: random.Random, ids: list[str]) -> tuple[str, dict[str, object]]:
    roll = rng.random()
    q = rng.choice(QUERIES)
    if roll < 0.08 and ids:
        return f"/api/clips/{rng.choice(ids)}", {}
    if roll < 0.16:
        return "/api/histogram", {"q": q}
    params: dict[str, object] = {"q": q}
    if roll < 0.3:
        params["sort"] = "date"
    if roll > 0.85:
        params["offset"] = 10
    return "/api/search", params


async def client(
    base: str, stop: float, seed: int, ids: list[str], times: list[float], errors: list[str]
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        while time.monotonic() < stop:
            path, params = request_for(rng, ids)
            t0 = time.perf_counter()
            try:
                r = await http.get(path, params=params)
                ok = r.status_code == 200
            except httpx.HTTPError as exc:
                ok, r = False, None
                errors.append(type(exc).__name__)
            times.append((time.perf_counter() - t0) * 1000)
            if not ok and r is not None:
                errors.append(f"{r.status_code} {path}")


def indexer(index: str, stop: float, batch: int, every: float) -> tuple[int, list[str]]:
    """Add `batch` new clips every `every` seconds until `stop`; returns commits made."""
    folder = Path(tempfile.mkdtemp(prefix="serve-load-clips-"))
    commits, problems = 0, []
    n = 0
    try:
        while time.monotonic() < stop:
            for _ in range(batch):
                n += 1
                (folder / f"new-{n:06d}.md").write_text(
                    f"---\ntitle: Load test clip {n} about climate and vaccine news\n"
                    f"publishedDateTime: 2024-01-{1 + n % 28:02d}T10:00:00Z\n"
                    "topics: [Load]\nprovider: {name: Bench Wire, domain: bench.example}\n"
                    "---\nBody text for the load test.\n",
                    encoding="utf-8",
                )
            r = subprocess.run(
                [sys.executable, "-m", "clipsearch", "index", "--quiet", "--index", index,
                 str(folder)],
                capture_output=True, text=True, timeout=120,
            )
            if r.returncode == 0:
                commits += 1
            else:
                problems.append(r.stderr.strip()[:200])
            time.sleep(every)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return commits, problems


async def run(args: argparse.Namespace, index: str) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "clipsearch", "serve", "--index", index, "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    sample = (await http.get("/api/search", params={"limit": 50})).json()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("server did not start") from None
                    await asyncio.sleep(0.2)
            for q in QUERIES:  # warm-up: per-snapshot arrays, the typo index
                await http.get("/api/search", params={"q": q})
        ids = [h["id"] for h in sample["hits"]]
        times: list[float] = []
        errors: list[str] = []
        start = time.monotonic()
        stop = start + args.duration
        loop = asyncio.get_running_loop()
        index_job = (
            loop.run_in_executor(None, indexer, index, stop, args.batch, args.every)
            if args.indexer
            else None
        )
        await asyncio.gather(
            *(client(base, stop, i, ids, times, errors) for i in range(args.clients))
        )
        elapsed = time.monotonic() - start
        commits, problems = await index_job if index_job else (0, [])
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            clips_after = (await http.get("/api/stats")).json()["clips"]
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    times.sort()
    return {
        "clients": args.clients,
        "warm_cache": True,  # repeated queries: a load figure, not a cold latency
        "duration_s": round(elapsed, 1),
        "requests": len(times),
        "throughput_rps": round(len(times) / elapsed, 1),
        "p50_ms": round(statistics.median(times), 1) if times else None,
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 1) if times else None,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        "indexer_commits": commits,
        "indexer_problems": problems[:3],
        "clips_after": clips_after,
        "server_exit": server.returncode,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--indexer", action="store_true", help="Commit new clips meanwhile.")
    ap.add_argument("--batch", type=int, default=20, help="Clips per indexer commit.")
    ap.add_argument("--every", type=float, default=2.0, help="Seconds between commits.")
    args = ap.parse_args()
    if not args.indexer:
        print(json.dumps(asyncio.run(run(args, args.index))))
        return 0
    tmp = tempfile.mkdtemp(prefix="serve-load-index-")
    try:
        copy = os.path.join(tmp, "index")
        shutil.copytree(args.index, copy)
        print(json.dumps(asyncio.run(run(args, copy))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
