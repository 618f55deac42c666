"""Unit tests of the antara_kalteng spider's navigation, on saved listing pages in memory."""

from __future__ import annotations

import asyncio
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Request, Response, XmlResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from crawler.extract.layers import ParsedArticle
from crawler.items import Article
from crawler.sites import site_for
from spiders.antara import AntaraKaltengSpider

site = site_for("antara_kalteng")
SITE_DIR = Path(__file__).parent / "fixtures" / "antara_kalteng" / "site"
LIVE = "https://kalteng.antaranews.com"
MIRROR = "http://127.0.0.1:8123"


def make_spider(**kwargs: Any) -> AntaraKaltengSpider:
    crawler = get_crawler(AntaraKaltengSpider)
    spider = AntaraKaltengSpider.from_crawler(crawler, **kwargs)
    assert isinstance(spider, AntaraKaltengSpider)
    return spider


def stat(spider: AntaraKaltengSpider, key: str) -> Any:
    assert spider.crawler.stats is not None
    return spider.crawler.stats.get_value(key)


def fixture_html(path: str) -> bytes:
    return (SITE_DIR / path).read_bytes()


def listing(url: str, body: bytes) -> HtmlResponse:
    return HtmlResponse(url=url, body=body, encoding="utf-8")


def article_urls(requests: list[Any], spider: AntaraKaltengSpider) -> list[str]:
    return [r.url for r in requests if r.callback == spider.parse_article]


def listing_requests(requests: list[Any], spider: AntaraKaltengSpider) -> list[Request]:
    return [r for r in requests if r.callback == spider.parse_listing]


def items_page(*hrefs: str, next_href: str | None = None, dates: list[str] | None = None) -> bytes:
    """A minimal old-template listing page."""
    dates = dates or ["27 Januari 2026 08:15"] * len(hrefs)
    items = "".join(
        f'<article class="simple-post clearfix"><header><h3><a href="{href}">t</a></h3>'
        f'<p class="simple-share"><a href="/palangka-raya">PR</a> / '
        f'<span><i class="fa fa-clock-o"></i> {date}</span></p></header></article>'
        for href, date in zip(hrefs, dates, strict=True)
    )
    pager = (
        f'<ul class="pagination"><li><a href="{next_href}" aria-label="Next">»</a></li></ul>'
        if next_href
        else ""
    )
    return f"<html><body>{items}<nav>{pager}</nav></body></html>".encode()


TERKINI_1_ARTICLES = {
    f"{LIVE}/berita/{path}"
    for path in (
        "812460/pemprov-kalteng-perpanjang-status-tanggap-darurat-banjir-hingga-10-februari",
        "812433/harga-cabai-rawit-di-pasar-besar-palangka-raya-tembus-rp90-ribu-per-kilogram",
        "812398/prevalensi-stunting-kalteng-turun-pemprov-sasar-1-500-keluarga-berisiko",
        "812101/kpu-kalteng-mulai-pemutakhiran-data-pemilih-berkelanjutan-2026",
        "812077/petani-food-estate-pulang-pisau-mulai-panen-padi-di-lahan-1-200-hektare",
        "812050/pemkab-kotim-bangun-tanggul-penahan-banjir-di-bantaran-sungai-mentaya",
        "812012/ribuan-pelari-ramaikan-palangka-raya-half-marathon-2026",
        "811990/debit-sungai-kapuas-naik-12-desa-di-mantangai-terendam",
        "811960/bus-trans-palangka-raya-uji-coba-rute-baru-ke-bandara-tjilik-riwut",
    )
}


# --- start and listings -----------------------------------------------------------------------


def test_start_requests_feed_home_and_listings() -> None:
    spider = make_spider()

    async def collect() -> list[Request]:
        return [request async for request in spider.start()]

    urls = [request.url for request in asyncio.run(collect())]
    assert urls == [
        f"{LIVE}/rss/terkini.xml",
        f"{LIVE}/",
        f"{LIVE}/terkini",
        f"{LIVE}/kabar-daerah",
        f"{LIVE}/palangka-raya",
    ]


