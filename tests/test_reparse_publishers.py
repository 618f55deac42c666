"""``reparse`` of the publisher spiders' pages: zero-config crawls and WordPress REST API posts.

Real crawls (``scrapy crawl``, subprocesses, into the session's server) of the generated
publisher mirrors (:mod:`tests.publisher_mirrors`, reconstructed sites, not copies of live
ones). Each crawl's ``pages`` are then copied into an empty database and re-parsed there, with
no request to the mirror: the records rebuilt must be the crawl's, field for field, but for
the times that say when a record was fetched or archived.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from bson import Binary
from pymongo.database import Database
from scrapy.http import TextResponse
from scrapy.utils.test import get_crawler

from crawler.archive.page_doc import WP_POST, page_post
from crawler.archive.reparse import reparse_pages, site_of
from crawler.archive.store import connect
from crawler.components.page_archive import PageArchiveMiddleware
from crawler.extract.normalize import canonical_url
from crawler.sites.generic import GenericSite
from crawler.sites.publisher_config import source_name
from spiders.news import SPIDERS
from spiders.publishers import PublisherSpider
from tests.publisher_mirrors import BareMirror, WordPressMirror, crawl

Doc = dict[str, Any]
#: Fields saying when a record was fetched or archived: a rebuild sets them anew.
WHEN = ("_id", "crawled_at", "first_seen_at", "last_seen_at")


class UnknownBareMirror(BareMirror):
    """The bare HTML site under a host no config and no site module knows."""

    live = "https://www.kabarsampit.example"
    site_name = "Kabar Sampit"


def records(db: Database[Doc]) -> dict[str, Doc]:
    docs = db.articles.find({}, {name: 0 for name in WHEN})
    return {doc["url"]: doc for doc in docs}


@pytest.fixture
def databases(mongo_uri: str) -> Iterator[tuple[Database[Doc], Database[Doc]]]:
    """(the crawl's database, an empty one to rebuild into), both dropped afterwards."""
    crawled = connect(mongo_uri, f"crawled_{uuid.uuid4().hex[:12]}")
    rebuilt = connect(mongo_uri, f"rebuilt_{uuid.uuid4().hex[:12]}")
    try:
        yield crawled, rebuilt
    finally:
        for db in (crawled, rebuilt):
            db.client.drop_database(db.name)
            db.client.close()


def rebuild(crawled: Database[Doc], rebuilt: Database[Doc]) -> None:
    """Copy the crawl's pages into ``rebuilt`` and re-parse them there: nothing else in it."""
    rebuilt.pages.insert_many(list(crawled.pages.find({}, {"_id": 0})))
    result = reparse_pages(rebuilt)
    assert (result.parse_errors, dict(result.dropped)) == (0, {})
    assert result.archive.inserted == result.pages == result.parsed > 0


@pytest.mark.slow
def test_a_zero_config_crawls_pages_reparse_into_the_same_records(
    mongo_uri: str, databases: tuple[Database[Doc], Database[Doc]]
) -> None:
    crawled, rebuilt = databases
    source = source_name("www.kabarsampit.example")
    with UnknownBareMirror() as mirror:
        run = crawl(mirror, mongo_uri, crawled.name, "news")
        requests_after_crawl = sum(mirror.counts.values())
        assert run.stats["news/discovery/used/listing"] == 1
        # The archive's own copy reparses, each record unchanged ...
        result = reparse_pages(crawled, source=source)
        # ... and so does an empty archive given only the pages.
        rebuild(crawled, rebuilt)
        assert sum(mirror.counts.values()) == requests_after_crawl  # no request while at it
    expected = len(mirror.expected_urls)
    assert (result.pages, result.parsed, result.parse_errors) == (expected, expected, 0)
    assert (result.archive.unchanged, result.archive.updated) == (expected, 0)
    before, after = records(crawled), records(rebuilt)
    assert sorted(before) == mirror.expected_urls
    assert {doc["source"] for doc in before.values()} == {source}
    assert after == before
    # The zero-config site of the pages' host read them, in WIB as the crawl did.
    page = crawled.pages.find_one({"source": source})
    assert page is not None and page["timezone"] == "Asia/Jakarta"
    site = site_of(page)
    assert isinstance(site, GenericSite) and site.config.source_file is None
    assert (site.source, site.timezone) == (source, "Asia/Jakarta")


@pytest.mark.slow
def test_wordpress_posts_are_kept_as_pages_and_reparse_rebuilds_their_records(
    mongo_uri: str, databases: tuple[Database[Doc], Database[Doc]]
) -> None:
    crawled, rebuilt = databases
    with WordPressMirror(count=30) as mirror:
        run = crawl(mirror, mongo_uri, crawled.name, "tabengan")
        assert not any(mirror.count(a.path) for a in mirror.articles)  # no article page fetched
        requests_after_crawl = sum(mirror.counts.values())
        rebuild(crawled, rebuilt)
        assert sum(mirror.counts.values()) == requests_after_crawl
    assert run.stats["tabengan/discovery/used/wp_api"] == 1
    assert run.stats["pages/wp_posts"] == run.stats["pages/stored"] == 30
    pages = {doc["url"]: doc for doc in crawled.pages.find({}, {"_id": 0})}
    assert sorted(pages) == mirror.expected_urls
    newest = mirror.newest(1)[0]
    page = pages[canonical_url(mirror.live + newest.path)]
    assert (page["format"], page["source"], page["status"]) == (WP_POST, "tabengan", 200)
    assert page["headers"] == {"content-type": "application/json; charset=utf-8"}
    assert page["compression"] == "gzip" and page["size"] == len(gzip.decompress(page["body"]))
    post = page_post(page)
    assert (post["id"], post["link"]) == (newest.number, mirror.live + newest.path)
    # Kept as the live site serves it: the mirror's address is gone, escaped or not.
    assert mirror.base_url not in json.dumps(post)
    assert records(rebuilt) == records(crawled)

    # A parser fix emulated by changing one stored post: reparse makes it version 2.
    url = next(iter(sorted(pages)))
    changed = page_post(pages[url])
    changed["content"]["rendered"] += "<p>Paragraf yang kini terbaca oleh parser.</p>"
    body = json.dumps(changed, ensure_ascii=False).encode()
    crawled.pages.update_one({"url": url}, {"$set": {"body": Binary(gzip.compress(body))}})
    again = reparse_pages(crawled, source="tabengan")
    assert (again.archive.updated, again.archive.unchanged) == (1, 29)
    doc = crawled.articles.find_one({"url": url})
    assert doc is not None and doc["version"] == 2
    assert doc["body"].endswith("Paragraf yang kini terbaca oleh parser.")


def test_the_page_archive_keeps_each_post_of_an_api_page(
    mongo_uri: str, mongo_db: Database[Doc]
) -> None:
    """In memory: the middleware splits one API page into a page per post, under the
    articles' live URLs, and the API page reaches the spider only once they are stored."""
    spider_class = SPIDERS["tabengan"]
    settings = {"MONGO_URI": mongo_uri, "MONGO_DATABASE": mongo_db.name}
    crawler = get_crawler(spider_class, settings_dict=settings)
    with WordPressMirror(count=12) as mirror:
        spider = crawler._create_spider(base_url=mirror.base_url)
        assert isinstance(spider, PublisherSpider)
        crawler.spider = spider
        middleware = PageArchiveMiddleware.from_crawler(crawler)
        request = spider.posts_request(f"{mirror.base_url}/wp-json/", 1)
        path = request.url.removeprefix(mirror.base_url)
        served = mirror.respond(path)
    assert b"127.0.0.1" in served.body and b"\\/" in served.body  # escaped mirror links
    response = TextResponse(
        request.url,
        body=served.body,
        headers={"Content-Type": served.content_type, **served.headers},
        encoding="utf-8",
        request=request,
    )

    async def through() -> None:
        assert await middleware.process_response(request, response) is response
        assert mongo_db.pages.count_documents({"format": WP_POST}) == 12  # stored before
        await middleware.spider_closed()

    asyncio.run(through())
    assert crawler.stats is not None
    assert crawler.stats.get_value("pages/wp_posts") == crawler.stats.get_value("pages/stored")
    urls = sorted(doc["url"] for doc in mongo_db.pages.find())
    assert urls == mirror.expected_urls
    for doc in mongo_db.pages.find():
        post = page_post(doc)
        assert mirror.base_url not in json.dumps(post)
        assert doc["source"] == "tabengan" and doc["timezone"] == "Asia/Jakarta"
    result = reparse_pages(mongo_db)
    assert (result.pages, result.archive.inserted, result.parse_errors) == (12, 12, 0)
    # An API answer that is no list of posts keeps nothing (the spider counts it).
    broken = TextResponse(request.url, body=b'{"code": "x"}', encoding="utf-8", request=request)
    assert middleware._post_pages(broken) == []
    assert middleware._post_pages(response.replace(status=400)) == []
