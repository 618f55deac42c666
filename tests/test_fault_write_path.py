"""Issue 7, points 1 and 2: the article write path under hostile text and a full disk.

Against real components: the session's SecantusDB server, a real 1 MiB tmpfs (mounted here;
the test skips where mounting is not allowed) for ``DATA_DIR``, the fixture mirror and real
``scrapy crawl`` subprocesses. The database never lives on the small filesystem.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import inspect
import logging
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.archive.spool import Spool, encode
from crawler.archive.store import ARTICLES, archive_batch, ensure_indexes
from crawler.components.monitors import MonitorConfig, MonitorResult, evaluate
from crawler.items import Article
from pipelines.archive import MongoArchivePipeline
from tests.mirror import EXPECTED_URLS, MirrorServer, free_port, mirror_crawl_args, run_crawl

DB = Database[dict[str, Any]]
HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
#: The fixture article whose page the hostile one replaces on the mirror.
SURROGATE_PATH = (
    "/berita/812460/pemprov-kalteng-perpanjang-status-tanggap-darurat-banjir-hingga-10-februari"
)
SURROGATE_URL = f"https://kalteng.antaranews.com{SURROGATE_PATH}"


def article(n: int, **fields: Any) -> Article:
    body = fields.pop("body", f"Isi berita nomor {n}.")
    return Article(
        url=f"https://kalteng.antaranews.com/berita/{n}",
        source="antara_kalteng",
        title=f"Berita {n}",
        body=body,
        published_at=datetime(2024, 5, 1, 1, n % 60, tzinfo=UTC),
        content_hash=hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest(),
        **fields,
    )


def record(n: int) -> dict[str, Any]:
    return {
        "url": f"https://kalteng.antaranews.com/berita/{n}",
        "title": f"Berita {n}",
        "body": f"Isi berita nomor {n}.",
        "published_at": datetime(2024, 5, 1, 1, n % 60, tzinfo=UTC),
    }


def make_pipeline(data_dir: Path, uri: str, database: str, **settings: Any) -> MongoArchivePipeline:
    crawler = get_crawler(
        settings_dict={
            "DATA_DIR": str(data_dir),
            "MONGO_URI": uri,
            "MONGO_DATABASE": database,
            "ARCHIVE_BATCH_SIZE": 10,
            "ARCHIVE_FLUSH_SECONDS": 0,
            "ARCHIVE_RETRY_SECONDS": 0.2,
            **settings,
        }
    )
    return MongoArchivePipeline.from_crawler(crawler)


async def run_pipeline(pipeline: MongoArchivePipeline, items: list[Article]) -> list[Article]:
    """Open, feed ``items``, close; returns the items it dropped."""
    dropped: list[Article] = []
    await pipeline.open_spider()
    for item in items:
        try:
            await pipeline.process_item(item)
        except DropItem:
            dropped.append(item)
    await pipeline.close_spider()
    return dropped


def unreachable_uri() -> str:
    return f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"


def urls(db: DB) -> list[str]:
    return sorted(doc["url"] for doc in db[ARTICLES].find({}, {"url": 1}))


# --- point 1: one bad string --------------------------------------------------------------------


def test_a_lone_surrogate_costs_nothing_in_its_batch(
    mongo_uri: str, mongo_db: DB, tmp_path: Path
) -> None:
    pipeline = make_pipeline(tmp_path, mongo_uri, mongo_db.name)
    hostile = article(2, description="\ud83d Banjir", tags=["banjir", "\udc00x"])
    items = [article(1), hostile, article(3), article(4)]
    assert asyncio.run(run_pipeline(pipeline, items)) == []
    stats = pipeline.stats.get_stats()
    assert urls(mongo_db) == sorted(item.url for item in items if item.url)
    doc = mongo_db[ARTICLES].find_one({"url": hostile.url})
    assert doc is not None
    assert (doc["description"], doc["tags"]) == ("\ufffd Banjir", ["banjir", "\ufffdx"])
    assert (hostile.description, hostile.tags) == ("\ufffd Banjir", ["banjir", "\ufffdx"])
    assert stats.get("archive/inserted") == 4
    assert stats.get("archive/sanitized_records") == 1
    assert "spool/lost_records" not in stats and "spool/written" not in stats


def test_a_record_the_archive_can_never_store_is_dropped_alone(
    mongo_uri: str, mongo_db: DB, tmp_path: Path
) -> None:
    pipeline = make_pipeline(tmp_path, mongo_uri, mongo_db.name)
    too_big_int = article(2, word_count=2**70)  # BSON ints stop at 8 bytes
    dropped = asyncio.run(run_pipeline(pipeline, [article(1), too_big_int, article(3)]))
    assert dropped == [too_big_int]
    stats = pipeline.stats.get_stats()
    assert stats.get("item_dropped_reasons_count/unstorable") == 1
    assert urls(mongo_db) == sorted([article(1).url or "", article(3).url or ""])
    assert "spool/lost_records" not in stats


def test_archive_batch_refuses_only_the_records_it_cannot_encode(mongo_db: DB) -> None:
    ensure_indexes(mongo_db)
    records = [record(1), {**record(2), "description": "\ud83d"}, record(3)]
    records.append({**record(4), "word_count": 2**70})
    result = archive_batch(mongo_db, records)
    assert (result.inserted, result.errors) == (2, 2)
    assert urls(mongo_db) == sorted([record(1)["url"], record(3)["url"]])


def test_the_spool_takes_a_record_utf8_cannot_encode(mongo_db: DB, tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.append([record(1), {**record(2), "title": "\ud83d"}, record(3)]) == 3
    spool.close()
    result = spool.replay(mongo_db)
    assert (result.records, result.archive.inserted, result.archive.errors) == (3, 2, 1)
    assert spool.files() == []


def archive_verdict(stats: dict[str, Any], items: int) -> MonitorResult:
    """The ``archive`` monitor's verdict on a run of ``items`` articles with these stats."""
    kwargs: dict[str, Any] = {"pages": items, "found": {}, "article_links": items}
    if "listing_pages" in inspect.signature(evaluate).parameters:  # issue 7, point 3
        kwargs["listing_pages"] = 1
    results = evaluate(stats, MonitorConfig(), spider="antara_kalteng", reason="finished", **kwargs)
    (archive,) = [result for result in results if result.name == "archive"]
    return archive


