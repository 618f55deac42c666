"""The raw page archive: every downloaded article page, gzip-compressed, in ``pages``.

One document per canonical (live) URL holding its LATEST successful fetch, so the archive grows
with the number of articles, not of crawls; the records' own history is kept by the versioned
``articles`` / ``article_versions``, and re-parsing needs only the newest HTML. Fields:

- ``url``: live canonical URL (unique index); ``source``: the records' source (the spider's
  name, or its ``source`` attribute when it has one: ``news`` crawls for the publisher's);
- ``fetched_at`` (UTC), ``status``, ``headers`` (``content-type``, ``last-modified``, ``etag``,
  ``content-length`` when sent), ``encoding`` (as declared), ``size`` (bytes of HTML),
  ``format`` (``"html"``, or ``"wp-post"`` below; :mod:`crawler.archive.page_doc`),
  ``timezone`` (the spider's zone for times printed without one), ``compression``
  (``"gzip"``), ``body`` (the gzip-compressed HTML, as the live site serves it: a mirror's link
  rewriting is undone) — all from the latest 2xx fetch;
- ``last_status``, ``last_fetched_at``: the latest fetch of any status. A 404/410 never
  overwrites a stored body; :mod:`crawler.components.incremental` reads these to skip gone links.

:class:`PageArchiveMiddleware` (a downloader middleware) stores the responses of requests marked
``meta["article"]``. A response waits for its page's write, which runs in a worker thread as an
unordered bulk upsert; pages that arrive while a write is in flight go together in the next
one (group commit). So the reactor never blocks, a page is stored (or spooled) before its
article reaches the pipelines, and nothing is left in a buffer when the crawl stops (even on
SIGTERM). A failed write never fails the crawl, and loses no page: the writes are journaled,
pages are spooled in ``DATA_DIR/spool/pages/`` while the database is unreachable and replayed
when it answers again (checked every ``ARCHIVE_RETRY_SECONDS``, and once more at close), as
the article pipeline does; see :mod:`crawler.archive.page_store`.

A page of the WordPress REST API's posts (a request marked ``meta["wp_posts"]``, see
:mod:`spiders.news_wp`) holds up to 100 articles and no article page is downloaded for them:
each post is kept as a page of its own, under its article's URL
(:func:`crawler.sites.generic.wordpress.post_url`), its JSON alone as the body (UTF-8,
``content-type`` ``application/json``, ``format`` ``"wp-post"``), so ``reparse`` rebuilds
those records as it rebuilds the others. The API page waits for its posts' writes as an article
page waits for its own.

Settings (read once, defaults in :mod:`crawler.settings`): ``PAGE_ARCHIVE_ENABLED``,
``PAGE_ARCHIVE_BATCH_SIZE`` (pages per bulk write, at least 1), and the archive's location
with ``ARCHIVE_RETRY_SECONDS`` (:class:`crawler.archive.location.ArchiveLocation`).
Stats: ``pages/stored`` (only pages the server acknowledged, posts included),
``pages/wp_posts`` (posts prepared as pages), ``pages/gone``, ``pages/batches``,
``pages/bytes`` (compressed), ``pages/errors`` (a page that could not be prepared, or that the
server refused; each logged), ``pages/spooled``, ``pages/replayed``, ``pages/lost`` (neither
the server nor the spool could take it; logged as an error) and the others listed in
:mod:`crawler.archive.page_store`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response, TextResponse

from crawler import stats_keys
from crawler.archive.location import ArchiveConnection, ArchiveLocation
from crawler.archive.page_doc import wp_post_fields
from crawler.archive.page_store import KEPT_HEADERS, Page, PageStore, page_fields
from crawler.archive.store import utc_now
from crawler.config import Settings, SettingsReader
from crawler.discovery import wordpress
from crawler.discovery.entries import DiscoveryError
from crawler.extract.decode import decode_html
from crawler.sites.generic.wordpress import post_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

Doc = dict[str, Any]


@dataclass(frozen=True)
class PageArchiveConfig:
    """The page archive's settings, read and checked once."""

    location: ArchiveLocation
    batch_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PageArchiveConfig:
        reader = SettingsReader(settings)
        return cls(
            location=ArchiveLocation.from_settings(settings),
            batch_size=reader.integer("PAGE_ARCHIVE_BATCH_SIZE", minimum=1),
        )


