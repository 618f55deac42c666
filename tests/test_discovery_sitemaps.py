"""Sitemaps, offline: robots.txt lines, indexes, news sitemaps, broken ones."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest
from scrapy.utils.sitemap import Sitemap as ScrapySitemap

from crawler.discovery import sitemaps
from crawler.discovery.entries import DiscoveryError
from tests.publisher_mirrors import SitemapMirror
from tests.publisher_pages import make_articles, sitemap_index, urlset

LIVE = "https://kalteng.tribunnews.com"


def test_robots_txt_names_the_sitemaps() -> None:
    robots = (
        b"User-agent: *\nDisallow: /x\nSitemap: /sitemap/index.xml\nsitemap: https://a.id/s.xml\n"
    )
    assert sitemaps.sitemaps_from_robots(robots, f"{LIVE}/robots.txt") == [
        f"{LIVE}/sitemap/index.xml",
        "https://a.id/s.xml",
    ]
    assert sitemaps.sitemaps_from_robots("User-agent: *\n", f"{LIVE}/robots.txt") == []


def test_an_index_lists_its_sitemaps_with_lastmod() -> None:
    body = sitemap_index([f"{LIVE}/a.xml", f"{LIVE}/b.xml"], "2026-02-01T00:00:00+07:00")
    read = sitemaps.read_sitemap(body.encode(), f"{LIVE}/index.xml")
    assert read.kind == "sitemapindex" and not read.pages
    assert [child.url for child in read.sitemaps] == [f"{LIVE}/a.xml", f"{LIVE}/b.xml"]
    assert read.sitemaps[0].modified == datetime(2026, 1, 31, 17, 0, tzinfo=UTC)


def test_a_news_sitemap_gives_publication_dates() -> None:
    articles = make_articles(3, "/{date:%Y/%m/%d}/{slug}")
    read = sitemaps.read_sitemap(urlset(LIVE, articles, news=True).encode(), f"{LIVE}/news.xml")
    assert read.kind == "urlset"
    assert [(e.url, e.published) for e in read.pages] == [
        (LIVE + a.path, a.published) for a in articles
    ]


def test_urls_and_lastmod_as_scrapys_own_sitemap_reads_them() -> None:
    with SitemapMirror() as mirror:
        body = mirror.respond("/sitemap/2026-01.xml").body
    body = body.replace(mirror.base_url.encode(), LIVE.encode())
    ours = sitemaps.read_sitemap(body, f"{LIVE}/sitemap/2026-01.xml")
    theirs = list(ScrapySitemap(body))
    assert [e.url for e in ours.pages] == [row["loc"] for row in theirs]
    assert [e.modified for e in ours.pages] == [
        datetime.fromisoformat(row["lastmod"]).astimezone(UTC) for row in theirs
    ]


def test_a_gzip_compressed_sitemap_is_read() -> None:
    body = gzip.compress(urlset(LIVE, make_articles(2, "/{slug}")).encode())
    assert len(sitemaps.read_sitemap(body, f"{LIVE}/s.xml.gz").pages) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html><body>Halaman tidak ditemukan</body></html>", "sitemap_xml"),  # soft 404
        (b"", "sitemap_xml"),
        (b"\x1f\x8b not really gzip", "sitemap_gzip"),
        (b'{"sitemap": true}', "sitemap_xml"),
    ],
)
def test_what_is_no_sitemap_is_a_discovery_error(body: bytes, reason: str) -> None:
    with pytest.raises(DiscoveryError) as caught:
        sitemaps.read_sitemap(body, f"{LIVE}/sitemap.xml")
    assert caught.value.reason == reason


def test_entries_without_a_loc_are_counted_and_a_truncated_sitemap_keeps_its_start() -> None:
    body = (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{LIVE}/2026/01/27/satu-dua-tiga</loc><lastmod>bukan tanggal</lastmod></url>"
        "<url><lastmod>2026-01-27</lastmod></url>"
        f"<url><loc>{LIVE}/2026/01/27/empat-lima-enam</loc></url><url><loc>{LIVE}/pot"
    ).encode()
    read = sitemaps.read_sitemap(body, f"{LIVE}/s.xml")
    assert [e.url for e in read.pages][:2] == [
        f"{LIVE}/2026/01/27/satu-dua-tiga",
        f"{LIVE}/2026/01/27/empat-lima-enam",
    ]
    assert read.pages[0].modified is None  # an unreadable date is no date
    assert read.malformed >= 1


def test_entities_are_not_resolved() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>https://a.id/&x;</loc></url></urlset>"
    )
    read = sitemaps.read_sitemap(body, "https://a.id/s.xml")
    assert all("root:" not in entry.url for entry in read.pages)
