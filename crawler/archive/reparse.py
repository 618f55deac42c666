"""Rebuild archive records from the raw page archive, without touching the network.

After a parser fix, :func:`reparse_pages` runs each stored page (``pages``, see
:mod:`crawler.components.page_archive`) through its site's parser
(``crawler.sites.site_for(source)``) and
:func:`crawler.extract.normalize.normalize_article`, drops records missing a required field
(counted by
reason, as the validate pipeline does), and archives the rest with
:func:`crawler.archive.archive_batch` in batches, so versions follow the core rules: an
unchanged record only gets ``last_seen_at``; a changed one becomes version + 1 with the old
version kept in ``article_versions``. ``crawled_at`` is the page's ``fetched_at``: the record
says what the page said when it was fetched.

Pure pymongo, no Scrapy: ``python -m crawler reparse`` (:mod:`crawler.cli.reparse`) calls it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pymongo.database import Database

from crawler.archive.page_store import PAGES, page_html
from crawler.archive.store import ArchiveResult, archive_batch
from crawler.extract.normalize import normalize_article
from crawler.items import Article, drop_reason, missing_required
from crawler.sites import site_for

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
DEFAULT_BATCH_SIZE = 200


@dataclass
class ReparseResult:
    """Counts of one :func:`reparse_pages` run."""

    pages: int = 0
    parsed: int = 0
    parse_errors: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> records
    archive: ArchiveResult = field(default_factory=ArchiveResult)

    def lines(self) -> list[str]:
        """Human-readable counts, one per line."""
        out = [
            f"pages read:    {self.pages}",
            f"parsed:        {self.parsed}",
            f"parse errors:  {self.parse_errors}",
        ]
        out += [f"dropped ({reason}): {count}" for reason, count in sorted(self.dropped.items())]
        out += [f"{name + ':':15}{value}" for name, value in asdict(self.archive).items()]
        return out


def page_filter(source: str | None = None, since: datetime | None = None) -> Doc:
    """The ``pages`` query: stored 2xx pages, optionally of one source, fetched since a time."""
    query: Doc = {"status": {"$gte": 200, "$lt": 300}, "body": {"$exists": True}}
    if source:
        query["source"] = source
    if since is not None:
        query["fetched_at"] = {"$gte": since}
    return query


def reparse_pages(
    db: Database[Doc],
    *,
    source: str | None = None,
    since: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ReparseResult:
    """Re-parse stored pages (see the module docstring) and archive the records."""
    result = ReparseResult()
    batch: list[Doc] = []
    for page in _pages(db, page_filter(source, since)):
        result.pages += 1
        record = _record(page, result)
        if record is None:
            continue
        batch.append(record)
        if len(batch) >= batch_size:
            result.archive.add(archive_batch(db, batch))
            batch = []
    if batch:
        result.archive.add(archive_batch(db, batch))
    logger.info("Re-parsed %s page(s): %s", result.pages, asdict(result.archive))
    return result


def _pages(db: Database[Doc], query: Doc) -> Iterator[Doc]:
    # Sorted by url: a stable order, so a rerun after a crash redoes the same prefix.
    projection = {"_id": 0, "last_status": 0, "last_fetched_at": 0}
    yield from db[PAGES].find(query, projection, batch_size=100).sort("url", 1)


def _record(page: Mapping[str, Any], result: ReparseResult) -> Doc | None:
    """The normalised, valid record of one page, or None (counted); page times without a zone
    are read in the zone of the page's desk, as in a crawl."""
    url = str(page["url"])
    try:
        site = site_for(str(page.get("source")))
        parsed = site.parse_article(page_html(page), url)
        article: Article = parsed.article
        article.url = article.url or url
        article.source = article.source or page.get("source")
        article.crawled_at = page.get("fetched_at")
        article = normalize_article(article, default_tz=site.timezone)
    except Exception:  # one bad page must not stop the rebuild
        logger.exception("Could not re-parse %s", url)
        result.parse_errors += 1
        return None
    result.parsed += 1
    record = asdict(article)
    missing = missing_required(record)
    if missing:
        result.dropped[drop_reason(missing)] += 1
        logger.warning("Not archiving %s: missing %s", url, ", ".join(missing))
        return None
    return record
