"""RunMonitors: check a crawl when the spider closes and raise the alarm when it looks wrong.

A small extension in the spirit of spidermon's built-in monitors (the README's "Monitors and
alerts" says why not spidermon itself). The checks are pure functions over the stats
(:func:`evaluate`), so they are tested without a crawl; the extension only counts what the
stats lack:

- per parsed article page (``item_scraped`` and ``item_dropped``), which fields were found;
- the distinct article links requested (``request_scheduled`` with an article callback; a
  redirect hop is the same link, not another);
- the listing pages fetched (``response_received`` below HTTP 400 for a request with
  ``meta["listing"]``).

Monitors (each result in the stats as ``monitors/<name>/failed`` 0/1 and
``monitors/<name>/message``; totals ``monitors/passed``, ``monitors/failed``):

``finish_reason``  the spider closed as "finished";
``errors``         no more than ``MONITOR_MAX_ERRORS`` errors logged;
``coverage/<f>``   field ``f`` found on at least its ``MONITOR_MIN_COVERAGE`` share of pages
                   ("the site's layout may have changed: f found on N of M pages");
``item_count``     requested article links ended in an item, a drop or a counted skip/failure
                   (share ``MONITOR_MIN_ITEM_SHARE``), and at least ``MONITOR_MIN_ITEMS`` items;
``listings``       at least ``MONITOR_MIN_LISTING_PAGES`` listing pages were fetched ("no listing
                   page was fetched": robots.txt, a dead site, or a JOBDIR whose requests were
                   all seen), unless the run only resumed requests a JOBDIR had queued;
``archive``        nothing was spooled (database unreachable), lost (neither database nor
                   spool could take it), refused by the archive, or, for raw pages, not kept.

Settings: ``MONITORS_ENABLED``, ``MONITOR_MIN_COVERAGE`` (field → share),
``MONITOR_COVERAGE_MIN_PAGES``, ``MONITOR_MIN_ITEM_SHARE``, ``MONITOR_MIN_ITEMS``,
``MONITOR_MAX_ERRORS``, ``MONITOR_MIN_LISTING_PAGES``, ``MONITOR_ARTICLE_CALLBACKS`` (default
``["parse_article"]``),
``ALERT_COMMAND``, ``ALERT_WEBHOOK_URL``, ``ALERT_TIMEOUT_SECONDS`` (see
:mod:`crawler.ops.alerts`). A failed monitor logs an error and calls the alert hooks once;
``monitors/alerted`` is then 1, so the cron runner does not alert twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings

from crawler.ops.alerts import send_alert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorResult:
    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class MonitorConfig:
    """The monitor settings, read and checked once."""

    min_coverage: dict[str, float] = field(default_factory=dict)
    coverage_min_pages: int = 3
    min_item_share: float = 0.95
    min_items: int = 0
    max_errors: int = 0
    min_listing_pages: int = 1
    article_callbacks: frozenset[str] = frozenset({"parse_article"})
    alert_command: str | None = None
    alert_webhook_url: str | None = None
    alert_timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> MonitorConfig:
        coverage = {str(k): float(v) for k, v in settings.getdict("MONITOR_MIN_COVERAGE").items()}
        shares = {**coverage, "MONITOR_MIN_ITEM_SHARE": settings.getfloat("MONITOR_MIN_ITEM_SHARE")}
        for name, share in shares.items():
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name}: a share between 0 and 1 is expected, got {share}")
        return cls(
            min_coverage=coverage,
            coverage_min_pages=settings.getint("MONITOR_COVERAGE_MIN_PAGES", 3),
            min_item_share=settings.getfloat("MONITOR_MIN_ITEM_SHARE", 0.95),
            min_items=settings.getint("MONITOR_MIN_ITEMS", 0),
            max_errors=settings.getint("MONITOR_MAX_ERRORS", 0),
            min_listing_pages=settings.getint("MONITOR_MIN_LISTING_PAGES", 1),
            article_callbacks=frozenset(
                settings.getlist("MONITOR_ARTICLE_CALLBACKS", ["parse_article"])
            ),
            alert_command=settings.get("ALERT_COMMAND") or None,
            alert_webhook_url=settings.get("ALERT_WEBHOOK_URL") or None,
            alert_timeout=settings.getfloat("ALERT_TIMEOUT_SECONDS", 10.0),
        )


def present(value: Any) -> bool:
    """A field counts as found when it holds something: not None, "", [] or {}."""
    return value is not None and value != "" and value != [] and value != {}


def evaluate(
    stats: Mapping[str, Any],
    config: MonitorConfig,
    *,
    spider: str,
    reason: str,
    pages: int,
    found: Mapping[str, int],
    article_links: int,
    listing_pages: int,
) -> list[MonitorResult]:
    """Every monitor's verdict on one finished crawl."""
    results = [
        MonitorResult(
            "finish_reason",
            reason == "finished",
            f"the spider closed as {reason!r}" + ("" if reason == "finished" else ", not finished"),
        )
    ]
    errors = int(stats.get("log_count/ERROR", 0))
    results.append(
        MonitorResult(
            "errors",
            errors <= config.max_errors,
            f"{errors} error(s) logged (at most {config.max_errors} allowed)",
        )
    )
    for name, share in config.min_coverage.items():
        count = found.get(name, 0)
        if pages < config.coverage_min_pages:
            results.append(
                MonitorResult(
                    f"coverage/{name}",
                    True,
                    f"{name} found on {count} of {pages} pages (too few pages to judge)",
                )
            )
            continue
        ok = count >= share * pages
        text = f"{name} found on {count} of {pages} pages"
        if not ok:
            text = f"the site's layout may have changed: {text} (at least {share:.0%} expected)"
        results.append(MonitorResult(f"coverage/{name}", ok, text))
    results.append(_item_count(stats, config, spider, article_links))
    results.append(_listings(stats, config, listing_pages))
    results.append(_archive(stats))
    return results


