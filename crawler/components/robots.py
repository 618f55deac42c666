"""SharedRobotsTxtMiddleware: robots.txt rules for every request, even those that wait for them.

Replaces ``scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware`` (set to ``None`` in
``DOWNLOADER_MIDDLEWARES``). In Scrapy 2.19.0 the first request for a host starts the
robots.txt download and stores a Deferred for the host; every request arriving before the
download ends awaits that Deferred through ``maybe_deferred_to_future``, i.e.
``Deferred.asFuture``, which *consumes* the Deferred's result: the first waiter gets the
parser, every later one gets ``None`` and is let through unchecked. A crawl's start requests
all arrive together, so with ``Disallow: /`` three of five were fetched (issue 7.6). No later
Scrapy release on PyPI fixes it.

Here each waiter gets a Deferred of its own, fired when the shared one fires, and then reads
the host's parser from the middleware's table (the base class stores it there before firing).
A request robots.txt forbids is dropped as the base class does (``robotstxt/forbidden``), and
also counted as ``<spider>/dropped/robots_forbidden`` and logged at WARNING with its URL
(:mod:`crawler.components.drops`), so the run's accounting of article links sees it.

Settings: Scrapy's ``ROBOTSTXT_OBEY`` (off: :class:`NotConfigured`), ``ROBOTSTXT_USER_AGENT``,
``ROBOTSTXT_PARSER``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.components.drops import drop_request

if TYPE_CHECKING:
    from scrapy.robotstxt import RobotParser


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        while isinstance(pending := self._parsers.get(netloc), Deferred):
            await _fired(pending)
        # The rules are known now, or this is the host's first request and downloads them.
        return await super().robot_parser(request)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:
            raise drop_request(
                self.crawler, request, "robots_forbidden", "Forbidden by robots.txt", failure=False
            ) from exc


async def _fired(shared: Deferred[Any]) -> None:
    """Wait for ``shared`` to fire without taking its result from the other waiters."""
    waiter: Deferred[None] = Deferred()

    def wake(result: Any) -> Any:
        waiter.callback(None)
        return result  # passed on untouched, whatever earlier waiters left in it

    shared.addBoth(wake)
    await maybe_deferred_to_future(waiter)
