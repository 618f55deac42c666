"""Redirects that lead nowhere end as counted failures, not as DEBUG lines (issue 7.9).

Scrapy's ``RedirectMiddleware`` and ``MetaRefreshMiddleware`` follow a redirect by handing a new
request (a "hop") back to the scheduler. In Scrapy 2.19.0 three kinds of hop vanish with no
stat and nothing logged above DEBUG, and the request's errback never hears of them:

- a loop (``a -> b -> a``): the hop back to ``a`` is filtered by the dupefilter as seen;
- a chain longer than ``REDIRECT_MAX_TIMES``: ``IgnoreRequest("max redirections reached")``;
- a hop to a host outside the spider's ``allowed_domains``: ``OffsiteMiddleware`` filters it
  as it is scheduled (``offsite/filtered``, one DEBUG line per domain).

These subclasses look at every hop before it is returned. A hop to a URL already in its chain,
or one hop too many, is dropped as ``redirect_loop``; a hop to another host (unless the
request is ``dont_filter`` or ``meta["allow_offsite"]``, Scrapy's own exemptions) as
``redirect_offsite``. Both are failures, ``<spider>/download_errors/<reason>``, logged at
WARNING with the URL (:mod:`crawler.components.drops`), and reach the request's errback.

A hop to a URL some other request already asked for (an old URL redirected to one a listing
also links) is still filtered by the dupefilter, rightly: that other request gets the page.
It is counted as ``<spider>/dropped/redirect_to_seen`` and logged at INFO.

Registered in place of Scrapy's two (set to ``None`` in ``DOWNLOADER_MIDDLEWARES``); their
settings apply unchanged (``REDIRECT_ENABLED``, ``REDIRECT_MAX_TIMES``, ``METAREFRESH_*``).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import (
    BaseRedirectMiddleware,
    MetaRefreshMiddleware,
    RedirectMiddleware,
)
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from w3lib.url import canonicalize_url

from crawler.components.drops import CountedDrop, drop_request, stat_key

logger = logging.getLogger(__name__)


class AccountedRedirectMiddleware(RedirectMiddleware):
    """HTTP 3xx redirects; also counts redirect hops the dupefilter drops."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AccountedRedirectMiddleware:
        middleware = super().from_crawler(crawler)
        # One handler for both middlewares: a meta-refresh hop carries redirect_urls too.
        crawler.signals.connect(middleware.request_dropped, signal=signals.request_dropped)
        return middleware

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        try:
            result = super().process_response(request, response)
        except IgnoreRequest as exc:
            raise _too_many_hops(self, request) from exc
        return _checked_hop(self, request, result)

    def request_dropped(self, request: Request) -> None:
        if not request.meta.get("redirect_urls"):
            return
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(stat_key(self.crawler, "redirect_to_seen", failure=False))
        logger.info(
            "Not following a redirect to %s (from %s): that URL was already requested",
            request.url,
            request.meta["redirect_urls"][0],
        )


class AccountedMetaRefreshMiddleware(MetaRefreshMiddleware):
    """``<meta http-equiv="refresh">`` redirects."""

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        try:
            result = super().process_response(request, response)
        except IgnoreRequest as exc:
            raise _too_many_hops(self, request) from exc
        return _checked_hop(self, request, result)


def _too_many_hops(middleware: BaseRedirectMiddleware, request: Request) -> CountedDrop:
    return drop_request(
        middleware.crawler,
        request,
        "redirect_loop",
        f"Redirected more than {middleware.max_redirect_times} times",
        failure=True,
    )


def _checked_hop(
    middleware: BaseRedirectMiddleware, request: Request, result: Request | Response
) -> Request | Response:
    """``result`` if it is a response or a hop worth following; else raise a counted drop."""
    if not isinstance(result, Request):
        return result
    chain = [*request.meta.get("redirect_urls", []), request.url]
    target = canonicalize_url(result.url)
    if any(canonicalize_url(url) == target for url in chain):
        raise drop_request(
            middleware.crawler,
            request,
            "redirect_loop",
            f"Redirect loop ({' -> '.join([*chain, result.url])})",
            failure=True,
        )
    spider = middleware.crawler.spider
    if _offsite(result, spider):
        raise drop_request(
            middleware.crawler,
            request,
            "redirect_offsite",
            f"Redirected to another site ({result.url})",
            failure=True,
        )
    return result


def _offsite(request: Request, spider: Any) -> bool:
    """Scrapy's OffsiteMiddleware rule: ``allowed_domains`` and their subdomains."""
    if request.dont_filter or request.meta.get("allow_offsite"):
        return False
    domains = [domain for domain in getattr(spider, "allowed_domains", None) or [] if domain]
    if not domains:
        return False
    host = urlparse_cached(request).hostname or ""
    return not any(host == domain or host.endswith(f".{domain}") for domain in domains)