def test_listing_links_extracted_and_canonicalised() -> None:
    spider = make_spider()
    response = listing(f"{LIVE}/terkini", fixture_html("terkini.html"))
    requests = list(spider.parse_listing(response, page=1))

    assert set(article_urls(requests, spider)) == TERKINI_1_ARTICLES
    # Only listing items are followed, not the sidebars or the mega menu.
    assert len(article_urls(requests, spider)) == 9
    assert [r.url for r in listing_requests(requests, spider)] == [f"{LIVE}/terkini/2"]
    assert all(r.cb_kwargs["live_url"] == r.url for r in requests if "live_url" in r.cb_kwargs)
    assert stat(spider, "antara_kalteng/skipped/video") == 1


def test_last_page_has_no_next_and_photo_is_skipped() -> None:
    spider = make_spider()
    response = listing(f"{LIVE}/terkini/2", fixture_html("terkini/2.html"))
    requests = list(spider.parse_listing(response, page=2))

    urls = article_urls(requests, spider)
    assert len(urls) == 9
    # The missing article is requested: only the server can say it is gone.
    assert f"{LIVE}/berita/811901/pemkot-palangka-raya-tertibkan-reklame-tak-berizin" in urls
    assert listing_requests(requests, spider) == []
    assert stat(spider, "antara_kalteng/skipped/photo") == 1


def test_variants_resolve_to_one_canonical_url_and_non_articles_are_counted() -> None:
    spider = make_spider()
    body = items_page(
        "/amp/berita/811111/judul-berita",
        "/berita/811111/judul-berita?utm_source=facebook&utm_medium=social",
        "https://kalteng.antaranews.com/berita/811111/judul-berita/amp",
        "https://KALTENG.antaranews.com/berita/811111/judul-berita/?amp=1#komentar",
        "https://kalsel.antaranews.com/berita/422222/berita-tetangga",
        "/infografis/833333/data-banjir",
        "/infografik/844444/data-panen",
        "/video/855555/banjir",
        "/video/855555/banjir",
        "/tag/banjir",
    )
    requests = list(spider.parse_listing(listing(f"{LIVE}/terkini", body), page=1))

    assert set(article_urls(requests, spider)) == {f"{LIVE}/berita/811111/judul-berita"}
    assert stat(spider, "antara_kalteng/skipped/offsite") == 1
    assert stat(spider, "antara_kalteng/skipped/infographic") == 2
    # A URL linked twice is one skipped page.
    assert stat(spider, "antara_kalteng/skipped/video") == 1
    assert stat(spider, "antara_kalteng/skipped/not_article") == 1


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("https://kalteng.antaranews.com/terkini/2", f"{LIVE}/terkini/2"),
        ("/terkini/3", f"{LIVE}/terkini/3"),
        ("?page=2", f"{LIVE}/terkini?page=2"),
        ("/terkini?page=2&utm_source=x", f"{LIVE}/terkini?page=2"),
    ],
)
def test_pagination_follows_the_next_link_in_either_form(href: str, expected: str) -> None:
    spider = make_spider()
    body = items_page("/berita/811111/a", next_href=href)
    requests = listing_requests(
        list(spider.parse_listing(listing(f"{LIVE}/terkini", body), page=1)), spider
    )
    assert [r.url for r in requests] == [expected]
    assert requests[0].cb_kwargs == {"page": 2}


def test_max_pages_stops_pagination() -> None:
    spider = make_spider(max_pages="2")
    body = items_page("/berita/811111/a", next_href="?page=3")
    assert (
        listing_requests(
            list(spider.parse_listing(listing(f"{LIVE}/terkini?page=2", body), page=2)), spider
        )
        == []
    )


