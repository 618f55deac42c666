"""Counters the archive keeps as it writes, so ``stats`` and ``report`` read a few hundred small
documents instead of every record.

``archive_counts`` holds *bucket* documents, one per grain, part, source and period:

- grain ``d`` is one UTC day of ``published_at``, ``m`` a month, ``a`` all time (the only one
  that also counts records without a ``published_at``). A reader takes the coarsest buckets
  that cover its window exactly (:mod:`crawler.archive.counts_read`).
- part ``core`` holds ``n`` (records), ``dup`` (records with a ``duplicate_of``),
  ``filled.<field>`` (records where an Article field is not None, "" or []), ``days.<day>``
  (records per UTC day, ``none`` without a date), ``cat.<key>`` (per category), ``au.<key>``
  (per author) and, for the multi-desk stories of :mod:`crawler.archive.story_counts`,
  ``carried`` and ``stories``. Part ``tag`` holds ``v.<key>``, apart because a desk has
  thousands of tags that ``stats --by source`` need not read; the all-time one is split into
  :data:`ALL_TIME_SHARDS` documents by a hash of the key, so even a decade of a desk's tags
  stays far below the 16 MB document limit. A key is the value, escaped (:func:`value_key`).
- Why so few documents per bucket: on SecantusDB every upsert costs ~1 ms, so what a batch
  costs is the number of buckets it touches (a crawl batch of one desk: ~10).

Everything is counted by :func:`crawler.archive.tally.figures`, as a scan counts.

**Write path** (:func:`begin`, :meth:`BatchCounts.commit`, called by
:func:`crawler.archive.store.archive_batch`): before the article writes, a *pending* document;
after them, one ordered bulk with the ``$inc`` of every bucket the batch changed (+ an inserted
record, -old +new an updated one, nothing for an unchanged one or a write that failed or lost a
race), then the writes sequence, then the deletion of the pending document. Increments commute,
so writers at once stay exact.

**Validity.** Readers use the counters only when ``archive_counts`` holds the *marker* of this
:data:`COUNTS_VERSION`: written into an empty archive by ``ensure_indexes`` (every record it
will hold is counted) or by a finished ``python -m crawler recount``. An archive written before
the counters, or by other tools, has none, and stats scan (with a hint). A writer that dies
(or loses the server) between its article write and its counter write leaves its pending
document behind. Once that document is older than :data:`PENDING_STALE`, or marked failed
(counters of some story kept racing, a counter write refused), readers distrust the counters
and scan until ``recount`` rebuilds them. A younger pending document is a write in progress:
counters are then at most that batch behind, like a scan racing the same write. Records
changed by anything other than ``archive_batch``, ``restory`` or ``recount`` (a manual
``delete_many``) are not seen: run ``recount`` afterwards.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DeleteOne, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from crawler.archive import story_counts
from crawler.archive.story_counts import StoryState
from crawler.archive.tally import Figures, day_of, figure_source, figures, stored

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
COUNTS = "archive_counts"
#: Changes whenever what a bucket holds changes (readers then scan until ``recount``).
COUNTS_VERSION = "counts-v1"
MARKER_ID = "marker"
WRITES_ID = "writes"
PENDING_PREFIX = "pending|"
#: A write older than this that has not finished its counters is taken as dead.
PENDING_STALE = timedelta(minutes=15)
ALL_TIME_SHARDS = 4
NO_DAY = "none"
#: Bucket documents (control documents have no grain).
_BUCKETS: Doc = {"g": {"$ne": None}}
_ESCAPED = re.compile("[%.$\x00]")
_ESCAPE = {"%": "%25", ".": "%2E", "$": "%24", "\x00": "%00"}
_UNESCAPED = re.compile("%(25|2E|24|00)")


def value_key(value: str | None) -> str:
    """A category, tag or author as a field name: ``-`` for None, else ``_`` and the value with
    ``%``, ``.``, ``$`` and NUL escaped (never empty, never a ``$`` or a path)."""
    if value is None:
        return "-"
    return "_" + _ESCAPED.sub(lambda match: _ESCAPE[match.group()], value)


def key_value(key: str) -> str | None:
    """:func:`value_key` reversed."""
    if key == "-":
        return None
    return _UNESCAPED.sub(lambda match: chr(int(match.group(1), 16)), key[1:])


def utc_now() -> datetime:
    return datetime.now(UTC)


def _periods(day: datetime | None) -> list[tuple[str, datetime | None]]:
    """The buckets a day counts in: its day, its month, all time (only all time for none)."""
    if day is None:
        return [("a", None)]
    return [("d", day), ("m", day.replace(day=1)), ("a", None)]


class Deltas:
    """Increments of bucket fields, summed in Python before one bulk write."""

    def __init__(self) -> None:
        self._incs: dict[str, Counter[str]] = {}
        self._keys: dict[str, Doc] = {}

    def _bucket(
        self, grain: str, start: datetime | None, source: Any, part: str, shard: int = 0
    ) -> Counter[str]:
        period = start.date().isoformat() if start is not None else "-"
        bucket = f"{grain}|{part}{shard or ''}|{period}|{json.dumps(source, default=str)}"
        if bucket not in self._incs:
            self._incs[bucket] = Counter()
            self._keys[bucket] = {"g": grain, "p": part, "t": start, "s": source}
        return self._incs[bucket]

    def add_record(self, doc: Mapping[str, Any], sign: int) -> None:
        """Count (``sign`` +1) or uncount (-1) one record in its buckets."""
        self.add_figures(figures(doc), sign)

    def add_figures(self, fig: Figures, sign: int, grains: str = "dma") -> None:
        """Count one record's figures in its buckets of ``grains``."""
        day = fig.label or NO_DAY
        for grain, start in _periods(fig.day):
            if grain not in grains:
                continue
            core = self._bucket(grain, start, fig.source, "core")
            core["n"] += sign
            core["dup"] += sign * fig.duplicate
            for name in fig.filled:
                core[f"filled.{name}"] += sign
            core[f"days.{day}"] += sign
            core[f"cat.{value_key(fig.category)}"] += sign
            for author in fig.authors:
                core[f"au.{value_key(author)}"] += sign
            for tag in fig.tags:
                key = value_key(tag)
                shard = zlib.crc32(key.encode()) % ALL_TIME_SHARDS if grain == "a" else 0
                self._bucket(grain, start, fig.source, "tag", shard)[f"v.{key}"] += sign

    def add_story(self, state: StoryState, sign: int) -> None:
        """Count or uncount one story's multi-desk figures (nothing for a single-desk one)."""
        if not state.multi:
            return
        for grain, start in _periods(day_of(state.first)):
            for source in state.sources:
                self._bucket(grain, start, source, "core")["carried"] += sign
            self._bucket(grain, start, state.sources[0], "core")["stories"] += sign

    def _changes(self) -> Iterator[tuple[str, dict[str, int]]]:
        for bucket, incs in self._incs.items():
            changes = {path: value for path, value in incs.items() if value}
            if changes:
                yield bucket, changes

    def ops(self) -> list[UpdateOne]:
        """One ``$inc`` upsert per bucket with a non-zero change."""
        return [
            UpdateOne(
                {"_id": bucket},
                {"$inc": changes, "$setOnInsert": self._keys[bucket]},
                upsert=True,
            )
            for bucket, changes in self._changes()
        ]

    def documents(self) -> list[Doc]:
        """The buckets as whole documents, for buckets that do not exist yet (``recount``)."""
        docs = []
        for bucket, changes in self._changes():
            doc: Doc = {"_id": bucket, **self._keys[bucket]}
            for path, value in changes.items():
                name, _, key = path.partition(".")
                if key:
                    doc.setdefault(name, {})[key] = value
                else:
                    doc[name] = value
            docs.append(doc)
        return docs

    def changed(self) -> list[str]:
        """The ids of the buckets :meth:`ops` changes."""
        return [bucket for bucket, _ in self._changes()]

    def clear(self) -> None:
        self._incs.clear()
        self._keys.clear()


