"""The one way this project opens Redis (the shared frontier, the run lock, the CLI).

redis is imported inside :func:`open_redis` only, so importing this module (as every runner
does) imports nothing of Redis: without ``REDIS_URL`` Redis is never loaded.
"""

from __future__ import annotations

from typing import Any

from crawler.archive.redaction import redact_uri


class RedisUnreachable(RuntimeError):
    """Redis did not answer the ``PING`` :func:`open_redis` sent."""


def open_redis(url: str, *, socket_timeout: float = 10.0, ping: bool = True) -> Any:
    """A client (``redis.Redis``, replies as bytes) for ``url``; with ``ping``, checked to
    answer, else :class:`RedisUnreachable` with the URL's password left out."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=socket_timeout)
    if ping:
        try:
            client.ping()
        except redis.RedisError as exc:
            client.close()
            raise RedisUnreachable(f"{redact_uri(url)} is unreachable ({exc})") from exc
    return client


def text(value: Any) -> str:
    """A Redis reply (bytes, or a str from a ``decode_responses`` client) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)
