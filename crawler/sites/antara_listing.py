"""ANTARA listing pages as offline page objects: items, next page, sections.

A listing is the home page, ``/terkini`` (``/latest-news`` in English) and its pages, or a
section (``/kabar-daerah``). :class:`ListingPage` reads one from its HTML, whichever template
it is in:

- old "mag" template: ``article.simple-post`` items (link in ``h3``/``h2``/``.simple-thumb``,
  date in ``.simple-share span``), nav ``ul.nav.navbar-nav``;
- current template: ``div.wrapper__list__article div.card__post`` cards (link in
  ``div.card__post__title h2 a``, date in ``div.card__post__author-info span``), nav
  ``ul.navbar-nav > li.nav-item > a.nav-link``; ``aside`` blocks (most-read lists that link
  other desks) are not items.

When neither yields an item with a link (a redesign), :meth:`ListingPage.fallback_links` gives
every link whose URL looks like an article (``/berita/`` or the desk's prefix), so discovery
survives and the spider counts the fallback. The next page is the page's own "next" link in
whatever form: ``aria-label=Next``, ``li.next``, ``rel=next``, or, in numbered pagination
without any of those, the ``›``/``»`` link.

Pure: HTML and a URL in, strings out; no Scrapy, no network. Links are returned as written
(relative or absolute); the spider resolves them, one item at a time, so one malformed link
costs only its item.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from parsel import Selector

from crawler.extract.dates import DateResult, parse_date_checked
from crawler.extract.text import clean_text

OLD_ITEM = "article.simple-post"
OLD_ITEM_LINK = "h3 a::attr(href), h2 a::attr(href), .simple-thumb a::attr(href)"
OLD_ITEM_DATE = ".simple-share span ::text"
NEW_ITEM = "div.wrapper__list__article div.card__post"
NEW_ITEM_TITLE_LINK = "div.card__post__title h2 a::attr(href), .post_title a::attr(href)"
NEW_ITEM_DATE = "div.card__post__author-info span ::text"
#: Explicit "next" markup, tried first, in this order.
NEXT_PAGE = (
    "ul.pagination a[aria-label=Next]::attr(href), ul.pagination li.next a::attr(href), "
    "a[rel=next]::attr(href), link[rel=next]::attr(href)"
)
#: Numbered pagination's link to the next page when nothing marks it but its text.
PAGER_LINKS = ".pagination a"
NEXT_PAGE_TEXTS = frozenset({"›", "»", ">", "next", "selanjutnya", "berikutnya"})
NAV_LINK = (
    "ul.nav.navbar-nav > li > a::attr(href), ul.navbar-nav > li.nav-item > a.nav-link::attr(href)"
)


@dataclass(frozen=True)
class ListedItem:
    """One item of a listing: its link as written, and the date it shows."""

    link: str | None
    shown_date: str
    #: The desk's zone, for a shown time without a zone suffix.
    timezone: str

    @cached_property
    def published(self) -> DateResult:
        """The listed date in UTC (relative dates such as "30 menit lalu" from now)."""
        return parse_date_checked(self.shown_date, default_tz=self.timezone)


class ListingPage:
    """One listing page of an ANTARA site (see the module docstring)."""

    def __init__(
        self, selector: Selector, *, timezone: str, article_prefix: str = "berita"
    ) -> None:
        self.selector = selector
        self.timezone = timezone
        self.article_prefix = article_prefix

    @classmethod
    def from_html(
        cls, html: str, url: str, *, timezone: str, article_prefix: str = "berita"
    ) -> ListingPage:
        return cls(
            Selector(text=html, base_url=url), timezone=timezone, article_prefix=article_prefix
        )

    @cached_property
    def template(self) -> str | None:
        """``"old"`` or ``"new"``: whose item markup is on the page; None for neither."""
        if self.selector.css(OLD_ITEM):
            return "old"
        if self.selector.css(NEW_ITEM):
            return "new"
        return None

    def items(self) -> list[ListedItem]:
        """The listing's items, in page order."""
        if self.template == "old":
            return [
                ListedItem(
                    node.css(OLD_ITEM_LINK).get(),
                    " ".join(node.css(OLD_ITEM_DATE).getall()),
                    self.timezone,
                )
                for node in self.selector.css(OLD_ITEM)
            ]
        if self.template == "new":
            return [
                ListedItem(
                    node.css(NEW_ITEM_TITLE_LINK).get() or node.css("a::attr(href)").get(),
                    " ".join(node.css(NEW_ITEM_DATE).getall()),
                    self.timezone,
                )
                for node in self.selector.css(NEW_ITEM)
            ]
        return []

    def fallback_links(self) -> list[str]:
        """Every link on the page whose URL looks like an article's, for a page whose item
        markup yielded no link."""
        pattern = f"a[href*='/{self.article_prefix}/']::attr(href)"
        return list(self.selector.css(pattern).getall())

    def next_page(self) -> str | None:
        """The link to the next page of this listing, or None on the last page."""
        explicit = self.selector.css(NEXT_PAGE).get()
        if explicit:
            return explicit
        for link in self.selector.css(PAGER_LINKS):
            text = clean_text(" ".join(link.css("::text").getall())).casefold()
            href = link.attrib.get("href")
            if text in NEXT_PAGE_TEXTS and href:
                return href
        return None

    def nav_links(self) -> list[str]:
        """The links of the main nav menu (the home page names the sections there)."""
        return list(self.selector.css(NAV_LINK).getall())
