"""Archive-aware crawling and backfill, end to end: real crawls of the mirror into a real server.

Request counts come from the mirror, so "downloaded" means "asked the server for".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.archive.store import connect
from crawler.components.incremental import ArchiveAwareMiddleware, Lookup
from spiders.antara import AntaraKaltengSpider
from tests.mirror import (
    EXPECTED_URLS,
    FIXTURE_DIR,
    LIVE_ORIGIN,
    SITE_DIR,
    CrawlRun,
    MirrorServer,
    listing_with,
    mirror_crawl_args,
    run_crawl,
)

#: What a crawl of an unchanged, fully archived site asks for: robots.txt, the feed, the home
#: page and the first page of each listing (the three in LISTING_PATHS; the home page's nav
#: menu names the same ones).
UNCHANGED_SITE_REQUESTS = {
    "/robots.txt": 1,
    "/rss/terkini.xml": 1,
    "/": 1,
    "/terkini": 1,
    "/kabar-daerah": 1,
    "/palangka-raya": 1,
}
GONE_PATH = "/berita/811901/pemkot-palangka-raya-tertibkan-reklame-tak-berizin"

TEMPLATE = next((SITE_DIR / "berita" / "811932").glob("*.html"))
TEMPLATE_SLUG = f"811932/{TEMPLATE.stem}"
TEMPLATE_TITLE = "Kasus DBD di Barito Utara meningkat, Dinkes gencarkan pemberantasan sarang nyamuk"
TEMPLATE_LEAD = "mencatat 86 kasus demam berdarah dengue"


def crawl(mirror: MirrorServer, mongo_uri: str, database: str, *args: str) -> CrawlRun:
    mirror.reset_counts()
    run = run_crawl("antara_kalteng", *mirror_crawl_args(mirror, mongo_uri, database, *args))
    assert run.returncode == 0, run.log[-3000:]
    assert run.stats.get("finish_reason") == "finished"
    assert "Traceback" not in run.log, run.log[-3000:]
    return run


def article_requests(counts: dict[str, int]) -> dict[str, int]:
    return {path: n for path, n in counts.items() if path.startswith("/berita/")}


def archived_urls(mongo_uri: str, database: str) -> list[str]:
    db = connect(mongo_uri, database)
    try:
        return sorted(doc["url"] for doc in db.articles.find({}, {"url": 1}))
    finally:
        db.client.close()


def drop(mongo_uri: str, database: str) -> None:
    db = connect(mongo_uri, database)
    db.client.drop_database(database)
    db.client.close()


def new_article(number: int) -> tuple[str, str]:
    """(path, html) of a new article: a copy of a real page under a new id, title and lead."""
    slug = f"8130{number:02d}/berita-baru-{number}"
    html = TEMPLATE.read_text(encoding="utf-8")
    html = html.replace(TEMPLATE_SLUG, slug).replace(TEMPLATE_TITLE, f"Berita baru nomor {number}")
    return f"/berita/{slug}", html.replace(TEMPLATE_LEAD, f"mencatat {number} kasus baru")


# --- 1. archive-aware crawling ----------------------------------------------------------------


@dataclass(repr=False)
class Crawls:
    first: CrawlRun
    first_counts: dict[str, int]
    unchanged: CrawlRun
    unchanged_counts: dict[str, int]
    new_paths: list[str]
    after_new: CrawlRun
    after_new_counts: dict[str, int]
    after_new_archive: list[str]
    refresh: CrawlRun
    refresh_counts: dict[str, int]


@pytest.fixture(scope="module")
def crawls(mongo_uri: str) -> Iterator[Crawls]:
    database = f"inc_{uuid.uuid4().hex[:12]}"
    try:
        with MirrorServer() as mirror:
            first = crawl(mirror, mongo_uri, database)
            first_counts = mirror.counts
            unchanged = crawl(mirror, mongo_uri, database)
            unchanged_counts = mirror.counts
            new = [new_article(number) for number in (1, 2, 3)]
            for path, html in new:
                mirror.add_page(path, html)
            mirror.add_page(
                "/terkini",
                listing_with(
                    "terkini.html", [path for path, _ in new], "28 Januari 2026 09:00", "baru"
                ),
            )
            after_new = crawl(mirror, mongo_uri, database)
            after_new_counts = mirror.counts
            after_new_archive = archived_urls(mongo_uri, database)
            refresh = crawl(mirror, mongo_uri, database, "-a", "refresh=1")
            refresh_counts = mirror.counts
        yield Crawls(
            first,
            first_counts,
            unchanged,
            unchanged_counts,
            [path for path, _ in new],
            after_new,
            after_new_counts,
            after_new_archive,
            refresh,
            refresh_counts,
        )
    finally:
        drop(mongo_uri, database)


def test_first_crawl_downloads_every_article(crawls: Crawls) -> None:
    expected = {url.removeprefix(LIVE_ORIGIN): 1 for url in EXPECTED_URLS} | {GONE_PATH: 1}
    assert article_requests(crawls.first_counts) == expected
    assert crawls.first_counts.get("/terkini/2") == 1
    assert crawls.first.stats.get("archive/inserted") == len(EXPECTED_URLS)
    assert "incremental/skipped_known" not in crawls.first.stats


def test_unchanged_site_downloads_no_article_and_only_first_listing_pages(crawls: Crawls) -> None:
    assert crawls.unchanged_counts == UNCHANGED_SITE_REQUESTS
    stats = crawls.unchanged.stats
    # Every archived article is linked from some first page; each is counted once.
    assert stats.get("incremental/skipped_known") == len(EXPECTED_URLS)
    assert stats.get("incremental/stopped_listings") == 1  # /terkini, the one with a next page
    assert "item_scraped_count" not in stats


def test_three_new_articles_are_the_only_articles_downloaded(crawls: Crawls) -> None:
    assert article_requests(crawls.after_new_counts) == dict.fromkeys(crawls.new_paths, 1)
    assert crawls.after_new.stats.get("archive/inserted") == 3
    new_urls = [LIVE_ORIGIN + path for path in crawls.new_paths]
    assert crawls.after_new_archive == sorted(EXPECTED_URLS + new_urls)
    # Page 1 had new articles, so page 2 was checked; it held nothing new and is the last.
    assert crawls.after_new_counts.get("/terkini/2") == 1
    # The link that answered 404 in the first crawl is not asked again within a day.
    assert crawls.after_new.stats.get("incremental/skipped_gone") == 1


def test_refresh_downloads_everything_again(crawls: Crawls) -> None:
    requested = set(article_requests(crawls.refresh_counts))
    everything = {url.removeprefix(LIVE_ORIGIN) for url in EXPECTED_URLS}
    assert requested == everything | set(crawls.new_paths) | {GONE_PATH}
    assert crawls.refresh.stats.get("archive/unchanged") == len(EXPECTED_URLS) + 3
    assert "incremental/skipped_known" not in crawls.refresh.stats


# --- the middleware's decisions, in memory ----------------------------------------------------


def run_middleware(
    lookup: Lookup | None,
    outputs: list[Any],
    meta: dict[str, Any],
    settings: dict[str, Any] | None = None,
    **spider_args: str,
) -> tuple[list[Any], dict[str, Any]]:
    """Run the middleware over one listing callback's output with a canned archive lookup."""
    import asyncio

    crawler = get_crawler(AntaraKaltengSpider, settings_dict=settings or {})
    crawler.spider = crawler._create_spider(**spider_args)
    middleware = ArchiveAwareMiddleware.from_crawler(crawler)

    async def fake_lookup(urls: set[str]) -> Lookup | None:
        return lookup

    middleware._lookup = fake_lookup  # type: ignore[method-assign]
    request = Request(f"{LIVE_ORIGIN}/terkini", meta=meta)
    response = HtmlResponse(request.url, body=b"<html></html>", request=request)

    async def source() -> AsyncIterator[Any]:
        for output in outputs:
            yield output

    async def collect() -> list[Any]:
        return [o async for o in middleware.process_spider_output(response, source())]

    result = asyncio.run(collect())
    assert crawler.stats is not None
    return result, crawler.stats.get_stats()


