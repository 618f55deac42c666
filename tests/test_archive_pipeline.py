"""MongoArchivePipeline driven through open/process/close, against a real server."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo.database import Database
from scrapy.utils.test import get_crawler

from crawler.archive.spool import decode
from crawler.archive.store import ARTICLES
from crawler.items import Article
from pipelines.archive import MongoArchivePipeline
from tests.mirror import free_port

DB = Database[dict[str, Any]]


def article(n: int, body: str | None = None) -> Article:
    body = body or f"Isi berita nomor {n}."
    return Article(
        url=f"https://kalteng.antaranews.com/berita/{n}",
        source="antara_kalteng",
        title=f"Berita {n}",
        body=body,
        published_at=datetime(2024, 5, 1, 1, n % 60, tzinfo=UTC),
        tags=["$gt", "a.b"],
        content_hash=hashlib.sha256(body.encode()).hexdigest(),
    )


def make_pipeline(tmp_path: Path, **settings: Any) -> MongoArchivePipeline:
    crawler = get_crawler(
        settings_dict={
            "DATA_DIR": str(tmp_path),
            "ARCHIVE_BATCH_SIZE": 3,
            "ARCHIVE_FLUSH_SECONDS": 0.1,
            **settings,
        }
    )
    return MongoArchivePipeline.from_crawler(crawler)


#: The shared frontier's acknowledgement barrier (every record taken, then settled), checked
#: by the frontier's tests; here only the outcomes count.
BARRIER = {"archive/received", "archive/settled"}


def stats(pipeline: MongoArchivePipeline) -> dict[str, Any]:
    return {
        k: v
        for k, v in pipeline.stats.get_stats().items()
        if k.startswith("archive/") and k not in BARRIER
    }


def test_items_are_archived_in_batches(mongo_uri: str, mongo_db: DB, tmp_path: Path) -> None:
    pipeline = make_pipeline(tmp_path, MONGO_URI=mongo_uri, MONGO_DATABASE=mongo_db.name)
    items = [article(n) for n in range(7)] + [article(100, "Isi berita nomor 0.")]

    async def crawl() -> None:
        await pipeline.open_spider()
        for item in items[:4]:
            assert await pipeline.process_item(item) is item
        assert mongo_db[ARTICLES].count_documents({}) == 3  # one full batch written
        await asyncio.sleep(0.5)  # the timer flushes the partial batch
        assert mongo_db[ARTICLES].count_documents({}) == 4
        for item in items[4:]:
            await pipeline.process_item(item)
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert mongo_db[ARTICLES].count_documents({}) == 8
    duplicate = mongo_db[ARTICLES].find_one({"url": items[7].url})
    assert duplicate is not None and duplicate["duplicate_of"] == items[0].url
    assert duplicate["tags"] == ["$gt", "a.b"]
    assert stats(pipeline) == {
        "archive/inserted": 8,
        "archive/duplicates": 1,
        "archive/batches": 4,  # 3 + 1 (timer) + 3 + 1 (close)
    }
    assert not (tmp_path / "spool").exists()

    # A second crawl: unchanged articles only move last_seen_at.
    again = make_pipeline(tmp_path, MONGO_URI=mongo_uri, MONGO_DATABASE=mongo_db.name)

    async def recrawl() -> None:
        await again.open_spider()
        for item in items[:2]:
            await again.process_item(item)
        await again.close_spider()

    asyncio.run(recrawl())
    assert stats(again) == {"archive/unchanged": 2, "archive/batches": 1}


def test_embedded_server_when_no_uri(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("MONGO_URI", raising=False)
    pipeline = make_pipeline(tmp_path, MONGO_URI=None, MONGO_DATABASE="archive")

    async def crawl() -> None:
        await pipeline.open_spider()
        await pipeline.process_item(article(1))
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert stats(pipeline)["archive/inserted"] == 1
    assert (tmp_path / "db").is_dir()
    assert not (tmp_path / "secantusd.json").exists()  # the starter stopped it


def test_unreachable_database_spools_items(tmp_path: Path) -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=200"
    pipeline = make_pipeline(tmp_path, MONGO_URI=uri, ARCHIVE_FLUSH_SECONDS=0)
    items = [article(n) for n in range(4)]

    async def crawl() -> None:
        await pipeline.open_spider()
        for item in items:
            await pipeline.process_item(item)
        await pipeline.close_spider()

    asyncio.run(crawl())
    (spooled,) = (tmp_path / "spool").glob("*.jsonl")
    records = [decode(line) for line in spooled.read_text().splitlines()]
    assert [r["url"] for r in records] == [item.url for item in items]
    assert records[0]["published_at"] == datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    assert json.loads(spooled.read_text().splitlines()[0])["published_at"] == {
        "$datetime": "2024-05-01T01:00:00+00:00"
    }
    assert pipeline.stats.get_value("spool/written") == 4
    assert pipeline.stats.get_value("archive/batches") == 2
    assert not (tmp_path / "failed").exists()
