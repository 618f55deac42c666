"""The raw page archive: every downloaded article page, gzip-compressed, in ``pages``.

One document per canonical (live) URL holding its LATEST successful fetch, so the archive grows
with the number of articles, not of crawls; the records' own history is kept by the versioned
``articles`` / ``article_versions``, and re-parsing needs only the newest HTML. Fields:

- ``url``: live canonical URL (unique index); ``source``: spider name;
- ``fetched_at`` (UTC), ``status``, ``headers`` (``content-type``, ``last-modified``, ``etag``,
  ``content-length`` when sent), ``encoding`` (as declared), ``size`` (bytes of HTML),
  ``compression`` (``"gzip"``), ``body`` (the gzip-compressed HTML, as the live site serves it:
  a mirror's link rewriting is undone) — all from the latest 2xx fetch;
- ``last_status``, ``last_fetched_at``: the latest fetch of any status. A 404/410 never
  overwrites a stored body; :mod:`crawler.incremental` reads these to skip gone links.

:class:`PageArchiveMiddleware` (a downloader middleware) stores the responses of requests marked
``meta["article"]``. A response waits for its page's write, which runs in a worker thread as an
unordered bulk upsert; pages that arrive while a write is in flight go together in the next
one (group commit). So the reactor never blocks, a page is stored before its article reaches
the pipelines, and nothing is left in a buffer when the crawl stops (even on SIGTERM). A failed
write never fails the crawl: it is logged and counted (``pages/errors``); after a connection
failure the archive is not tried again in that run.

Settings (read once): ``PAGE_ARCHIVE_ENABLED`` (default True), ``PAGE_ARCHIVE_BATCH_SIZE``
(pages per bulk write, default 100), and ``MONGO_URI``, ``MONGO_DATABASE``, ``DATA_DIR``.
Stats: ``pages/stored``, ``pages/gone``, ``pages/batches``, ``pages/bytes`` (compressed),
``pages/errors``.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import ConnectionFailure
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response, TextResponse

from crawler.archive import utc_now
from crawler.incremental import PAGES, ArchiveConnection
from crawler.mongo_server import EmbeddedServerError

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
KEPT_HEADERS = ("content-type", "last-modified", "etag", "content-length")


def ensure_page_indexes(db: Database[Doc]) -> None:
    db[PAGES].create_index("url", unique=True)
    db[PAGES].create_index([("source", ASCENDING), ("fetched_at", DESCENDING)])


def page_fields(
    *,
    source: str | None,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    encoding: str | None,
    fetched_at: datetime,
) -> Doc:
    """The ``$set`` recording one fetch of a page (a non-2xx fetch keeps the stored body)."""
    fields: Doc = {"source": source, "last_status": status, "last_fetched_at": fetched_at}
    if 200 <= status < 300:
        compressed = gzip.compress(body, compresslevel=6)
        fields.update(
            fetched_at=fetched_at,
            status=status,
            headers={k: v for k, v in headers.items() if k in KEPT_HEADERS},
            encoding=encoding,
            size=len(body),
            compression="gzip",
            body=compressed,
        )
    return fields


def store_pages(db: Database[Doc], pages: Sequence[tuple[str, Doc]]) -> None:
    """Upsert ``(url, fields)`` pairs in one unordered bulk write; errors propagate."""
    if pages:
        updates = [UpdateOne({"url": url}, {"$set": fields}, upsert=True) for url, fields in pages]
        db[PAGES].bulk_write(updates, ordered=False)


def page_html(doc: Mapping[str, Any]) -> str:
    """The stored page's HTML: decompressed, and decoded as the spider decodes it (valid UTF-8
    wins over a declared encoding, which is often wrongly latin-1)."""
    body = bytes(doc["body"])
    if doc.get("compression") == "gzip":
        body = gzip.decompress(body)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        encoding = doc.get("encoding") or "utf-8"
        try:
            return body.decode(encoding, errors="replace")
        except LookupError:
            return body.decode("utf-8", errors="replace")


class PageArchiveMiddleware:
    """Keep every downloaded article page in ``pages`` (see the module docstring)."""

    def __init__(self, crawler: Crawler, connection: ArchiveConnection, batch_size: int) -> None:
        self.crawler = crawler
        assert crawler.stats is not None
        self.stats: StatsCollector = crawler.stats
        self.connection = connection
        self.batch_size = max(1, batch_size)
        self._pending: list[tuple[tuple[str, Doc], asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._indexes_ready = False
        self._unavailable = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageArchiveMiddleware:
        settings = crawler.settings
        if not settings.getbool("PAGE_ARCHIVE_ENABLED", True):
            raise NotConfigured("PAGE_ARCHIVE_ENABLED is off")
        middleware = cls(
            crawler,
            ArchiveConnection.from_settings(crawler),
            settings.getint("PAGE_ARCHIVE_BATCH_SIZE", 100),
        )
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def spider_closed(self) -> None:
        if self._writer is not None:
            await self._writer
        await asyncio.to_thread(self.connection.close)

    async def process_response(self, request: Request, response: Response) -> Response:
        if not request.meta.get("article"):
            return response
        if self._unavailable:
            self.stats.inc_value("pages/errors")
            return response
        try:
            page = self._page_for(request, response)
        except Exception:
            logger.exception("Could not prepare %s for the page archive", response.url)
            self.stats.inc_value("pages/errors")
            return response
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((page, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        if await future:
            self.stats.inc_value("pages/stored" if "body" in page[1] else "pages/gone")
            self.stats.inc_value("pages/bytes", len(page[1].get("body", b"")))
        else:
            self.stats.inc_value("pages/errors")
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
            source=getattr(spider, "name", None),
            status=response.status,
            body=body,
            headers=headers,
            encoding=encoding,
            fetched_at=utc_now(),
        )

    async def _drain(self) -> None:
        """Write pending pages, a batch at a time, until none are left."""
        while self._pending:
            batch = self._pending[: self.batch_size]
            del self._pending[: self.batch_size]
            ok = await asyncio.to_thread(self._write, [page for page, _ in batch])
            if ok:
                self.stats.inc_value("pages/batches")
            for _, future in batch:
                if not future.done():
                    future.set_result(ok)

    def _write(self, pages: list[tuple[str, Doc]]) -> bool:
        """Runs in a worker thread; never raises."""
        if self._unavailable:
            return False
        try:
            db = self.connection.db()
            if not self._indexes_ready:
                ensure_page_indexes(db)
                self._indexes_ready = True
            store_pages(db, pages)
        except (ConnectionFailure, EmbeddedServerError) as exc:
            self._unavailable = True
            logger.warning("Page archive unavailable (%s); not keeping raw pages this run", exc)
            self.connection.close()
            return False
        except Exception:
            logger.exception("Could not store %s page(s) in the page archive", len(pages))
            return False
        return True
