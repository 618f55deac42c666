"""RSS and Atom feeds: the ones a home page links, and the articles a feed lists.

A home page names its feeds with ``<link rel="alternate" type="application/rss+xml">`` (or
``application/atom+xml``); WordPress adds a comments feed beside the posts feed, which lists
no article and is left out. A site that links none is tried at :data:`FEED_PATHS`.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from parsel import Selector

from crawler.discovery.entries import DiscoveryError, Entry
from crawler.extract.dates import parse_date_checked, plausible

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
#: Where a feed usually is when the home page links none (WordPress, many custom CMSs).
FEED_PATHS = ("/feed/", "/rss")


def feed_links(html: str, url: str) -> list[str]:
    """The absolute URLs of the article feeds ``html`` links, in page order, comments feeds
    left out."""
    selector = Selector(text=html)
    found: list[str] = []
    for link in selector.css("link[rel~=alternate][href]"):
        kind = (link.attrib.get("type") or "").split(";")[0].strip().lower()
        href = urljoin(url, link.attrib["href"].strip())
        title = (link.attrib.get("title") or "").casefold()
        if kind not in FEED_TYPES or "comments" in href.casefold() or "comment" in title:
            continue
        if href not in found:
            found.append(href)
    return found


def read_feed(body: bytes | str, url: str, *, timezone: str = "UTC") -> list[Entry]:
    """The articles of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, in feed order;
    :class:`DiscoveryError` when ``body`` is no feed. Items without a link are left out."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        feed = Selector(text=text, type="xml")
    except ValueError as exc:
        raise DiscoveryError("feed_xml", f"{url} is not XML ({exc})") from None
    feed.remove_namespaces()
    root = feed.xpath("name(/*)").get() or ""
    if root not in {"rss", "feed", "RDF"}:
        raise DiscoveryError("feed_xml", f"{url} is no feed (root element <{root or '?'}>)")
    entries: list[Entry] = []
    if root == "feed":
        for entry in feed.xpath("//entry"):
            href = entry.xpath(
                "link[@rel='alternate' or not(@rel)]/@href | link[not(@rel='self')]/@href"
            ).get()
            published = entry.xpath("published/text()").get() or entry.xpath("issued/text()").get()
            updated = entry.xpath("updated/text()").get()
            _add(entries, url, href, published, updated, timezone)
        return entries
    for item in feed.xpath("//item"):
        href = item.xpath("link/text()").get()
        if not (href or "").strip() and item.xpath("guid[not(@isPermaLink='false')]"):
            href = item.xpath("guid/text()").get()
        published = item.xpath("pubDate/text()").get() or item.xpath("date/text()").get()
        _add(entries, url, href, published, None, timezone)
    return entries


def feed_date(text: str | None, timezone: str) -> datetime | None:
    """RSS dates are RFC 822 (``Tue, 27 Jan 2026 12:45:00 +0700``), Atom's ISO 8601; anything
    else is guessed, a time without a zone read in ``timezone``; implausible dates are None."""
    if not text or not text.strip():
        return None
    try:
        return plausible(parsedate_to_datetime(text.strip()), default_tz=timezone).value
    except (TypeError, ValueError, IndexError):
        return parse_date_checked(text, default_tz=timezone).value


def _add(
    entries: list[Entry],
    base: str,
    href: str | None,
    published: str | None,
    modified: str | None,
    timezone: str,
) -> None:
    href = (href or "").strip()
    if href:
        entries.append(
            Entry(
                urljoin(base, href),
                published=feed_date(published, timezone),
                modified=feed_date(modified, timezone),
            )
        )
