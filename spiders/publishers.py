"""PublisherSpider: the discovery walk shared by ``news`` and the configured spiders.

Sitemaps, feeds and listing pages, each tried when the method before found nothing, and the
article requests they make; the WordPress REST API is :mod:`spiders.news_wp`. The spiders
themselves, the method order and the stats are described in :mod:`spiders.news`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler import stats_keys
from crawler.components.frontier.config import WORKER_OWN_META
from crawler.components.incremental import ArchiveAwareMiddleware
from crawler.discovery import feeds, listings, sitemaps, wordpress
from crawler.discovery.entries import DiscoveryError, Entry
from crawler.discovery.methods import FEED, LISTING, ORDER, SITEMAP, WP_API, planned_methods
from spiders.base import NewsSpider, listing_name, response_text
from spiders.news_wp import WordPressPosts

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Method:
    """One discovery method under way: requests in flight, articles found, paths left."""

    pending: int = 0
    found: int = 0
    fallbacks: list[str] = field(default_factory=list)


class PublisherSpider(WordPressPosts, NewsSpider):
    """The spider of one publisher; subclasses set ``config`` (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.methods = planned_methods(self.config.discovery)
        self._method: dict[str, _Method] = {}
        self._home_feeds: list[str] = []
        #: Sitemaps and feeds requested: each once (indexes may list each other).
        self._requested: set[str] = set()
        self._finished = False

    # --- start and the home page ---------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        if WP_API in self.methods:
            self.changed_after = await self._newest_change()
        # The home page serves every method: the API link, the feed links, the first listing.
        yield self._page(self.config.home_url, self.parse_home, "home", errback=self.home_failed)

    async def _newest_change(self) -> datetime | None:
        if self.refresh or self.backfill:
            return None
        try:
            middleware = self.crawler.get_spider_middleware(ArchiveAwareMiddleware)
        except RuntimeError:  # no engine: a spider driven by hand, in a test
            return None
        return await middleware.newest_change(self.source) if middleware else None

    def parse_home(self, response: Response) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            yield from self.after_method(WP_API)
            return
        self._home_feeds = feeds.feed_links(self.live_text(response), self.config.home_url)
        if WP_API not in self.methods:
            yield from self.after_method(WP_API)
            return
        link = response.headers.get("Link")
        root = wordpress.api_root_from_link_header(
            link.decode("latin-1") if link else None, response.url
        ) or wordpress.api_root_from_html(response.text, response.url)
        if root:
            yield self.posts_request(root, 1)
        else:
            yield self._api_index_request()

    def home_failed(self, failure: Failure) -> Iterator[Request]:
        self.request_failed(failure)
        if WP_API in self.methods:
            yield self._api_index_request()
        else:
            yield from self.after_method(WP_API)

    def _api_index_request(self) -> Request:
        return self._page(
            self.config.origin + wordpress.DEFAULT_ROOT_PATH,
            self.parse_api_index,
            "wp-api",
            errback=self.api_index_failed,
        )

    def api_index_failed(self, failure: Failure) -> Iterator[Request]:
        request: Request = failure.request  # type: ignore[attr-defined]
        self._count_failure(failure, request)
        yield from self.after_method(WP_API)

    def parse_api_index(self, response: Response) -> Iterator[Request]:
        if wordpress.is_api_index(response.body):
            yield self.posts_request(response.url, 1)
        else:
            self.count(stats_keys.discovery_absent(self.name, WP_API))
            yield from self.after_method(WP_API)

    # --- moving from one method to the next --------------------------------------------------

    def after_method(self, method: str) -> Iterator[Request]:
        """Begin the first planned method after ``method`` (it found nothing)."""
        later = [m for m in self.methods if ORDER.index(m) > ORDER.index(method)]
        if not later:
            if not self._finished:
                self._finished = True
                self.count(stats_keys.discovery_nothing_found(self.name))
                self.logger.warning("No discovery method found an article on %s", self.live_host)
            return
        self.logger.info("%s found no article; trying %s", method, later[0])
        yield from self._begin(later[0])

    def _begin(self, method: str) -> Iterator[Request]:
        state = self._method.setdefault(method, _Method())
        if method == SITEMAP:
            state.pending += 1
            robots = self.config.origin + "/robots.txt"
            yield self._page(robots, self.parse_robots, "sitemap", errback=self.robots_failed)
        elif method == FEED:
            given = [self._absolute(path) for path in self.config.discovery.feeds]
            found = list(dict.fromkeys(given + self._home_feeds))
            if not found:
                state.fallbacks = [self.config.origin + path for path in feeds.FEED_PATHS]
            yield from self._request_all(FEED, found)
            yield from self._settle(FEED)
        elif method == LISTING:
            given = [self._absolute(path) for path in self.config.discovery.listings]
            for url in dict.fromkeys([self.config.home_url, *given]):
                yield self._listing_request(url, page=1)

    def _request_all(self, method: str, urls: list[str]) -> Iterator[Request]:
        """Requests for the sitemaps or feeds ``urls``, each once a run (an index listing
        itself, or a sitemap named twice, is not fetched again)."""
        state = self._method[method]
        callback = self.parse_sitemap if method == SITEMAP else self.parse_feed
        for url in urls:
            if url in self._requested:
                continue
            self._requested.add(url)
            state.pending += 1
            yield self._page(url, callback, method, errback=self.method_failed)

    def _answered(self, method: str, found: int = 0) -> Iterator[Request]:
        """One request of ``method`` was answered, with ``found`` article links."""
        state = self._method[method]
        if found and not state.found:
            self.count(stats_keys.discovery_used(self.name, method))
        state.found += found
        state.pending -= 1
        yield from self._settle(method)

    def _settle(self, method: str) -> Iterator[Request]:
        """With nothing of ``method`` in flight and no article found: its next fallback path,
        else the next method."""
        state = self._method[method]
        if state.pending or state.found:
            return
        while state.fallbacks:
            requests = list(self._request_all(method, [state.fallbacks.pop(0)]))
            if requests:
                yield from requests
                return
        yield from self.after_method(method)

    def method_failed(self, failure: Failure) -> Iterator[Request]:
        """A sitemap or feed that could not be had: absent (4xx) is normal while probing."""
        request: Request = failure.request  # type: ignore[attr-defined]
        self._count_failure(failure, request)
        yield from self._answered(str(request.meta["discovery"]))

    def _count_failure(self, failure: Failure, request: Request) -> None:
        if isinstance(failure.value, HttpError) and failure.value.response.status < 500:
            what = listing_name(request.url)
            self.count(stats_keys.discovery_absent(self.name, what))
            self.logger.info(
                "No %s at %s (HTTP %s)",
                request.meta["discovery"],
                request.url,
                failure.value.response.status,
            )
        else:
            self.request_failed(failure)

    def bad_input(self, error: DiscoveryError, url: str) -> None:
        self.count(stats_keys.discovery_bad_input(self.name, error.reason))
        self.logger.warning("Skipped %s: %s", url, error)

    # --- sitemaps ------------------------------------------------------------------------------

    def parse_robots(self, response: Response) -> Iterator[Request]:
        named = sitemaps.sitemaps_from_robots(response.body, response.url)
        yield from self._sitemaps_besides(named)

    def robots_failed(self, failure: Failure) -> Iterator[Request]:
        request: Request = failure.request  # type: ignore[attr-defined]
        self._count_failure(failure, request)
        yield from self._sitemaps_besides([])

    def _sitemaps_besides(self, named: list[str]) -> Iterator[Request]:
        """The sitemaps robots.txt ``named`` and the config's; the usual paths if none."""
        given = [self._absolute(path) for path in self.config.discovery.sitemaps]
        found = list(dict.fromkeys(named + given))
        if not found:
            origin = self.config.origin
            self._method[SITEMAP].fallbacks = [origin + path for path in sitemaps.FALLBACK_PATHS]
        yield from self._request_all(SITEMAP, found)
        yield from self._answered(SITEMAP)  # the robots.txt request

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        found = 0
        try:
            sitemap = sitemaps.read_sitemap(response.body, response.url, timezone=self.timezone)
        except DiscoveryError as error:
            self.bad_input(error, response.url)
            sitemap = None
        if sitemap is not None:
            self.count(stats_keys.discovery_count(self.name, SITEMAP, "pages"))
            if sitemap.malformed:
                self.count(stats_keys.item_errors(self.name, SITEMAP), sitemap.malformed)
            children = [c for c in sitemap.sitemaps if not self._older_than_since(c)]
            # Newest first: with max_pages reached, the recent articles are the ones kept.
            children.sort(key=lambda child: child.modified or _EPOCH, reverse=True)
            yield from self._request_all(
                SITEMAP, [child.url for child in children][: self.max_pages]
            )
            for entry in sitemap.pages:
                for request in self.guarded(SITEMAP, response, self._follow_entry, response, entry):
                    found += 1
                    yield request
            self.count(stats_keys.discovery_count(self.name, SITEMAP, "entries"), found)
        yield from self._answered(SITEMAP, found)

    # --- feeds ---------------------------------------------------------------------------------

    def parse_feed(self, response: Response) -> Iterator[Request]:
        found = 0
        try:
            entries = feeds.read_feed(response.body, response.url, timezone=self.timezone)
        except DiscoveryError as error:
            self.bad_input(error, response.url)
            entries = []
        else:
            self.count(stats_keys.discovery_count(self.name, FEED, "pages"))
        for entry in entries:
            for request in self.guarded(FEED, response, self._follow_entry, response, entry):
                found += 1
                yield request
        self.count(stats_keys.discovery_count(self.name, FEED, "entries"), found)
        yield from self._answered(FEED, found)

    # --- listings ------------------------------------------------------------------------------

    def parse_listing(self, response: Response, page: int) -> Iterator[Request]:
        if not isinstance(response, TextResponse):
            return
        self.count(stats_keys.discovery_count(self.name, LISTING, "pages"))
        links = listings.read_listing(
            response.text,
            response.url,
            lambda url: self.site.is_article_url(self.live_url(response, url)),
        )
        found = 0
        for href in links.articles:
            for request in self.guarded("listing", response, self._follow, response, href, None):
                found += 1
                yield request
        self.count(stats_keys.discovery_count(self.name, LISTING, "entries"), found)
        state = self._method.setdefault(LISTING, _Method())
        if found and not state.found:
            self.count(stats_keys.discovery_used(self.name, LISTING))
        state.found += found
        if not found:
            name = listing_name(self.live_url(response, response.url))
            self.count(stats_keys.listing_no_links(self.name, name))
            self.logger.warning("No article link on listing page %s", response.url)
        if links.next_page and page < self.max_pages:
            live = self.live_url(response, links.next_page)
            if self.is_live_host(live):
                yield self._listing_request(live, page=page + 1, pagination=True)

    def _listing_request(self, live_url: str, *, page: int, pagination: bool = False) -> Request:
        meta: dict[str, Any] = {"listing": listing_name(live_url), "listing_page": page}
        if pagination:
            meta["pagination"] = True
        return Request(
            self.fetch_url(live_url),
            callback=self.parse_listing,
            errback=self.request_failed,
            cb_kwargs={"page": page},
            meta=meta,
            # The home page was fetched already, to look for the API and the feeds.
            dont_filter=page == 1 and live_url == self.config.home_url,
        )

    # --- articles ------------------------------------------------------------------------------

    def _follow_entry(self, response: Response, entry: Entry) -> Iterator[Request]:
        published = entry.published
        if self._older_than_since(entry):
            self.count_skip("older_than_since", entry.url)
            return
        yield from self._follow(response, entry.url, published)

    def _older_than_since(self, entry: Entry) -> bool:
        # A page last changed before ``since`` was published before it too.
        return self.older_than_since(entry.published or entry.modified)

    def _follow(
        self, response: Response, href: str, published: datetime | None
    ) -> Iterator[Request]:
        """A request for ``href`` if it is one of this site's articles, else a counted skip."""
        live = self.live_url(response, href)
        if not self.is_live_host(live):
            self.count_skip("offsite", live)
            return
        if not self.site.is_article_url(live):
            self.count_skip("not_article", live)
            return
        if self.skipped_by_window(published, live):
            return
        yield Request(
            self.fetch_url(live),
            callback=self.parse_article,
            errback=self.request_failed,
            cb_kwargs={"live_url": live},
            meta={"article": True},
        )

    # --- helpers -------------------------------------------------------------------------------

    def _page(self, live_url: str, callback: Any, method: str, *, errback: Any) -> Request:
        """A discovery request (robots.txt, API, sitemap, feed, home page)."""
        return Request(
            self.fetch_url(live_url),
            callback=callback,
            errback=errback,
            meta={
                "listing": method,
                "listing_page": 1,
                "discovery": method,
                # Its callback reads this worker's discovery state: in a shared crawl, it is
                # fetched by the worker that asked (each worker runs its own discovery).
                WORKER_OWN_META: True,
            },
            # Each is asked for once (_requested); a request the dupefilter dropped silently
            # would leave its method waiting for an answer that never comes.
            dont_filter=True,
        )

    def _absolute(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.config.origin + path_or_url

    def live_text(self, response: TextResponse) -> str:
        """The page's text as the live site serves it (a mirror's link rewriting undone)."""
        text = response_text(response)
        return text.replace(self.mirror_origin, self.live_origin) if self.mirror_origin else text
