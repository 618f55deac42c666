"""Build the archive's counters from its records: ``python -m crawler recount``.

For an archive written before the counters existed, after a write that died between its
records and its counters (a crash, a lost server: readers then say so and scan), or after
records were changed by other means than the archive's writers. :func:`recount` removes the
marker (readers scan meanwhile), clears every bucket and story document, and reads every record
once, in ``published_at`` order (its index; the projection a stats scan reads). A month's day and
month buckets are complete when the next month starts and are inserted whole, once (on
SecantusDB an upsert costs ~1 ms, so ``$inc`` by ``$inc`` would cost one per bucket and
chunk); the all-time buckets follow, then the multi-desk stories (one ``$inc`` per bucket they
count in), and the marker last. Memory: the all-time and one month's buckets, and one entry
per story (~300 bytes: ~200 MB at a million records).

Idempotent: every run rebuilds everything from the records, so a second run, or a run after an
interrupted one, gives the same counters. Run it while nothing writes. It waits for writes in
progress to finish; a batch written while it counts (seen by the writes sequence or a pending
document) may be counted twice or not at all, so it then leaves the marker out and says to run
it again.

Pure pymongo, no Scrapy: ``python -m crawler recount`` (:mod:`crawler.cli.recount`) calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.database import Database

from crawler.archive import counters, story_counts
from crawler.archive.counts_read import SCAN_PROJECTION, day_counts
from crawler.archive.store import ARTICLES
from crawler.archive.tally import Figures, figures
from crawler.archive.windowed import find_windowed

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
#: Records between two progress reports.
DEFAULT_CHUNK = 10_000
#: How long to wait for writes in progress before counting anyway (and failing at the end).
WAIT_SECONDS = 60.0
_STORY_BATCH = 1000


@dataclass
class RecountResult:
    """What one :func:`recount` did."""

    records: int = 0
    buckets: int = 0
    multi_desk_stories: int = 0
    #: Batches other writers wrote while counting: then the counters are not marked valid.
    concurrent_writes: int = 0
    seconds: float = 0.0

    @property
    def valid(self) -> bool:
        return self.concurrent_writes == 0

    def lines(self) -> list[str]:
        lines = [
            f"records counted:     {self.records}",
            f"buckets written:     {self.buckets}",
            f"multi-desk stories:  {self.multi_desk_stories}",
            f"seconds:             {self.seconds:.1f}",
        ]
        if not self.valid:
            lines.append(
                f"{self.concurrent_writes} batch(es) were written meanwhile: the counters are "
                "not marked valid (stats keep scanning); run recount again when nothing writes"
            )
        return lines


def recount(
    db: Database[Doc],
    *,
    chunk: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
    wait_seconds: float = WAIT_SECONDS,
) -> RecountResult:
    """Rebuild every counter from the records; ``progress(n)`` after each ``n`` records."""
    started = time.monotonic()
    counts = db[counters.COUNTS]
    counters.ensure(db[ARTICLES])
    counts.delete_one({"_id": counters.MARKER_ID})  # readers scan until the end
    _wait_for_writers(db, wait_seconds)
    before = _sequence(db)
    days = day_counts(db)  # where the read cuts its windows: the old counts will do
    counts.delete_many({"g": {"$ne": None}})
    db[story_counts.STORY_COUNTS].delete_many({})

    result = RecountResult()
    months = _MonthWriter(db)
    everything = counters.Deltas()  # all-time buckets, a few per source
    members = story_counts.Members()
    # In date order (the published_at index), so that one month's day and month buckets are
    # complete when the next month starts: each is inserted whole, once.
    for doc in find_windowed(db[ARTICLES], {}, SCAN_PROJECTION, ascending=True, days=days):
        fig = figures(doc)
        months.add(fig)
        everything.add_figures(fig, +1, grains="a")
        members.add(doc)
        result.records += 1
        if progress is not None and result.records % chunk == 0:
            progress(chunk)
    if progress is not None and result.records % chunk:
        progress(result.records % chunk)
    months.flush()
    result.buckets = months.written + len(everything.changed())
    db[counters.COUNTS].insert_many(everything.documents(), ordered=False)

    # The stories last: whose records come from several sources is known only now.
    stories = counters.Deltas()
    documents = []
    for story in members:
        state = members.state(story)
        if state.multi:
            documents.append({"_id": story, "v": 1, **state.fields()})
            stories.add_story(state, +1)
            result.multi_desk_stories += 1
    for start in range(0, len(documents), _STORY_BATCH):
        db[story_counts.STORY_COUNTS].insert_many(documents[start : start + _STORY_BATCH])
    ops = stories.ops()
    for start in range(0, len(ops), _STORY_BATCH):
        db[counters.COUNTS].bulk_write(ops[start : start + _STORY_BATCH], ordered=False)

    result.concurrent_writes = _sequence(db) - before + len(_pending(db))
    if result.valid:
        counters.mark_valid(db)
    else:
        logger.warning("%s batch(es) written while recounting", result.concurrent_writes)
    result.seconds = time.monotonic() - started
    return result


class _MonthWriter:
    """The day and month buckets of the month being read, inserted whole when it ends."""

    def __init__(self, db: Database[Doc]) -> None:
        self.db = db
        self.deltas = counters.Deltas()
        self.month: datetime | None = None
        self.done: set[datetime] = set()
        self.written = 0

    def add(self, fig: Figures) -> None:
        if fig.day is None:
            return  # counted in all time only
        month = fig.day.replace(day=1)
        if month != self.month:
            self.flush()
            self.month = month
        self.deltas.add_figures(fig, +1, grains="dm")

    def flush(self) -> None:
        if self.month is None:
            return
        if self.month in self.done:  # the order was not by date after all: add, not insert
            ops = self.deltas.ops()
            self.db[counters.COUNTS].bulk_write(ops, ordered=False)
        else:
            docs = self.deltas.documents()
            self.written += len(docs)
            if docs:
                self.db[counters.COUNTS].insert_many(docs, ordered=False)
        self.done.add(self.month)
        self.deltas.clear()


def _sequence(db: Database[Doc]) -> int:
    doc = db[counters.COUNTS].find_one({"_id": counters.WRITES_ID})
    return int((doc or {}).get("seq") or 0)


def _pending(db: Database[Doc]) -> list[Doc]:
    docs = counters.control(db)
    return [doc for key, doc in docs.items() if key.startswith(counters.PENDING_PREFIX)]


def _wait_for_writers(db: Database[Doc], wait_seconds: float) -> None:
    """Drop the pending documents of dead writes; wait (up to ``wait_seconds``) for live ones."""
    deadline = time.monotonic() + wait_seconds
    while True:
        stale = counters.utc_now() - counters.PENDING_STALE
        live = []
        for doc in _pending(db):
            if doc.get("failed") or doc["at"] < stale:
                db[counters.COUNTS].delete_one({"_id": doc["_id"]})
            else:
                live.append(doc)
        if not live or time.monotonic() >= deadline:
            if live:
                logger.warning("%s write(s) still in progress; counting anyway", len(live))
            return
        time.sleep(0.5)