def article(path: str) -> Request:
    return Request(
        LIVE_ORIGIN + path, meta={"article": True}, cb_kwargs={"live_url": LIVE_ORIGIN + path}
    )


NEXT_PAGE = Request(f"{LIVE_ORIGIN}/terkini/2", meta={"listing": "terkini", "pagination": True})
PAGE_ONE = {"listing": "terkini", "listing_page": 1}


def test_fresh_archived_articles_are_fetched_again_and_old_ones_skipped() -> None:
    now = datetime.now(UTC)
    lookup = Lookup(
        {f"{LIVE_ORIGIN}/berita/1/a": now - timedelta(hours=2), f"{LIVE_ORIGIN}/berita/2/b": None},
        set(),
    )
    outputs = [article("/berita/1/a"), article("/berita/2/b"), NEXT_PAGE]
    kept, stats = run_middleware(lookup, outputs, PAGE_ONE)
    assert [r.url for r in kept] == [f"{LIVE_ORIGIN}/berita/1/a"]  # all archived: next page dropped
    assert stats["incremental/refreshed"] == 1
    assert stats["incremental/skipped_known"] == 1
    assert stats["incremental/stopped_listings"] == 1


def test_stop_after_known_pages_counts_consecutive_pages() -> None:
    lookup = Lookup({f"{LIVE_ORIGIN}/berita/2/b": None}, set())
    settings = {"STOP_AFTER_KNOWN_PAGES": 2}
    kept, _ = run_middleware(lookup, [article("/berita/2/b"), NEXT_PAGE.copy()], PAGE_ONE, settings)
    assert [r.meta.get("incremental_known_pages") for r in kept] == [1]
    second = {**PAGE_ONE, "incremental_known_pages": 1}
    kept, stats = run_middleware(
        lookup, [article("/berita/2/b"), NEXT_PAGE.copy()], second, settings
    )
    assert kept == [] and stats["incremental/stopped_listings"] == 1


