"""The WordPress REST API, offline: detecting it, its posts URLs, reading a posts page."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.discovery import wordpress
from crawler.discovery.entries import DiscoveryError, Entry

HOME = "https://www.tabengan.com/"


def test_the_api_root_is_read_from_the_home_page_and_the_link_header() -> None:
    html = '<html><head><link rel="https://api.w.org/" href="/wp-json/"></head></html>'
    assert wordpress.api_root_from_html(html, HOME) == "https://www.tabengan.com/wp-json/"
    assert wordpress.api_root_from_html("<html><head></head></html>", HOME) is None
    header = '<https://www.tabengan.com/wp-json/>; rel="https://api.w.org/"'
    assert wordpress.api_root_from_link_header(header, HOME) == "https://www.tabengan.com/wp-json/"
    assert wordpress.api_root_from_link_header('<https://x/>; rel="shortlink"', HOME) is None
    assert wordpress.api_root_from_link_header(None, HOME) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"name": "x", "namespaces": ["oembed/1.0", "wp/v2"]}', True),
        (b'{"routes": {"/wp/v2/posts": {}}}', True),
        (b'{"namespaces": ["oembed/1.0"]}', False),  # the API, without posts
        (b"<html>not json</html>", False),
        (b"[1, 2]", False),
        (b"\xff\xfe", False),
    ],
)
def test_the_api_index_must_offer_the_posts(body: bytes, expected: bool) -> None:
    assert wordpress.is_api_index(body) is expected


def test_posts_urls_page_100_at_a_time_with_local_date_filters() -> None:
    url = wordpress.posts_url(
        "https://www.tabengan.com/wp-json/",
        page=3,
        timezone="Asia/Jakarta",
        after=datetime(2026, 1, 1, 17, 0, tzinfo=UTC),
        modified_after=datetime(2026, 1, 30, 3, 30, tzinfo=UTC),
    )
    parts = urlsplit(url)
    assert parts.path == "/wp-json/wp/v2/posts"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "per_page": "100",
        "page": "3",
        "_embed": "1",
        "orderby": "date",
        "order": "desc",
        # In the site's zone, without an offset: what every WordPress version reads alike.
        "after": "2026-01-02T00:00:00",
        "modified_after": "2026-01-30T10:30:00",
    }


def test_posts_urls_without_pretty_permalinks() -> None:
    url = wordpress.posts_url("https://site.example/?rest_route=/", page=1, timezone="UTC")
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/"
    assert query["rest_route"] == ["/wp/v2/posts"] and query["page"] == ["1"]


def test_a_posts_page_is_read_and_bad_elements_counted() -> None:
    page = wordpress.read_posts(json.dumps([{"id": 1}, "junk", None, {"id": 2}]).encode())
    assert [post["id"] for post in page.posts] == [1, 2]
    assert page.malformed == 2


@pytest.mark.parametrize(
    "body", [b"<html>502 Bad Gateway</html>", b'{"code": "rest_no_route"}', b'[{"id": 1}', b""]
)
def test_broken_posts_pages_are_a_discovery_error(body: bytes) -> None:
    with pytest.raises(DiscoveryError) as caught:
        wordpress.read_posts(body)
    assert caught.value.reason == "wp_api_json"


@pytest.mark.parametrize(
    ("value", "expected"), [("3", 3), (b"12", 12), (" 0 ", 0), ("x", None), (None, None)]
)
def test_total_pages(value: str | bytes | None, expected: int | None) -> None:
    assert wordpress.total_pages(value) == expected


def test_a_posts_entry_has_its_utc_dates() -> None:
    post = {
        "link": "https://www.tabengan.com/read/a-b-c/",
        "date": "2026-01-27T10:00:00",
        "date_gmt": "2026-01-27T03:00:00",
        "modified": "2026-01-28T08:15:00",  # no modified_gmt: local, in the site's zone
    }
    assert wordpress.post_entry(post, "Asia/Jakarta") == Entry(
        "https://www.tabengan.com/read/a-b-c/",
        published=datetime(2026, 1, 27, 3, 0, tzinfo=UTC),
        modified=datetime(2026, 1, 28, 1, 15, tzinfo=UTC),
    )
    assert wordpress.post_entry({"link": 5}, "UTC") is None
