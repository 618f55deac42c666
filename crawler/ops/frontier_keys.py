"""The Redis keys of the shared frontier (crawler.components.frontier): one place, so workers,
the runner's lock, the CLI and tests agree.

Pure names, no Redis: ``python -m crawler frontier status`` and the runner's lock use them too.
Everything of one spider's crawl lives under ``frontier:<spider>:``; per-host politeness is
shared by every spider (two spiders crawling one host share its slots).
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "frontier"


@dataclass(frozen=True)
class FrontierKeys:
    """The keys of one spider's shared crawl."""

    spider: str

    @property
    def base(self) -> str:
        return f"{PREFIX}:{self.spider}"

    @property
    def queue(self) -> str:
        """Sorted set of pending requests (score ``-priority``), scrapy-redis's PriorityQueue."""
        return f"{self.base}:queue"

    @property
    def seen(self) -> str:
        """Set of request fingerprints ever scheduled in this crawl (scrapy-redis's dupefilter)."""
        return f"{self.base}:seen"

    @property
    def workers(self) -> str:
        """Hash worker id -> JSON ``{"host", "pid", "started_at"}`` of the workers that joined."""
        return f"{self.base}:workers"

    def alive(self, worker: str) -> str:
        """Set with a short expiry while ``worker`` lives (refreshed by its heartbeat)."""
        return f"{self.base}:alive:{worker}"

    def taken(self, worker: str) -> str:
        """Hash of the requests ``worker`` popped and is working on (token -> ``score:data``)."""
        return f"{self.base}:taken:{worker}"

    def settling(self, worker: str) -> str:
        """Hash of requests whose callback ended but whose records are not all written yet."""
        return f"{self.base}:settling:{worker}"

    def all_keys(self, workers: list[str]) -> list[str]:
        """Every key of this crawl (for ``frontier clear``)."""
        per_worker = [
            key
            for worker in workers
            for key in (self.alive(worker), self.taken(worker), self.settling(worker))
        ]
        return [self.queue, self.seen, self.workers, *per_worker]


def host_slots(host: str) -> str:
    """Sorted set of download slots held towards ``host`` (member -> expiry time)."""
    return f"{PREFIX}:host:{host}:slots"


def host_next(host: str) -> str:
    """Earliest time (Unix seconds) the next download towards ``host`` may start."""
    return f"{PREFIX}:host:{host}:next"


def run_lock(name: str) -> str:
    """The lock ``python -m crawler run`` holds for a scheduled crawl, across machines."""
    return f"{PREFIX}:lock:{name}"
