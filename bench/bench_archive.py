"""Benchmark the archive write path against a per-item ``insert_one`` loop.

Run: ``python bench/bench_archive.py [--n 5000] [--batch-size 200]``. Uses ``MONGO_URI`` when
set, else an embedded SecantusDB server in a temporary directory. Each measurement gets a fresh
database with the archive's indexes, so the comparison is like for like.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_story_linking import Articles, Timer, linking
from pymongo.database import Database
from rss import vmhwm_kib
from scrapy.utils.test import get_crawler

from crawler.archive.server import find_or_start_server
from crawler.archive.store import ARTICLES, archive_batch, connect, ensure_indexes
from crawler.items import Article
from pipelines.archive import MongoArchivePipeline

DB = Database[dict[str, Any]]


def records(n: int) -> list[dict[str, Any]]:
    """Article-shaped records of realistic size (~2 KB body, distinct texts from
    :class:`bench_story_linking.Articles`), 5% exact copies of the one before."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    texts = Articles()
    out = []
    body = ""
    for i in range(n):
        if i % 20 != 19:
            body = texts.body(i)
        out.append(
            {
                "url": f"https://kalteng.antaranews.com/berita/{i}/judul-berita-{i}",
                "source": "antara_kalteng",
                "site_name": "ANTARA Kalteng",
                "region": "Kalimantan Tengah",
                "language": "id",
                "title": f"Judul berita nomor {i}",
                "body": body,
                "published_at": start + timedelta(minutes=i),
                "published_at_raw": "Senin, 1 Januari 2024 07:00 WIB",
                "authors": ["Muhammad Arif Hidayat"],
                "editors": ["Admin"],
                "tags": ["kalteng", "infrastruktur", f"tag{i % 50}"],
                "word_count": len(body.split()),
                "content_hash": hashlib.sha256(body.encode()).hexdigest(),
                "crawled_at": datetime.now(UTC),
            }
        )
    return out


@contextlib.contextmanager
def scratch_db(uri: str) -> Iterator[DB]:
    """A fresh database with the archive's indexes, dropped afterwards."""
    db = connect(uri, f"bench_{uuid.uuid4().hex[:8]}")
    ensure_indexes(db)
    try:
        yield db
    finally:
        db.client.drop_database(db.name)
        db.client.close()


def timed(label: str, n: int, run: Callable[[], None]) -> float:
    began = time.perf_counter()
    run()
    rate = n / (time.perf_counter() - began)
    print(f"{label:<44} {rate:>10,.0f} items/s")
    return rate


def pipeline_run(uri: str, db: DB, data: list[dict[str, Any]], batch_size: int) -> None:
    crawler = get_crawler(
        settings_dict={
            "MONGO_URI": uri,
            "MONGO_DATABASE": db.name,
            "DATA_DIR": tempfile.mkdtemp(prefix="bench-data-"),
            "ARCHIVE_BATCH_SIZE": batch_size,
            "ARCHIVE_FLUSH_SECONDS": 2.0,
        }
    )
    pipeline = MongoArchivePipeline.from_crawler(crawler)

    async def crawl() -> None:
        await pipeline.open_spider()
        for item in data:
            await pipeline.process_item(Article(**item))
        await pipeline.close_spider()

    asyncio.run(crawl())
    stats = crawler.stats.get_stats() if crawler.stats else {}
    assert stats.get("archive/inserted", 0) + stats.get("archive/unchanged", 0) == len(data), stats


def insert_one_loop(db: DB, data: list[dict[str, Any]]) -> None:
    for record in data:
        db[ARTICLES].insert_one({**record, "version": 1, "duplicate_of": None})


def batched_direct(db: DB, data: list[dict[str, Any]], batch_size: int) -> None:
    for start in range(0, len(data), batch_size):
        archive_batch(db, data[start : start + batch_size])


def server_peak_rss_kb(pid: int | None) -> str:
    if pid is None:
        return "n/a (external server)"
    kib = vmhwm_kib(pid)
    return f"{kib} kB" if kib else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="records to write (default 5000)")
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()

    server = None
    uri = os.environ.get("MONGO_URI")
    if not uri:
        server = find_or_start_server(tempfile.mkdtemp(prefix="bench-secantus-"), linger=0)
        uri = server.uri
    data = records(args.n)
    print(f"{args.n} records, batch size {args.batch_size}, server {uri}")
    # The baseline runs first and each database is dropped after use: SecantusDB slows down as
    # it holds more data, so running the baseline last would flatter our path.
    try:
        with scratch_db(uri) as db:
            base = timed("baseline: insert_one per item", args.n, lambda: insert_one_loop(db, data))
        with scratch_db(uri) as db:
            pipe = timed(
                "pipeline (batched, in a thread), first crawl",
                args.n,
                lambda: pipeline_run(uri, db, data, args.batch_size),
            )
            timed(
                "pipeline, re-crawl (all unchanged)",
                args.n,
                lambda: pipeline_run(uri, db, data, args.batch_size),
            )
        with scratch_db(uri) as db:
            timed(
                "archive_batch() direct, first crawl",
                args.n,
                lambda: batched_direct(db, data, args.batch_size),
            )
        with scratch_db(uri) as db, linking(False, Timer()):
            unlinked = timed(
                "pipeline, first crawl, no story linking",
                args.n,
                lambda: pipeline_run(uri, db, data, args.batch_size),
            )
        print(f"{'ratio pipeline first crawl / insert_one':<44} {pipe / base:>10.1f}x")
        print(f"{'ratio pipeline with / without linking':<44} {unlinked / pipe:>10.1f}x slower")
        # VmHWM, not ru_maxrss: that includes the peak of whatever started this bench (rss.py).
        print(f"{'peak RSS, this process':<44} {vmhwm_kib() / 1024:>10.0f} MB")
        print(f"{'peak RSS, server':<44} {server_peak_rss_kb(server.pid if server else None):>13}")
    finally:
        if server is not None:
            server.release()


if __name__ == "__main__":
    main()
