"""The frontier's settings, read once; importing this module imports nothing of Redis."""

from __future__ import annotations

from dataclasses import dataclass

from crawler.config import Settings, SettingsReader, redis_url

__all__ = ["WORKER_OWN_META", "FrontierConfig", "FrontierUnavailable", "redis_url"]

#: ``Request.meta`` key: true on a request only the worker that made it may fetch (a discovery
#: probe whose callback reads that worker's discovery state). The shared scheduler keeps it in
#: the worker's memory, never in Redis; without a frontier the key means nothing.
WORKER_OWN_META = "frontier_worker_own"


class FrontierUnavailable(RuntimeError):
    """Redis could not be reached when the crawl started: no crawl on half a frontier."""


@dataclass(frozen=True)
class FrontierConfig:
    """Settings of the shared frontier (defaults in :mod:`crawler.settings`)."""

    redis_url: str
    #: Seconds between a worker's heartbeats (and acknowledgements, requeues of dead workers).
    heartbeat_seconds: float
    #: A worker silent this long is dead: what it had taken goes back in the queue.
    worker_timeout_seconds: float
    #: Per host, downloads in flight across every worker (``CONCURRENT_REQUESTS_PER_DOMAIN``).
    host_concurrency: int
    #: Per host, seconds between download starts across every worker (``DOWNLOAD_DELAY``).
    host_delay_seconds: float
    #: A slot whose holder never gave it back (killed mid-download) is free after this long.
    slot_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> FrontierConfig:
        url = redis_url(settings)
        if url is None:
            raise ValueError("REDIS_URL is not set: the shared frontier is off")
        reader = SettingsReader(settings)
        heartbeat = reader.number("FRONTIER_HEARTBEAT_SECONDS", minimum=0.05)
        timeout = reader.number("FRONTIER_WORKER_TIMEOUT_SECONDS", minimum=heartbeat * 2)
        return cls(
            redis_url=url,
            heartbeat_seconds=heartbeat,
            worker_timeout_seconds=timeout,
            host_concurrency=reader.integer("CONCURRENT_REQUESTS_PER_DOMAIN", minimum=1),
            host_delay_seconds=reader.number("DOWNLOAD_DELAY", minimum=0),
            slot_timeout_seconds=reader.number("DOWNLOAD_TIMEOUT", minimum=1) + 30,
        )
