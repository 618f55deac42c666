"""Requests our middlewares give up on: counted once, logged at WARNING, raised to the errback.

Scrapy drops some requests with only a DEBUG line (a redirect loop, a redirect to another host,
a page robots.txt forbids), so a crawl report could not say why an article link gave no
article. Every such drop goes through :func:`drop_request`, which counts it under the spider's
name and returns a :class:`CountedDrop` for the middleware to raise; the spider's errback then
knows the request is already accounted for and does not count it again.

Two kinds of key, so the monitors and the run record can tell them apart:

``<spider>/download_errors/<reason>``
    a failure: the page could not be had (``redirect_loop``, ``redirect_offsite``); summed by
    the ``item_count`` monitor and by the run record's failed pages.
``<spider>/dropped/<reason>``
    a deliberate drop: the page is not ours to fetch (``robots_forbidden``) or another
    request fetches it (``redirect_to_seen``); summed by the ``item_count`` monitor only.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request

from crawler import stats_keys

logger = logging.getLogger(__name__)


class CountedDrop(IgnoreRequest):
    """An ``IgnoreRequest`` whose stat and log line were already written."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def stat_key(crawler: Crawler, reason: str, *, failure: bool) -> str:
    spider = crawler.spider.name if crawler.spider is not None else "crawl"
    if failure:
        return stats_keys.download_error(spider, reason)
    return stats_keys.dropped(spider, reason)


def drop_request(
    crawler: Crawler, request: Request, reason: str, message: str, *, failure: bool
) -> CountedDrop:
    """Count and log one dropped request; raise what this returns."""
    assert crawler.stats is not None
    crawler.stats.inc_value(stat_key(crawler, reason, failure=failure))
    logger.warning("%s: %s", message, request.url)
    return CountedDrop(reason, message)