def test_the_archive_monitor_never_says_all_arrived_when_records_were_lost() -> None:
    archive = archive_verdict({"item_scraped_count": 16, "spool/lost_records": 17}, 16)
    assert not archive.passed
    assert "every record reached the archive" not in archive.message
    assert "17 record(s) LOST" in archive.message


def test_crawl_of_a_page_with_a_lone_surrogate_archives_every_article(
    mongo_uri: str, mongo_db: DB
) -> None:
    with MirrorServer() as mirror:
        mirror.add_page(SURROGATE_PATH, (HOSTILE / "write_lone_surrogate_jsonld.html").read_bytes())
        run = run_crawl("antara_kalteng", *mirror_crawl_args(mirror, mongo_uri, mongo_db.name))
    archived = urls(mongo_db)
    lost = run.stats.get("spool/lost_records")
    assert archived == EXPECTED_URLS, f"{len(archived)} of 16 archived, {lost} lost"
    assert run.returncode == 0, run.log[-3000:]
    assert lost is None
    assert run.stats.get("monitors/archive/failed") == 0
    doc = mongo_db[ARTICLES].find_one({"url": SURROGATE_URL})
    assert doc is not None
    # Stripped by the normaliser or replaced by the pipeline: either way storable.
    assert "\ud83d" not in doc["description"]
    assert doc["description"].lstrip("\ufffd ").startswith("Pemerintah Provinsi Kalimantan")


