"""Rebuild archive records from the raw page archive, without touching the network.

After a parser fix, :func:`reparse_pages` runs each stored page (``pages``, see
:mod:`crawler.components.page_archive`) through its site's parser and
:func:`crawler.extract.normalize.normalize_article`, drops records missing a required field
(counted by reason, as the validate pipeline does), and archives the rest with
:func:`crawler.archive.archive_batch` in batches, so versions follow the core rules: an
unchanged record only gets ``last_seen_at``; a changed one becomes version + 1 with the old
version kept in ``article_versions``. ``crawled_at`` is the page's ``fetched_at``: the record
says what the page said when it was fetched.

The parser (:func:`site_of`) is the source's (``crawler.sites.site_for(source)``: a desk, a
shipped publisher config); a source no site module knows, as a zero-config crawl's
(``scrapy crawl news -a url=...``), is read by the site of the page's URL
(``crawler.sites.site_for_url``: the zero-config generic site of its host, as the ``news``
spider builds it), in the zone the page was crawled in (its ``timezone``). A page of ``format``
``wp-post`` (a WordPress REST API post, :mod:`crawler.archive.page_doc`) goes through the
site's ``parse_wp_post``, an HTML page through ``parse_article``.

Pure pymongo, no Scrapy: ``python -m crawler reparse`` (:mod:`crawler.cli.reparse`) calls it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from pymongo.database import Database

from crawler.archive.page_doc import WP_POST, page_format, page_html, page_post
from crawler.archive.page_store import PAGES
from crawler.archive.store import ArchiveResult, archive_batch
from crawler.extract.layers import ParsedArticle
from crawler.extract.normalize import normalize_article
from crawler.items import Article, drop_reason, missing_required
from crawler.sites import SITES, site_for, site_for_url
from crawler.sites.antara import AntaraSite
from crawler.sites.generic import GenericSite

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


def site_of(page: Mapping[str, Any]) -> AntaraSite | GenericSite:
    """The parser of a stored page (see the module docstring)."""
    source = str(page.get("source"))
    if source in SITES:
        return site_for(source)
    site = site_for_url(str(page["url"]))
    zone = page.get("timezone")
    if isinstance(site, GenericSite) and isinstance(zone, str) and zone != site.timezone:
        # A zero-config crawl run with -a timezone=...: read the page as it was read then.
        site = GenericSite(replace(site.config, timezone=zone))
    return site


def parse_page(page: Mapping[str, Any]) -> tuple[AntaraSite | GenericSite, ParsedArticle]:
    """The site of a stored page and what its parser reads in it (HTML or a REST API post)."""
    site = site_of(page)
    if page_format(page) == WP_POST:
        if not isinstance(site, GenericSite):
            raise ValueError(f"{site!r} has no parser for {WP_POST} pages")
        return site, site.parse_wp_post(page_post(page))
    return site, site.parse_article(page_html(page), str(page["url"]))


def _record(page: Mapping[str, Any], result: ReparseResult) -> Doc | None:
    """The normalised, valid record of one page, or None (counted); page times without a zone
    are read in the zone of the page's site, as in a crawl."""
    url = str(page["url"])
    try:
        site, parsed = parse_page(page)
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
