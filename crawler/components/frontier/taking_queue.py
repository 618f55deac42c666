"""scrapy-redis's priority queue, made safe for workers that die: a pop is a *take*.

scrapy-redis pops a request off the shared sorted set (``ZRANGE`` + ``ZREMRANGEBYRANK``): a
worker killed between that pop and the end of the request's callback loses the request, and
with it every link the page would have led to. Here a pop moves the request, in one Lua script,
from the queue into the worker's ``taken`` hash (token -> ``score:data``); the worker later
moves it to ``settling`` (callback ended) and deletes it (records written). A worker whose
heartbeat expired has its ``taken`` and ``settling`` entries put back in the queue by any
other worker (:meth:`TakingQueue.requeue_dead`), so a request is retried unless its outcome
was safely recorded. A retried article already archived is skipped by the incremental
middleware, so the cost of a retry is at most one request, never a duplicate record.
"""

from __future__ import annotations

import itertools
from typing import Any

from scrapy import Request, Spider
from scrapy_redis.queue import PriorityQueue

from crawler.ops.frontier_keys import FrontierKeys

# KEYS: queue, taken. ARGV: token. Moves the best request into taken; returns its data.
_TAKE = """
local best = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #best == 0 then return false end
redis.call('ZREM', KEYS[1], best[1])
redis.call('HSET', KEYS[2], ARGV[1], best[2] .. ':' .. best[1])
return best[1]
"""

# KEYS: queue, workers, alive, taken, settling. ARGV: worker. Requeues a dead worker's
# requests; -1 if it is alive after all (its heartbeat came back).
_REQUEUE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end
local moved = 0
for index = 4, 5 do
  local entries = redis.call('HVALS', KEYS[index])
  for _, entry in ipairs(entries) do
    local colon = string.find(entry, ':', 1, true)
    redis.call('ZADD', KEYS[1], string.sub(entry, 1, colon - 1), string.sub(entry, colon + 1))
    moved = moved + 1
  end
  redis.call('DEL', KEYS[index])
end
redis.call('HDEL', KEYS[2], ARGV[1])
return moved
"""

# KEYS: seen, queue. ARGV: fingerprint, score, data. Queues a request not seen before, in the
# same step as it is marked seen: a worker killed between the two would leave it seen and never
# queued (a listing page lost that way loses every article it lists). 1 if queued.
_PUSH_UNSEEN = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: taken, settling. ARGV: tokens. Callbacks ended: from taken to settling.
_SETTLE = """
for _, token in ipairs(ARGV) do
  local entry = redis.call('HGET', KEYS[1], token)
  if entry then
    redis.call('HSET', KEYS[2], token, entry)
    redis.call('HDEL', KEYS[1], token)
  end
end
return #ARGV
"""


class TakingQueue(PriorityQueue):
    """One spider's shared queue, as seen by one worker (see the module docstring)."""

    def __init__(
        self, server: Any, spider: Spider, key: str, serializer: Any = None, *, worker: str
    ) -> None:
        super().__init__(server, spider, key, serializer)
        self.keys = FrontierKeys(spider.name)
        self.worker = worker
        self._tokens = itertools.count(1)
        self._take = server.register_script(_TAKE)
        self._requeue = server.register_script(_REQUEUE)
        self._settle = server.register_script(_SETTLE)
        self._push_unseen = server.register_script(_PUSH_UNSEEN)

    def push_unseen(self, seen_key: str, fingerprint: str, request: Request) -> bool:
        """Queue ``request`` unless ``fingerprint`` is in the ``seen_key`` set, and add it
        there, in one step; False for a request seen before. Run twice (a reply lost to a
        dropped connection, then a retry), it queues the request once."""
        data = self._encode_request(request)
        keys = [seen_key, self.key]
        return bool(self._push_unseen(keys=keys, args=[fingerprint, -request.priority, data]))

    def push_many(self, requests: list[Request]) -> None:
        """Push several requests in one round trip."""
        pipe = self.server.pipeline(transaction=False)
        for request in requests:
            pipe.execute_command("ZADD", self.key, -request.priority, self._encode_request(request))
        pipe.execute()

    def take(self) -> tuple[str, Request] | None:
        """The best pending request and its token in this worker's ``taken`` hash."""
        token = f"{next(self._tokens)}"
        data = self._take(keys=[self.key, self.keys.taken(self.worker)], args=[token])
        if data is None:
            return None
        return token, self._decode_request(data)

    def settle(self, tokens: list[str]) -> None:
        """The callbacks of ``tokens`` ended: wait for their records, not their responses."""
        if tokens:
            keys = [self.keys.taken(self.worker), self.keys.settling(self.worker)]
            self._settle(keys=keys, args=tokens)

    def acknowledge(self, tokens: list[str]) -> None:
        """Every record of ``tokens`` is written (or spooled): forget them."""
        if tokens:
            self.server.hdel(self.keys.settling(self.worker), *tokens)

    def requeue_dead(self, worker: str) -> int:
        """Put back what ``worker`` had taken if its heartbeat expired; -1 if it lives."""
        keys = self.keys
        moved: int = self._requeue(
            keys=[
                self.key,
                keys.workers,
                keys.alive(worker),
                keys.taken(worker),
                keys.settling(worker),
            ],
            args=[worker],
        )
        return moved