# --- The write path ------------------------------------------------------------------------


class BatchCounts:
    """The counter side of one ``_write`` of :func:`crawler.archive.store.archive_batch`."""

    def __init__(
        self,
        articles: Collection[Doc],
        docs: Sequence[Doc],
        planned: list[tuple[int, Doc | None, Doc]],
        pending: str | None,
    ) -> None:
        self.articles = articles
        self.docs = docs
        self.planned = planned  # (index into docs, record replaced or None, record written)
        self.pending = pending
        #: Stories whose records this batch changed (filled by ``stories.link`` too).
        self.touched: set[str] = set()
        for _, old, new in planned:
            # A changed version keeps its story, which changes only with its source or date.
            if old is not None and old.get("story_id") and _moves(old, new):
                self.touched.add(str(old["story_id"]))

    def commit(self, lost: Iterable[int], retry: Sequence[Doc]) -> None:
        """Count the records written, except the ops in ``lost`` (failed, duplicate key) and
        the docs in ``retry`` (lost a race: their retry counts them); refresh the stories."""
        if self.pending is None:  # nothing inserted or updated, so no story touched either
            return
        skipped = set(lost) | {index for index, doc in enumerate(self.docs) if _among(doc, retry)}
        deltas = Deltas()
        for index, old, new in self.planned:
            if index in skipped:
                continue
            if old is not None:
                deltas.add_record(old, -1)
            deltas.add_record(new, +1)
        _finish(self.articles, deltas, self.touched, self.pending)


