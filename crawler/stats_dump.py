"""StatsDump: write the crawl's final stats to a JSON file, for the cron runner.

Settings: ``STATS_DUMP_FILE`` (path; unset: the extension is off). Written on
``engine_stopped``, after the stats are final (monitor results included), atomically (a
temporary file renamed), with datetimes tagged as in :mod:`crawler.spool` so they load back
as datetimes with :func:`load_stats`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.spool import decode, encode

logger = logging.getLogger(__name__)


class StatsDump:
    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsDump:
        path = crawler.settings.get("STATS_DUMP_FILE")
        if not path:
            raise NotConfigured("STATS_DUMP_FILE is not set")
        extension = cls(crawler, Path(path))
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(encode(stats), encoding="utf-8")
            tmp.replace(self.path)
        except OSError:
            logger.exception("Could not write the stats to %s", self.path)


def load_stats(path: Path) -> dict[str, Any] | None:
    """The stats a crawl dumped, or None if it wrote none (it crashed or was killed)."""
    try:
        return decode(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
