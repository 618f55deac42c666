"""SharedHostSlots: politeness per host across every worker, not per process.

Scrapy's ``CONCURRENT_REQUESTS_PER_DOMAIN`` and ``DOWNLOAD_DELAY`` hold inside one process;
three workers would send three times as many requests at a host. With ``REDIS_URL`` set, this
downloader middleware (last before the download handler) takes a slot towards the request's
host in Redis before the download and gives it back after: at most
``CONCURRENT_REQUESTS_PER_DOMAIN`` slots per host are held across all workers, and two
downloads towards a host start at least ``DOWNLOAD_DELAY`` apart (AutoThrottle still adjusts
each worker's own delay on top). A slot held by a worker killed mid-download expires after
``DOWNLOAD_TIMEOUT`` + 30 s. Requests with ``meta["download_slot"]`` count under that slot.

Without ``REDIS_URL``: ``NotConfigured``, and Redis is not imported.
Stats: ``frontier/host_slot_wait_ms`` (milliseconds requests waited for a slot, summed).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from crawler import stats_keys
from crawler.components.frontier.config import FrontierConfig, redis_url
from crawler.ops.frontier_keys import host_next, host_slots

logger = logging.getLogger(__name__)

#: Seconds between two tries for a slot.
POLL_SECONDS = 0.02

# KEYS: slots, next. ARGV: now, member, limit, expiry, delay. 0 = no slot now, 1 = taken.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
local next_start = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < next_start then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('SET', KEYS[2], tostring(tonumber(ARGV[1]) + tonumber(ARGV[5])), 'EX', 3600)
return 1
"""

_SLOT_META = "frontier_host_slot"


class SharedHostSlots:
    """Downloader middleware (module docstring)."""

    def __init__(self, crawler: Crawler, config: FrontierConfig, server: Any) -> None:
        assert crawler.stats is not None
        self.stats = crawler.stats
        self.config = config
        self.server = server
        self._acquire = server.register_script(_ACQUIRE)
        self._owner = uuid.uuid4().hex[:8]
        #: (host, member) of slots Redis was away to take back.
        self._unreleased: list[tuple[str, str]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedHostSlots:
        if redis_url(crawler.settings) is None:
            raise NotConfigured("REDIS_URL is not set")
        from crawler.components.frontier.shared import connect

        config = FrontierConfig.from_settings(crawler.settings)
        return cls(crawler, config, connect(config))

    async def process_request(self, request: Request) -> None:
        host = str(request.meta.get("download_slot") or urlsplit(request.url).hostname or "")
        member = f"{self._owner}:{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        while not await asyncio.to_thread(self._try_acquire, host, member):
            await asyncio.sleep(POLL_SECONDS)
        waited = time.monotonic() - started
        if waited > POLL_SECONDS:
            self.stats.inc_value(stats_keys.FRONTIER_SLOT_WAIT_MS, round(waited * 1000))
        request.meta[_SLOT_META] = (host, member)

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: BaseException) -> None:
        self._release(request)

    def _try_acquire(self, host: str, member: str) -> bool:
        now = time.time()
        try:
            self._give_back_unreleased()
            taken = self._acquire(
                keys=[host_slots(host), host_next(host)],
                args=[
                    now,
                    member,
                    self.config.host_concurrency,
                    now + self.config.slot_timeout_seconds,
                    self.config.host_delay_seconds,
                ],
            )
        except Exception as exc:  # Redis away: politeness falls back to this worker's own
            logger.warning("No shared host slot for %s (%s); downloading anyway", host, exc)
            self.stats.inc_value(stats_keys.FRONTIER_REDIS_ERRORS)
            return True
        return bool(taken)

    def _release(self, request: Request) -> None:
        slot = request.meta.pop(_SLOT_META, None)
        if slot is None:
            return
        host, member = slot
        try:
            self.server.zrem(host_slots(host), member)
        except Exception as exc:
            # Given back before the next slot is taken; left to expire, it would hold the
            # host's concurrency down for DOWNLOAD_TIMEOUT + 30 s after Redis comes back.
            logger.warning("Could not give back the host slot for %s yet (%s)", host, exc)
            self._unreleased.append(slot)

    def _give_back_unreleased(self) -> None:
        # Runs in the threads of concurrent acquisitions: each entry is popped by one only.
        while self._unreleased:
            try:
                host, member = self._unreleased.pop()
            except IndexError:
                return
            try:
                self.server.zrem(host_slots(host), member)
            except Exception:
                self._unreleased.append((host, member))
                raise