def _archive(stats: Mapping[str, Any]) -> MonitorResult:
    """Spooled, lost and refused records (and raw pages), each said once: a lost record never
    sits next to "every record reached the archive"."""
    spooled = int(stats.get("spool/written", 0))
    lost = int(stats.get("spool/lost_records", 0))
    refused = int(stats.get("archive/errors", 0))
    pages_lost = int(stats.get("pages/lost", 0))
    problems = []
    if lost:
        problems.append(
            f"{lost} record(s) LOST: neither the archive database nor the spool could take "
            "them (see the error log for why)"
        )
    if spooled:
        problems.append(
            f"the archive database was unreachable: {spooled} record(s) spooled on disk, to be "
            "archived by the next run"
        )
    if refused:
        problems.append(f"{refused} record(s) refused by the archive (see the error log)")
    if pages_lost:
        problems.append(f"{pages_lost} raw page(s) not kept in the page archive")
    if not problems:
        return MonitorResult("archive", True, "every record reached the archive")
    return MonitorResult("archive", False, "; ".join(problems))


def _item_count(
    stats: Mapping[str, Any], config: MonitorConfig, spider: str, article_links: int
) -> MonitorResult:
    scraped = int(stats.get("item_scraped_count", 0))
    dropped = int(stats.get("item_dropped_count", 0))
    counted_prefixes = (
        f"{spider}/skipped/http_",
        f"{spider}/download_errors/",
        # robots.txt, a redirect to a URL requested anyway (crawler.components.drops)
        f"{spider}/dropped/",
        f"{spider}/parse_errors",
    )
    skipped = sum(
        int(value)
        for key, value in stats.items()
        if key.startswith(counted_prefixes) and isinstance(value, int)
    )
    accounted = scraped + dropped + skipped
    text = (
        f"{scraped} item(s) from {article_links} article link(s) requested "
        f"(+{dropped} dropped, +{skipped} skipped or failed)"
    )
    ok = True
    if article_links and accounted < config.min_item_share * article_links:
        ok = False
        text += f": only {accounted} accounted for, at least {config.min_item_share:.0%} expected"
    if scraped < config.min_items:
        ok = False
        text += f"; at least {config.min_items} item(s) expected"
    return MonitorResult("item_count", ok, text)


def _listings(stats: Mapping[str, Any], config: MonitorConfig, listing_pages: int) -> MonitorResult:
    """A run that fetched no listing found nothing new, whatever else it says (issue 7.3)."""
    if listing_pages >= config.min_listing_pages:
        return MonitorResult("listings", True, f"{listing_pages} listing page(s) fetched")
    # More dequeued than enqueued: requests a cleanly stopped JOBDIR run had queued, e.g. the
    # articles left when it was stopped after its last listing page.
    resumed = int(stats.get("scheduler/dequeued", 0)) - int(stats.get("scheduler/enqueued", 0))
    if resumed > 0:
        return MonitorResult(
            "listings",
            True,
            f"{listing_pages} listing page(s) fetched; {resumed} queued request(s) resumed",
        )
    if not listing_pages:
        return MonitorResult("listings", False, "no listing page was fetched")
    return MonitorResult(
        "listings",
        False,
        f"only {listing_pages} listing page(s) fetched (at least {config.min_listing_pages} "
        "expected)",
    )


