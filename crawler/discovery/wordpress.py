"""The WordPress REST API: is there one, and its posts, 100 a request.

A WordPress site announces its API on every page (``<link rel="https://api.w.org/"
href="https://site/wp-json/">``, and the same as an HTTP ``Link`` header); a site that hides
the link usually still answers ``/wp-json/`` with its index (``namespaces`` holding
``wp/v2``). Posts come from ``<root>wp/v2/posts?per_page=100&page=N&_embed=1`` (``_embed``
puts authors, terms and the featured image in each post, so no page is downloaded); the
``X-WP-TotalPages`` header says how many pages there are. Sites without pretty permalinks
publish the root as ``/?rest_route=/``; :func:`posts_url` handles both forms.

Date filters (``after``/``before`` on the publication date, ``modified_after`` on the last
edit) are sent as local times in the site's zone without an offset: every WordPress version
reads such a value in the site's zone, whereas the handling of an explicit offset changed
between versions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from parsel import Selector

from crawler.discovery.entries import DiscoveryError, Entry
from crawler.extract.dates import parse_date_checked

API_REL = "https://api.w.org/"
#: Where the API root is when no page says: WordPress's default.
DEFAULT_ROOT_PATH = "/wp-json/"
#: The API's largest page.
PER_PAGE = 100
_LINK_HEADER = re.compile(r'<([^>]+)>\s*;\s*rel="?https://api\.w\.org/"?')


def api_root_from_html(html: str, url: str) -> str | None:
    """The API root a page links (``<link rel="https://api.w.org/">``), absolute; or None."""
    href = Selector(text=html).css(f'link[rel="{API_REL}"]::attr(href)').get()
    return urljoin(url, href.strip()) if href and href.strip() else None


def api_root_from_link_header(value: str | None, url: str) -> str | None:
    """The API root from an HTTP ``Link`` header, as WordPress sends it on every page."""
    match = _LINK_HEADER.search(value or "")
    return urljoin(url, match.group(1).strip()) if match else None


def is_api_index(body: bytes) -> bool:
    """Whether ``body`` is a WordPress API index with the ``wp/v2`` routes (posts among them)."""
    try:
        index = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(index, dict):
        return False
    namespaces = index.get("namespaces")
    routes = index.get("routes")
    return (isinstance(namespaces, list) and "wp/v2" in namespaces) or (
        isinstance(routes, dict) and "/wp/v2/posts" in routes
    )


def posts_url(
    api_root: str,
    *,
    page: int,
    timezone: str,
    per_page: int = PER_PAGE,
    after: datetime | None = None,
    before: datetime | None = None,
    modified_after: datetime | None = None,
) -> str:
    """The URL of one page of posts, newest first, with the date filters given."""
    query: list[tuple[str, str]] = [
        ("per_page", str(per_page)),
        ("page", str(page)),
        ("_embed", "1"),
        ("orderby", "date"),
        ("order", "desc"),
    ]
    for name, value in (("after", after), ("before", before), ("modified_after", modified_after)):
        if value is not None:
            query.append((name, site_time(value, timezone)))
    parts = urlsplit(api_root)
    route_query = dict(parse_qsl(parts.query))
    if "rest_route" in route_query:  # https://site/?rest_route=/
        route = route_query.pop("rest_route").rstrip("/") + "/wp/v2/posts"
        query = [("rest_route", route), *route_query.items(), *query]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    path = parts.path.rstrip("/") + "/wp/v2/posts"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def site_time(value: datetime, timezone: str) -> str:
    """``value`` as the site's local time without an offset (see the module docstring)."""
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass
class PostsPage:
    """One page of the posts route: the posts (JSON objects) and how many entries were not."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    malformed: int = 0


def read_posts(body: bytes) -> PostsPage:
    """The posts of one API page; :class:`DiscoveryError` when it is not a JSON list."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DiscoveryError("wp_api_json", f"the posts page is not JSON ({exc})") from None
    if not isinstance(data, list):
        kind = type(data).__name__
        raise DiscoveryError("wp_api_json", f"the posts page holds a JSON {kind}, not a list")
    posts = [post for post in data if isinstance(post, dict)]
    return PostsPage(posts, len(data) - len(posts))


def live_json(text: str, mirror_origin: str | None, live_origin: str) -> str:
    """An API page's text with a mirror's link rewriting undone: ``mirror_origin`` becomes
    ``live_origin``, also where JSON escapes its slashes (``https:\\/\\/host``), as WordPress
    does."""
    if not mirror_origin:
        return text
    escaped = mirror_origin.replace("/", "\\/")
    text = text.replace(escaped, live_origin.replace("/", "\\/"))
    return text.replace(mirror_origin, live_origin)


def total_pages(value: str | bytes | None) -> int | None:
    """``X-WP-TotalPages`` as a number; None when absent or not a number."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = (value or "").strip()
    return int(text) if text.isdigit() else None


def post_entry(post: Mapping[str, Any], timezone: str) -> Entry | None:
    """The post's link and dates (``date_gmt``/``modified_gmt``, else the local ones); None
    for a post without a link."""
    link = post.get("link")
    if not isinstance(link, str) or not link.strip():
        return None
    return Entry(
        link.strip(),
        published=_post_date(post, "date", timezone),
        modified=_post_date(post, "modified", timezone),
    )


def _post_date(post: Mapping[str, Any], name: str, timezone: str) -> datetime | None:
    gmt = post.get(f"{name}_gmt")
    if isinstance(gmt, str) and gmt.strip():
        return parse_date_checked(gmt, default_tz="UTC").value
    local = post.get(name)
    if isinstance(local, str) and local.strip():
        return parse_date_checked(local, default_tz=timezone).value
    return None
