"""The raw page archive (``pages``) and ``python -m crawler reparse``.

A real crawl of the mirror fills ``pages``; a stored page is then changed as a parser fix would
change its reading, and ``reparse`` must rebuild that record (version 2, the old one kept in
``article_versions``) without a single request to the mirror.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from bson import Binary
from pymongo.database import Database
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.archive.page_store import page_fields, page_html
from crawler.archive.reparse import reparse_pages
from crawler.archive.store import connect
from crawler.components.page_archive import PageArchiveMiddleware
from spiders.antara import AntaraKaltengSpider
from tests.mirror import (
    EXPECTED_URLS,
    LIVE_ORIGIN,
    REPO_DIR,
    SITE_DIR,
    MirrorServer,
    mirror_crawl_args,
    run_crawl,
)

FIXED = f"{LIVE_ORIGIN}/berita/811932/kasus-dbd-di-barito-utara-meningkat-dinkes-gencarkan-pemberantasan-sarang-nyamuk"
OLD_LEAD = "mencatat 86 kasus demam berdarah dengue"
NEW_LEAD = "mencatat 87 kasus demam berdarah dengue"

Doc = dict[str, Any]


@dataclass(repr=False)
class Reparsed:
    pages: dict[str, Doc]
    before: dict[str, Doc]
    after: dict[str, Doc]
    versions: list[Doc]
    output: str
    requests_during_reparse: int
    mirror_origin: str


@pytest.fixture(scope="module")
def reparsed(mongo_uri: str) -> Iterator[Reparsed]:
    database = f"pages_{uuid.uuid4().hex[:12]}"
    db = connect(mongo_uri, database)
    try:
        with MirrorServer() as mirror:
            run = run_crawl("antara_kalteng", *mirror_crawl_args(mirror, mongo_uri, database))
            assert run.returncode == 0, run.log[-3000:]
            assert run.stats.get("pages/stored") == len(EXPECTED_URLS)
            pages = {doc["url"]: doc for doc in db.pages.find({}, {"_id": 0})}
            before = {doc["url"]: doc for doc in db.articles.find({}, {"_id": 0})}
            # Emulate a parser fix that reads one page differently: change the stored page.
            html = gzip.decompress(pages[FIXED]["body"]).replace(
                OLD_LEAD.encode(), NEW_LEAD.encode()
            )
            db.pages.update_one({"url": FIXED}, {"$set": {"body": Binary(gzip.compress(html))}})
            requests_before = sum(mirror.counts.values())
            process = subprocess.run(
                [
                    *(sys.executable, "-m", "crawler", "--mongo-uri", mongo_uri),
                    *("--database", database, "reparse", "--source", "antara_kalteng"),
                ],
                cwd=REPO_DIR,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert process.returncode == 0, process.stderr[-3000:]
            requests_during = sum(mirror.counts.values()) - requests_before
            origin = mirror.base_url
        after = {doc["url"]: doc for doc in db.articles.find({}, {"_id": 0})}
        versions = list(db.article_versions.find({}, {"_id": 0}))
        yield Reparsed(pages, before, after, versions, process.stdout, requests_during, origin)
    finally:
        db.client.drop_database(database)
        db.client.close()


def test_every_article_page_is_stored_compressed_under_its_live_url(reparsed: Reparsed) -> None:
    stored = {url: doc for url, doc in reparsed.pages.items() if "body" in doc}
    assert sorted(stored) == EXPECTED_URLS
    doc = stored[FIXED]
    assert doc["status"] == 200 and doc["last_status"] == 200
    assert doc["compression"] == "gzip" and doc["source"] == "antara_kalteng"
    assert isinstance(doc["fetched_at"], datetime)
    assert doc["headers"]["content-type"].startswith("text/html")
    html = page_html(doc)
    assert len(html.encode()) == doc["size"] > len(doc["body"])
    assert OLD_LEAD in html
    # Stored as the live site serves it: the mirror's link rewriting is undone.
    assert reparsed.mirror_origin not in html and LIVE_ORIGIN in html


def test_a_missing_page_is_remembered_without_a_body(reparsed: Reparsed) -> None:
    gone = [doc for doc in reparsed.pages.values() if "body" not in doc]
    assert [(doc["url"].split("/")[4], doc["last_status"]) for doc in gone] == [("811901", 404)]


def test_reparse_updates_only_the_changed_record_without_network(reparsed: Reparsed) -> None:
    assert reparsed.requests_during_reparse == 0
    assert "updated:       1" in reparsed.output
    assert f"unchanged:     {len(EXPECTED_URLS) - 1}" in reparsed.output
    assert sorted(reparsed.after) == EXPECTED_URLS
    fixed = reparsed.after[FIXED]
    assert fixed["version"] == 2 and "87 kasus" in fixed["body"]
    assert {doc["version"] for url, doc in reparsed.after.items() if url != FIXED} == {1}


def test_reparse_keeps_the_old_version(reparsed: Reparsed) -> None:
    assert [(doc["url"], doc["version"]) for doc in reparsed.versions] == [(FIXED, 1)]
    old = reparsed.versions[0]
    assert old["content_hash"] == reparsed.before[FIXED]["content_hash"]
    assert "86 kasus" in old["body"]


# --- in memory / against the test server ------------------------------------------------------


def test_reparse_filters_by_source_and_fetch_time(mongo_db: Database[Doc]) -> None:
    html = next((SITE_DIR / "berita" / "811932").glob("*.html")).read_bytes()
    fetched = datetime(2026, 1, 28, tzinfo=UTC)
    fields = page_fields(
        source="antara_kalteng",
        status=200,
        body=html,
        headers={"content-type": "text/html; charset=utf-8"},
        encoding="utf-8",
        fetched_at=fetched,
    )
    mongo_db.pages.insert_one({"url": FIXED, **fields})
    assert reparse_pages(mongo_db, since=datetime(2026, 2, 1, tzinfo=UTC)).pages == 0
    assert reparse_pages(mongo_db, source="other").pages == 0
    result = reparse_pages(mongo_db, source="antara_kalteng", since=fetched)
    assert (result.pages, result.archive.inserted) == (1, 1)
    doc = mongo_db.articles.find_one({"url": FIXED})
    assert doc is not None and doc["crawled_at"] == fetched


def test_reparse_counts_pages_it_cannot_use(mongo_db: Database[Doc]) -> None:
    now = datetime.now(UTC)
    empty = page_fields(
        source="antara_kalteng", status=200, body=b"", headers={}, encoding=None, fetched_at=now
    )
    mongo_db.pages.insert_one({"url": f"{LIVE_ORIGIN}/berita/1/kosong", **empty})
    result = reparse_pages(mongo_db)
    assert result.dropped == {"missing_title": 1}
    assert mongo_db.articles.count_documents({}) == 0


def test_page_html_prefers_valid_utf8_over_a_wrong_declared_encoding() -> None:
    text = "Kafé “Huma Betang”"
    fields = page_fields(
        source="s",
        status=200,
        body=text.encode("utf-8"),
        headers={},
        encoding="iso-8859-1",
        fetched_at=datetime.now(UTC),
    )
    assert page_html(fields) == text
    latin = {
        **fields,
        "body": gzip.compress(text.replace("“", '"').replace("”", '"').encode("latin-1")),
    }
    assert page_html(latin) == 'Kafé "Huma Betang"'


def test_an_error_response_keeps_the_stored_body() -> None:
    fields = page_fields(
        source="s",
        status=404,
        body=b"gone",
        headers={},
        encoding=None,
        fetched_at=datetime.now(UTC),
    )
    assert set(fields) == {"source", "last_status", "last_fetched_at"}


def test_unreachable_database_costs_the_page_not_the_crawl(tmp_path: Path) -> None:
    settings = {
        "MONGO_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200",
        "DATA_DIR": str(tmp_path),
    }
    crawler = get_crawler(AntaraKaltengSpider, settings_dict=settings)
    crawler.spider = crawler._create_spider()
    middleware = PageArchiveMiddleware.from_crawler(crawler)
    request = Request(FIXED, meta={"article": True}, cb_kwargs={"live_url": FIXED})
    response = HtmlResponse(FIXED, body=b"<html></html>", request=request)

    async def twice() -> None:
        for _ in range(2):
            assert await middleware.process_response(request, response) is response
        await middleware.spider_closed()

    asyncio.run(twice())
    assert crawler.stats is not None
    # Not lost: spooled for the next run (issue 7, point 11; see tests/test_fault_page_archive).
    assert crawler.stats.get_value("pages/spooled") == 2
    assert crawler.stats.get_value("pages/errors") is None


def test_disabled_by_setting() -> None:
    crawler = get_crawler(AntaraKaltengSpider, settings_dict={"PAGE_ARCHIVE_ENABLED": False})
    with pytest.raises(NotConfigured):
        PageArchiveMiddleware.from_crawler(crawler)
