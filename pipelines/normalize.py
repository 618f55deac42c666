"""NormalizePipeline: every item leaves in the archive's normal form.

The rules are in :mod:`crawler.extract.normalize`.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler import stats_keys
from crawler.config import SettingError, Settings, SettingsReader
from crawler.extract.normalize import normalize_article
from crawler.items import Article
from crawler.sites import timezone_for

logger = logging.getLogger(__name__)


def default_timezone(settings: Settings) -> str:
    """``NORMALIZE_DEFAULT_TIMEZONE``, an IANA zone name, read and checked once."""
    name = SettingsReader(settings).text("NORMALIZE_DEFAULT_TIMEZONE") or ""
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise SettingError("NORMALIZE_DEFAULT_TIMEZONE", "an IANA time zone name", name) from None
    return name


_ARTICLE_FIELDS = {f.name for f in fields(Article)}


class NormalizePipeline:
    """Normalises items of any spider: text, URLs, dates, names, tags, body, hash.

    Page times that carry no zone of their own are read in the zone of the spider that crawled
    the record (its ``timezone``: a desk's WIB, WITA or WIT, a publisher config's, and for the
    zero-config ``news`` spider WIB or its ``-a timezone=``), else in the zone of the record's
    source in the site registry (``crawler.sites.timezone_for(source)``);
    ``NORMALIZE_DEFAULT_TIMEZONE`` (default ``UTC``) only for a record neither knows.
    Stats: ``normalize/items``, ``normalize/errors``, and ``dates/out_of_range/<field>`` for a
    ``published_at``/``modified_at`` outside the plausible window (crawler.extract.dates), which is
    then cleared (validation drops a record left without ``published_at``).
    """

    def __init__(
        self, stats: StatsCollector, default_tz: str, crawler: Crawler | None = None
    ) -> None:
        self.stats = stats
        self.default_tz = default_tz
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        assert crawler.stats is not None
        return cls(crawler.stats, default_timezone(crawler.settings), crawler)

    def timezone_for(self, source: Any) -> str:
        """The zone of zone-less times in a record of ``source`` (see the class docstring)."""
        spider = getattr(self.crawler, "spider", None)
        spider_source = getattr(spider, "source", None) or getattr(spider, "name", None)
        zone = getattr(spider, "timezone", None) if source and source == spider_source else None
        return zone if isinstance(zone, str) and zone else timezone_for(source) or self.default_tz

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        values: dict[str, Any] = {
            name: adapter.get(name) for name in _ARTICLE_FIELDS if name in adapter
        }
        problems: list[str] = []
        try:
            article = normalize_article(
                Article(**values),
                default_tz=self.timezone_for(values.get("source")),
                problems=problems,
            )
        except Exception as error:  # a normaliser bug must cost one item, not the crawl
            self.stats.inc_value(stats_keys.NORMALIZE_ERRORS)
            logger.exception("Normalisation failed for %s", adapter.get("url"))
            raise DropItem(f"normalize_error: {error!r}") from error
        for problem in problems:
            self.stats.inc_value(problem)
            logger.info("%s: %s", adapter.get("url"), problem)
        for name in values:
            adapter[name] = getattr(article, name)
        self.stats.inc_value(stats_keys.NORMALIZE_ITEMS)
        return item
