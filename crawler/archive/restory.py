"""Give an archive built before story linking its signatures and story links.

:func:`restory` walks the records that need it, oldest first (``first_seen_at``, then URL): a
record whose ``signature_version`` is not :data:`~crawler.archive.stories.KEY_VERSION` gets its
``minhash``, ``story_bands`` and ``signature_version`` computed from its body (its ``story_id``,
if it has one, is kept); a record without a ``story_id`` then gets one by the write path's rule
(:func:`crawler.archive.stories.link`: the earliest-founded story among the records it matches,
which, walking oldest first, are already settled). A record too short
for a signature takes the story of the record it is an exact copy of (``duplicate_of``), else
its own URL.

Idempotent: a record is written only if it needs it, a ``story_id`` only where there is none, so
a second run, or a run after an interrupted one, does only what is left. Safe beside a crawl:
the records a crawl writes meanwhile arrive with their story already, and one that founded a
story of its own minutes ago because its older twin had no signature yet moves into the older
story when restory reaches the twin (the write path's race rule). The multi-desk story counts
(:mod:`crawler.archive.story_counts`) follow every story it changes, after each batch.

Pure pymongo, no Scrapy: ``python -m crawler restory`` (:mod:`crawler.cli.restory`) calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.database import Database

from crawler.archive import counters, stories
from crawler.archive.store import ARTICLES

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
DEFAULT_BATCH_SIZE = 200
#: What needs work: a signature of another version (or none), or no story.
NEEDS_WORK: Doc = {"$or": [{"signature_version": {"$ne": stories.KEY_VERSION}}, {"story_id": None}]}
_READ = {
    "_id": 0,
    "url": 1,
    "body": 1,
    "published_at": 1,
    "first_seen_at": 1,
    "content_hash": 1,
    "duplicate_of": 1,
    "story_id": 1,
    "minhash": 1,
    "story_bands": 1,
    "signature_version": 1,
}


_STORY = {"_id": 0, "url": 1, "story_id": 1, "duplicate_of": 1}


@dataclass
class RestoryResult:
    """Counts of one :func:`restory` run."""

    records: int = 0  # records that needed work
    signed: int = 0  # signatures (re)computed
    storied: int = 0  # records given a story_id
    joined: int = 0  # of those, records that joined another record's story

    def lines(self) -> list[str]:
        return [
            f"records needing work: {self.records}",
            f"signatures computed:  {self.signed}",
            f"story ids set:        {self.storied}",
            f"joined another story: {self.joined}",
        ]


def pending(db: Database[Doc]) -> int:
    """How many records :func:`restory` would touch."""
    return db[ARTICLES].count_documents(NEEDS_WORK)


def restory(
    db: Database[Doc],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> RestoryResult:
    """Sign and link every record that needs it; ``progress(n)`` after each batch of ``n``."""
    result = RestoryResult()
    articles = db[ARTICLES]
    cursor = articles.find(NEEDS_WORK, _READ, batch_size=batch_size).sort(
        [("first_seen_at", ASCENDING), ("url", ASCENDING)]
    )
    with cursor:
        while batch := list(islice(cursor, batch_size)):
            _restory_batch(db, batch, result)
            if progress is not None:
                progress(len(batch))
    return result


def _restory_batch(db: Database[Doc], batch: list[Doc], result: RestoryResult) -> None:
    articles = db[ARTICLES]
    result.records += len(batch)
    signs = []
    for doc in batch:
        if doc.get("signature_version") != stories.KEY_VERSION:
            when = doc.get("published_at") or doc.get("first_seen_at") or datetime.now(UTC)
            doc.update(stories.fingerprint(doc.get("body"), when))
            fields = {name: doc[name] for name in stories.INTERNAL_FIELDS}
            signs.append(UpdateOne({"url": doc["url"]}, {"$set": fields}))
    if signs:
        result.signed += articles.bulk_write(signs, ordered=False).modified_count
    unstoried = [doc for doc in batch if not doc.get("story_id")]
    touched: set[str] = set()  # stories whose records change: their counts follow
    # Linked one at a time, oldest first, so each sees the ones before it settled.
    short = []
    for doc in unstoried:
        if doc.get("story_bands"):
            # Now is the clock: a story a running crawl founded minutes ago is young and joins
            # the older story of a record restored here; an older one is settled.
            stories.link(articles, [doc], datetime.now(UTC), touched)
        else:
            short.append(doc)
    for doc in short:  # no signature: the story of its exact copy, as the write path does
        copy_of = doc.get("duplicate_of")
        original = articles.find_one({"url": copy_of}, _STORY) if copy_of else None
        story = stories.first_story(doc, None, original or ({"url": copy_of} if copy_of else None))
        articles.update_one({"url": doc["url"], "story_id": None}, {"$set": {"story_id": story}})
        touched.add(story)
    counters.refresh_stories(articles, touched)
    urls = [doc["url"] for doc in unstoried]
    if urls:
        linked = articles.find(
            {"url": {"$in": urls}, "story_id": {"$ne": None}}, {"_id": 0, "url": 1, "story_id": 1}
        )
        for doc in linked:
            result.storied += 1
            result.joined += doc["story_id"] != doc["url"]
