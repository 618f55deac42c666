"""``SCHEDULER``: Scrapy's own scheduler, or the shared one when ``REDIS_URL`` is set.

One setting switches every spider: ``from_crawler`` returns Scrapy's scheduler, unchanged
(with its JOBDIR queues and the project's ``DUPEFILTER_CLASS``), unless ``REDIS_URL`` is set;
only then is :mod:`.shared`, and with it Redis and scrapy-redis, imported.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.scheduler import Scheduler
from scrapy.crawler import Crawler

from crawler.components.frontier.config import redis_url


class FrontierScheduler(Scheduler):
    """The factory Scrapy calls for a scheduler (see the module docstring); a subclass of
    Scrapy's only so that the engine's interface check accepts it."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        if redis_url(crawler.settings) is None:
            return Scheduler.from_crawler(crawler)
        from crawler.components.frontier.shared import SharedScheduler

        return SharedScheduler.from_crawler(crawler)
