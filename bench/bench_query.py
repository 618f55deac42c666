"""Benchmark the read side on a generated archive: search latency, export speed, peak memory.

Run: ``python bench/bench_query.py [--n 100000]``. Uses ``MONGO_URI`` when set (a fresh,
uniquely named database, dropped at the end), else an embedded SecantusDB server in a temporary
``DATA_DIR``. The archive is generated here: well-formed records (every Article field, ~2 KB
body, 3 sources, tags, 5% duplicates, 2% mentioning "karhutla") inserted with ``insert_many``.

Export is compared with the plain loop a data engineer would write first,
``for doc in find(): f.write(json.dumps(doc, default=str))``. Peak RSS is measured per export
in a child process (``python -m crawler export``) for a 20% and a 100% export: if the export
streams, both peaks are about the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pymongo.database import Database  # noqa: E402

from crawler.archive.query import Archive  # noqa: E402
from crawler.archive.server import find_or_start_server  # noqa: E402
from crawler.archive.store import ARTICLES, connect, ensure_indexes  # noqa: E402

SOURCES = ("antara_kalteng", "antara_kalsel", "antara_kaltim")
TAGS = ("kalteng", "banjir", "pemilu", "ekonomi", "kesehatan", "pendidikan", "olahraga", "hukum")
PARAGRAPH = (
    "Pemerintah Provinsi Kalimantan Tengah menggelar rapat koordinasi teknis bersama "
    "instansi terkait untuk membahas percepatan pembangunan infrastruktur daerah. "
)
START = datetime(2023, 1, 1, tzinfo=UTC)


def documents(n: int) -> Iterator[dict[str, Any]]:
    """Archive documents as ``archive_batch`` stores them (one every 5 minutes)."""
    seen = datetime(2024, 6, 1, tzinfo=UTC)
    for i in range(n):
        story = i - 1 if i % 20 == 19 else i
        topic = "Kebakaran hutan dan lahan (karhutla) meluas. " if story % 50 == 0 else ""
        body = f"Berita {story}. {topic}" + PARAGRAPH * 12
        yield {
            "url": f"https://kalteng.antaranews.com/berita/{i}/judul-berita-{i}",
            "source": SOURCES[i % 3],
            "site_name": "ANTARA Kalteng",
            "region": "Kalimantan Tengah",
            "language": "id",
            "title": f"Judul berita nomor {i} tentang {TAGS[i % len(TAGS)]}",
            "description": None if i % 4 else f"Ringkasan berita {i}",
            "body": body,
            "dateline": "Palangka Raya",
            "published_at": START + timedelta(minutes=5 * i),
            "published_at_raw": "Minggu, 1 Januari 2023 07:00 WIB",
            "modified_at": None,
            "authors": ["Muhammad Arif Hidayat"] if i % 5 else [],
            "editors": ["Admin"],
            "uploader": None,
            "category": "Kalteng",
            "tags": [TAGS[i % len(TAGS)], TAGS[(i // 3) % len(TAGS)]],
            "image_url": f"https://img.antaranews.com/{i}.jpg" if i % 2 else None,
            "image_caption": None,
            "image_credit": None,
            "word_count": len(body.split()),
            "content_hash": hashlib.sha256(body.encode()).hexdigest(),
            "crawled_at": seen,
            "first_seen_at": seen,
            "last_seen_at": seen,
            "version": 1,
            "duplicate_of": (
                f"https://kalteng.antaranews.com/berita/{i - 1}/judul-berita-{i - 1}"
                if story != i
                else None
            ),
        }


def generate(db: Database[dict[str, Any]], n: int) -> float:
    ensure_indexes(db)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    for doc in documents(n):
        batch.append(doc)
        if len(batch) == 1000:
            db[ARTICLES].insert_many(batch, ordered=False)
            batch = []
    if batch:
        db[ARTICLES].insert_many(batch, ordered=False)
    return time.perf_counter() - started


def timed(label: str, action: Callable[[], int], rounds: int = 3) -> float:
    """Best of ``rounds`` (the first run also warms the server's cache)."""
    best, count = float("inf"), 0
    for _ in range(rounds):
        started = time.perf_counter()
        count = action()
        best = min(best, time.perf_counter() - started)
    print(f"  {label:58} {best * 1000:9.1f} ms  ({count} records)")
    return best


def count(records: Iterator[dict[str, Any]]) -> int:
    return sum(1 for _ in records)


def baseline_export(db: Database[dict[str, Any]], path: Path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for doc in db[ARTICLES].find({}, {"_id": 0}):
            handle.write(json.dumps(doc, default=str, ensure_ascii=False) + "\n")
            count += 1
    return count


def child_export(uri: str, database: str, out: Path, limit: int) -> tuple[float, int]:
    """(seconds, peak RSS in KB) of ``python -m crawler export`` in its own process.

    Measured by ``/usr/bin/time`` (a small intermediate process): Linux carries a forked
    child's ``ru_maxrss`` over from its parent, so ``wait4`` on a child of this (large) process
    would report our own peak, not the export's.
    """
    cmd = [sys.executable, "-m", "crawler", "--mongo-uri", uri, "--database", database]
    cmd += ["export", "--format", "jsonl", "--out", str(out), "--limit", str(limit)]
    report = out.with_suffix(".rss")
    started = time.perf_counter()
    subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(report), *cmd],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started, int(report.read_text().split()[-1])


def run(uri: str, n: int, workdir: Path) -> None:
    name = f"bench_query_{uuid.uuid4().hex[:8]}"
    db = connect(uri, name)
    try:
        print(f"generating {n} records ...")
        seconds = generate(db, n)
        print(f"  inserted {n} records in {seconds:.1f} s ({n / seconds:,.0f} records/s)\n")
        archive = Archive(db)
        print(f"text index: {archive.has_text_index()}")
        print("search latency (best of 3):")
        since = START + timedelta(days=200)
        middle = f"https://m.kalteng.antaranews.com/berita/{n // 2}/judul-berita-{n // 2}?amp=1"
        searches: list[tuple[str, Callable[[], int]]] = [
            ("text 'karhutla', first 50", lambda: count(archive.search("karhutla", limit=50))),
            ("text 'karhutla', all matches", lambda: count(archive.search("karhutla"))),
            ("text 'KARHUTLÀ' (case, accents), first 50",
             lambda: count(archive.search("KARHUTLÀ", limit=50))),
            ("filter source+tag+since, first 50",
             lambda: count(archive.search(source="antara_kalsel", tag="banjir", since=since,
                                          limit=50))),
            ("filter since+until (one day), all",
             lambda: count(archive.search(since="2023-03-01", until="2023-03-01"))),
            ("get(url) of a non-canonical URL", lambda: int(archive.get(middle) is not None)),
        ]  # fmt: skip
        for label, action in searches:
            timed(label, action)
        timed("stats(by='source') (one scan)", lambda: archive.stats(by="source").total, 1)

        print(f"\nexport of all {n} records (one run each):")
        base = timed("baseline: find() + json.dumps loop",
                     lambda: baseline_export(db, workdir / "b.jsonl"), 1)  # fmt: skip
        ours = timed("Archive.export jsonl", lambda: archive.export(workdir / "o.jsonl"), 1)
        print(f"  -> baseline {n / base:,.0f} records/s, ours {n / ours:,.0f} records/s, "
              f"ours/baseline speed {base / ours:.2f}")  # fmt: skip
        for fmt in ("csv", "parquet"):
            out = workdir / f"o.{fmt}"
            seconds = timed(f"Archive.export {fmt}", lambda: archive.export(out, fmt), 1)  # noqa: B023
            size = out.stat().st_size / 1e6
            print(f"  -> {n / seconds:,.0f} records/s, {size:.0f} MB")

        print("\npeak RSS of `python -m crawler export --format jsonl` (own process each):")
        for limit in (n // 5, n):
            seconds, peak_kb = child_export(uri, name, workdir / f"c{limit}.jsonl", limit)
            size = (workdir / f"c{limit}.jsonl").stat().st_size / 1e6
            print(f"  {limit:>7} records: {seconds:6.1f} s, {size:6.0f} MB written, "
                  f"peak RSS {peak_kb / 1024:6.1f} MB")  # fmt: skip
    finally:
        db.client.drop_database(name)
        db.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="records to generate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_query_") as tmp:
        workdir = Path(tmp)
        if os.environ.get("MONGO_URI"):
            run(os.environ["MONGO_URI"], args.n, workdir)
            return
        server = find_or_start_server(workdir / "data", linger=0)
        try:
            run(server.uri, args.n, workdir)
        finally:
            server.release()


if __name__ == "__main__":
    main()
