"""Which crawler a log record belongs to, when several crawlers share one process.

Scrapy's logging is process-global: every crawler's ``LogCount`` handler sits on the root logger
and counts every record of the process (scrapy/scrapy#1362, open in 2.19), so in a ``scrapy
crawlall`` of many desks one desk's error would count as an error of every desk, and fail all
their ``errors`` monitors. This module attributes a record to one crawler:

1. the ``crawler`` or ``spider`` a record carries (Scrapy passes ``extra={"spider": spider}`` on
   many of its messages, a spider's own ``self.logger`` always does);
2. else the crawler whose code is running: :data:`CURRENT_CRAWLER`, a context variable that
   ``crawlall`` sets around each ``crawler_process.crawl(crawler)``. The asyncio task Scrapy
   creates for the crawl copies it, and so does everything that task starts (tasks, callbacks,
   the Twisted coroutines of the engine, downloader and pipelines), so a component's plain
   ``logger.error(...)`` is attributed too;
3. else nobody: a record logged outside every crawl (start-up, shutdown, the reactor itself).

:class:`ScopedLogCount` replaces ``scrapy.extensions.logcount.LogCount`` (``crawlall`` swaps it
in ``EXTENSIONS_BASE``): it counts ``log_count/<LEVEL>`` for the records attributed to its own
crawler, and for records attributed to nobody, which it counts in every crawler running, as
Scrapy does: an error nobody can be blamed for still fails every desk it may have hurt, never
none. With a single crawler it counts exactly what ``LogCount`` counts.

:func:`install_record_tag` gives every record a ``spider_name`` attribute (the attributed
crawler's spider, ``-`` for nobody), so one log file of many desks says which line is whose
(``LOG_FORMAT`` with ``%(spider_name)s``); :func:`log_to_file` adds a log file of one crawler's
records (and nobody's), in Scrapy's format, so each desk also has a log of its own.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler

#: The crawler whose code is running (None outside every crawl).
CURRENT_CRAWLER: ContextVar[Crawler | None] = ContextVar("current_crawler", default=None)
#: ``spider_name`` of a record attributed to no crawler.
NOBODY = "-"


@contextlib.contextmanager
def crawler_scope(crawler: Crawler) -> Iterator[None]:
    """Run the body (e.g. ``crawler_process.crawl(crawler)``) as ``crawler``'s code."""
    token = CURRENT_CRAWLER.set(crawler)
    try:
        yield
    finally:
        CURRENT_CRAWLER.reset(token)


def owner(record: logging.LogRecord) -> Crawler | None:
    """The crawler ``record`` belongs to, or None (see the module docstring)."""
    crawler = record.__dict__.get("crawler")
    if isinstance(crawler, Crawler):
        return crawler
    spider = record.__dict__.get("spider")
    if isinstance(spider, Spider):
        crawler = getattr(spider, "crawler", None)
        if isinstance(crawler, Crawler):
            return crawler
    return CURRENT_CRAWLER.get()


def spider_name(crawler: Crawler | None) -> str:
    if crawler is None:
        return NOBODY
    return str(getattr(crawler.spidercls, "name", None) or NOBODY)


_installed = False


def install_record_tag() -> None:
    """Give every log record of this process a ``spider_name`` attribute (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def tagged(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.spider_name = spider_name(CURRENT_CRAWLER.get())
        return record

    logging.setLogRecordFactory(tagged)
    _installed = True


def log_to_file(crawler: Crawler, path: str) -> logging.Handler:
    """Append ``crawler``'s records (and nobody's) to ``path`` from now on, formatted as
    Scrapy's root handler formats them (``LOG_FORMAT``, ``LOG_DATEFORMAT``, ``LOG_LEVEL``)."""
    settings = crawler.settings
    handler = logging.FileHandler(path, encoding=settings.get("LOG_ENCODING") or "utf-8")
    handler.setFormatter(
        logging.Formatter(fmt=settings.get("LOG_FORMAT"), datefmt=settings.get("LOG_DATEFORMAT"))
    )
    handler.setLevel(settings.get("LOG_LEVEL"))
    handler.addFilter(lambda record: owner(record) in (crawler, None))
    logging.root.addHandler(handler)
    return handler


class _ScopedCounter(logging.Handler):
    def __init__(self, crawler: Crawler, level: int | str) -> None:
        super().__init__(level)
        self.crawler = crawler

    def emit(self, record: logging.LogRecord) -> None:
        belongs_to = owner(record)
        if belongs_to is None or belongs_to is self.crawler:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value(f"log_count/{record.levelname}")


class ScopedLogCount:
    """``log_count/<LEVEL>`` of one crawler's own records (and of nobody's); a drop-in for
    ``scrapy.extensions.logcount.LogCount``, installed and removed with the spider."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.handler: _ScopedCounter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ScopedLogCount:
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.handler = _ScopedCounter(self.crawler, self.crawler.settings.get("LOG_LEVEL"))
        logging.root.addHandler(self.handler)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.handler is not None:
            logging.root.removeHandler(self.handler)
            self.handler = None