def alert_message(bot: str, spider: str, results: list[MonitorResult]) -> str:
    failed = [result for result in results if not result.passed]
    lines = [f"{bot}: {spider} failed {len(failed)} of {len(results)} monitors"]
    lines += [f"- {result.name}: {result.message}" for result in failed]
    return "\n".join(lines)


class RunMonitors:
    def __init__(self, crawler: Crawler, config: MonitorConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.pages = 0
        self.found: Counter[str] = Counter()
        self.article_links: set[str] = set()
        # Links the dupefilter dropped and no request of this run fetched: on a JOBDIR resume,
        # links the stopped run had already requested (and accounted for).
        self.duplicate_links: set[str] = set()
        self.fetched_links: set[str] = set()
        self.listing_pages = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunMonitors:
        if not crawler.settings.getbool("MONITORS_ENABLED", True):
            raise NotConfigured("MONITORS_ENABLED is off")
        extension = cls(crawler, MonitorConfig.from_settings(crawler.settings))
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(extension.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(
            extension.request_reached_downloader, signal=signals.request_reached_downloader
        )
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def item_scraped(self, item: Any) -> None:
        self._count_fields(item)

    def item_dropped(self, item: Any) -> None:
        # A dropped page was parsed too: a missing required field is exactly what to catch.
        self._count_fields(item)

    def _count_fields(self, item: Any) -> None:
        adapter = ItemAdapter(item)
        self.pages += 1
        for name in self.config.min_coverage:
            if present(adapter.get(name)):
                self.found[name] += 1

    def request_scheduled(self, request: Request) -> None:
        if request.meta.get("redirect_urls"):
            return  # a hop of a link already counted
        if self._is_article(request):
            self.article_links.add(request.url)

    def request_dropped(self, request: Request) -> None:
        if self._is_article(request) and not request.meta.get("redirect_urls"):
            self.duplicate_links.add(request.url)

    def request_reached_downloader(self, request: Request) -> None:
        if self._is_article(request):
            self.fetched_links.add(request.url)

    def _is_article(self, request: Request) -> bool:
        return getattr(request.callback, "__name__", None) in self.config.article_callbacks

    def requested_links(self) -> set[str]:
        """Article links this run asked for (not those an earlier run of its JOBDIR did)."""
        return self.article_links - (self.duplicate_links - self.fetched_links)

    def response_received(self, response: Response, request: Request) -> None:
        if request.meta.get("listing") and response.status < 400:
            self.listing_pages += 1

    async def spider_closed(self, reason: str) -> None:
        stats = self.crawler.stats
        assert stats is not None and self.crawler.spider is not None
        spider = self.crawler.spider.name
        article_links = len(self.requested_links())
        results = evaluate(
            stats.get_stats(),
            self.config,
            spider=spider,
            reason=reason,
            pages=self.pages,
            found=self.found,
            article_links=article_links,
            listing_pages=self.listing_pages,
        )
        failed = [result for result in results if not result.passed]
        for result in results:
            stats.set_value(f"monitors/{result.name}/failed", 0 if result.passed else 1)
            stats.set_value(f"monitors/{result.name}/message", result.message)
        stats.set_value("monitors/passed", len(results) - len(failed))
        stats.set_value("monitors/failed", len(failed))
        stats.set_value("monitors/article_links", article_links)
        stats.set_value("monitors/pages", self.pages)
        stats.set_value("monitors/listing_pages", self.listing_pages)
        if not failed:
            logger.info("All %s monitors passed", len(results))
            return
        message = alert_message(self.crawler.settings.get("BOT_NAME", "crawler"), spider, results)
        logger.error("%s", message)
        if self.config.alert_command or self.config.alert_webhook_url:
            outcomes = await asyncio.to_thread(
                send_alert,
                message,
                command=self.config.alert_command,
                webhook_url=self.config.alert_webhook_url,
                timeout=self.config.alert_timeout,
                env={"ALERT_SPIDER": spider},
            )
            for hook, outcome in outcomes.items():
                stats.set_value(f"monitors/alert/{hook}", outcome)
            stats.set_value("monitors/alerted", 1)
