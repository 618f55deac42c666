"""``scrapy crawl``, exiting 1 when the run lost data.

Scrapy 2.19's own ``crawl`` command sets a non-zero exit code only when the crawl could not
start (``crawler_process.bootstrap_failed``); a crawl that ran to its end exits 0 whatever its
stats say. A run that lost records (neither the archive database nor the spool could take
them) must not look like a success to cron or a shell script, so this subclass, registered by
``COMMANDS_MODULE = "crawler.commands"`` in the settings (a project command replaces the
built-in one of the same name), looks at the stats of its crawler when the crawl is over and
exits 1 if any of :data:`LOSS_STATS` is non-zero. Everything else is Scrapy's ``crawl``.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

from crawler import stats_keys

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Stats counting records or pages that were not kept anywhere (see pipelines.archive and
#: crawler.components.page_archive).
LOSS_STATS = stats_keys.LOSS_KEYS
#: The exit status of a crawl that lost data (1, like a crawl Scrapy could not start).
DATA_LOST_EXIT_CODE = 1


class Command(ScrapyCrawlCommand):
    def __init__(self) -> None:
        super().__init__()
        self._crawlers: list[Crawler] = []

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        crawler = super()._create_crawler(spidercls)
        self._crawlers.append(crawler)
        return crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        self._fail_on_lost_data()

    def _fail_on_lost_data(self) -> None:
        """Exit 1 if any crawler of this command lost records or pages (and nothing else
        already made the exit status non-zero)."""
        lost = {key: value for key, value in self._lost().items() if value}
        if lost and self.exitcode == 0:
            logger.error(
                "Exiting with status %s: the crawl lost data (%s)",
                DATA_LOST_EXIT_CODE,
                ", ".join(f"{key}={value}" for key, value in lost.items()),
            )
            self.exitcode = DATA_LOST_EXIT_CODE

    def _lost(self) -> dict[str, int]:
        totals = dict.fromkeys(LOSS_STATS, 0)
        for crawler in self._crawlers:
            try:
                stats = crawler.stats
            except RuntimeError:  # Scrapy 2.19 raises for a crawler that never started
                continue
            if stats is None:
                continue
            for key in LOSS_STATS:
                totals[key] += int(stats.get_value(key, 0) or 0)
        return totals
