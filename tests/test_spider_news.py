"""The ``news`` spider and the configured publishers' spiders.

In memory first: the spider's callbacks fed the mirrors' pages (``tests/publisher_mirrors``,
generated, not saved live pages), to check each discovery method and the fall from one to the
next. Then a few real crawls (``scrapy crawl``, subprocesses, into the session's server) of the
three mirrors: every article archived exactly once, the stats naming the method used, a second
run fetching no known article (the WordPress one asking ``modified_after``), robots.txt obeyed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from crawler.archive.reparse import reparse_pages
from crawler.archive.store import connect
from crawler.extract.normalize import canonical_url
from crawler.sites.publisher_config import shipped_configs
from spiders.news import SPIDERS, ZeroConfigSpider
from spiders.publishers import PublisherSpider
from tests.mirror import MirrorServer
from tests.publisher_mirrors import BareMirror, SitemapMirror, WordPressMirror, crawl
from tests.publisher_pages import rss

MIRROR = "http://127.0.0.1:8765"


def make_spider(name: str = "news", **kwargs: Any) -> PublisherSpider:
    spider_class = ZeroConfigSpider if name == "news" else SPIDERS[name]
    spider = spider_class.from_crawler(get_crawler(spider_class), **kwargs)
    assert isinstance(spider, PublisherSpider)
    return spider


def stats(spider: PublisherSpider) -> dict[str, Any]:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_stats()


def served(mirror: MirrorServer, path: str, request: Request | None = None) -> TextResponse:
    """The mirror's answer to ``path`` as a response at the fixed mirror address."""
    page = mirror.respond(path)
    body = page.body.replace(mirror.base_url.encode(), MIRROR.encode())
    body = body.replace(
        mirror.base_url.replace("/", "\\/").encode(), MIRROR.replace("/", "\\/").encode()
    )
    kind = XmlResponse if "xml" in page.content_type else HtmlResponse
    if "json" in page.content_type:
        kind = TextResponse
    headers = {"Content-Type": page.content_type, **page.headers}
    return kind(
        url=MIRROR + path,
        status=page.status,
        body=body,
        headers=headers,
        request=request,
        encoding="utf-8",
    )


def start(spider: PublisherSpider) -> list[Request]:
    async def collect() -> list[Request]:
        return [request async for request in spider.start()]

    return asyncio.run(collect())


# --- the spiders ---------------------------------------------------------------------------


def test_every_shipped_config_is_a_spider_of_its_name() -> None:
    assert (
        set(SPIDERS)
        == set(shipped_configs())
        >= {
            "tabengan",
            "prokalteng",
            "kalteng_tribunnews",
            "borneonews",
        }
    )
    spider = make_spider("kalteng_tribunnews")
    assert spider.source == "kalteng_tribunnews"
    assert spider.allowed_domains == ["kalteng.tribunnews.com"]
    assert spider.methods == ("sitemap", "feed", "listing")  # wp_api = false


def test_news_takes_its_site_from_the_url_argument() -> None:
    spider = make_spider(url="https://kabar.sampit.example/", base_url=MIRROR, max_pages="3")
    assert (spider.name, spider.source, spider.live_origin) == (
        "news",
        "kabar_sampit_example",
        "https://kabar.sampit.example",
    )
    assert [r.url for r in start(spider)] == [MIRROR + "/"]
    assert spider.max_pages == 3
    with pytest.raises(ValueError, match="-a url="):
        make_spider()


# --- WordPress -------------------------------------------------------------------------------


def test_the_home_pages_api_link_leads_to_the_posts_and_records() -> None:
    spider = make_spider(url=WordPressMirror.live + "/", base_url=MIRROR)
    with WordPressMirror() as mirror:
        [posts] = list(spider.parse_home(served(mirror, "/")))
        assert posts.url.startswith(f"{MIRROR}/wp-json/wp/v2/posts?per_page=100&page=1&_embed=1")
        path = posts.url.removeprefix(MIRROR)
        output = list(spider.parse_posts(served(mirror, path, posts), **posts.cb_kwargs))
    *records, next_page = output
    assert len(records) == 100
    assert isinstance(next_page, Request) and "page=2" in next_page.url
    first = records[0]
    assert first.url == canonical_url(WordPressMirror.live + mirror.newest(1)[0].path)
    assert first.source == "tabengan" and first.title and first.body
    assert MIRROR not in json.dumps([r.image_url for r in records])  # links are the live site's
    assert stats(spider)["news/discovery/used/wp_api"] == 1