def _moves(old: Doc, new: Doc) -> bool:
    """Whether a new version changes what its story's counts read (compared as stored)."""
    return figure_source(old.get("source")) != figure_source(new.get("source")) or stored(
        old.get("published_at")
    ) != stored(new.get("published_at"))


def _among(doc: Doc, docs: Sequence[Doc]) -> bool:
    return any(doc is other for other in docs)


def begin(
    articles: Collection[Doc],
    docs: Sequence[Doc],
    existing: Mapping[str, Doc],
    kinds: Sequence[tuple[str, bool]],
) -> BatchCounts:
    """Before a batch's article writes: what each op will count, and a pending document if
    any op changes a count. ``kinds[i]`` is (``inserted``/``updated``/``unchanged``, stored as
    a duplicate) of ``docs[i]``; ``existing`` the stored records by URL."""
    planned: list[tuple[int, Doc | None, Doc]] = []
    for index, (kind, duplicate) in enumerate(kinds):
        if kind == "unchanged":
            continue
        old = existing.get(docs[index]["url"]) if kind == "updated" else None
        planned.append((index, old, {**docs[index], "duplicate_of": duplicate or None}))
    return BatchCounts(articles, docs, planned, _pending(articles.database) if planned else None)


def refresh_stories(articles: Collection[Doc], stories: Iterable[str]) -> None:
    """After records changed story outside a batch write (``restory``): their stories' counts."""
    touched = set(stories)
    if touched:
        _finish(articles, Deltas(), touched, _pending(articles.database))


def _pending(db: Database[Doc]) -> str:
    pending = f"{PENDING_PREFIX}{uuid.uuid4().hex}"
    db[COUNTS].insert_one({"_id": pending, "kind": "pending", "at": utc_now()})
    return pending


def _finish(
    articles: Collection[Doc],
    deltas: Deltas,
    touched: set[str],
    pending: str | None,
) -> None:
    """Refresh ``touched`` stories, then one ordered bulk: buckets, the writes sequence, the
    pending document's deletion (ordered: it goes only if everything before it went)."""
    db = articles.database
    exact = story_counts.refresh(db, articles, touched, deltas.add_story)
    ops: list[UpdateOne | DeleteOne] = [*deltas.ops()]
    sequence = {"$inc": {"seq": 1}, "$set": {"kind": "writes"}}
    ops.append(UpdateOne({"_id": WRITES_ID}, sequence, upsert=True))
    if pending is not None and exact:
        ops.append(DeleteOne({"_id": pending}))
    try:
        db[COUNTS].bulk_write(ops, ordered=True)
    except BulkWriteError as exc:
        logger.error("Counter write refused (counters need a recount): %s", exc.details)
        exact = False
    if not exact:
        failed = pending or f"{PENDING_PREFIX}{uuid.uuid4().hex}"
        update = {"$set": {"kind": "pending", "at": utc_now(), "failed": True}}
        db[COUNTS].update_one({"_id": failed}, update, upsert=True)
        logger.error(
            "The archive's counters may be off: stats will scan until: python -m crawler recount"
        )


# --- Validity ------------------------------------------------------------------------------


def ensure(articles: Collection[Doc]) -> None:
    """Indexes, and the marker for an archive with no record and no bucket yet (every record
    it will hold is written by the counting write path). Idempotent."""
    db = articles.database
    db[COUNTS].create_index([("g", ASCENDING), ("p", ASCENDING), ("t", ASCENDING)])
    story_counts.ensure_indexes(db)
    if articles.find_one({}, {"_id": 1}) is None and db[COUNTS].find_one(_BUCKETS) is None:
        mark_valid(db)


def mark_valid(db: Database[Doc]) -> None:
    """Counters complete for every record (a new archive, or a finished recount)."""
    marker = {"kind": "marker", "version": COUNTS_VERSION, "at": utc_now()}
    db[COUNTS].update_one({"_id": MARKER_ID}, {"$set": marker}, upsert=True)


def control(db: Database[Doc]) -> dict[str, Doc]:
    """The documents without a grain: marker, writes sequence, pending writes, by ``_id``."""
    return {doc["_id"]: doc for doc in db[COUNTS].find({"g": None})}


def problem(docs: Mapping[str, Doc], now: datetime | None = None) -> str | None:
    """Why the counters cannot be trusted (None: they can), from :func:`control`."""
    marker = docs.get(MARKER_ID)
    if marker is None or marker.get("version") != COUNTS_VERSION:
        return "not built"
    limit = (now or utc_now()) - PENDING_STALE
    for key, doc in docs.items():
        if key.startswith(PENDING_PREFIX) and (doc.get("failed") or doc["at"] < limit):
            return "a write did not finish its counters"
    return None