class PageArchiveMiddleware:
    """Keep every downloaded article page in ``pages`` (see the module docstring)."""

    def __init__(self, crawler: Crawler, store: PageStore, batch_size: int) -> None:
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.store = store
        self.batch_size = max(1, batch_size)
        self._pending: list[tuple[Page, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageArchiveMiddleware:
        if not SettingsReader(crawler.settings).flag("PAGE_ARCHIVE_ENABLED"):
            raise NotConfigured("PAGE_ARCHIVE_ENABLED is off")
        config = PageArchiveConfig.from_settings(crawler.settings)
        location = config.location
        store = PageStore(ArchiveConnection.at(location), location.data_dir, location.retry_seconds)
        middleware = cls(crawler, store, config.batch_size)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def spider_closed(self) -> None:
        try:
            if self._writer is not None:
                await self._writer
            if not self.store.online:  # one last chance to hand the spooled pages over
                self._apply(await asyncio.to_thread(self.store.write, [], check_now=True))
            if not self.store.online and (waiting := await asyncio.to_thread(self.store.pending)):
                logger.warning(
                    "The page archive is unreachable: %s page(s) wait in %s for the next run",
                    waiting,
                    self.store.spool.directory,
                )
        finally:
            await asyncio.to_thread(self.store.close)

    async def process_response(self, request: Request, response: Response) -> Response:
        if not request.meta.get("article") and not request.meta.get("wp_posts"):
            return response
        try:
            if request.meta.get("article"):
                pages = [self._page_for(request, response)]
            else:
                pages = self._post_pages(response)
                self.stats.inc_value(stats_keys.PAGES_WP_POSTS, len(pages))
        except Exception:
            logger.exception("Could not prepare %s for the page archive", response.url)
            self.stats.inc_value(stats_keys.PAGES_ERRORS)
            return response
        if not pages:
            return response
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        for page in pages:
            futures.append(loop.create_future())
            self._pending.append((page, futures[-1]))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.gather(*futures)
        return response

    def _page_for(self, request: Request, response: Response) -> tuple[str, Doc]:
        spider = self.crawler.spider
        body = response.body
        mirror, live = getattr(spider, "mirror_origin", None), getattr(spider, "live_origin", None)
        if mirror and live:
            # Store the page as the live site serves it, so a re-parse gives the same record.
            body = body.replace(str(mirror).encode(), str(live).encode())
        headers: dict[str, str] = {}
        for name in KEPT_HEADERS:
            value = response.headers.get(name)
            if value is not None:
                headers[name] = value.decode("latin-1")
        encoding = response.encoding if isinstance(response, TextResponse) else None
        url = str(request.cb_kwargs.get("live_url") or response.url)
        return url, page_fields(
            # The records' source: a spider's name, unless it crawls for another source (the
            # ``news`` spider archives under the publisher's name), so reparse finds its parser.
            source=getattr(spider, "source", None) or getattr(spider, "name", None),
            status=response.status,
            body=body,
            headers=headers,
            encoding=encoding,
            fetched_at=utc_now(),
            timezone=getattr(spider, "timezone", None),
        )

    def _post_pages(self, response: Response) -> list[Page]:
        """One page per post of a REST API page (see the module docstring); none for an
        answer that is no list of posts (the spider counts that)."""
        if not 200 <= response.status < 300:
            return []
        spider = self.crawler.spider
        encoding = response.encoding if isinstance(response, TextResponse) else None
        text = wordpress.live_json(
            decode_html(response.body, encoding),
            getattr(spider, "mirror_origin", None),
            str(getattr(spider, "live_origin", "")),
        )
        try:
            posts = wordpress.read_posts(text.encode("utf-8")).posts
        except DiscoveryError:
            return []
        source = getattr(spider, "source", None) or getattr(spider, "name", None)
        timezone, fetched_at = getattr(spider, "timezone", None), utc_now()
        pages: list[Page] = []
        for post in posts:
            url = post_url(post)
            if url:
                fields = wp_post_fields(
                    source=source, post=post, fetched_at=fetched_at, timezone=timezone
                )
                pages.append((url, fields))
        return pages

    async def _drain(self) -> None:
        """Write pending pages, a batch at a time, until none are left."""
        while self._pending:
            batch = self._pending[: self.batch_size]
            del self._pending[: self.batch_size]
            try:
                self._apply(await asyncio.to_thread(self.store.write, [page for page, _ in batch]))
            finally:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    def _apply(self, counts: Counter[str]) -> None:
        for key, value in counts.items():
            if value:
                self.stats.inc_value(key, value)