def test_an_incremental_run_asks_for_changes_only_and_skips_what_it_has() -> None:
    spider = make_spider("tabengan", base_url=MIRROR)
    spider.changed_after = datetime(2026, 1, 29, tzinfo=UTC)
    request = spider.posts_request(f"{MIRROR}/wp-json/", 1)
    assert "modified_after=2026-01-29T07%3A00%3A00" in request.url  # midnight UTC in WIB
    with WordPressMirror() as mirror:
        # A server that ignores modified_after (before WordPress 5.7) answers everything:
        everything = "/wp-json/wp/v2/posts?per_page=100&page=1&_embed=1"
        output = list(spider.parse_posts(served(mirror, everything), 1, f"{MIRROR}/wp-json/"))
    newer = [a for a in mirror.articles if a.modified > spider.changed_after]
    *records, next_page = output
    assert len(records) == len(newer) > 0 and "page=2" in next_page.url
    assert stats(spider)["incremental/skipped_known"] == 100 - len(newer)
    # Page 2 holds nothing changed: no page 3 is asked for.
    with WordPressMirror(count=250) as mirror:
        spider.changed_after = mirror.newest(101)[-1].modified  # page 2's newest
        second = "/wp-json/wp/v2/posts?per_page=100&page=2&_embed=1"
        assert list(spider.parse_posts(served(mirror, second), 2, f"{MIRROR}/wp-json/")) == []


def test_a_broken_api_page_is_counted_and_the_next_method_tried() -> None:
    spider = make_spider(url=WordPressMirror.live + "/", base_url=MIRROR)
    broken = TextResponse(url=f"{MIRROR}/wp-json/wp/v2/posts", body=b"<html>502</html>")
    [robots] = list(spider.parse_posts(broken, 1, f"{MIRROR}/wp-json/"))
    assert robots.url == f"{MIRROR}/robots.txt"
    assert stats(spider)["news/discovery/bad_input/wp_api_json"] == 1
    assert "news/discovery/used/wp_api" not in stats(spider)


def test_an_api_that_fails_is_counted_and_the_sitemaps_used_instead() -> None:
    spider = make_spider(url=WordPressMirror.live + "/", base_url=MIRROR)
    with WordPressMirror(count=30) as mirror:
        mirror.fail("/wp-json/wp/v2/posts", 1, status=500)  # after the retries, say
        articles, _ = walk(spider, mirror)
    assert len(articles) == 30
    counted = stats(spider)
    assert counted["news/listing_errors/http_500"] == 1
    assert counted["news/discovery/used/sitemap"] == 1
    assert "news/discovery/used/wp_api" not in counted


# --- sitemaps, feeds, listings -----------------------------------------------------------------


def walk(spider: PublisherSpider, mirror: MirrorServer) -> tuple[set[str], list[str]]:
    """Follow every non-article request from the start, offline, as a crawl would; errors
    (404s) go to the errback. The article URLs requested and the other URLs fetched."""
    from scrapy.spidermiddlewares.httperror import HttpError
    from twisted.python.failure import Failure

    pending = start(spider)
    articles: set[str] = set()
    fetched: list[str] = []
    while pending:
        request = pending.pop(0)
        if request.meta.get("article"):
            articles.add(request.cb_kwargs["live_url"])
            continue
        path = request.url.removeprefix(MIRROR)
        fetched.append(path)
        response = served(mirror, path, request)
        if response.status >= 400:
            error = HttpError(
                HtmlResponse(url=request.url, status=response.status, request=request)
            )
            failure = Failure(error)
            failure.request = request  # type: ignore[attr-defined]
            produced = list(request.errback(failure) or [])  # type: ignore[misc]
        else:
            produced = list(request.callback(response, **request.cb_kwargs) or [])  # type: ignore[misc]
        pending.extend(r for r in produced if isinstance(r, Request))
    return articles, fetched


def test_the_sitemap_site_is_found_through_robots_txt() -> None:
    spider = make_spider(url=SitemapMirror.live + "/", base_url=MIRROR)
    with SitemapMirror() as mirror:
        articles, fetched = walk(spider, mirror)
    assert articles == {SitemapMirror.live + a.path for a in mirror.articles}
    assert "/sitemap/index.xml" in fetched and "/sitemap.xml" not in fetched
    counted = stats(spider)
    assert counted["news/discovery/used/sitemap"] == 1
    assert counted["news/skipped/not_article"] == 5  # the tag pages' sitemap
    assert counted["news/discovery/absent/wp-json"] == 1


def test_the_bare_site_falls_through_to_its_listing_pages() -> None:
    spider = make_spider(url=BareMirror.live + "/", base_url=MIRROR)
    with BareMirror() as mirror:
        articles, fetched = walk(spider, mirror)
    assert articles == {BareMirror.live + a.path for a in mirror.articles}
    assert fetched == [
        "/",
        "/wp-json/",
        "/robots.txt",
        "/sitemap.xml",
        "/sitemap_index.xml",
        "/news-sitemap.xml",
        "/feed/",
        "/rss",
        "/",
        "/indeks?page=2",
        "/indeks?page=3",
    ]
    counted = stats(spider)
    assert counted["news/discovery/used/listing"] == 1
    assert counted["news/discovery/listing/pages"] == 3
    assert not [key for key in counted if "/used/" in key and not key.endswith("listing")]


