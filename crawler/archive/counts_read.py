"""The :class:`~crawler.archive.tally.Tally` behind ``stats`` and ``report``: from the archive's
counters (:mod:`crawler.archive.counters`) when they are valid, else from one scan.

From the counters, a window of whole UTC days is covered exactly by the coarsest buckets: all
time without a window, else whole months inside it and days at its ends (``--since`` a year
ago: at most ~30 day and 12 month buckets per source). A bound that is not a whole UTC day
(``2026-01-31T12:00``) splits its day: the whole days come from the counters and the part of
the edge day inside the window from a scan of that part only (one day's records at most, per
edge), with its multi-desk stories from their documents (:mod:`crawler.archive.story_counts`).
The result equals what a scan of every matching record gives (tested against it).

Without valid counters (an archive written before them, or a write that died between its
records and its counters), the scan reads every matching record once, as before, and a
warning says to run ``python -m crawler recount``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pymongo.database import Database

from crawler.archive import counters, story_counts
from crawler.archive.export import RECORD_FIELDS
from crawler.archive.query_filter import check_text, parse_when
from crawler.archive.store import ARTICLES
from crawler.archive.tally import STATS_GROUPS, Tally
from crawler.archive.windowed import CURSOR_BATCH, find_windowed

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
#: What a scan reads of each record: every counted field, ``body`` cut to its first character
#: on the server (only its emptiness counts; on SecantusDB a ``$group`` evaluating a ``$cond``
#: per field costs ~70 µs per record and field, so a streamed projection is the fast scan).
SCAN_PROJECTION: Doc = {
    **{name: 1 for name in RECORD_FIELDS if name != "body"},
    "_id": 0,
    "body": {"$substrCP": [{"$ifNull": ["$body", ""]}, 0, 1]},
}


@dataclass(frozen=True)
class Window:
    """Bounds of ``published_at``: ``lo`` inclusive, ``hi`` inclusive or not; None is open."""

    lo: datetime | None = None
    hi: datetime | None = None
    hi_inclusive: bool = False

    @classmethod
    def of(cls, since: str | date | datetime | None, until: str | date | datetime | None) -> Window:
        """The window of ``since``/``until`` as :meth:`Archive.search` reads them."""
        lo = parse_when(since)[0] if since is not None else None
        hi, inclusive = parse_when(until, end=True) if until is not None else (None, False)
        return cls(lo, hi, inclusive)

    @property
    def everything(self) -> bool:
        return self.lo is None and self.hi is None

    def condition(self) -> Doc:
        """The ``published_at`` condition (``{}`` for no window)."""
        bounds: Doc = {}
        if self.lo is not None:
            bounds["$gte"] = self.lo
        if self.hi is not None:
            bounds["$lte" if self.hi_inclusive else "$lt"] = self.hi
        return bounds

    def match(self, source: str | None) -> Doc:
        match: Doc = {"published_at": self.condition()} if not self.everything else {}
        if source is not None:
            match["source"] = source
        return match

    def contains(self, when: datetime | None) -> bool:
        if self.everything:
            return True
        if when is None or (self.lo is not None and when < self.lo):
            return False
        return self.hi is None or when < self.hi or (self.hi_inclusive and when == self.hi)

    def split(self) -> tuple[tuple[datetime | None, datetime | None] | None, list[Window]]:
        """The whole UTC days ``[L, H)`` inside the window (None: none) and the partial days
        at its edges, as windows of their own."""
        lo, hi = self.lo, self.hi
        start = lo if lo is None or _midnight(lo) == lo else _next_day(lo)
        if hi is None:
            end = None
        else:
            end = hi if not self.hi_inclusive and _midnight(hi) == hi else _midnight(hi)
        if lo is not None and (start is None or (end is not None and start >= end)):
            return None, [self]  # within one day (or at the end of time): all of it scanned
        edges = []
        if lo is not None and start != lo:
            edges.append(Window(lo, start))
        if hi is not None and end is not None and (end != hi or self.hi_inclusive):
            edges.append(Window(end, hi, self.hi_inclusive))
        return (start, end), edges


def _midnight(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _next_day(when: datetime) -> datetime | None:
    try:
        return _midnight(when) + timedelta(days=1)
    except OverflowError:
        return None


def _next_month(day: datetime) -> datetime | None:
    """The first of the month after ``day``'s month (None past the last representable)."""
    if day.month < 12:
        return day.replace(day=1, month=day.month + 1)
    return day.replace(day=1, month=1, year=day.year + 1) if day.year < 9999 else None


def bucket_ranges(start: datetime | None, end: datetime | None) -> list[tuple[str, Doc]]:
    """(grain, condition on the bucket's start) covering the whole days ``[start, end)``
    exactly; both open: all time."""
    if start is None and end is None:
        return [("a", {})]
    first_month = start if start is None or start.day == 1 else _next_month(start)
    last_month = end.replace(day=1) if end is not None else None
    if start is not None and (
        first_month is None or (last_month is not None and first_month >= last_month)
    ):
        return [("d", {"t": {"$gte": start, "$lt": end} if end is not None else {"$gte": start}})]
    ranges: list[tuple[str, Doc]] = []
    if start is not None and first_month is not None and start < first_month:
        ranges.append(("d", {"t": {"$gte": start, "$lt": first_month}}))
    months: Doc = {}
    if first_month is not None:
        months["$gte"] = first_month
    if last_month is not None:
        months["$lt"] = last_month
    ranges.append(("m", {"t": months} if months else {}))
    if end is not None and last_month is not None and last_month < end:
        ranges.append(("d", {"t": {"$gte": last_month, "$lt": end}}))
    return ranges


