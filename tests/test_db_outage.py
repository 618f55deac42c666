"""No data loss when MongoDB is down: the archive pipeline spools, then replays.

These tests start their own SecantusDB servers on fixed ports (not the session server: they
stop them), so a server can come back "on the same address" as a real one would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.test import get_crawler

from crawler.archive.server import find_or_start_server, ping
from crawler.archive.spool import Spool
from crawler.archive.store import ARTICLE_VERSIONS, ARTICLES, connect
from crawler.items import Article
from pipelines.archive import MongoArchivePipeline
from tests.mirror import EXPECTED_URLS, MirrorServer, free_port, run_crawl


def uri_for(port: int) -> str:
    return (
        f"mongodb://127.0.0.1:{port}/?directConnection=true"
        "&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
    )


class Secantus:
    """A SecantusDB server on a fixed port and data directory that tests stop and restart."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)
        # An explicit (empty) config: never pick up a secantusd.toml from the working directory.
        (root / "secantusd.toml").write_text("")

    def start(self) -> None:
        command = [
            sys.executable, "-m", "secantus",
            "--config", str(self.root / "secantusd.toml"),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--storage-path", str(self.root / "db"),
            "--cache-size", "128M",
            "--log-level", "WARNING",
        ]  # fmt: skip
        with open(self.root / "secantusd.log", "ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while not ping(uri_for(self.port), timeout_ms=300):
            assert self.process.poll() is None, (self.root / "secantusd.log").read_text()
            assert time.monotonic() < deadline, "SecantusDB did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def secantus(tmp_path: Path) -> Iterator[Secantus]:
    server = Secantus(tmp_path / "secantus", free_port())
    try:
        yield server
    finally:
        server.stop()


def article(n: int) -> Article:
    return Article(
        url=f"https://kalteng.antaranews.com/berita/{n}",
        source="antara_kalteng",
        title=f"Berita {n}",
        body=f"Isi berita nomor {n}.",
        published_at=datetime(2024, 5, 1, 1, n % 60, tzinfo=UTC),
    )


def make_pipeline(data_dir: Path, uri: str, **settings: Any) -> MongoArchivePipeline:
    crawler = get_crawler(
        settings_dict={
            "DATA_DIR": str(data_dir),
            "MONGO_URI": uri,
            "MONGO_DATABASE": "outage",
            "ARCHIVE_BATCH_SIZE": 2,
            "ARCHIVE_FLUSH_SECONDS": 0.1,
            "ARCHIVE_RETRY_SECONDS": 0.2,
            **settings,
        }
    )
    return MongoArchivePipeline.from_crawler(crawler)


def archived_urls(uri: str, database: str) -> list[str]:
    db = connect(uri, database)
    try:
        return sorted(doc["url"] for doc in db[ARTICLES].find({}, {"url": 1}))
    finally:
        db.client.close()


def test_start_with_database_down_spools_then_next_run_replays(
    tmp_path: Path, secantus: Secantus
) -> None:
    uri = uri_for(secantus.port)
    down = make_pipeline(tmp_path, uri)

    async def crawl(pipeline: MongoArchivePipeline, items: list[Article]) -> None:
        await pipeline.open_spider()
        for item in items:
            await pipeline.process_item(item)
        await pipeline.close_spider()

    asyncio.run(crawl(down, [article(n) for n in range(5)]))
    assert down.stats.get_value("spool/written") == 5
    assert Spool(tmp_path / "spool").pending() == 5

    secantus.start()
    up = make_pipeline(tmp_path, uri)
    asyncio.run(crawl(up, [article(n) for n in range(3, 7)]))
    assert up.stats.get_value("spool/replayed") == 5
    assert up.stats.get_value("spool/replay/inserted") == 5
    assert up.stats.get_value("archive/unchanged") == 2  # 3 and 4 came back from the spool
    assert up.stats.get_value("archive/inserted") == 2
    assert Spool(tmp_path / "spool").files() == []
    assert archived_urls(uri, "outage") == sorted(article(n).url for n in range(7))


def test_database_back_mid_run_is_used_at_once(tmp_path: Path, secantus: Secantus) -> None:
    uri = uri_for(secantus.port)
    pipeline = make_pipeline(tmp_path, uri)

    async def crawl() -> None:
        await pipeline.open_spider()
        for n in range(4):
            await pipeline.process_item(article(n))
        await asyncio.to_thread(secantus.start)
        deadline = time.monotonic() + 20
        while not pipeline.stats.get_value("spool/replayed"):
            assert time.monotonic() < deadline, "the spool was not replayed"
            await asyncio.sleep(0.1)
        for n in range(4, 6):
            await pipeline.process_item(article(n))
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert pipeline.stats.get_value("spool/written") == 4
    assert pipeline.stats.get_value("spool/replayed") == 4
    assert pipeline.stats.get_value("archive/inserted") == 2
    assert Spool(tmp_path / "spool").files() == []
    assert archived_urls(uri, "outage") == sorted(article(n).url for n in range(6))


def articles_served(mirror: MirrorServer) -> int:
    return sum(n for path, n in mirror.counts.items() if path.startswith("/berita/"))


def test_database_stopped_mid_crawl_loses_nothing(tmp_path: Path, secantus: Secantus) -> None:
    """A real crawl; the real server is stopped mid-crawl, restarted, and the next run replays."""
    database = f"outage_{uuid.uuid4().hex[:8]}"
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
            # Slow enough to stop the server while article pages are still being fetched.
            "-s", "DOWNLOAD_DELAY=0.25",
            "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
            "-s", "ARCHIVE_BATCH_SIZE=1",
            "-s", "ARCHIVE_FLUSH_SECONDS=0.2",
            "-s", "ARCHIVE_RETRY_SECONDS=1",
            "-s", "LOG_LEVEL=INFO",
        ]  # fmt: skip
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(run_crawl, "antara_kalteng", *args)
            deadline = time.monotonic() + 120
            # Until some pages are fetched and one batch has landed whole (not a fixed page
            # count: under load the first write, with the index builds, can lag several
            # pages). Batches are of one record, written in turn: a second record in the
            # archive means the first batch is done (one record alone may be mid-batch).
            while (
                articles_served(mirror) < 5 or len(archived_urls(uri, database)) < 2
            ) and not running.done():
                assert time.monotonic() < deadline, "the crawl fetched no articles"
                time.sleep(0.05)
            secantus.stop()
            served_at_stop = articles_served(mirror)
            first = running.result()
        assert first.returncode == 0, first.log[-3000:]
        assert first.stats.get("finish_reason") == "finished"
        assert articles_served(mirror) > served_at_stop, "the server was stopped too late"
        spooled = first.stats.get("spool/written", 0)
        assert spooled > 0, first.log[-3000:]
        assert first.stats.get("archive/inserted", 0) > 0  # some made it before the stop
        assert Spool(data_dir / "spool").pending() == spooled
        assert first.stats.get("item_scraped_count") == len(EXPECTED_URLS)

        secantus.start()
        second = run_crawl("antara_kalteng", *args)
    assert second.returncode == 0, second.log[-3000:]
    assert second.stats.get("spool/replayed") == spooled
    # Replayed before crawling: the pipelines open (and replay) before spider_opened is sent,
    # on which LogStats logs its first line.
    assert second.log.index("Replayed ") < second.log.index("Crawled 0 pages")
    assert Spool(data_dir / "spool").files() == []
    db = connect(uri, database)
    try:
        docs = list(db[ARTICLES].find({}, {"url": 1, "version": 1}))
        assert sorted(doc["url"] for doc in docs) == EXPECTED_URLS  # each exactly once
        assert {doc["version"] for doc in docs} == {1}
        assert db[ARTICLE_VERSIONS].count_documents({}) == 0
    finally:
        with contextlib.suppress(Exception):
            db.client.drop_database(database)
        db.client.close()


def test_embedded_server_that_dies_is_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONGO_URI", raising=False)
    pipeline = make_pipeline(tmp_path, "", MONGO_DATABASE="embedded")

    async def crawl() -> None:
        await pipeline.open_spider()
        first = pipeline._server
        assert first is not None
        first_pid = first.pid
        await pipeline.process_item(article(1))
        await pipeline.process_item(article(2))  # a full batch: written
        os.kill(first_pid, signal.SIGKILL)
        while first.alive():
            await asyncio.sleep(0.05)
        for n in range(3, 7):
            await pipeline.process_item(article(n))
        deadline = time.monotonic() + 60
        while not pipeline.stats.get_value("spool/replayed"):
            assert time.monotonic() < deadline, "no new server, or no replay"
            await asyncio.sleep(0.2)
        assert pipeline._server is not None and pipeline._server.pid != first_pid
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert pipeline.stats.get_value("spool/written", 0) >= 2
    assert pipeline.stats.get_value("spool/replayed") == pipeline.stats.get_value("spool/written")
    server = find_or_start_server(tmp_path)
    try:
        assert archived_urls(server.uri, "embedded") == sorted(article(n).url for n in range(1, 7))
    finally:
        server.release()
