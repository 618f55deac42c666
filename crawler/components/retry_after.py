"""RetryAfterMiddleware: a 429 or 503 with ``Retry-After`` is retried when the server said.

Scrapy 2.19.0's ``RetryMiddleware`` retries such a response at once, so a site asking for a
pause got four requests in 0.7 s (issue 7.9). This subclass replaces it (Scrapy's is set to
``None`` in ``DOWNLOADER_MIDDLEWARES``) and keeps its rules (``RETRY_TIMES``,
``RETRY_HTTP_CODES``, ``dont_retry``, ``retry/*`` stats); for a response in
``RETRY_AFTER_HTTP_CODES`` whose ``Retry-After`` is delay-seconds or an HTTP-date:

- up to ``RETRY_AFTER_MAX_SECONDS``: the host's downloader slot is paused for that long, so no
  request to the host leaves before then (other hosts go on), and the retry carries
  ``meta["retry_not_before"]`` (a wall-clock time, so it holds in a JOBDIR queue too), which
  :meth:`process_request` waits out without blocking the reactor in case the slot was
  collected or the retry lands elsewhere (``retry_after/delayed``, ``retry_after/max_seconds``);
- longer: the request is given up on at once, not hammered; the response goes on as an HTTP
  error (the spider counts it, e.g. ``antara_kalteng/skipped/http_429``), and the give-up is
  counted (``retry_after/gave_up``) and logged at WARNING with the URL.

A missing or unreadable ``Retry-After`` leaves Scrapy's behaviour unchanged.

Pausing the slot uses the downloader's ``slots`` table and ``Slot.latercall`` (the hook
Scrapy's own ``DOWNLOAD_DELAY`` uses); if a later Scrapy drops them, only the pause of the
other requests is lost, never the retry's own wait.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from scrapy.utils.asyncio import CallLaterResult, call_later, sleep
from scrapy.utils.response import response_status_message

from crawler import stats_keys
from crawler.config import SettingError, SettingsReader, http_codes

logger = logging.getLogger(__name__)

NOT_BEFORE = "retry_not_before"


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait (0 for a past date); None if unreadable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives "-0000" as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryAfterConfig:
    """``RETRY_AFTER_MAX_SECONDS`` (above 0) and ``RETRY_AFTER_HTTP_CODES`` (HTTP codes, each
    also in Scrapy's ``RETRY_HTTP_CODES``: a code that is never retried cannot wait for its
    ``Retry-After``), read and checked once."""

    max_wait: float
    codes: frozenset[int]

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> RetryAfterConfig:
        reader = SettingsReader(settings)
        codes = http_codes("RETRY_AFTER_HTTP_CODES", reader.values("RETRY_AFTER_HTTP_CODES"))
        retried = http_codes("RETRY_HTTP_CODES", settings.getlist("RETRY_HTTP_CODES"))
        if not codes <= retried:
            raise SettingError(
                "RETRY_AFTER_HTTP_CODES",
                f"among RETRY_HTTP_CODES ({', '.join(map(str, sorted(retried)))})",
                sorted(codes - retried),
            )
        return cls(reader.number("RETRY_AFTER_MAX_SECONDS", positive=True), codes)


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        config = RetryAfterConfig.from_settings(settings)
        self.max_wait = config.max_wait
        self.after_codes = config.codes
        self._paused: dict[str, float] = {}  # slot key -> monotonic time the pause ends

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    async def process_request(self, request: Request, spider: Spider | None = None) -> None:
        not_before = request.meta.get(NOT_BEFORE)
        if not_before is not None and (remaining := float(not_before) - time.time()) > 0:
            await sleep(remaining)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        wait = None
        if (
            response.status in self.after_codes
            and response.status in self.retry_http_codes
            and not request.meta.get("dont_retry", False)
        ):
            wait = retry_after_seconds(response.headers.get("Retry-After"))
        if wait is None:
            return super().process_response(request, response)
        stats = self.crawler.stats
        assert stats is not None
        if wait > self.max_wait:
            stats.inc_value(stats_keys.RETRY_AFTER_GAVE_UP)
            logger.warning(
                "Giving up on %s: HTTP %s asks to retry after %.0f s (RETRY_AFTER_MAX_SECONDS=%s)",
                request.url,
                response.status,
                wait,
                self.max_wait,
            )
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        retry.meta[NOT_BEFORE] = time.time() + wait
        self._pause_slot(request, wait)
        stats.inc_value(stats_keys.RETRY_AFTER_DELAYED)
        stats.max_value(stats_keys.RETRY_AFTER_MAX_SECONDS, wait)
        logger.info(
            "HTTP %s with Retry-After %.1f s for %s: retrying then, and pausing its host",
            response.status,
            wait,
            request.url,
        )
        return retry

    def _pause_slot(self, request: Request, wait: float) -> None:
        """Hold the request's downloader slot (its host) for ``wait`` seconds."""
        engine = self.crawler.engine
        downloader: Any = getattr(engine, "downloader", None)
        process_queue = getattr(downloader, "_process_queue", None)
        if downloader is None or process_queue is None:
            return
        key = downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        until = time.monotonic() + wait
        if slot is None or wait <= 0:
            return
        if slot.latercall is not None and until <= self._paused.get(key, 0.0):
            return  # already paused for longer
        self._paused[key] = until
        # A pending DOWNLOAD_DELAY call is shorter than the pause: replace it.
        pending: CallLaterResult | None = slot.latercall
        if pending is not None:
            pending.cancel()

        def resume() -> None:
            slot.latercall = None
            self._paused.pop(key, None)
            process_queue(slot)

        slot.latercall = call_later(wait, resume)
