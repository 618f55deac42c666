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
                   all seen), unless the run only resumed requests a JOBDIR had queued or is
                   one worker of a shared crawl (REDIS_URL: another worker may have taken them);
``listing_links``  no listing page was without article links ("listing /terkini had no article
                   links: the layout may have changed");
``archive``        nothing was spooled (database unreachable), lost (neither database nor
                   spool could take it), refused by the archive, or, for raw pages, not kept.

Settings (read once into :class:`MonitorConfig`, defaults in :mod:`crawler.settings`):
``MONITORS_ENABLED``, ``MONITOR_MIN_COVERAGE`` (field → share from 0 to 1),
``MONITOR_COVERAGE_MIN_PAGES``, ``MONITOR_MIN_ITEM_SHARE`` (0 to 1), ``MONITOR_MIN_ITEMS``,
``MONITOR_MAX_ERRORS``, ``MONITOR_MIN_LISTING_PAGES`` (counts, none negative),
``MONITOR_ARTICLE_CALLBACKS`` (one or more), ``ALERT_COMMAND``, ``ALERT_WEBHOOK_URL``,
``ALERT_TIMEOUT_SECONDS`` (above 0; see :mod:`crawler.ops.alerts`). A failed monitor logs an
error and calls the alert hooks once; ``monitors/alerted`` is then 1, so the cron runner does
not alert twice.
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

from crawler import stats_keys
from crawler.components.frontier.config import redis_url
from crawler.config import SettingError, Settings, SettingsReader, check_number, project_default
from crawler.ops.alerts import send_alert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorResult:
    name: str
    passed: bool
    message: str


@dataclass(frozen=True)
class MonitorConfig:
    """The monitor settings, read and checked once. Built without settings (in tests), it
    holds crawler/settings.py's values, and no alert hooks."""

    min_coverage: dict[str, float] = field(
        default_factory=lambda: dict(project_default("MONITOR_MIN_COVERAGE"))
    )
    coverage_min_pages: int = project_default("MONITOR_COVERAGE_MIN_PAGES")
    min_item_share: float = project_default("MONITOR_MIN_ITEM_SHARE")
    min_items: int = project_default("MONITOR_MIN_ITEMS")
    max_errors: int = project_default("MONITOR_MAX_ERRORS")
    min_listing_pages: int = project_default("MONITOR_MIN_LISTING_PAGES")
    article_callbacks: frozenset[str] = frozenset(project_default("MONITOR_ARTICLE_CALLBACKS"))
    alert_command: str | None = None
    alert_webhook_url: str | None = None
    alert_timeout: float = project_default("ALERT_TIMEOUT_SECONDS")

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitorConfig:
        reader = SettingsReader(settings)
        coverage: dict[str, float] = {}
        for key, share in reader.mapping("MONITOR_MIN_COVERAGE").items():
            name = str(key)
            try:
                coverage[name] = float(share)
            except (TypeError, ValueError):
                raise SettingError(f"MONITOR_MIN_COVERAGE[{name!r}]", "a number", share) from None
            check_number(f"MONITOR_MIN_COVERAGE[{name!r}]", coverage[name], minimum=0, maximum=1)
        callbacks = frozenset(str(name) for name in reader.values("MONITOR_ARTICLE_CALLBACKS"))
        if not callbacks:
            raise SettingError("MONITOR_ARTICLE_CALLBACKS", "one callback name or more", [])
        return cls(
            min_coverage=coverage,
            coverage_min_pages=reader.integer("MONITOR_COVERAGE_MIN_PAGES", minimum=0),
            min_item_share=reader.share("MONITOR_MIN_ITEM_SHARE"),
            min_items=reader.integer("MONITOR_MIN_ITEMS", minimum=0),
            max_errors=reader.integer("MONITOR_MAX_ERRORS", minimum=0),
            min_listing_pages=reader.integer("MONITOR_MIN_LISTING_PAGES", minimum=0),
            article_callbacks=callbacks,
            alert_command=reader.text("ALERT_COMMAND"),
            alert_webhook_url=reader.text("ALERT_WEBHOOK_URL"),
            alert_timeout=reader.number("ALERT_TIMEOUT_SECONDS", positive=True),
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
    shared_frontier: bool = False,
) -> list[MonitorResult]:
    """Every monitor's verdict on one finished crawl (on one worker's, if ``shared_frontier``)."""
    results = [
        MonitorResult(
            "finish_reason",
            reason == "finished",
            f"the spider closed as {reason!r}" + ("" if reason == "finished" else ", not finished"),
        )
    ]
    errors = int(stats.get(stats_keys.LOG_ERRORS, 0))
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
    results.append(_listings(stats, config, listing_pages, shared_frontier))
    results.append(_listing_links(stats, spider))
    results.append(_archive(stats))
    return results


def _listing_links(stats: Mapping[str, Any], spider: str) -> MonitorResult:
    """A listing page without a single article link (neither its item markup nor the URL
    pattern found one): the site's listing layout changed, or the page is not a listing."""
    prefix = stats_keys.spider_prefix(spider, stats_keys.LISTING_NO_LINKS_GROUP)
    empty = sorted(
        key[len(prefix) :] for key, count in stats.items() if key.startswith(prefix) and count
    )
    if not empty:
        return MonitorResult("listing_links", True, "every listing page had article links")
    paths = ", ".join("/" if name == "home" else f"/{name}" for name in empty)
    noun = "listing" if len(empty) == 1 else "listings"
    return MonitorResult(
        "listing_links",
        False,
        f"{noun} {paths} had no article links: the layout may have changed",
    )


def _archive(stats: Mapping[str, Any]) -> MonitorResult:
    """Spooled, lost and refused records (and raw pages), each said once: a lost record never
    sits next to "every record reached the archive"."""
    spooled = int(stats.get(stats_keys.SPOOL_WRITTEN, 0))
    lost = int(stats.get(stats_keys.SPOOL_LOST, 0))
    refused = int(stats.get(stats_keys.ARCHIVE_ERRORS, 0))
    pages_lost = int(stats.get(stats_keys.PAGES_LOST, 0))
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
    scraped = int(stats.get(stats_keys.ITEM_SCRAPED, 0))
    dropped = int(stats.get(stats_keys.ITEM_DROPPED, 0))
    counted_prefixes = (
        stats_keys.skipped(spider, stats_keys.HTTP_SKIP_PREFIX),
        stats_keys.spider_prefix(spider, stats_keys.DOWNLOAD_ERRORS),
        # robots.txt, a redirect to a URL requested anyway (crawler.components.drops)
        stats_keys.spider_prefix(spider, stats_keys.DROPPED),
        stats_keys.parse_errors(spider),
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


def _listings(
    stats: Mapping[str, Any], config: MonitorConfig, listing_pages: int, shared_frontier: bool
) -> MonitorResult:
    """A run that fetched no listing found nothing new, whatever else it says (issue 7.3)."""
    if listing_pages >= config.min_listing_pages or shared_frontier:
        # A worker of a shared crawl: the listings went to whichever worker took them first.
        worker = " by this worker of a shared crawl" if shared_frontier else ""
        return MonitorResult("listings", True, f"{listing_pages} listing page(s) fetched{worker}")
    # More dequeued than enqueued: requests a cleanly stopped JOBDIR run had queued, e.g. the
    # articles left when it was stopped after its last listing page.
    dequeued = int(stats.get(stats_keys.SCHEDULER_DEQUEUED, 0))
    resumed = dequeued - int(stats.get(stats_keys.SCHEDULER_ENQUEUED, 0))
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
        # A worker of a shared crawl fetches links other workers found, and the reverse.
        self.shared_frontier = redis_url(crawler.settings) is not None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunMonitors:
        if not SettingsReader(crawler.settings).flag("MONITORS_ENABLED"):
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
        """Article links this run asked for (not those an earlier run of its JOBDIR did); in a
        shared crawl, those this worker took from the frontier and downloaded."""
        if self.shared_frontier:
            return set(self.fetched_links)
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
            shared_frontier=self.shared_frontier,
        )
        failed = [result for result in results if not result.passed]
        for result in results:
            stats.set_value(stats_keys.monitor_failed(result.name), 0 if result.passed else 1)
            stats.set_value(stats_keys.monitor_message(result.name), result.message)
        stats.set_value(stats_keys.MONITORS_PASSED, len(results) - len(failed))
        stats.set_value(stats_keys.MONITORS_FAILED, len(failed))
        stats.set_value(stats_keys.MONITORS_ARTICLE_LINKS, article_links)
        stats.set_value(stats_keys.MONITORS_PAGES, self.pages)
        stats.set_value(stats_keys.MONITORS_LISTING_PAGES, self.listing_pages)
        if not failed:
            logger.info("All %s monitors passed", len(results))
            return
        message = alert_message(self.crawler.settings.get("BOT_NAME"), spider, results)
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
                stats.set_value(stats_keys.monitor_alert(hook), outcome)
            stats.set_value(stats_keys.MONITORS_ALERTED, 1)
