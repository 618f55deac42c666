"""Build the word index (:mod:`crawler.archive.search_terms`) of an archive written before it.

:func:`reindex` gives every article its side document in ``article_terms`` and then writes the
marker that lets searches use the index. Safe beside a crawl: it only adds words (the
index's superset rule), so a record a crawl changes meanwhile keeps the words of both versions.
Idempotent and resumable: articles that already have a side document are skipped, so a second
run, or a run after an interrupted one, does only what is left. When the tokenizer changed
(another :data:`~crawler.archive.search_terms.TERMS_VERSION`), the old side documents are
dropped first and searches scan until the rebuild is done.

Pure pymongo, no Scrapy: ``python -m crawler reindex`` (:mod:`crawler.cli.reindex`) calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from pymongo.database import Database

from crawler.archive import search_terms
from crawler.archive.counts_read import day_counts
from crawler.archive.search_terms import ARCHIVE_META, ARTICLE_TERMS
from crawler.archive.store import ARTICLES, find_in_chunks
from crawler.archive.windowed import find_windowed

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
DEFAULT_BATCH_SIZE = 200
_READ = {"_id": 0, "url": 1, "title": 1, "body": 1, "source": 1, "published_at": 1}


@dataclass
class ReindexResult:
    """Counts of one :func:`reindex` run."""

    records: int = 0  # articles read
    indexed: int = 0  # side documents written
    already: bool = False  # the index was complete before this run

    def lines(self) -> list[str]:
        if self.already:
            return ["the word index is complete: nothing to do"]
        return [f"records read:    {self.records}", f"records indexed: {self.indexed}"]


def pending(db: Database[Doc]) -> int:
    """How many articles :func:`reindex` reads (all of them, unless the index is complete)."""
    if search_terms.index_ready(db):
        return 0
    return db[ARTICLES].estimated_document_count()


def reindex(
    db: Database[Doc],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ReindexResult:
    """Index every article without a side document; ``progress(n)`` after each batch of ``n``."""
    result = ReindexResult()
    if search_terms.index_ready(db):
        result.already = True
        return result
    marker = db[ARCHIVE_META].find_one({"_id": search_terms.MARKER_ID}) or {}
    if {marker.get("version"), marker.get("building")} - {None, search_terms.TERMS_VERSION}:
        logger.info("The tokenizer changed: dropping the old word index")
        db[ARTICLE_TERMS].delete_many({})
    update = {"$set": {"building": search_terms.TERMS_VERSION}, "$unset": {"version": ""}}
    db[ARCHIVE_META].update_one({"_id": search_terms.MARKER_ID}, update, upsert=True)
    search_terms.ensure_index(db)
    records = find_windowed(db[ARTICLES], {}, _READ, days=day_counts(db))
    while batch := list(islice(records, batch_size)):
        result.records += len(batch)
        urls = [doc["url"] for doc in batch]
        have = {d["_id"] for d in find_in_chunks(db[ARTICLE_TERMS], "_id", urls, {"_id": 1})}
        todo = [doc for doc in batch if doc["url"] not in have]
        search_terms.index_records(db, todo, [])
        result.indexed += len(todo)
        if progress is not None:
            progress(len(batch))
    search_terms.mark_ready(db)
    return result
