"""What the shared frontier holds, for ``python -m crawler frontier``: read and clear it.

Takes a redis client (``redis.Redis``); imports nothing of Redis itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from crawler.ops.frontier_keys import PREFIX, FrontierKeys
from crawler.ops.redis_client import text


@dataclass(frozen=True)
class WorkerStatus:
    worker: str
    host: str
    pid: int | None
    started_at: str
    #: Its heartbeat is fresh (it is not dead, or not dead for long).
    alive: bool
    #: Requests it popped and works on; requests whose records it waits to see written.
    taken: int
    settling: int


@dataclass(frozen=True)
class CrawlStatus:
    spider: str
    queued: int
    seen: int
    workers: list[WorkerStatus] = field(default_factory=list)


def spiders_in(client: Any) -> list[str]:
    """Spiders with anything in the frontier, sorted."""
    names: set[str] = set()
    for key in client.scan_iter(match=f"{PREFIX}:*"):
        parts = text(key).split(":")
        if len(parts) >= 3 and parts[1] not in {"host", "lock"}:
            names.add(parts[1])
    return sorted(names)


def crawl_status(client: Any, spider: str) -> CrawlStatus:
    keys = FrontierKeys(spider)
    workers = []
    for worker, raw in sorted(client.hgetall(keys.workers).items()):
        name = text(worker)
        try:
            noted = json.loads(text(raw))
        except ValueError:
            noted = {}
        workers.append(
            WorkerStatus(
                worker=name,
                host=str(noted.get("host", "?")),
                pid=noted.get("pid"),
                started_at=str(noted.get("started_at", "?")),
                alive=bool(client.exists(keys.alive(name))),
                taken=int(client.hlen(keys.taken(name))),
                settling=int(client.hlen(keys.settling(name))),
            )
        )
    return CrawlStatus(spider, int(client.zcard(keys.queue)), int(client.scard(keys.seen)), workers)


def clear_crawl(client: Any, spider: str) -> int:
    """Delete everything of ``spider``'s crawl; the number of keys deleted."""
    keys = FrontierKeys(spider)
    workers = [text(worker) for worker in client.hkeys(keys.workers)]
    return int(client.delete(*keys.all_keys(workers)))