def test_home_page_nav_menu_sections_are_followed() -> None:
    spider = make_spider()
    requests = list(spider.parse_listing(listing(f"{LIVE}/", fixture_html("index.html")), page=1))
    sections = {r.url for r in listing_requests(requests, spider)}
    assert sections == {f"{LIVE}/terkini", f"{LIVE}/kabar-daerah", f"{LIVE}/palangka-raya"}


def test_rss_feed_items_are_followed() -> None:
    spider = make_spider()
    response = XmlResponse(url=f"{LIVE}/rss/terkini.xml", body=fixture_html("rss/terkini.xml"))
    urls = article_urls(list(spider.parse_rss(response)), spider)
    assert len(urls) == 10
    assert set(urls) <= TERKINI_1_ARTICLES | {
        f"{LIVE}/berita/811932/kasus-dbd-di-barito-utara-meningkat-dinkes-gencarkan-pemberantasan-sarang-nyamuk"
    }


# --- since ------------------------------------------------------------------------------------


def test_since_skips_older_items_and_keeps_paginating_while_some_are_newer() -> None:
    spider = make_spider(since="2026-01-26")
    response = listing(f"{LIVE}/terkini", fixture_html("terkini.html"))
    requests = list(spider.parse_listing(response, page=1))

    urls = set(article_urls(requests, spider))
    older = {u for u in TERKINI_1_ARTICLES if "/811990/" in u or "/811960/" in u}
    assert urls == TERKINI_1_ARTICLES - older
    assert stat(spider, "antara_kalteng/skipped/older_than_since") == 2
    assert [r.url for r in listing_requests(requests, spider)] == [f"{LIVE}/terkini/2"]


def test_since_stops_pagination_when_a_page_is_all_older() -> None:
    page_two = fixture_html("terkini/2.html").replace(
        b'<ul class="pagination pagination-sm">',
        b'<ul class="pagination pagination-sm"><li><a href="/terkini/3" aria-label="Next">'
        b"&raquo;</a></li>",
    )
    response = listing(f"{LIVE}/terkini/2", page_two)

    spider = make_spider(since="2026-01-26")
    requests = list(spider.parse_listing(response, page=2))
    assert article_urls(requests, spider) == []
    assert listing_requests(requests, spider) == []

    spider = make_spider(since="2019-01-01")
    requests = list(spider.parse_listing(response, page=2))
    assert [r.url for r in listing_requests(requests, spider)] == [f"{LIVE}/terkini/3"]


def test_since_reads_relative_dates_as_recent() -> None:
    spider = make_spider(since="2026-01-01")
    body = items_page("/berita/1/a", "/berita/2/b", dates=["25 menit lalu", "1 jam lalu"])
    requests = list(spider.parse_listing(listing(f"{LIVE}/terkini", body), page=1))
    assert len(article_urls(requests, spider)) == 2


def test_since_applies_to_the_feed() -> None:
    spider = make_spider(since="2026-01-27")
    response = XmlResponse(url=f"{LIVE}/rss/terkini.xml", body=fixture_html("rss/terkini.xml"))
    assert len(article_urls(list(spider.parse_rss(response)), spider)) == 4


# --- mirror -----------------------------------------------------------------------------------


def test_base_url_maps_requests_onto_the_mirror_and_urls_back_to_the_live_site() -> None:
    spider = make_spider(base_url=MIRROR + "/")
    body = fixture_html("terkini.html").replace(LIVE.encode(), MIRROR.encode())
    requests = list(spider.parse_listing(listing(f"{MIRROR}/terkini", body), page=1))

    articles = [r for r in requests if r.callback == spider.parse_article]
    assert {r.cb_kwargs["live_url"] for r in articles} == TERKINI_1_ARTICLES
    assert {r.url for r in articles} == {u.replace(LIVE, MIRROR) for u in TERKINI_1_ARTICLES}
    assert [r.url for r in listing_requests(requests, spider)] == [f"{MIRROR}/terkini/2"]
    assert set(spider.allowed_domains) == {"kalteng.antaranews.com", "127.0.0.1"}


