"""SharedScheduler: scrapy-redis's scheduler, adapted to Scrapy 2.19 and to workers that die.

What is taken from scrapy-redis 0.9.1 as it is: the sorted-set priority queue's encoding
(requests pickled with ``Request.to_dict``), the duplicate filter (``RFPDupeFilter``: a Redis
set of fingerprints).
What is ours, because 0.9.1 does not do it:

- **No spider argument** to stats calls (deprecated in Scrapy 2.19, upstream issue #305).
- **Nothing lost when a worker dies.** A pop is a take (:mod:`.taking_queue`). Every
  heartbeat the worker moves the requests whose callbacks ended (no longer in the engine's
  in-progress set, so their links are queued and their items handed to the pipelines) to
  ``settling``, and deletes those whose records the archive pipeline has settled (written,
  spooled or lost: ``archive/settled`` caught up with ``archive/received`` as it was when the
  callback ended). It also puts back what dead workers (heartbeat expired) had taken.
- **Seen and queued in one step.** A request is added to the seen set and to the queue by one
  Lua script (:meth:`.TakingQueue.push_unseen`): a worker killed between two separate commands
  would leave a request seen but never queued, and when that is a listing page, every article
  it lists is lost to the crawl.
- **A worker's own requests stay its own.** Each worker runs its own discovery (robots.txt,
  the home page, sitemaps and feeds it probes), and their callbacks read that worker's
  discovery state; a request marked ``meta[WORKER_OWN_META]`` is kept in the worker's memory
  and fetched by it alone (in the queue, another worker took it and failed on state it
  never had, and its maker waited for an answer that never came). Lost with a killed worker,
  as it should be: the worker that replaces it runs discovery afresh.
- **Redis may go away.** A push that fails waits in memory and is retried every heartbeat
  (through the same script, so two workers that found the same link while Redis was away
  still queue it once, and a push whose reply was lost is not queued twice); a pop that fails
  returns nothing for now. With Redis persistence on (``appendonly yes``), a
  restarted Redis gives back the queue, the seen set and the taken requests.
- **The crawl ends when the frontier is empty for everyone**, not when one worker's local
  queue is: an idle worker stays open while the queue holds requests, while a live worker
  still has requests in its callbacks (they may queue more), or while a dead one's wait to be
  put back. The last worker to finish a crawl clears its seen set, so the next hourly run
  fetches the listings again; a crawl stopped early (SIGTERM, a close-spider limit) keeps
  everything, and the next run resumes it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from twisted.internet.task import LoopingCall

from crawler import stats_keys
from crawler.archive.redaction import redact_uri
from crawler.components.frontier.config import (
    WORKER_OWN_META,
    FrontierConfig,
    FrontierUnavailable,
)
from crawler.components.frontier.taking_queue import TakingQueue
from crawler.ops.frontier_keys import FrontierKeys
from crawler.ops.redis_client import RedisUnreachable, open_redis, text

logger = logging.getLogger(__name__)


def connect(config: FrontierConfig) -> Any:
    """A client for ``REDIS_URL``, checked with a ``PING``; raises :class:`FrontierUnavailable`."""
    try:
        return open_redis(config.redis_url, socket_timeout=30)
    except RedisUnreachable as exc:
        raise FrontierUnavailable(
            f"The shared frontier at {exc}; start Redis or unset REDIS_URL"
        ) from exc


class SharedScheduler:
    """The scheduler every worker of a crawl shares through Redis (module docstring)."""

    def __init__(self, crawler: Crawler, config: FrontierConfig, server: Any) -> None:
        self.crawler = crawler
        self.config = config
        self.server = server
        assert crawler.stats is not None
        self.stats = crawler.stats
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.keys: FrontierKeys
        self.queue: TakingQueue
        self.seen: RFPDupeFilter
        #: This worker's own requests (``WORKER_OWN_META``), oldest first.
        self._own: deque[Request] = deque()
        #: Requests Redis could not take yet, in the order they came.
        self._unpushed: list[Request] = []
        #: token -> request, for requests taken and not yet out of the engine.
        self._taken: dict[str, Request] = {}
        #: (token, ``archive/received`` when its callback ended), oldest first.
        self._settling: list[tuple[str, int]] = []
        self._heartbeat: LoopingCall | None = None
        self._redis_down_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        config = FrontierConfig.from_settings(crawler.settings)
        scheduler = cls(crawler, config, connect(config))
        crawler.signals.connect(scheduler._keep_open_while_others_work, signals.spider_idle)
        return scheduler

    # --- the scheduler interface -------------------------------------------------------------

    def open(self, spider: Spider) -> None:
        self.keys = FrontierKeys(spider.name)
        self.queue = TakingQueue(self.server, spider, self.keys.queue, worker=self.worker)
        self.seen = RFPDupeFilter(self.server, key=self.keys.seen)
        pending = len(self.queue)
        if pending:
            logger.info("Joining a crawl in progress: %s request(s) in the shared queue", pending)
        self.server.hset(
            self.keys.workers,
            self.worker,
            json.dumps(
                {
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            ),
        )
        self._beat()
        self._heartbeat = LoopingCall(self._beat)
        self._heartbeat.start(self.config.heartbeat_seconds, now=False)
        logger.info(
            "Shared frontier at %s, worker %s", redact_uri(self.config.redis_url), self.worker
        )

    def close(self, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        # The pipelines closed before the scheduler: every record is settled now.
        self._settle_finished(everything=True)
        self._acknowledge_settled()
        self._push_waiting()
        try:
            self.server.delete(self.keys.alive(self.worker))
            self.server.hdel(self.keys.workers, self.worker)
            if reason == "finished" and not self._others_at_work():
                # The crawl is over for every worker: the next run starts afresh.
                self.server.delete(self.keys.seen, self.keys.queue)
        except RedisError as exc:
            self._redis_error("closing", exc)
        if self._unpushed:
            logger.error(
                "%s request(s) could not be handed to the shared frontier (Redis unreachable) "
                "and are lost with this worker",
                len(self._unpushed),
            )

    def has_pending_requests(self) -> bool:
        if self._own or self._unpushed:
            return True
        try:
            return len(self.queue) > 0
        except RedisError as exc:
            self._redis_error("reading the queue length", exc)
            return False

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.get(WORKER_OWN_META):
            self._own.append(request)
            self.stats.inc_value(stats_keys.FRONTIER_OWN)
            self.stats.inc_value(stats_keys.SCHEDULER_ENQUEUED)
            return True
        try:
            if not self._push(request):
                self.stats.inc_value(stats_keys.FRONTIER_DUPLICATES)
                return False
        except RedisError as exc:
            self._redis_error("queueing a request", exc)
            self._unpushed.append(request)  # pushed at a later heartbeat
        self.stats.inc_value(stats_keys.FRONTIER_ENQUEUED)
        self.stats.inc_value(stats_keys.SCHEDULER_ENQUEUED)
        return True

    def _push(self, request: Request) -> bool:
        """Queue ``request`` (marked seen in the same step) unless it was seen before."""
        if request.dont_filter:
            self.queue.push(request)
            return True
        fingerprint = self.seen.request_fingerprint(request)
        return self.queue.push_unseen(self.keys.seen, fingerprint, request)

    def next_request(self) -> Request | None:
        if self._own:
            self.stats.inc_value(stats_keys.SCHEDULER_DEQUEUED)
            return self._own.popleft()
        try:
            taken = self.queue.take()
        except RedisError as exc:
            self._redis_error("taking a request", exc)
            return None
        if taken is None:
            return None
        token, request = taken
        self._taken[token] = request
        self.stats.inc_value(stats_keys.FRONTIER_DEQUEUED)
        self.stats.inc_value(stats_keys.SCHEDULER_DEQUEUED)
        return request

    def __len__(self) -> int:
        return len(self._own) + len(self.queue) + len(self._unpushed)

    # --- the heartbeat -----------------------------------------------------------------------

    def _beat(self) -> None:
        """Say this worker lives, hand over what waited, forget what is safe, rescue the dead."""
        try:
            ttl_ms = int(self.config.worker_timeout_seconds * 1000)
            self.server.set(self.keys.alive(self.worker), len(self._taken), px=ttl_ms)
            self._push_waiting()
            self._settle_finished()
            self._acknowledge_settled()
            self._requeue_dead_workers()
            self._wake_engine_if_work_waits()
        except RedisError as exc:
            self._redis_error("the heartbeat", exc)
        else:
            if self._redis_down_since is not None:
                logger.warning(
                    "The shared frontier is back after %.1f s",
                    time.monotonic() - self._redis_down_since,
                )
                self._redis_down_since = None

    def _push_waiting(self) -> None:
        """Queue what Redis could not take before, in order, stopping at the first failure."""
        while self._unpushed:
            if not self._push(self._unpushed[0]):
                self.stats.inc_value(stats_keys.FRONTIER_DUPLICATES)
            del self._unpushed[0]

    def _settle_finished(self, *, everything: bool = False) -> None:
        """Requests the engine is done with (callback ended) wait for their records only."""
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine is not None else None
        in_progress = slot.inprogress if slot is not None and not everything else set()
        finished = [token for token, request in self._taken.items() if request not in in_progress]
        if not finished:
            return
        received = int(self.stats.get_value(stats_keys.ARCHIVE_RECEIVED, 0))
        self.queue.settle(finished)
        for token in finished:
            del self._taken[token]
            self._settling.append((token, received))

    def _acknowledge_settled(self) -> None:
        settled = int(self.stats.get_value(stats_keys.ARCHIVE_SETTLED, 0))
        safe = [token for token, received in self._settling if received <= settled]
        if safe:
            self.queue.acknowledge(safe)
            self._settling = self._settling[len(safe) :]
            self.stats.inc_value(stats_keys.FRONTIER_ACKED, len(safe))

    def _peers(self) -> list[tuple[str, bool, int]]:
        """Every other worker of the crawl: (name, heartbeat fresh, requests taken), read in
        two round trips however many workers there are."""
        names = [text(worker) for worker in self.server.hkeys(self.keys.workers)]
        names = [name for name in names if name != self.worker]
        if not names:
            return []
        pipe = self.server.pipeline(transaction=False)
        for name in names:
            pipe.exists(self.keys.alive(name))
            pipe.hlen(self.keys.taken(name))
        replies = pipe.execute()
        return [
            (name, bool(replies[2 * i]), int(replies[2 * i + 1])) for i, name in enumerate(names)
        ]

    def _requeue_dead_workers(self) -> None:
        for name, alive, _ in self._peers():
            if alive:
                continue
            moved = self.queue.requeue_dead(name)
            if moved > 0:
                logger.warning(
                    "Worker %s stopped sending heartbeats: %s request(s) it had taken are "
                    "back in the queue",
                    name,
                    moved,
                )
                self.stats.inc_value(stats_keys.FRONTIER_REQUEUED, moved)

    def _wake_engine_if_work_waits(self) -> None:
        # An idle engine asks the scheduler again only on its own 5 s heartbeat; work that
        # another worker queued (or a dead one left) starts within one of ours instead.
        # ``_slot.nextcall`` is Scrapy 2.19's private wake-up, as ``inprogress`` above.
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None) if engine is not None else None
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None and not self._taken and len(self.queue):
            nextcall.schedule()

    # --- ending the crawl together ------------------------------------------------------------

    def _others_at_work(self) -> bool:
        """Whether any other worker has requests in its callbacks, or a dead one's wait."""
        return any(taken or not alive for _, alive, taken in self._peers())

    def _keep_open_while_others_work(self) -> None:
        try:
            self._beat()
            if self._unpushed or len(self.queue) or self._others_at_work():
                raise DontCloseSpider
        except RedisError as exc:
            self._redis_error("checking whether the crawl is over", exc)
            raise DontCloseSpider from None

    def _redis_error(self, doing: str, exc: RedisError) -> None:
        self.stats.inc_value(stats_keys.FRONTIER_REDIS_ERRORS)
        if self._redis_down_since is None:
            self._redis_down_since = time.monotonic()
            logger.warning(
                "The shared frontier is unreachable (%s: %s); retrying every %.1f s",
                doing,
                exc,
                self.config.heartbeat_seconds,
            )
