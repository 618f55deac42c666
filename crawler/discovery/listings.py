"""Listing pages (the home page, a section): the article links on them and the next page.

The site decides what an article link is (``GenericSite.is_article_url``: the config's
``article_pattern`` or the generic URL shapes); this module finds the links and the pagination
in whatever form a theme writes it: ``rel=next``, WordPress's ``a.next.page-numbers``,
``li.next``, ``aria-label=Next``, or numbered pagination whose "next" link says so only in
its text (``›``, ``»``, "Selanjutnya").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

from parsel import Selector

from crawler.extract.text import clean_text

NEXT_PAGE = (
    "link[rel=next]::attr(href), a[rel~=next]::attr(href), a.next.page-numbers::attr(href), "
    ".pagination li.next a::attr(href), .pagination a.next::attr(href), "
    "a[aria-label=Next]::attr(href), a[aria-label='Next page']::attr(href)"
)
#: A pager link's text, arrows aside, that means "next page"; or just the arrow.
NEXT_PAGE_WORDS = frozenset(
    {"next", "next page", "selanjutnya", "berikutnya", "halaman berikutnya", "lanjut"}
)
_ARROWS = "›»>→ \u00a0"
_SKIPPED_SCHEMES = ("mailto:", "javascript:", "tel:", "whatsapp:", "#")


@dataclass
class ListingLinks:
    """What one listing page links: article URLs (absolute, distinct, in page order), the
    next page, and how many links were looked at."""

    articles: list[str] = field(default_factory=list)
    next_page: str | None = None
    links_seen: int = 0


def read_listing(html: str, url: str, is_article: Callable[[str], bool]) -> ListingLinks:
    """The links of the listing page ``html`` at ``url`` on the page's own host that
    ``is_article`` accepts, and its next page (also on that host)."""
    selector = Selector(text=html)
    host = urlsplit(url).hostname
    found = ListingLinks()
    for href in selector.css("a[href]::attr(href)").getall():
        absolute = _absolute(url, href)
        if absolute is None or urlsplit(absolute).hostname != host:
            continue
        found.links_seen += 1
        if absolute not in found.articles and is_article(absolute):
            found.articles.append(absolute)
    found.next_page = next_page(selector, url)
    return found


def next_page(selector: Selector, url: str) -> str | None:
    """The next page's absolute URL on the page's host, or None on the last page."""
    candidates = list(selector.css(NEXT_PAGE).getall())
    for link in selector.css(".pagination a, .page-numbers a, nav a, .pager a"):
        text = clean_text(" ".join(link.css("::text").getall())).casefold()
        is_next = (text and not text.strip(_ARROWS)) or text.strip(_ARROWS) in NEXT_PAGE_WORDS
        if is_next and link.attrib.get("href"):
            candidates.append(link.attrib["href"])
    for href in candidates:
        absolute = _absolute(url, href)
        if absolute and absolute != url and urlsplit(absolute).hostname == urlsplit(url).hostname:
            return absolute
    return None


def _absolute(base: str, href: str) -> str | None:
    href = href.strip()
    if not href or href.lower().startswith(_SKIPPED_SCHEMES):
        return None
    try:
        absolute = urldefrag(urljoin(base, href))[0]
    except ValueError:  # a malformed link ("http://[::1") costs itself only
        return None
    return absolute if absolute.startswith(("http://", "https://")) else None