def tally(
    db: Database[Doc],
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    source: str | None = None,
    groups: Iterable[str] = STATS_GROUPS,
    *,
    scan: bool = False,
) -> Tally:
    """Every count of the records published in the window (of ``source``): the ``tag`` group
    only if in ``groups`` (a scan fills all), the others always. ``scan`` forces the scan."""
    window = Window.of(since, until)
    if source is not None:
        source = check_text(source, "source")
    if not scan:
        kept = counted(db, window, source, groups)
        if kept is not None:
            return kept
    return scanned(db, window, source)


def counted(
    db: Database[Doc], window: Window, source: str | None, groups: Iterable[str] = STATS_GROUPS
) -> Tally | None:
    """From the counters; None if they cannot be trusted for this archive."""
    problem = counters.problem(counters.control(db))
    if problem is not None:
        if db[ARTICLES].find_one({}, {"_id": 1}) is not None:
            logger.warning(
                "This archive's counters are not usable (%s): stats scan every record. "
                "Build them once with: python -m crawler recount",
                problem,
            )
        return None
    parts = ["core", *(["tag"] if "tag" in groups else [])]
    whole, edges = window.split() if not window.everything else ((None, None), [])
    result = Tally()
    if whole is not None:
        for doc in _buckets(db, bucket_ranges(*whole), source, parts):
            _add_bucket(result, doc, source)
    for edge in edges:
        result.merge(scan_records(db, edge.match(source)))
        total, carried = story_counts.counted(
            story_counts.first_published_in(db, edge.condition()), source
        )
        result.multi_desk += total
        result.multi_desk_by_source.update(carried)
    return result.drop_zeros()


def _buckets(
    db: Database[Doc], ranges: list[tuple[str, Doc]], source: str | None, parts: list[str]
) -> Iterator[Doc]:
    for grain, condition in ranges:
        for part in parts:  # one query a part: SecantusDB scans the collection for a p $in
            query: Doc = {"g": grain, "p": part, **condition}
            if source is not None:
                query["s"] = source
            yield from db[counters.COUNTS].find(query, {"_id": 0}, batch_size=CURSOR_BATCH)


def _add_bucket(result: Tally, doc: Doc, source: str | None) -> None:
    """Add one bucket document's counts (with ``source``, multi-desk means carried by it)."""
    owner = doc.get("s")
    if doc.get("p") == "tag":
        for key, count in (doc.get("v") or {}).items():
            result.groups["tag"][counters.key_value(key)] += count
        return
    records = int(doc.get("n") or 0)
    result.total += records
    result.groups["source"][owner] += records
    duplicates = int(doc.get("dup") or 0)
    result.duplicates += duplicates
    result.duplicates_by_source[owner] += duplicates
    result.filled.update(doc.get("filled") or {})
    for label, count in (doc.get("days") or {}).items():
        day = None if label == counters.NO_DAY else label
        result.groups["day"][day] += count
        if day is not None:
            result.daily_by_source[(day, owner)] += count
    for name, by in (("cat", "category"), ("au", "author")):
        group = result.groups[by]
        for key, count in (doc.get(name) or {}).items():
            group[counters.key_value(key)] += count
    carried = int(doc.get("carried") or 0)
    result.multi_desk_by_source[owner] += carried
    result.multi_desk += carried if source is not None else int(doc.get("stories") or 0)


def day_counts(db: Database[Doc], source: str | None = None) -> dict[datetime, int]:
    """Records per UTC day (midnight) by the all-time counters, valid or not (``{}`` without
    any): where a windowed read cuts (:mod:`crawler.archive.windowed`), which stale counts
    only make less even."""
    days: dict[datetime, int] = {}
    for doc in _buckets(db, [("a", {})], source, ["core"]):
        for label, count in (doc.get("days") or {}).items():
            if label == counters.NO_DAY:
                continue
            try:  # fromisoformat is fast; years before 1000 are not padded (day_label)
                day = datetime.fromisoformat(label).replace(tzinfo=UTC)
            except ValueError:
                try:
                    day = datetime.strptime(label, "%Y-%m-%d").replace(tzinfo=UTC)
                except ValueError:
                    continue
            days[day] = days.get(day, 0) + int(count or 0)
    return days


def scan_records(db: Database[Doc], match: Doc, members: Any = None) -> Tally:
    """The counts of the records matching ``match``, one streamed pass in windows (no story
    figures); ``members`` (a :class:`~crawler.archive.story_counts.Members`) also gets every
    record."""
    result = Tally()
    source = match.get("source")
    days = day_counts(db, source if isinstance(source, str) else None)
    for doc in find_windowed(db[ARTICLES], match, SCAN_PROJECTION, days=days):
        result.add(doc)
        if members is not None:
            members.add(doc)
    return result


def scanned(db: Database[Doc], window: Window, source: str | None) -> Tally:
    """From one scan of the matching records; multi-desk stories as the counters define them:
    all stories when nothing is filtered, else the stories of the window's records (any
    source), whose records are then read whole."""
    members = story_counts.Members()
    result = scan_records(db, window.match(source), members)
    if not window.everything or source is not None:
        stories = set(members)
        if source is not None:  # the window's stories, whichever source has the first record
            fields = {"_id": 0, "story_id": 1}
            found = find_windowed(db[ARTICLES], window.match(None), fields, days=day_counts(db))
            stories = {str(doc["story_id"]) for doc in found if doc.get("story_id")}
        members = story_counts.members_of(db[ARTICLES], stories)
    states = (members.state(story) for story in members)
    total, carried = story_counts.counted(
        (state for state in states if window.contains(state.first)), source
    )
    result.multi_desk, result.multi_desk_by_source = total, carried
    return result
