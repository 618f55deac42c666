"""ValidatePipeline: drop records the archive cannot use, saying why."""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.statscollectors import StatsCollector

from crawler.items import REQUIRED_FIELDS

logger = logging.getLogger(__name__)


class ValidatePipeline:
    """Drops a record without url, title, body or published_at.

    The reason is logged with the URL and counted as ``item_dropped_reasons_count/<reason>``
    (reasons: ``missing_url``, ``missing_title``, ``missing_body``, ``missing_published_at``),
    next to Scrapy's own ``item_dropped_count``.

    Settings: ``VALIDATE_REQUIRED_FIELDS`` (default: url, title, body, published_at).
    """

    def __init__(self, stats: StatsCollector, required: tuple[str, ...]) -> None:
        self.stats = stats
        self.required = required

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        assert crawler.stats is not None
        required = tuple(
            crawler.settings.getlist("VALIDATE_REQUIRED_FIELDS", list(REQUIRED_FIELDS))
        )
        return cls(crawler.stats, required)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        missing = [name for name in self.required if not adapter.get(name)]
        if missing:
            reason = f"missing_{missing[0]}"
            self.stats.inc_value(f"item_dropped_reasons_count/{reason}")
            logger.warning(
                "Dropped %s: %s (missing: %s)",
                adapter.get("url") or "<no url>",
                reason,
                ", ".join(missing),
            )
            raise DropItem(reason)
        return item
