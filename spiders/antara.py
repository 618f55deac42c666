"""Spiders for every ANTARA desk: one class per row of :data:`crawler.sites.antara_desks.DESKS`.

Each desk's spider (``antara_kalteng``, ``antara_kalsel``, ..., ``antara_nasional``,
``antara_en``) is :class:`AntaraSpider` with the row filled in; the classes are built below
and put in this module's globals, where Scrapy's spider loader finds them (``scrapy list``).
Navigation only, the same on every desk:

- the desk's feeds (``/rss/terkini.xml``; the national site's section feeds too);
- the home page, whose nav menu names the sections, each followed as a listing;
- the desk's listings (``/terkini``, ``/latest-news``), following each page's own "next" link
  in whatever form, numbered pagination included, up to ``max_pages``;
- each article page goes to the desk's parser (:class:`crawler.sites.antara.AntaraSite`).

Listing pages are read by :class:`crawler.sites.antara_listing.ListingPage`. When a page's item
markup yields no link (a redesign), the article links found by URL pattern are followed
instead (``<spider>/listing/no_items``, ``<spider>/listing/fallback_links``); a listing page
with no article link at all is counted as ``<spider>/listing/no_links/<listing>``, which fails
the ``listings`` monitor. Skips (video/photo/infographic pages, other hosts, missing pages) are
counted as ``<spider>/skipped/<reason>``; see :mod:`spiders.base` for the arguments and the
rest of the counting.

Requests are marked for the middlewares: article requests carry ``meta["article"]`` (and the
live URL in ``cb_kwargs["live_url"]``); listing requests carry ``meta["listing"]`` (a name
such as ``"terkini"``) and ``meta["listing_page"]``, and a next-page request also
``meta["pagination"]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit

from parsel import Selector
from scrapy.http import Request, Response, TextResponse

from crawler import stats_keys
from crawler.sites import SITES
from crawler.sites.antara import HOME_PATH, AntaraSite
from crawler.sites.antara_desks import DESKS, Desk
from crawler.sites.antara_listing import ListedItem, ListingPage
from spiders.base import NewsSpider, listing_name, response_text


class AntaraSpider(NewsSpider):
    """The spider of one ANTARA desk; subclasses set ``desk`` and ``site`` (see below)."""

    desk: ClassVar[Desk]
    site: ClassVar[AntaraSite]

    # --- start -------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        for feed in self.desk.feeds:
            yield Request(
                self.fetch_url(self.live_origin + feed),
                callback=self.parse_rss,
                errback=self.request_failed,
                meta={"listing": "rss", "listing_page": 1},
            )
        yield self._listing_request(self.live_origin + HOME_PATH, page=1)
        for path in self.desk.listings:
            yield self._listing_request(self.live_origin + path, page=1)

    # --- listings ----------------------------------------------------------------------------

    def parse_rss(self, response: Response) -> Iterator[Request]:
        """Articles in the feed; RSS ``<link>`` is text, which an HTML parser would lose."""
        feed = Selector(text=response_text(response), type="xml")
        for item in feed.xpath("//item"):
            yield from self.guarded("rss", response, self._rss_item, response, item)

    def _rss_item(self, response: Response, item: Selector) -> Iterator[Request]:
        href = (item.xpath("link/text()").get() or "").strip()
        published = self.listed_date(self.rss_date(item.xpath("pubDate/text()").get()), "rss")
        if not self.skipped_by_window(published, href):
            yield from self._follow_article(response, href)

    def parse_listing(self, response: Response, page: int) -> Iterator[Request]:
        """Articles on one listing page, the next page, and (on the home page) the sections.

        Each item is handled on its own (:meth:`guarded`): one that breaks the code costs
        that item, never the rest of the page or the next page.
        """
        if not isinstance(response, TextResponse):
            return
        listing = ListingPage(
            response.selector,
            timezone=self.timezone,
            article_prefix=self.desk.article_prefix,
        )
        items = listing.items()
        dates: list[datetime] = []
        for item in items:
            yield from self.guarded("listing", response, self._listing_item, response, item, dates)
        if not any(item.link for item in items):
            # A template without the known item markup: take every article link rather
            # than nothing, and say so in the stats.
            self.count(stats_keys.listing_no_items(self.name))
            found = 0
            follow = self._follow_article
            for href in listing.fallback_links():
                for request in self.guarded("listing", response, follow, response, href):
                    found += 1
                    yield request
            if found:
                self.count(stats_keys.listing_fallback_links(self.name), found)
            else:
                name = listing_name(self.live_url(response, response.url))
                self.count(stats_keys.listing_no_links(self.name, name))
                self.logger.warning("No article link on listing page %s", response.url)
        if self.live_url(response, response.url) == self.live_origin + HOME_PATH:
            yield from self.guarded("listing", response, self._follow_sections, response, listing)
        yield from self.guarded(
            "listing", response, self._follow_next_page, response, listing, page, dates
        )

    def _listing_item(
        self, response: TextResponse, item: ListedItem, dates: list[datetime]
    ) -> Iterator[Request]:
        published = self.listed_date(item.published, "listing")
        if published is not None:
            dates.append(published)
        if not self.skipped_by_window(published, item.link or "") and item.link:
            yield from self._follow_article(response, item.link)

    def _follow_next_page(
        self, response: TextResponse, listing: ListingPage, page: int, dates: list[datetime]
    ) -> Iterator[Request]:
        href = listing.next_page()
        if not href:
            return
        if page >= self.max_pages:
            self.logger.info("Not following %s: max_pages=%s reached", href, self.max_pages)
            return
        if self.since and dates and all(d < self.since for d in dates):
            self.logger.info("Stopping at %s: every item is older than since", response.url)
            return
        live = self.live_url(response, href)
        if self.is_live_host(live):
            yield self._listing_request(live, page=page + 1, pagination=True)

    def _follow_sections(self, response: TextResponse, listing: ListingPage) -> Iterator[Request]:
        for href in listing.nav_links():
            live = self.live_url(response, href)
            if self.is_live_host(live) and self.site.is_section(urlsplit(live).path):
                yield self._listing_request(live, page=1)

    def _follow_article(self, response: Response, href: str) -> Iterator[Request]:
        """A request for ``href`` if it is one of this desk's articles, else a counted skip."""
        live = self.live_url(response, href)
        if not self.is_live_host(live):
            self.count_skip("offsite", live)
            return
        not_article = self.site.article_kind(urlsplit(live).path)
        if not_article:
            self.count_skip(not_article, live)
            return
        yield Request(
            self.fetch_url(live),
            callback=self.parse_article,
            errback=self.request_failed,
            cb_kwargs={"live_url": live},
            meta={"article": True},
        )

    def _listing_request(self, live_url: str, *, page: int, pagination: bool = False) -> Request:
        meta: dict[str, Any] = {"listing": listing_name(live_url), "listing_page": page}
        if pagination:
            meta["pagination"] = True
        if self.render_js:
            meta["playwright"] = True
        return Request(
            self.fetch_url(live_url),
            callback=self.parse_listing,
            errback=self.request_failed,
            cb_kwargs={"page": page},
            meta=meta,
        )


def class_name(desk: Desk) -> str:
    """``antara_kalteng`` → ``AntaraKaltengSpider``."""
    return "".join(part.capitalize() for part in desk.spider_name.split("_")) + "Spider"


def spider_class(desk: Desk) -> type[AntaraSpider]:
    """The spider class of one desk row."""
    site = SITES[desk.spider_name]
    attributes = {
        "__module__": __name__,
        "__doc__": f"Spider for {desk.site_name} ({desk.host}).",
        "name": desk.spider_name,
        "desk": desk,
        "site": site,
        "parser": site,
        "live_origin": desk.origin,
        "timezone": desk.timezone,
    }
    return cast(type[AntaraSpider], type(class_name(desk), (AntaraSpider,), attributes))


#: Spider name → class, one per desk.
SPIDERS: dict[str, type[AntaraSpider]] = {desk.spider_name: spider_class(desk) for desk in DESKS}
# Scrapy's spider loader looks for spider classes among a module's globals.
globals().update({cls.__name__: cls for cls in SPIDERS.values()})