def test_article_from_the_mirror_is_parsed_as_the_live_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, str] = {}

    def fake_parse(html: str, url: str) -> ParsedArticle:
        seen["html"], seen["url"] = html, url
        return ParsedArticle(Article(title="t"), fallbacks=["jsonld/modified_at"])

    monkeypatch.setattr(site, "parse_article", fake_parse)
    spider = make_spider(base_url=MIRROR)
    live_url = f"{LIVE}/berita/811111/judul"
    body = f'<html><link rel="canonical" href="{MIRROR}/berita/811111/judul"></html>'.encode()
    response = HtmlResponse(url=f"{MIRROR}/berita/811111/judul", body=body, encoding="utf-8")

    [article] = list(spider.parse_article(response, live_url=live_url))
    assert seen["url"] == live_url
    assert MIRROR not in seen["html"] and f"{LIVE}/berita/811111/judul" in seen["html"]
    assert article.url == live_url
    assert article.source == "antara_kalteng"
    assert article.crawled_at is not None and article.crawled_at.tzinfo == UTC
    assert stat(spider, "parser/fallback/jsonld/modified_at") == 1


# --- articles ---------------------------------------------------------------------------------


def test_wrong_declared_encoding_is_read_as_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def fake_parse(html: str, url: str) -> ParsedArticle:
        seen.append(html)
        return ParsedArticle(Article())

    monkeypatch.setattr(site, "parse_article", fake_parse)
    spider = make_spider()
    text = "<p>Ketua “Dewan” berkata: café, naïve</p>"
    response = HtmlResponse(
        url=f"{LIVE}/berita/1/a",
        body=text.encode("utf-8"),
        headers={"Content-Type": "text/html; charset=iso-8859-1"},
    )
    list(spider.parse_article(response, live_url=f"{LIVE}/berita/1/a"))
    assert seen == [text]


def test_parser_exception_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(html: str, url: str) -> ParsedArticle:
        raise ValueError("boom")

    monkeypatch.setattr(site, "parse_article", broken)
    spider = make_spider()
    response = HtmlResponse(url=f"{LIVE}/berita/1/a", body=b"<html>", encoding="utf-8")
    assert list(spider.parse_article(response, live_url=f"{LIVE}/berita/1/a")) == []
    assert stat(spider, "antara_kalteng/parse_errors") == 1


def test_http_404_on_an_article_is_counted() -> None:
    spider = make_spider()
    request = Request(f"{LIVE}/berita/1/a", callback=spider.parse_article)
    response: Response = HtmlResponse(url=request.url, status=404, body=b"", request=request)
    failure = Failure(HttpError(response, "Ignoring non-200 response"))
    failure.request = request  # type: ignore[attr-defined]
    spider.request_failed(failure)
    assert stat(spider, "antara_kalteng/skipped/http_404") == 1


def test_render_js_marks_listing_requests_only() -> None:
    spider = make_spider(render_js="1")
    body = items_page("/berita/811111/a", next_href="/terkini/2")
    requests = list(spider.parse_listing(listing(f"{LIVE}/terkini", body), page=1))
    assert [r.meta.get("playwright") for r in listing_requests(requests, spider)] == [True]
    assert [r.meta.get("playwright") for r in requests if r.callback == spider.parse_article] == [
        None
    ]


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "2026-13-01"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "26-01-2026"}, "since"),
        ({"max_pages": "0"}, "max_pages"),
        ({"max_pages": "many"}, "max_pages"),
        ({"render_js": "maybe"}, "render_js"),
        ({"base_url": "ftp://127.0.0.1"}, "base_url"),
        ({"base_url": "http://127.0.0.1:8080/mirror"}, "base_url"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_spider(**kwargs)


def test_arguments_are_parsed() -> None:
    spider = make_spider(max_pages="3", since="2026-01-26", render_js="0")
    assert spider.max_pages == 3
    assert spider.render_js is False
    assert spider.since is not None and spider.since.isoformat() == "2026-01-25T17:00:00+00:00"