def test_a_page_with_something_new_resets_the_count() -> None:
    lookup = Lookup({f"{LIVE_ORIGIN}/berita/2/b": None}, set())
    meta = {**PAGE_ONE, "incremental_known_pages": 5}
    kept, _ = run_middleware(lookup, [article("/berita/3/c"), NEXT_PAGE.copy()], meta)
    assert [r.meta.get("incremental_known_pages") for r in kept] == [None, 0]


def test_backfill_never_stops_a_listing_but_still_skips_known_articles() -> None:
    lookup = Lookup({f"{LIVE_ORIGIN}/berita/2/b": None}, set())
    outputs = [article("/berita/2/b"), NEXT_PAGE.copy()]
    kept, stats = run_middleware(lookup, outputs, PAGE_ONE, since="2026-01-01")
    assert [r.url for r in kept] == [NEXT_PAGE.url]
    assert stats["incremental/skipped_known"] == 1
    assert "incremental/stopped_listings" not in stats


def test_unreachable_archive_crawls_everything() -> None:
    outputs = [article("/berita/2/b"), NEXT_PAGE.copy()]
    kept, _ = run_middleware(None, outputs, PAGE_ONE)
    assert [r.url for r in kept] == [f"{LIVE_ORIGIN}/berita/2/b", NEXT_PAGE.url]


def test_unreachable_archive_is_counted_and_the_crawl_goes_on(tmp_path: Path) -> None:
    """A real lookup against a port nobody listens on."""
    import asyncio

    settings = {"MONGO_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200"}
    crawler = get_crawler(AntaraKaltengSpider, settings_dict=settings)
    crawler.spider = crawler._create_spider()
    middleware = ArchiveAwareMiddleware.from_crawler(crawler)
    assert asyncio.run(middleware._lookup({f"{LIVE_ORIGIN}/berita/1/a"})) is None
    assert asyncio.run(middleware._lookup({f"{LIVE_ORIGIN}/berita/1/a"})) is None  # not retried
    assert crawler.stats is not None
    assert crawler.stats.get_value("incremental/db_unavailable") == 2


def test_disabled_by_setting() -> None:
    from scrapy.exceptions import NotConfigured

    crawler = get_crawler(AntaraKaltengSpider, settings_dict={"INCREMENTAL_ENABLED": False})
    with pytest.raises(NotConfigured):
        ArchiveAwareMiddleware.from_crawler(crawler)


# --- 2. backfill ------------------------------------------------------------------------------


def in_window(url: str, since: str, until: str) -> bool:
    record = json.loads((FIXTURE_DIR / "expected" / f"{url.split('/')[4]}.json").read_text())
    published = datetime.fromisoformat(record["published_at"].replace("Z", "+00:00"))
    local_day = (published + timedelta(hours=7)).date().isoformat()  # WIB, UTC+7
    return since <= local_day <= until


def test_backfill_archives_exactly_the_window(mongo_uri: str) -> None:
    database = f"backfill_{uuid.uuid4().hex[:12]}"
    since, until = "2026-01-25", "2026-01-26"
    expected = sorted(url for url in EXPECTED_URLS if in_window(url, since, until))
    assert 0 < len(expected) < len(EXPECTED_URLS)
    try:
        with MirrorServer() as mirror:
            run = crawl(mirror, mongo_uri, database, "-a", f"since={since}", "-a", f"until={until}")
        assert archived_urls(mongo_uri, database) == expected
        assert run.stats["antara_kalteng/skipped/newer_than_until"] > 0
        assert run.stats["antara_kalteng/skipped/older_than_since"] > 0
    finally:
        drop(mongo_uri, database)


def test_backfill_walks_past_archived_pages(mongo_uri: str) -> None:
    """On a fully archived site a plain crawl stops at page 1; a backfill goes on to page 2
    (skipping the articles it already has)."""
    database = f"backfill_{uuid.uuid4().hex[:12]}"
    try:
        with MirrorServer() as mirror:
            crawl(mirror, mongo_uri, database)
            run = crawl(mirror, mongo_uri, database, "-a", "since=2019-01-01")
            counts = mirror.counts
        assert counts.get("/terkini/2") == 1
        assert article_requests(counts) == {}
        assert "incremental/stopped_listings" not in run.stats
    finally:
        drop(mongo_uri, database)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"until": "2026-02-30"}, "until must be a date"),
        ({"until": "tomorrow"}, "until must be a date"),
        ({"since": "2026-01-27", "until": "2026-01-26"}, "must not be after until"),
        ({"refresh": "yes"}, "refresh must be 0 or 1"),
    ],
)
def test_bad_window_arguments_are_rejected(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AntaraKaltengSpider(**kwargs)


def test_until_is_the_end_of_the_day_in_wib() -> None:
    spider = AntaraKaltengSpider(since="2026-01-26", until="2026-01-26")
    assert spider.until is not None and spider.until.isoformat() == "2026-01-26T17:00:00+00:00"
    assert spider.backfill and not spider.refresh
