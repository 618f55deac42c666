"""Archive-aware crawling: don't download articles the archive already holds.

:class:`ArchiveAwareMiddleware` is a spider middleware. It post-processes the output of every
listing callback (responses whose request carries ``meta["listing"]``): it collects the article
requests (``meta["article"]``, live URL in ``cb_kwargs["live_url"]``), asks the archive about
all of them in ONE query (``articles``, ``url $in``, in a worker thread), and

- drops the ones already archived (``incremental/skipped_known``), except articles published
  within ``REFRESH_WITHIN_HOURS``: fresh stories are still re-fetched so corrections land
  (``incremental/refreshed``);
- drops links the page archive saw answer 404/410 within ``INCREMENTAL_GONE_RECHECK_HOURS``
  (a second batched query, on ``pages``, only for links not archived;
  ``incremental/skipped_gone``): a deleted story is not re-requested every hour;
- drops the next-page request (``meta["pagination"]``) once ``STOP_AFTER_KNOWN_PAGES``
  consecutive pages of that listing held only archived (or gone) articles
  (``incremental/stopped_listings``). The count of such pages travels with the listing's
  requests in ``meta["incremental_known_pages"]``, so it survives a JOBDIR resume.

The spider steers it with two attributes: ``refresh`` (true: nothing is skipped or stopped,
no lookup is made) and ``backfill`` (true when a date window was asked for: known articles are
still skipped, but listings are never stopped at known pages, so the walk reaches the window's
bottom; the spider's own ``since`` rule ends it). A crawl rebuilding a JOBDIR job whose
previous run was killed (:func:`crawler.components.jobdir.rebuilding`) walks listings like a
backfill.

:meth:`ArchiveAwareMiddleware.newest_change` gives a spider that can ask its site for
changes since a time (the WordPress REST API, :mod:`spiders.news_wp`) the newest change the
archive holds for its source, over the same connection.

If the archive cannot be reached, a warning is logged once and everything is crawled
(``incremental/db_unavailable`` counts the listing pages that were not checked).

Settings (read once, defaults in :mod:`crawler.settings`): ``INCREMENTAL_ENABLED`` (False
disables the middleware), ``REFRESH_WITHIN_HOURS`` (0 never re-fetches archived articles),
``STOP_AFTER_KNOWN_PAGES`` (0 never stops a listing), ``INCREMENTAL_GONE_RECHECK_HOURS`` (0
always re-requests gone links), none of them negative; and the archive's location
(:class:`crawler.archive.location.ArchiveLocation`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured

from crawler import stats_keys
from crawler.archive.location import ArchiveConnection, ArchiveLocation
from crawler.archive.page_store import PAGES
from crawler.archive.store import ARTICLES, find_in_chunks
from crawler.components.jobdir import rebuilding
from crawler.config import Settings, SettingsReader

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
GONE_STATUSES = (404, 410)


@dataclass(frozen=True)
class IncrementalConfig:
    """The incremental settings, read and checked once (none may be negative)."""

    refresh_within: timedelta
    stop_after_known_pages: int
    gone_recheck: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> IncrementalConfig:
        reader = SettingsReader(settings)
        return cls(
            refresh_within=timedelta(hours=reader.number("REFRESH_WITHIN_HOURS", minimum=0)),
            stop_after_known_pages=reader.integer("STOP_AFTER_KNOWN_PAGES", minimum=0),
            gone_recheck=timedelta(
                hours=reader.number("INCREMENTAL_GONE_RECHECK_HOURS", minimum=0)
            ),
        )


@dataclass
class Lookup:
    """What the archive knows about one listing page's article links (live URLs)."""

    published: dict[str, datetime | None]  # archived URL -> published_at
    gone: set[str]


