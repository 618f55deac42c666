"""StatsDump: hand the crawl's final stats back to the cron runner (and the runner's end of it).

Settings (unset: the extension is off):

- ``STATS_DUMP_FD``: a pipe's write end inherited from :mod:`crawler.ops.runner`. The stats go
  there as one line of JSON, ``{"spider": name, "stats": {...}}`` (or ``{"spider": name,
  "error": "..."}`` if they could not be encoded). A pipe needs no disk: with ``DATA_DIR`` on a
  full filesystem the runner still learns what the crawl did.
  :class:`~crawler.ops.stats_handoff.StatsPipe` is the runner's end. Several crawlers of one
  process (``scrapy crawlall``) share the fd: each writes its own line when it is done, and
  the last one closes the fd.
- ``STATS_DUMP_FILE``: a path; the stats are written there (a temporary file, fsynced, then
  renamed; removed again if the write fails, so no partial file is ever left).

Written on ``engine_stopped``, after the stats are final (monitor results included), with
datetimes tagged as in :mod:`crawler.archive.spool` so they load back as datetimes.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.archive.spool import encode
from crawler.config import SettingsReader
from crawler.ops.stats_handoff import write_atomically

logger = logging.getLogger(__name__)

#: Crawlers of this process still to write to each fd (the last one closes it).
_fd_users: Counter[int] = Counter()


class StatsDump:
    def __init__(self, crawler: Crawler, path: Path | None = None, fd: int | None = None) -> None:
        self.crawler = crawler
        self.path = path
        self.fd = fd

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsDump:
        reader = SettingsReader(crawler.settings)
        path = reader.text("STATS_DUMP_FILE")
        fd = reader.integer("STATS_DUMP_FD")
        if fd >= 0:
            try:
                os.fstat(fd)
            except OSError as exc:
                logger.error("STATS_DUMP_FD=%s is not an open file descriptor (%s)", fd, exc)
                fd = -1
        if not path and fd < 0:
            # No message: Scrapy logs a NotConfigured message as a WARNING, and a crawl run by
            # hand (no runner to hand stats to) is the normal case, not a problem.
            raise NotConfigured
        extension = cls(crawler, Path(path) if path else None, fd if fd >= 0 else None)
        if fd >= 0:
            _fd_users[fd] += 1
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        if self.fd is not None:
            self._send(stats)
        if self.path is not None:
            try:
                write_atomically(self.path, encode(stats))
            except (OSError, ValueError):
                logger.exception("Could not write the stats to %s", self.path)

    def _send(self, stats: dict[str, Any]) -> None:
        fd = self.fd
        assert fd is not None
        spider = self.crawler.spider.name if self.crawler.spider else self.crawler.spidercls.name
        try:
            payload = encode({"spider": spider, "stats": stats}) + "\n"
        except (TypeError, ValueError) as exc:
            logger.exception("Could not encode the stats for the runner")
            error = f"the crawl could not encode its stats: {exc}"
            payload = json.dumps({"spider": spider, "error": error}) + "\n"
        data = payload.encode("utf-8")
        try:
            # One writer at a time (the reactor thread), so lines never interleave.
            while data:
                data = data[os.write(fd, data) :]
        except OSError:
            logger.exception("Could not hand the stats back to the runner")
        self.fd = None
        _fd_users[fd] -= 1
        if _fd_users[fd] <= 0:
            del _fd_users[fd]
            try:
                os.close(fd)
            except OSError:
                logger.exception("Could not close the stats pipe")
