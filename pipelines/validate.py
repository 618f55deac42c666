"""ValidatePipeline: drop records the archive cannot use, saying why."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler import stats_keys
from crawler.config import SettingError, Settings, SettingsReader
from crawler.items import ARTICLE_FIELDS, drop_reason, missing_required

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidateConfig:
    """``VALIDATE_REQUIRED_FIELDS``: Article field names, read and checked once."""

    required: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> ValidateConfig:
        names = SettingsReader(settings).values("VALIDATE_REQUIRED_FIELDS")
        required = tuple(str(name).strip() for name in names)
        unknown = [name for name in required if name not in ARTICLE_FIELDS]
        if unknown:
            raise SettingError("VALIDATE_REQUIRED_FIELDS", "names of Article fields", unknown)
        return cls(required)


class ValidatePipeline:
    """Drops a record missing a required field (:func:`crawler.items.missing_required`, the
    rule ``reparse`` applies too).

    The reason is logged with the URL and counted as ``item_dropped_reasons_count/<reason>``
    (reasons: ``missing_url``, ``missing_title``, ``missing_body``, ``missing_published_at``),
    next to Scrapy's own ``item_dropped_count``.

    Settings: ``VALIDATE_REQUIRED_FIELDS`` (default in :mod:`crawler.settings`: url, title,
    body, published_at; names of Article fields).
    """

    def __init__(self, stats: StatsCollector, required: tuple[str, ...]) -> None:
        self.stats = stats
        self.required = required

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        assert crawler.stats is not None
        return cls(crawler.stats, ValidateConfig.from_settings(crawler.settings).required)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        missing = missing_required(adapter, self.required)
        if missing:
            reason = drop_reason(missing)
            self.stats.inc_value(stats_keys.item_dropped_reason(reason))
            logger.warning(
                "Dropped %s: %s (missing: %s)",
                adapter.get("url") or "<no url>",
                reason,
                ", ".join(missing),
            )
            raise DropItem(reason)
        return item
