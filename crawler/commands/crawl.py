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
import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crawler import stats_keys
from crawler.components.frontier.config import FrontierUnavailable
from crawler.components.jobdir import JobdirInUse
from crawler.config import ConflictingSettings, SettingError

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

#: Stats counting records or pages that were not kept anywhere (see pipelines.archive and
#: crawler.components.page_archive).
LOSS_STATS = stats_keys.LOSS_KEYS
#: Errors that refuse a crawl before it starts; reported as one line (exit 1).
REFUSALS: tuple[type[Exception], ...] = (
    SettingError,
    ConflictingSettings,
    JobdirInUse,
    FrontierUnavailable,
)
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
        # Scrapy's run, but a crawl refused before it started (an invalid or conflicting
        # setting, a JOBDIR in use) is one line on stderr, not asyncio's "Task exception was
        # never retrieved" traceback.
        if len(args) != 1:
            super().run(args, opts)  # Scrapy's usage errors
            return
        assert self.crawler_process is not None
        crawl = self.crawler_process.crawl(self._create_crawler(args[0]), **opts.spargs)
        if isinstance(crawl, asyncio.Future):
            crawl.add_done_callback(self._report_refusal)
        elif isinstance(crawl, Deferred):
            crawl.addErrback(self._report_refused_failure)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        self._fail_on_lost_data()

    def _report_refusal(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()  # retrieved: asyncio does not log it again
        if isinstance(error, REFUSALS):
            print(f"error: {error}", file=sys.stderr)
        elif error is not None:
            logger.error("The crawl failed", exc_info=error)

    def _report_refused_failure(self, failure: Failure) -> Failure | None:
        if failure.check(*REFUSALS):
            print(f"error: {failure.value}", file=sys.stderr)
            return None
        return failure

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