class ArchiveAwareMiddleware:
    """Skip archived articles and stop listings at archived pages (see the module docstring)."""

    def __init__(
        self, crawler: Crawler, config: IncrementalConfig, connection: ArchiveConnection
    ) -> None:
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.config = config
        self.connection = connection
        self._unavailable = False
        self._counted: set[tuple[str, str]] = set()  # (stat, url): each URL once a run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveAwareMiddleware:
        if not SettingsReader(crawler.settings).flag("INCREMENTAL_ENABLED"):
            raise NotConfigured("INCREMENTAL_ENABLED is off")
        middleware = cls(
            crawler,
            IncrementalConfig.from_settings(crawler.settings),
            ArchiveConnection.at(ArchiveLocation.from_settings(crawler.settings)),
        )
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def spider_closed(self) -> None:
        await asyncio.to_thread(self.connection.close)

    async def process_spider_output(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        if not response.meta.get("listing") or getattr(self.crawler.spider, "refresh", False):
            async for output in result:
                yield output
            return
        # A listing callback yields a few dozen requests: hold them for one lookup.
        held = [output async for output in result]
        articles = [r for r in held if isinstance(r, Request) and r.meta.get("article")]
        lookup = await self._lookup({_live_url(r) for r in articles}) if articles else None
        if articles and lookup is None:
            for output in held:
                yield output
            return
        # Gone links count as known: they hold nothing new either.
        known_page = (
            bool(articles)
            and lookup is not None
            and all(
                _live_url(r) in lookup.published or _live_url(r) in lookup.gone for r in articles
            )
        )
        streak = int(response.meta.get("incremental_known_pages", 0)) + 1 if known_page else 0
        now = datetime.now(UTC)
        for output in held:
            if isinstance(output, Request):
                if output.meta.get("article") and lookup is not None:
                    if not self._wanted(_live_url(output), lookup, now):
                        continue
                elif output.meta.get("pagination"):
                    if self._stop(response, streak):
                        continue
                    output.meta["incremental_known_pages"] = streak
            yield output

    def _wanted(self, url: str, lookup: Lookup, now: datetime) -> bool:
        """Whether to download an article link; each URL is counted once a run."""
        if url in lookup.published:
            published = lookup.published[url]
            fresh = published is not None and now - published < self.config.refresh_within
            reason, wanted = ("refreshed", True) if fresh else ("skipped_known", False)
        elif url in lookup.gone:
            reason, wanted = "skipped_gone", False
        else:
            return True
        if (reason, url) not in self._counted:
            self._counted.add((reason, url))
            self.stats.inc_value(stats_keys.incremental(reason))
        return wanted

    def _stop(self, response: Response, streak: int) -> bool:
        limit = self.config.stop_after_known_pages
        if not limit or streak < limit or self._walks_to_the_end():
            return False
        logger.info(
            "Not paginating past %s: %s page(s) of listing %r held only archived articles",
            response.url,
            streak,
            response.meta.get("listing"),
        )
        self.stats.inc_value(stats_keys.INCREMENTAL_STOPPED_LISTINGS)
        return True

    def _walks_to_the_end(self) -> bool:
        """A backfill, or a rebuild after a killed JOBDIR crawl: the articles a killed run
        never reached lie below pages it did archive (crawler.components.jobdir)."""
        return bool(getattr(self.crawler.spider, "backfill", False)) or rebuilding(self.crawler)

    async def _lookup(self, urls: set[str]) -> Lookup | None:
        """One batched query (two when some links are not archived); None: DB unavailable."""
        if self._unavailable:
            self.stats.inc_value(stats_keys.INCREMENTAL_DB_UNAVAILABLE)
            return None
        try:
            lookup = await asyncio.to_thread(self._find, sorted(urls))
        except Exception as exc:
            self._unavailable = True
            self.stats.inc_value(stats_keys.INCREMENTAL_DB_UNAVAILABLE)
            logger.warning(
                "Archive unavailable for incremental checks (%s); crawling every article", exc
            )
            await asyncio.to_thread(self.connection.close)
            return None
        self.stats.inc_value(stats_keys.INCREMENTAL_LOOKUPS)
        return lookup

    async def newest_change(self, source: str) -> datetime | None:
        """The newest ``modified_at`` or ``published_at`` archived for ``source``; None when
        it has no record or the archive is unavailable (then everything is crawled).

        A spider that can ask its site for "changed since" (the WordPress REST API's
        ``modified_after``) asks for what is newer than this, instead of listing URLs.
        """
        if self._unavailable:
            return None
        try:
            return await asyncio.to_thread(self._newest, source)
        except Exception as exc:
            self._unavailable = True
            self.stats.inc_value(stats_keys.INCREMENTAL_DB_UNAVAILABLE)
            logger.warning("Archive unavailable for incremental checks (%s); crawling all", exc)
            await asyncio.to_thread(self.connection.close)
            return None

    def _newest(self, source: str) -> datetime | None:
        """Runs in a worker thread: two sorted, one-document queries on (source, field)."""
        articles = self.connection.db()[ARTICLES]
        newest: datetime | None = None
        for name in ("modified_at", "published_at"):
            # Descending, a missing or null value sorts last: the first is the newest date.
            doc = articles.find_one({"source": source}, {"_id": 0, name: 1}, sort=[(name, -1)])
            value = doc.get(name) if doc else None
            if isinstance(value, datetime):
                value = value if value.tzinfo else value.replace(tzinfo=UTC)
                newest = value if newest is None else max(newest, value)
        return newest

    def _find(self, urls: list[str]) -> Lookup:
        """Runs in a worker thread."""
        db = self.connection.db()
        published: dict[str, datetime | None] = {}
        projection = {"_id": 0, "url": 1, "published_at": 1}
        for doc in find_in_chunks(db[ARTICLES], "url", urls, projection):
            published[doc["url"]] = doc.get("published_at")
        gone: set[str] = set()
        unknown = [url for url in urls if url not in published]
        if unknown and self.config.gone_recheck > timedelta(0):
            since = datetime.now(UTC) - self.config.gone_recheck
            query = {
                "last_status": {"$in": list(GONE_STATUSES)},
                "last_fetched_at": {"$gte": since},
            }
            docs = find_in_chunks(db[PAGES], "url", unknown, {"_id": 0, "url": 1}, query=query)
            gone.update(doc["url"] for doc in docs)
        return Lookup(published, gone)


def _live_url(request: Request) -> str:
    return str(request.cb_kwargs.get("live_url") or request.url)
