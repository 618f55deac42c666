"""Every desk's spider navigates like antara_kalteng: unit tests on fixture pages in memory.

The fixture sites of the quirk desks (``tests/fixtures/antara_{kalsel,ambon,nasional,en}/``,
reconstructions of the templates, not saved live pages) are walked page by page: start
requests, feeds, home page sections, listings and their numbered pagination must reach every
article the fixture expects, and nothing else. Discovery that survives a redesign (the URL
fallback, the empty-listing monitor) is checked on pages made here.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy.http import HtmlResponse, Request, XmlResponse
from scrapy.utils.test import get_crawler

from crawler.components.monitors import MonitorConfig, evaluate
from spiders.antara import SPIDERS, AntaraSpider

FIXTURES = Path(__file__).parent / "fixtures"
QUIRK_DESKS = ["antara_kalsel", "antara_ambon", "antara_nasional", "antara_en"]


def make_spider(name: str, **kwargs: Any) -> AntaraSpider:
    spider_class = SPIDERS[name]
    spider = spider_class.from_crawler(get_crawler(spider_class), **kwargs)
    assert isinstance(spider, AntaraSpider)
    return spider


def stats(spider: AntaraSpider) -> dict[str, Any]:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_stats()


def start_urls(spider: AntaraSpider) -> list[str]:
    async def collect() -> list[Request]:
        return [request async for request in spider.start()]

    return [request.url for request in asyncio.run(collect())]


def fixture_file(source: str, url: str) -> Path | None:
    """The fixture file the mirror would serve for ``url``, or None (a 404 there)."""
    site = FIXTURES / source / "site"
    path = urlsplit(url).path.strip("/")
    for candidate in [site / "index.html"] if not path else [site / path, site / f"{path}.html"]:
        if candidate.is_file():
            return candidate
    return None


def walk(spider: AntaraSpider) -> tuple[set[str], list[str]]:
    """Follow every listing and feed request from the start, as a crawl would, offline:
    the article URLs requested and the listing URLs fetched."""
    pending = [
        r for r in asyncio.run(_start(spider)) if fixture_file(spider.name, r.url) is not None
    ]
    seen: set[str] = set()
    articles: set[str] = set()
    listings: list[str] = []
    while pending:
        request = pending.pop(0)
        if request.url in seen:
            continue
        seen.add(request.url)
        file = fixture_file(spider.name, request.url)
        if file is None:
            continue
        listings.append(request.url)
        body = file.read_bytes()
        if request.callback == spider.parse_rss:
            produced = list(spider.parse_rss(XmlResponse(url=request.url, body=body)))
        else:
            response = HtmlResponse(url=request.url, body=body, encoding="utf-8")
            produced = list(spider.parse_listing(response, **request.cb_kwargs))
        for new in produced:
            if new.callback == spider.parse_article:
                articles.add(new.url)
            else:
                pending.append(new)
    return articles, listings


async def _start(spider: AntaraSpider) -> list[Request]:
    return [request async for request in spider.start()]


def expected_archive(source: str) -> set[str]:
    meta = json.loads((FIXTURES / source / "meta.json").read_text(encoding="utf-8"))
    return set(meta["expected_archive"])


# --- start requests ---------------------------------------------------------------------------


def test_start_requests_follow_each_desks_row() -> None:
    assert start_urls(make_spider("antara_kalsel")) == [
        "https://kalsel.antaranews.com/rss/terkini.xml",
        "https://kalsel.antaranews.com/",
        "https://kalsel.antaranews.com/terkini",
    ]
    assert start_urls(make_spider("antara_en")) == [
        "https://en.antaranews.com/rss/news.xml",
        "https://en.antaranews.com/",
        "https://en.antaranews.com/latest-news",
    ]
    national = start_urls(make_spider("antara_nasional"))
    assert national[0] == "https://www.antaranews.com/rss/terkini.xml"
    assert {f"https://www.antaranews.com/rss/{s}.xml" for s in ("politik", "dunia")} < set(national)
    assert national[-2:] == ["https://www.antaranews.com/", "https://www.antaranews.com/terkini"]


@pytest.mark.parametrize("name", sorted(SPIDERS))
def test_every_desk_spider_starts_on_its_own_host(name: str) -> None:
    spider = make_spider(name)
    host = spider.desk.host
    urls = start_urls(spider)
    assert urls and all(urlsplit(url).hostname == host for url in urls)
    assert spider.allowed_domains == [host]


# --- the fixture sites, walked ----------------------------------------------------------------


@pytest.mark.parametrize("name", QUIRK_DESKS)
def test_walking_the_fixture_site_finds_every_expected_article(name: str) -> None:
    spider = make_spider(name)
    articles, listings = walk(spider)
    assert articles == expected_archive(name)
    counted = stats(spider)
    assert not [key for key in counted if "/listing/" in key or "item_errors" in key]
    # Pagination was followed to the last page.
    assert any(url.endswith("/2") for url in listings)


def test_the_national_section_feed_is_the_only_way_to_one_article() -> None:
    spider = make_spider("antara_nasional")
    body = (FIXTURES / "antara_nasional" / "site" / "rss" / "politik.xml").read_bytes()
    response = XmlResponse(url="https://www.antaranews.com/rss/politik.xml", body=body)
    urls = {r.url for r in spider.parse_rss(response)}
    assert (
        "https://www.antaranews.com/berita/5343106/bawaslu-dorong-partai-politik-perbarui-data-keanggotaan-secara-berkala"
        in urls
    )


def test_skips_are_counted_under_the_desks_own_name() -> None:
    spider = make_spider("antara_kalsel")
    body = (
        "<html><body><div class='wrapper__list__article'>"
        "<div class='card__post'><div class='card__post__title'><h2>"
        "<a href='https://kalteng.antaranews.com/berita/812460/x'>x</a></h2></div></div>"
        "<div class='card__post'><div class='card__post__title'><h2>"
        "<a href='/video/1/x'>v</a></h2></div></div>"
        "</div></body></html>"
    )
    response = HtmlResponse(url="https://kalsel.antaranews.com/terkini", body=body.encode())
    assert list(spider.parse_listing(response, page=1)) == []
    assert stats(spider) == {"antara_kalsel/skipped/offsite": 1, "antara_kalsel/skipped/video": 1}


def test_a_mirror_of_the_english_service_maps_back_to_the_live_urls() -> None:
    mirror = "http://127.0.0.1:8124"
    spider = make_spider("antara_en", base_url=mirror)
    html = (FIXTURES / "antara_en" / "site" / "latest-news.html").read_text(encoding="utf-8")
    body = html.replace("https://en.antaranews.com", mirror).encode()
    requests = list(
        spider.parse_listing(HtmlResponse(url=f"{mirror}/latest-news", body=body), page=1)
    )
    live = {r.cb_kwargs["live_url"] for r in requests if r.callback == spider.parse_article}
    assert live <= expected_archive("antara_en") and len(live) == 2
    assert [r.url for r in requests if r.callback == spider.parse_listing] == [
        f"{mirror}/latest-news/2"
    ]


def test_the_article_carries_the_desks_record_fields() -> None:
    spider = make_spider("antara_ambon")
    url = "https://ambon.antaranews.com/berita/715236/harga-ikan-cakalang-di-pasar-mardika-turun-karena-hasil-tangkapan-melimpah"
    body = fixture_file("antara_ambon", url)
    assert body is not None
    response = HtmlResponse(url=url, body=body.read_bytes(), encoding="utf-8")
    [article] = list(spider.parse_article(response, live_url=url))
    assert (article.source, article.region, article.site_name, article.language) == (
        "antara_ambon",
        "Maluku",
        "ANTARA Ambon",
        "id",
    )
    assert article.published_at == datetime(2026, 4, 28, 23, 0, tzinfo=UTC)  # 08:00 WIT


@pytest.mark.parametrize(
    ("name", "since", "until"),
    [
        ("antara_kalteng", "2026-04-27T17:00:00+00:00", "2026-04-28T17:00:00+00:00"),
        ("antara_kalsel", "2026-04-27T16:00:00+00:00", "2026-04-28T16:00:00+00:00"),
        ("antara_ambon", "2026-04-27T15:00:00+00:00", "2026-04-28T15:00:00+00:00"),
    ],
)
def test_date_windows_are_days_in_the_desks_zone(name: str, since: str, until: str) -> None:
    spider = make_spider(name, since="2026-04-28", until="2026-04-28")
    assert spider.since is not None and spider.until is not None
    assert (spider.since.isoformat(), spider.until.isoformat()) == (since, until)


# --- discovery that survives a listing redesign ------------------------------------------------

REDESIGNED = (
    "<html><body><main class='river'>"
    "<div class='story'><a href='/berita/900001/satu'>Satu</a></div>"
    "<div class='story'><a href='/berita/900002/dua'>Dua</a></div>"
    "<div class='story'><a href='/foto/900003/tiga'>Tiga</a></div>"
    "</main></body></html>"
)


def test_a_redesigned_listing_is_crawled_by_url_pattern_and_counted() -> None:
    spider = make_spider("antara_kalsel")
    response = HtmlResponse(url="https://kalsel.antaranews.com/terkini", body=REDESIGNED.encode())
    urls = [r.url for r in spider.parse_listing(response, page=1)]
    assert urls == [
        "https://kalsel.antaranews.com/berita/900001/satu",
        "https://kalsel.antaranews.com/berita/900002/dua",
    ]
    counted = stats(spider)
    assert counted["antara_kalsel/listing/no_items"] == 1
    assert counted["antara_kalsel/listing/fallback_links"] == 2
    assert "antara_kalsel/listing/no_links/terkini" not in counted


def test_a_listing_without_any_article_link_is_counted_and_fails_a_monitor() -> None:
    spider = make_spider("antara_kalsel")
    empty = b"<html><body><div class='river'><a href='/tag/banjir'>banjir</a></div></body></html>"
    for url in ("https://kalsel.antaranews.com/terkini", "https://kalsel.antaranews.com/terkini/2"):
        assert list(spider.parse_listing(HtmlResponse(url=url, body=empty), page=1)) == []
    counted = stats(spider)
    assert counted["antara_kalsel/listing/no_links/terkini"] == 2
    results = evaluate(
        {"item_scraped_count": 0, **counted},
        MonitorConfig(),
        spider="antara_kalsel",
        reason="finished",
        pages=0,
        found={},
        article_links=0,
        listing_pages=2,
    )
    [monitor] = [result for result in results if result.name == "listing_links"]
    assert not monitor.passed
    assert monitor.message == "listing /terkini had no article links: the layout may have changed"


def test_listings_with_links_pass_the_monitor() -> None:
    results = evaluate(
        {"item_scraped_count": 3, "antara_kalteng/listing/no_links/terkini": 0},
        MonitorConfig(),
        spider="antara_kalsel",
        reason="finished",
        pages=3,
        found={},
        article_links=3,
        listing_pages=2,
    )
    [monitor] = [result for result in results if result.name == "listing_links"]
    assert monitor.passed