# --- point 2: a full disk ---------------------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs) for DATA_DIR."""
    mount = tmp_path / "small"
    mount.mkdir()
    process = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        pytest.skip(f"cannot mount a 1 MiB tmpfs here: {process.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(directory: Path) -> None:
    """Write until the filesystem holding ``directory`` has no byte left."""
    with open(directory / "filler", "wb", buffering=0) as out:
        for size in (65536, 4096, 1):
            while True:
                try:
                    out.write(b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break


def spool_with_a_truncated_line(directory: Path, good: int) -> Path:
    """What a crash mid-append leaves: ``good`` whole records and a cut-short last line."""
    spool = Spool(directory)
    spool.append([record(n) for n in range(good)])
    path = spool.path
    assert path is not None
    spool.close()
    with path.open("a", encoding="utf-8") as out:
        out.write(encode(record(good))[:40])
    return path


def test_full_disk_with_the_database_up_loses_nothing(
    mongo_uri: str, mongo_db: DB, small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spooled = spool_with_a_truncated_line(small_fs / "spool", good=191)
    fill(small_fs)
    pipeline = make_pipeline(small_fs, mongo_uri, mongo_db.name)
    items = [article(n) for n in range(1000, 1040)]
    with caplog.at_level(logging.WARNING):
        asyncio.run(run_pipeline(pipeline, items))
    stats = pipeline.stats.get_stats()
    archived = len(urls(mongo_db))
    lost = stats.get("spool/lost_records")
    assert (archived, lost) == (191 + 40, None), caplog.text[-1500:]
    assert stats.get("spool/replayed") == 191
    assert stats.get("archive/inserted") == 40
    assert (stats.get("spool/corrupt_lines"), stats.get("spool/unrejected_lines")) == (1, 1)
    assert "database unavailable" not in caplog.text.lower()
    # The line that could not be set aside is kept, alone, for the next replay.
    (kept,) = Spool(small_fs / "spool").files()
    assert kept.name == spooled.name + ".replaying"
    assert kept.read_text(encoding="utf-8") == encode(record(191))[:40]


def test_an_append_that_fills_the_disk_leaves_no_partial_line(mongo_db: DB, small_fs: Path) -> None:
    spool = Spool(small_fs / "spool")
    assert spool.append([record(n) for n in range(5)]) == 5
    path = spool.path
    assert path is not None
    before = path.read_bytes()
    big = [{**record(n), "body": "x" * 4096} for n in range(5, 400)]  # ~1.6 MB: does not fit
    with pytest.raises(OSError) as raised:
        spool.append(big)
    assert raised.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert spool.append([record(400)]) == 1  # a new file; the disk had room for that
    spool.close()
    result = spool.replay(mongo_db)
    assert (result.records, result.corrupt_lines) == (6, 0)


def test_database_down_and_disk_full_fails_loudly(
    small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fill(small_fs)
    pipeline = make_pipeline(small_fs, unreachable_uri(), "lost")
    with caplog.at_level(logging.WARNING):
        asyncio.run(run_pipeline(pipeline, [article(n) for n in range(25)]))
    stats = pipeline.stats.get_stats()
    assert stats.get("spool/lost_records") == 25
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("Lost 10 record(s)" in m and "No space left on device" in m for m in errors), errors
    assert any("This run lost 25 record(s)" in m for m in errors), errors
    verdict = archive_verdict(stats, 25)
    assert not verdict.passed
    assert "25 record(s) LOST" in verdict.message


@pytest.mark.slow
def test_crawl_with_database_up_and_disk_full_archives_everything(
    mongo_uri: str, mongo_db: DB, small_fs: Path
) -> None:
    spool_with_a_truncated_line(small_fs / "spool", good=191)
    fill(small_fs)
    with MirrorServer() as mirror:
        args = mirror_crawl_args(mirror, mongo_uri, mongo_db.name, "-s", f"DATA_DIR={small_fs}")
        run = run_crawl("antara_kalteng", *args)
    archived = urls(mongo_db)
    lost, replayed = run.stats.get("spool/lost_records"), run.stats.get("spool/replayed")
    assert (len(archived), lost, replayed) == (191 + 16, None, 191), run.log[-1500:]
    assert sorted(set(archived) & set(EXPECTED_URLS)) == EXPECTED_URLS
    assert "Archive database unavailable" not in run.log
    assert run.stats.get("pages/stored") == len(EXPECTED_URLS)


@pytest.mark.slow
def test_crawl_that_loses_records_exits_non_zero(small_fs: Path) -> None:
    fill(small_fs)
    database = f"lost_{uuid.uuid4().hex[:8]}"
    with MirrorServer() as mirror:
        args = mirror_crawl_args(mirror, unreachable_uri(), database, "-s", f"DATA_DIR={small_fs}")
        run = run_crawl("antara_kalteng", *args)
    assert run.stats.get("spool/lost_records") == len(EXPECTED_URLS), run.log[-3000:]
    assert run.returncode == 1, run.log[-2000:]
    # Every article page too, and the fixture's one 404 (a gone page is recorded as well).
    assert run.stats.get("pages/lost") == len(EXPECTED_URLS) + 1
    assert run.stats.get("monitors/archive/failed") == 1
    assert "No space left on device" in run.log
