"""Issue 7, point 11: the raw page archive keeps every page through a database outage.

Pages are journaled, spooled in ``DATA_DIR/spool/pages/`` while the database is unreachable,
and replayed when it answers again (in the same run, or the next); ``pages/stored`` counts
only what the server acknowledged. Against the real SecantusDB server (the session's, or one
this module starts, SIGKILLs and restarts) and real crawls of the fixture mirror.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.archive.store import connect
from crawler.components.page_archive import PageArchiveMiddleware, page_fields
from spiders.antara import AntaraKaltengSpider
from tests.mirror import EXPECTED_URLS, LIVE_ORIGIN, MirrorServer, free_port, run_crawl
from tests.test_db_outage import Secantus, uri_for

Doc = dict[str, Any]
GONE_URL = f"{LIVE_ORIGIN}/berita/811901/pemkot-palangka-raya-tertibkan-reklame-tak-berizin"


def middleware_for(settings: dict[str, Any]) -> PageArchiveMiddleware:
    crawler = get_crawler(AntaraKaltengSpider, settings_dict=settings)
    crawler.spider = crawler._create_spider()
    return PageArchiveMiddleware.from_crawler(crawler)


def response(n: int, status: int = 200) -> tuple[Request, HtmlResponse]:
    url = f"{LIVE_ORIGIN}/berita/{n}/judul"
    request = Request(url, meta={"article": True}, cb_kwargs={"live_url": url})
    body = f"<html><body><p>Berita {n}</p></body></html>".encode()
    return request, HtmlResponse(url, status=status, body=body, request=request)


def stats_of(middleware: PageArchiveMiddleware) -> dict[str, Any]:
    return {k: v for k, v in middleware.stats.get_stats().items() if k.startswith("pages/")}


def test_pages_wait_in_the_spool_while_the_database_is_down(
    mongo_uri: str, mongo_db: Database[Doc], tmp_path: Path
) -> None:
    down_uri = f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=200"
    down = middleware_for({"MONGO_URI": down_uri, "DATA_DIR": str(tmp_path)})
    first = [response(1), response(2, status=404)]

    async def crawl(middleware: PageArchiveMiddleware, pairs: list[Any]) -> None:
        for request, page in pairs:
            assert await middleware.process_response(request, page) is page
        await middleware.spider_closed()

    asyncio.run(crawl(down, first))
    assert stats_of(down) == {"pages/spooled": 2}

    up = middleware_for(
        {"MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name, "DATA_DIR": str(tmp_path)}
    )
    write_concerns: list[Any] = []

    async def crawl_up() -> None:
        request, page = response(3)
        await up.process_response(request, page)
        write_concerns.append(up.store.write_concern)
        await up.spider_closed()

    asyncio.run(crawl_up())
    assert stats_of(up) == {
        "pages/replayed": 2,
        "pages/replay/stored": 2,
        "pages/stored": 1,
        "pages/bytes": len(gzip.compress(response(3)[1].body, compresslevel=6)),
        "pages/batches": 1,
    }
    assert write_concerns == [{"w": 1, "j": True}]  # acknowledged means journaled
    docs = {doc["url"]: doc for doc in mongo_db.pages.find({}, {"_id": 0})}
    assert sorted(docs) == sorted(response(n)[0].url for n in (1, 2, 3))
    assert gzip.decompress(docs[response(1)[0].url]["body"]) == response(1)[1].body
    assert docs[response(2)[0].url]["last_status"] == 404
    assert "body" not in docs[response(2)[0].url]
    assert not list((tmp_path / "spool" / "pages").glob("*.jsonl*"))


def test_a_replayed_page_never_replaces_a_newer_fetch(mongo_db: Database[Doc]) -> None:
    from crawler.archive.page_store import ensure_page_indexes, replay_pages, store_pages

    ensure_page_indexes(mongo_db)
    url = f"{LIVE_ORIGIN}/berita/7/judul"
    newer_at = datetime(2026, 2, 1, tzinfo=UTC)

    def fetch(at: datetime, status: int, body: bytes) -> Doc:
        return page_fields(
            source="antara_kalteng",
            status=status,
            body=body,
            headers={},
            encoding="utf-8",
            fetched_at=at,
        )

    assert store_pages(mongo_db, [(url, fetch(newer_at, 200, b"baru"))]).stored == 1
    old = {"url": url, "fields": fetch(newer_at - timedelta(days=1), 200, b"lama")}
    result = replay_pages(mongo_db, [old, {"url": url, "fields": fetch(newer_at, 200, b"baru")}])
    assert (result.inserted, result.unchanged, result.errors) == (0, 2, 0)
    # A later 404 is recorded without losing the stored body.
    gone = fetch(newer_at + timedelta(days=1), 404, b"")
    assert store_pages(mongo_db, [(url, gone)]).gone == 1
    doc = mongo_db.pages.find_one({"url": url})
    assert doc is not None
    assert gzip.decompress(doc["body"]) == b"baru"
    assert doc["fetched_at"] == newer_at
    assert doc["last_status"] == 404


@pytest.fixture
def secantus(tmp_path: Path) -> Iterator[Secantus]:
    server = Secantus(tmp_path / "secantus", free_port())
    try:
        yield server
    finally:
        server.stop()


def articles_served(mirror: MirrorServer) -> int:
    return sum(n for path, n in mirror.counts.items() if path.startswith("/berita/"))


@pytest.mark.slow
def test_database_killed_mid_crawl_loses_no_page(tmp_path: Path, secantus: Secantus) -> None:
    """SIGKILL the server mid-crawl and bring it back: the same run stores every page."""
    database = f"pages_{uuid.uuid4().hex[:8]}"
    uri = uri_for(secantus.port)
    data_dir = tmp_path / "data"
    secantus.start()
    with MirrorServer() as mirror:
        args = [
            "-a", f"base_url={mirror.base_url}",
            "-s", f"MONGO_URI={uri}",
            "-s", f"MONGO_DATABASE={database}",
            "-s", f"DATA_DIR={data_dir}",
            "-s", "AUTOTHROTTLE_ENABLED=False",
            # Slow enough to kill and restart the server while article pages are fetched.
            "-s", "DOWNLOAD_DELAY=0.4",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            "-s", "PAGE_ARCHIVE_BATCH_SIZE=1",
            "-s", "ARCHIVE_BATCH_SIZE=1",
            "-s", "ARCHIVE_RETRY_SECONDS=0.5",
        ]  # fmt: skip
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(run_crawl, "antara_kalteng", *args)
            deadline = time.monotonic() + 120
            while articles_served(mirror) < 4 and not running.done():
                assert time.monotonic() < deadline, "the crawl fetched no articles"
                time.sleep(0.05)
            assert secantus.process is not None
            secantus.process.kill()  # SIGKILL: only journaled writes survive
            secantus.process.wait()
            # Down until the page archive has felt it (a page spooled), however slow the machine:
            # a write that outlives the outage is simply retried by pymongo and proves nothing.
            spool = data_dir / "spool" / "pages"
            while not list(spool.glob("*.jsonl*")) and not running.done():
                assert time.monotonic() < deadline, "no page was spooled during the outage"
                time.sleep(0.05)
            secantus.start()
            restarted_at = articles_served(mirror)
            run = running.result()
    assert articles_served(mirror) > restarted_at, "the crawl ended before the restart"
    db = connect(uri, database)
    try:
        kept = sorted(doc["url"] for doc in db.pages.find({"body": {"$exists": True}}))
        gone = [doc["url"] for doc in db.pages.find({"body": {"$exists": False}})]
    finally:
        db.client.drop_database(database)
        db.client.close()
    # A write that landed just before the kill but whose acknowledgement was lost is spooled
    # too; its replay then finds that very fetch stored ("superseded"): stored, not lost.
    counted = sum(
        run.stats.get(key, 0)
        for key in ("pages/stored", "pages/replay/stored", "pages/replay/superseded")
    )
    assert (len(kept), counted) == (len(EXPECTED_URLS), len(EXPECTED_URLS)), run.log[-3000:]
    assert kept == EXPECTED_URLS
    assert gone == [GONE_URL]
    assert run.stats.get("pages/spooled", 0) > 0  # the outage did hit the page archive
    assert "pages/lost" not in run.stats and "pages/errors" not in run.stats
    assert not list((data_dir / "spool" / "pages").glob("*.jsonl*"))
    assert run.returncode == 0, run.log[-3000:]