def test_a_date_window_limits_the_api_query_and_the_sitemap_entries() -> None:
    spider = make_spider("tabengan", since="2026-01-20", until="2026-01-25")
    url = spider.posts_request("https://www.tabengan.com/wp-json/", 1).url
    assert "after=2026-01-20T00%3A00%3A00&before=2026-01-26T00%3A00%3A00" in url
    assert "modified_after" not in url  # a backfill asks for the whole window
    spider = make_spider(url=SitemapMirror.live + "/", base_url=MIRROR, since="2026-01-10")
    with SitemapMirror() as mirror:
        articles, _ = walk(spider, mirror)
    since = datetime(2026, 1, 9, 17, 0, tzinfo=UTC)  # midnight in WIB
    assert articles == {
        SitemapMirror.live + a.path for a in mirror.articles if a.published >= since
    }
    assert 0 < len(articles) < len(mirror.articles)
    assert stats(spider)["news/skipped/older_than_since"] > 0


def test_a_feed_is_used_before_listings() -> None:
    spider = make_spider(url=BareMirror.live + "/", base_url=MIRROR)
    with BareMirror() as mirror:
        mirror.add_page("/rss", rss(mirror.live, "Borneonews", mirror.newest(5)))
        articles, fetched = walk(spider, mirror)
    assert len(articles) == 5 and "/indeks?page=2" not in fetched
    assert stats(spider)["news/discovery/used/feed"] == 1


def test_a_malformed_sitemap_is_counted_and_the_fallbacks_tried() -> None:
    spider = make_spider(url=BareMirror.live + "/", base_url=MIRROR)
    with BareMirror() as mirror:
        mirror.add_page("/sitemap.xml", "<html><body>Halaman utama</body></html>")
        walk(spider, mirror)
    counted = stats(spider)
    assert counted["news/discovery/bad_input/sitemap_xml"] == 1
    assert counted["news/discovery/used/listing"] == 1


def test_a_listing_without_article_links_is_counted_for_the_monitor() -> None:
    spider = make_spider(url=BareMirror.live + "/", base_url=MIRROR)
    page = HtmlResponse(url=f"{MIRROR}/kategori/x", body=b"<a href='/tag/banjir'>banjir</a>")
    assert list(spider.parse_listing(page, page=1)) == []
    assert stats(spider)["news/listing/no_links/kategori"] == 1


# --- real crawls -------------------------------------------------------------------------------


def article_fetches(mirror: MirrorServer, paths: list[str]) -> dict[str, int]:
    return {path: mirror.count(path) for path in paths if mirror.count(path)}


def archived(mongo_uri: str, database: str) -> list[dict[str, Any]]:
    db = connect(mongo_uri, database)
    try:
        return list(db.articles.find({}, {"_id": 0}))
    finally:
        db.client.close()


@pytest.fixture
def database(mongo_uri: str) -> Iterator[str]:
    name = f"news_{uuid.uuid4().hex[:12]}"
    yield name
    db = connect(mongo_uri, name)
    db.client.drop_database(name)
    db.client.close()


@pytest.mark.slow
def test_wordpress_through_the_api_then_only_what_changed(mongo_uri: str, database: str) -> None:
    with WordPressMirror() as mirror:
        first = crawl(mirror, mongo_uri, database)
        paths = [a.path for a in mirror.articles]
        assert article_fetches(mirror, paths) == {}  # no article page downloaded
        posts = [p for p in mirror.counts if p.startswith("/wp-json/wp/v2/posts")]
        assert len(posts) == 2  # 120 posts, 100 a request
        mirror.edit(7, datetime(2026, 2, 1, 3, 0, tzinfo=UTC), "Judul yang diperbaiki")
        second = crawl(mirror, mongo_uri, database)
        asked = [p for p in mirror.counts if p.startswith("/wp-json/wp/v2/posts")]
    assert first.stats["news/discovery/used/wp_api"] == 1
    assert first.stats["archive/inserted"] == 120
    records = archived(mongo_uri, database)
    assert sorted(r["url"] for r in records) == mirror.expected_urls
    assert {r["source"] for r in records} == {"tabengan"}
    assert [p for p in asked if "modified_after=2026-01-30T03%3A30%3A00" in p] == asked
    assert len(asked) == 1 and article_fetches(mirror, paths) == {}
    assert second.stats["archive/updated"] == 1 and "archive/inserted" not in second.stats
    edited_url = canonical_url(mirror.live + mirror.articles[6].path)
    [edited] = [r for r in archived(mongo_uri, database) if r["url"] == edited_url]
    assert (edited["title"], edited["version"]) == ("Judul yang diperbaiki", 2)


