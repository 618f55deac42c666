"""``scrapy crawlall SPIDER [SPIDER ...]``: several spiders in one process, one crawler each.

What ``python -m crawler run --all`` runs (:mod:`crawler.ops.run_all`): every desk of a site
family in one reactor, in parallel across hosts. Each spider gets its own
:class:`~scrapy.crawler.Crawler` (``crawler_process.crawl(crawler)`` per spider, then one
``start()``), so each has its own settings, stats, downloader slots and AutoThrottle: the
per-host politeness (``CONCURRENT_REQUESTS_PER_DOMAIN``, ``DOWNLOAD_DELAY``, AutoThrottle) of a
desk is exactly that of a ``scrapy crawl`` of it alone, and one slow or dead desk holds up no
other. Each crawler's ``StatsDump`` hands its stats back on its own (one line per spider over
``STATS_DUMP_FD``), as soon as that crawler is done.

Arguments: ``-a NAME=VALUE`` goes to every spider, ``-a SPIDER:NAME=VALUE`` to that one only
(e.g. each desk's ``base_url`` when crawling mirrors). Everything else is ``scrapy crawl``'s, and
so is the exit status: 1 if a crawler could not start or any crawler lost data.

Logging is process-global in Scrapy, so ``LOG_FILE`` (or stderr) gets every crawler's lines,
each tagged with its spider (``LOG_FORMAT`` gains ``[%(spider_name)s]``); ``CRAWLALL_LOG_FILES``
(JSON ``{spider: path}``, set by the runner) also gives each spider a log file of its own lines.
``log_count/<LEVEL>`` counts each crawler's own records only
(:mod:`crawler.components.crawl_scope`).

Refused, because crawlers of one process would share them: ``JOBDIR`` (one request queue and
seen-set per spider) and ``STATS_DUMP_FILE`` (one stats document per file).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from scrapy.exceptions import UsageError

from crawler.commands.crawl import Command as CrawlCommand
from crawler.components.crawl_scope import crawler_scope, install_record_tag, log_to_file

#: Scrapy's log-level counter, which counts every crawler's records in every crawler.
SCRAPY_LOG_COUNT = "scrapy.extensions.logcount.LogCount"
SCOPED_LOG_COUNT = "crawler.components.crawl_scope.ScopedLogCount"
LOG_FORMAT = "%(asctime)s [%(spider_name)s] [%(name)s] %(levelname)s: %(message)s"
#: ``{spider: path}`` (JSON): a log file of each spider's own lines, besides ``LOG_FILE``.
SPIDER_LOG_FILES = "CRAWLALL_LOG_FILES"
#: Settings a process cannot share between crawlers.
UNSHARED_SETTINGS = {
    "JOBDIR": "a JOBDIR holds one spider's queue and seen requests",
    "STATS_DUMP_FILE": "a stats file holds one crawl's stats; use STATS_DUMP_FD",
}


def split_arguments(
    spargs: dict[str, str], spiders: list[str]
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """``-a`` arguments as (those for every spider, ``{spider: its own}``)."""
    shared: dict[str, str] = {}
    own: dict[str, dict[str, str]] = {}
    for key, value in spargs.items():
        spider, sep, name = key.partition(":")
        if not sep:
            shared[key] = value
            continue
        if spider not in spiders or not name:
            raise UsageError(
                f"-a {key}=...: expected SPIDER:NAME=VALUE with SPIDER one of the spiders crawled",
                print_help=False,
            )
        own.setdefault(spider, {})[name] = value
    return shared, own


class Command(CrawlCommand):
    def syntax(self) -> str:
        return "[options] <spider> [<spider> ...]"

    def short_desc(self) -> str:
        return "Run several spiders of the project in one process, in parallel, one crawler each"

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        for name, why in UNSHARED_SETTINGS.items():
            if self.settings.get(name):
                raise UsageError(f"{name} cannot be used with crawlall: {why}", print_help=False)
        extensions = dict(self.settings.getdict("EXTENSIONS_BASE"))
        order = extensions.pop(SCRAPY_LOG_COUNT, 0)
        extensions[SCOPED_LOG_COUNT] = order
        self.settings.set("EXTENSIONS_BASE", extensions, priority="command")
        # Before the crawler process configures logging: every record needs the attribute.
        install_record_tag()
        self.settings.set("LOG_FORMAT", LOG_FORMAT, priority="command")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError("name at least one spider")
        twice = sorted(name for name, n in Counter(args).items() if n > 1)
        if twice:
            raise UsageError(f"spider named twice: {', '.join(twice)}", print_help=False)
        shared, own = split_arguments(opts.spargs, args)
        assert self.crawler_process is not None and self.settings is not None
        try:
            log_files = json.loads(self.settings.get(SPIDER_LOG_FILES) or "{}")
        except ValueError:
            raise UsageError(f"{SPIDER_LOG_FILES}: a JSON object expected") from None
        for name in args:
            crawler = self._create_crawler(name)
            if log_files.get(name):
                log_to_file(crawler, str(log_files[name]))
            arguments: dict[str, Any] = {**shared, **own.get(name, {})}
            # The crawl's task copies the context: all the crawler's code runs in its scope.
            with crawler_scope(crawler):
                self.crawler_process.crawl(crawler, **arguments)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        self._fail_on_lost_data()
