"""The scheduled-run lock across machines: a Redis key, for crawls on a shared frontier.

A ``flock`` in ``DATA_DIR/locks`` keeps two runs of a spider apart on one machine. With
``REDIS_URL`` set, every machine's cron may start the same scheduled crawl, so ``run`` also
takes ``frontier:lock:<spider>`` in Redis: ``SET NX`` with a expiry, renewed by a thread
while the run lasts, deleted (only if still ours) when it ends. A runner killed outright stops
renewing it; the lock expires :data:`LOCK_SECONDS` later and the next run goes ahead.

redis is imported only when a lock is taken, so runs without ``REDIS_URL`` never import it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from crawler.ops.frontier_keys import run_lock
from crawler.ops.redis_client import open_redis, text

logger = logging.getLogger(__name__)

#: Seconds a lock outlives a runner that stopped renewing it.
LOCK_SECONDS = 60.0

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LockUnavailable(RuntimeError):
    """Redis could not be asked for the lock."""


@contextlib.contextmanager
def redis_run_lock(url: str, spider: str) -> Iterator[bool]:
    """Hold the cross-machine lock of ``spider``'s scheduled run; yields False if another
    machine (or process) holds it. Raises :class:`LockUnavailable` if Redis cannot answer."""
    import redis

    client = open_redis(url, ping=False)
    key = run_lock(spider)
    token = f"{socket.gethostname()} pid {os.getpid()}, started "
    token += f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} [{uuid.uuid4().hex[:8]}]"
    ttl_ms = int(LOCK_SECONDS * 1000)
    try:
        taken = client.set(key, token, nx=True, px=ttl_ms)
    except redis.RedisError as exc:
        raise LockUnavailable(f"could not take the run lock in Redis: {exc}") from exc
    if not taken:
        yield False
        return
    stop = threading.Event()
    renew = client.register_script(_RENEW)

    def keep_renewing() -> None:
        while not stop.wait(LOCK_SECONDS / 3):
            try:
                if not renew(keys=[key], args=[token, ttl_ms]):
                    logger.error("The run lock %s was lost (expired or taken over)", key)
                    return
            except redis.RedisError as exc:  # retried at the next turn, well before expiry
                logger.warning("Could not renew the run lock %s: %s", key, exc)

    renewer = threading.Thread(target=keep_renewing, name="run-lock", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        stop.set()
        renewer.join(timeout=5)
        try:
            client.register_script(_RELEASE)(keys=[key], args=[token])
        except redis.RedisError as exc:
            logger.warning("Could not release the run lock %s (it expires): %s", key, exc)
        client.close()


def redis_lock_holder(url: str, spider: str) -> str:
    """Who holds ``spider``'s cross-machine lock, as it noted itself ("" if unknown)."""
    try:
        value = open_redis(url, ping=False).get(run_lock(spider))
    except Exception:  # a courtesy for the message only
        return ""
    return text(value) if value else ""