@pytest.mark.slow
def test_a_configured_spider_crawls_its_publisher(mongo_uri: str, database: str) -> None:
    with WordPressMirror(count=30) as mirror:
        run = crawl(mirror, mongo_uri, database, spider="tabengan")
    assert run.stats["tabengan/discovery/used/wp_api"] == 1
    # The monitors judge the publisher's fields as they judge a desk's.
    assert run.stats["monitors/failed"] == 0 and run.stats["monitors/pages"] == 30
    assert run.stats["monitors/coverage/authors/message"] == "authors found on 30 of 30 pages"
    records = archived(mongo_uri, database)
    assert len(records) == 30
    assert {(r["source"], r["region"], r["site_name"]) for r in records} == {
        ("tabengan", "Kalimantan Tengah", "Tabengan")
    }


@pytest.mark.slow
def test_sitemaps_robots_txt_and_a_second_run(mongo_uri: str, database: str) -> None:
    with SitemapMirror() as mirror:
        first = crawl(mirror, mongo_uri, database)
        paths = [a.path for a in mirror.articles]
        first_fetches = article_fetches(mirror, paths)
        second = crawl(mirror, mongo_uri, database)
        second_fetches = article_fetches(mirror, paths)
    allowed = [a.path for a in mirror.articles if a not in mirror.disallowed]
    assert mirror.disallowed and first_fetches == dict.fromkeys(allowed, 1)
    assert first.stats["news/dropped/robots_forbidden"] == len(mirror.disallowed)
    assert first.stats["news/discovery/used/sitemap"] == 1
    assert first.stats["monitors/failed"] == 0
    records = archived(mongo_uri, database)
    assert sorted(r["url"] for r in records) == mirror.expected_urls
    assert {r["source"] for r in records} == {"kalteng_tribunnews"}
    assert all(r["story_id"] and r["version"] == 1 for r in records)
    db = connect(mongo_uri, database)
    try:
        # Pages are kept under the records' source, so reparse finds their parser.
        assert db.pages.count_documents({"source": "kalteng_tribunnews"}) == len(allowed)
        reparsed = reparse_pages(db, source="kalteng_tribunnews")
        assert (reparsed.pages, reparsed.parsed, reparsed.parse_errors) == (len(allowed),) * 2 + (
            0,
        )
    finally:
        db.client.close()
    assert second_fetches == {}
    assert second.stats["incremental/skipped_known"] == len(allowed)


@pytest.mark.slow
def test_a_bare_site_through_its_listings(mongo_uri: str, database: str) -> None:
    with BareMirror() as mirror:
        first = crawl(mirror, mongo_uri, database)
        paths = [a.path for a in mirror.articles]
        first_fetches = article_fetches(mirror, paths)
        second = crawl(mirror, mongo_uri, database)
        second_fetches = article_fetches(mirror, paths)
        second_counts = mirror.counts
    assert first_fetches == dict.fromkeys(paths, 1)
    assert first.stats["news/discovery/used/listing"] == 1
    assert sorted(r["url"] for r in archived(mongo_uri, database)) == mirror.expected_urls
    assert second_fetches == {}
    assert "/indeks?page=2" not in second_counts  # the first page held only archived ones
    assert second.stats["incremental/stopped_listings"] == 1


def test_the_newest_change_of_a_source_comes_from_the_archive(
    mongo_uri: str, database: str
) -> None:
    from crawler.components.incremental import ArchiveAwareMiddleware

    db = connect(mongo_uri, database)
    day = datetime(2026, 1, 20, tzinfo=UTC)
    db.articles.insert_many(
        [
            {"url": "https://a.id/1", "source": "tabengan", "published_at": day},
            {
                "url": "https://a.id/2",
                "source": "tabengan",
                "published_at": day.replace(day=18),
                "modified_at": day.replace(day=22),
            },
            {"url": "https://a.id/3", "source": "tabengan", "modified_at": None},
            {"url": "https://b.id/1", "source": "other", "published_at": day.replace(day=28)},
        ]
    )
    db.client.close()
    crawler = get_crawler(SPIDERS["tabengan"], {"MONGO_URI": mongo_uri, "MONGO_DATABASE": database})
    middleware = ArchiveAwareMiddleware.from_crawler(crawler)
    assert asyncio.run(middleware.newest_change("tabengan")) == day.replace(day=22)
    assert asyncio.run(middleware.newest_change("prokalteng")) is None
    middleware.connection.close()
