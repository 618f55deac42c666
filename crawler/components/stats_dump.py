"""StatsDump: hand the crawl's final stats back to the cron runner (and the runner's end of it).

Settings (unset: the extension is off):

- ``STATS_DUMP_FD``: a pipe's write end inherited from :mod:`crawler.ops.runner`. The stats go
  there as one JSON document, ``{"stats": {...}}`` (or ``{"error": "..."}`` if they could not
  be encoded). A pipe needs no disk: with ``DATA_DIR`` on a full filesystem the runner still
  learns what the crawl did. :class:`StatsPipe` is the runner's end.
- ``STATS_DUMP_FILE``: a path; the stats are written there (a temporary file, fsynced, then
  renamed; removed again if the write fails, so no partial file is ever left).

Written on ``engine_stopped``, after the stats are final (monitor results included), with
datetimes tagged as in :mod:`crawler.archive.spool` so they load back as datetimes.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.archive.spool import encode
from crawler.ops.stats_handoff import write_atomically

logger = logging.getLogger(__name__)


class StatsDump:
    def __init__(self, crawler: Crawler, path: Path | None = None, fd: int | None = None) -> None:
        self.crawler = crawler
        self.path = path
        self.fd = fd

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsDump:
        path = crawler.settings.get("STATS_DUMP_FILE")
        fd = crawler.settings.getint("STATS_DUMP_FD", -1)
        if fd >= 0:
            try:
                os.fstat(fd)
            except OSError as exc:
                logger.error("STATS_DUMP_FD=%s is not an open file descriptor (%s)", fd, exc)
                fd = -1
        if not path and fd < 0:
            raise NotConfigured("neither STATS_DUMP_FILE nor STATS_DUMP_FD is set")
        extension = cls(crawler, Path(path) if path else None, fd if fd >= 0 else None)
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
        assert self.fd is not None
        try:
            payload = encode({"stats": stats}) + "\n"
        except (TypeError, ValueError) as exc:
            logger.exception("Could not encode the stats for the runner")
            payload = json.dumps({"error": f"the crawl could not encode its stats: {exc}"}) + "\n"
        try:
            with os.fdopen(self.fd, "wb") as pipe:
                pipe.write(payload.encode("utf-8"))
        except OSError:
            logger.exception("Could not hand the stats back to the runner")
        self.fd = None
