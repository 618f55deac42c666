"""Feeds, listing pages, the method order and the probe's starter config, offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawler.discovery import feeds, listings
from crawler.discovery.entries import DiscoveryError
from crawler.discovery.methods import FEED, LISTING, ORDER, SITEMAP, WP_API, planned_methods
from crawler.discovery.starter import StarterConfig, coverage, starter_toml
from crawler.items import Article
from crawler.sites.publisher_config import Discovery, load_config

HOME = "https://www.borneonews.co.id/"

# --- feeds -------------------------------------------------------------------------------------


def test_the_home_pages_article_feeds_without_the_comments_feed() -> None:
    html = (
        "<html><head>"
        '<link rel="alternate" type="application/rss+xml" title="Site &raquo; Feed" href="/feed/">'
        '<link rel="alternate" type="application/rss+xml" title="Site &raquo; Comments Feed" '
        'href="/comments/feed/">'
        '<link rel="alternate" type="application/atom+xml" href="https://www.borneonews.co.id/atom">'
        '<link rel="alternate" hreflang="en" href="/en/">'
        '<link rel="alternate" type="application/rss+xml" href="/feed/">'
        "</head></html>"
    )
    assert feeds.feed_links(html, HOME) == [f"{HOME}feed/", f"{HOME}atom"]


def test_an_rss_feed() -> None:
    body = (
        "<?xml version='1.0'?><rss version='2.0'><channel>"
        "<item><title>a</title><link> https://www.borneonews.co.id/berita/312001-a-b-c </link>"
        "<pubDate>Tue, 27 Jan 2026 12:45:00 +0700</pubDate></item>"
        "<item><title>no link</title></item>"
        "<item><guid>https://www.borneonews.co.id/berita/312002-d-e-f</guid>"
        "<pubDate>27 Januari 2026 10:00</pubDate></item>"
        "</channel></rss>"
    )
    entries = feeds.read_feed(body.encode(), f"{HOME}rss", timezone="Asia/Jakarta")
    assert [(e.url, e.published) for e in entries] == [
        (f"{HOME}berita/312001-a-b-c", datetime(2026, 1, 27, 5, 45, tzinfo=UTC)),
        (f"{HOME}berita/312002-d-e-f", datetime(2026, 1, 27, 3, 0, tzinfo=UTC)),
    ]


def test_an_atom_feed() -> None:
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>a</title>'
        '<link rel="self" href="https://x.id/self"/><link rel="alternate" href="/2026/01/27/a-b-c"/>'
        "<published>2026-01-27T10:00:00+07:00</published><updated>2026-01-28T00:00:00Z</updated>"
        "</entry></feed>"
    )
    [entry] = feeds.read_feed(body, "https://x.id/atom")
    assert entry.url == "https://x.id/2026/01/27/a-b-c"
    assert entry.published == datetime(2026, 1, 27, 3, 0, tzinfo=UTC)
    assert entry.modified == datetime(2026, 1, 28, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"<html><body>404</body></html>", b"", b"not xml at all"])
def test_what_is_no_feed_is_a_discovery_error(body: bytes) -> None:
    with pytest.raises(DiscoveryError) as caught:
        feeds.read_feed(body, f"{HOME}feed/")
    assert caught.value.reason == "feed_xml"


# --- listings ------------------------------------------------------------------------------------


def is_article(url: str) -> bool:
    return "/berita/" in url


@pytest.mark.parametrize(
    "pager",
    [
        '<link rel="next" href="/indeks?page=3">',
        '<a class="next page-numbers" href="/indeks?page=3">Berikutnya</a>',
        '<ul class="pagination"><li class="next"><a href="/indeks?page=3">x</a></li></ul>',
        '<div class="pagination"><a href="/indeks?page=1">1</a><a href="/indeks?page=3">»</a></div>',
        '<div class="pagination"><a href="/indeks?page=3">Selanjutnya »</a></div>',
        '<nav><a href="/indeks?page=3">Next page</a></nav>',
    ],
)
def test_the_next_page_in_whatever_form(pager: str) -> None:
    html = f"<html><body><a href='/berita/312001-a-b-c'>a</a>{pager}</body></html>"
    links = listings.read_listing(html, f"{HOME}indeks?page=2", is_article)
    assert links.next_page == f"{HOME}indeks?page=3"
    assert links.articles == [f"{HOME}berita/312001-a-b-c"]


def test_listing_links_are_the_sites_own_articles_once_each() -> None:
    html = (
        "<a href='/berita/312001-a-b-c#komentar'>a</a><a href='/berita/312001-a-b-c'>again</a>"
        "<a href='https://other.id/berita/1-x'>offsite</a><a href='mailto:x@y.id'>mail</a>"
        "<a href='http://[::1'>broken</a><a href='/tag/banjir'>tag</a><a href='javascript:0'>j</a>"
    )
    links = listings.read_listing(html, HOME, is_article)
    assert links.articles == [f"{HOME}berita/312001-a-b-c"]
    assert links.next_page is None
    assert links.links_seen == 3


# --- the order of the methods -------------------------------------------------------------------


def test_every_method_in_order_without_hints() -> None:
    assert planned_methods(Discovery()) == ORDER == (WP_API, SITEMAP, FEED, LISTING)
    # Hints add URLs to the methods, they do not remove any.
    assert planned_methods(Discovery(feeds=("/rss",), listings=("/berita/",))) == ORDER


def test_wp_api_hints() -> None:
    assert planned_methods(Discovery(wp_api=False)) == (SITEMAP, FEED, LISTING)
    assert planned_methods(Discovery(wp_api=True, feeds=("/feed/",))) == (WP_API,)


# --- the probe's findings ----------------------------------------------------------------------


def test_coverage_counts_found_fields() -> None:
    one = Article(title="A", body="x", authors=["B"], tags=[])
    two = Article(title="", body="y", authors=[], tags=["t"])
    counts = coverage([one, two])
    assert (counts["title"], counts["body"], counts["authors"], counts["tags"]) == (1, 2, 1, 1)


def test_a_starter_config_loads(tmp_path: Path) -> None:
    starter = StarterConfig(
        name="kabar_sampit",
        site_name='Kabar "Sampit"',
        home_url="https://kabarsampit.example/",
        wp_api=False,
        sitemaps=("/sitemap.xml",),
        feeds=("/feed/", "/rss"),
    )
    path = tmp_path / "kabar_sampit.toml"
    path.write_text(starter_toml(starter, ["sitemap: 12 article URLs"]), encoding="utf-8")
    config = load_config(path)
    assert (config.name, config.site_name, config.home_url) == (
        "kabar_sampit",
        'Kabar "Sampit"',
        "https://kabarsampit.example/",
    )
    assert config.discovery == Discovery(
        wp_api=False, sitemaps=("/sitemap.xml",), feeds=("/feed/", "/rss")
    )
