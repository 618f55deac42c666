"""Reading in windows of ``published_at`` (crawler.archive.windowed) gives exactly what one
sorted ``find`` gives, on a real server, while no query returns much more than a window."""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING, MongoClient, monitoring
from pymongo.database import Database

from crawler.archive.read_ahead import read_ahead
from crawler.archive.windowed import (
    FLOOR,
    Bound,
    find_windowed,
    next_span,
    planned_cuts,
    tighter,
)

Doc = dict[str, Any]
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CEILING = NOW + timedelta(days=1)


def _dates(rng: random.Random) -> list[datetime | None]:
    """Dates where windows are hard: long before the floor, at the floor and the ceiling exactly, in the
    future, many at one instant, a dense week, sparse years, and records without any."""
    dense = datetime(2025, 3, 10, tzinfo=UTC)
    dates: list[datetime | None] = [
        datetime(1850, 5, 1, tzinfo=UTC),
        FLOOR,
        FLOOR - timedelta(seconds=1),
        CEILING,
        CEILING - timedelta(seconds=1),
        CEILING + timedelta(days=400),
        None,
        None,
    ]
    dates += [datetime(2024, 1, 1, 6, tzinfo=UTC)] * 30
    dates += [dense + timedelta(minutes=rng.randrange(7 * 24 * 60)) for _ in range(250)]
    dates += [
        datetime(1990, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(36 * 365))
        for _ in range(200)
    ]
    return dates


@pytest.fixture
def dated(mongo_db: Database[Doc]) -> Database[Doc]:
    rng = random.Random(7)
    docs = []
    for i, when in enumerate(_dates(rng)):
        doc: Doc = {"url": f"u{i}", "source": f"s{i % 3}", "secret": i, "keep": i}
        if when is not None or i % 2:  # one undated record has the field, one lacks it
            doc["published_at"] = when
        docs.append(doc)
    mongo_db.articles.insert_many(docs)
    mongo_db.articles.create_index("published_at")
    mongo_db.articles.create_index([("source", ASCENDING), ("published_at", DESCENDING)])
    return mongo_db


def _plain(db: Database[Doc], conditions: Doc, ascending: bool) -> list[tuple[Any, str]]:
    found = db.articles.find(conditions, {"_id": 0}).sort("published_at", 1 if ascending else -1)
    return [(doc.get("published_at"), doc["url"]) for doc in found]


#: Records per day as stale counters might have them: wrong counts, missing days, a day
#: without records. They only place the cuts.
STALE_DAYS = {
    datetime(2024, 1, 1, tzinfo=UTC): 30,
    datetime(2025, 3, 11, tzinfo=UTC): 500,
    datetime(1950, 1, 1, tzinfo=UTC): 10,
}


def _windowed(
    db: Database[Doc], conditions: Doc, ascending: bool, days: Any = None
) -> list[tuple[Any, str]]:
    found = find_windowed(
        db.articles,
        conditions,
        {"_id": 0},
        ascending=ascending,
        window_records=20,
        days=days,
        now=NOW,
    )
    return [(doc.get("published_at"), doc["url"]) for doc in found]


def _same_records_in_order(windowed: list[tuple[Any, str]], plain: list[tuple[Any, str]]) -> None:
    """Same records, each once, in the same date order (ties may come in any order)."""
    assert sorted(url for _, url in windowed) == sorted(url for _, url in plain)
    assert len({url for _, url in windowed}) == len(windowed)
    assert [when for when, _ in windowed] == [when for when, _ in plain]


BOUNDS: list[Doc] = [
    {},
    {"published_at": {"$gte": datetime(2025, 3, 12, tzinfo=UTC)}},
    {"published_at": {"$lt": datetime(2024, 1, 1, 6, tzinfo=UTC)}},
    {"published_at": {"$lte": datetime(2024, 1, 1, 6, tzinfo=UTC)}},
    {"published_at": {"$gt": datetime(2024, 1, 1, 6, tzinfo=UTC)}},
    {"published_at": {"$gte": FLOOR, "$lte": CEILING}},
    {"published_at": {"$gt": FLOOR, "$lt": CEILING}},
    {"published_at": {"$gte": datetime(1800, 1, 1, tzinfo=UTC), "$lt": FLOOR}},
    {"published_at": {"$gte": CEILING}},
    {
        "published_at": {
            "$gte": datetime(2024, 1, 1, 6, tzinfo=UTC),
            "$lte": datetime(2024, 1, 1, 6, tzinfo=UTC),
        }
    },
    {
        "published_at": {
            "$gte": datetime(2030, 1, 1, tzinfo=UTC),
            "$lt": datetime(2020, 1, 1, tzinfo=UTC),
        }
    },
    {"source": "s1"},
    {"source": "s2", "published_at": {"$gte": datetime(2025, 1, 1, tzinfo=UTC)}},
    {"published_at": None},
    {"published_at": {"$in": [FLOOR, CEILING]}},
    # $or: one query per alternative, overlapping ones (a record matching both comes once)
    {"$or": [{"source": "s1"}, {"keep": {"$lt": 100}}]},
    {
        "$or": [{"source": "s0"}, {"keep": {"$gte": 400}}],
        "published_at": {"$gte": datetime(2024, 1, 1, tzinfo=UTC)},
    },
    {"$or": [{"source": "s2"}, {"keep": 3}], "source": "s2"},  # kept whole: a key in both
    {"$or": [{"published_at": None}, {"keep": {"$lt": 5}}]},
]


@pytest.mark.parametrize("days", [None, STALE_DAYS], ids=["adaptive", "planned"])
@pytest.mark.parametrize("ascending", [False, True])
@pytest.mark.parametrize("conditions", BOUNDS, ids=range(len(BOUNDS)))
def test_windows_give_what_one_find_gives(
    dated: Database[Doc], conditions: Doc, ascending: bool, days: Any
) -> None:
    _same_records_in_order(
        _windowed(dated, conditions, ascending, days), _plain(dated, conditions, ascending)
    )


def test_undated_records_come_where_the_sort_puts_null(dated: Database[Doc]) -> None:
    newest_first = _windowed(dated, {}, ascending=False)
    oldest_first = _windowed(dated, {}, ascending=True)
    assert [when for when, _ in newest_first[-2:]] == [None, None]
    assert [when for when, _ in oldest_first[:2]] == [None, None]


def test_an_exclusion_projection_is_applied_on_this_side(dated: Database[Doc]) -> None:
    read = list(find_windowed(dated.articles, {}, {"_id": 0, "secret": 0}, now=NOW))
    assert read and all(set(doc) <= {"url", "source", "keep", "published_at"} for doc in read)
    kept = list(find_windowed(dated.articles, {}, {"_id": 0, "url": 1}, now=NOW))
    assert kept and all(set(doc) == {"url"} for doc in kept)


class _Filters(monitoring.CommandListener):
    """The filter of every ``find`` sent."""

    def __init__(self) -> None:
        self.filters: list[Doc] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.filters.append(event.command.get("filter", {}))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.mark.parametrize("days", [None, STALE_DAYS], ids=["adaptive", "planned"])
def test_an_or_is_sent_as_one_query_per_alternative(
    mongo_uri: str, dated: Database[Doc], days: Any
) -> None:
    """SecantusDB scans the whole collection for any ``$or``: no query carries one, and the
    projection (with or without ``_id``) is still the caller's."""
    conditions: Doc = {"$or": [{"source": "s1"}, {"keep": {"$lt": 100}}]}
    listener = _Filters()
    client: MongoClient[Doc] = MongoClient(mongo_uri, tz_aware=True, event_listeners=[listener])
    try:
        articles = client[dated.name].articles
        for projection in ({"_id": 0, "url": 1}, {"_id": 0, "secret": 0}, {"url": 1}):
            read = list(
                find_windowed(
                    articles, conditions, projection, window_records=20, days=days, now=NOW
                )
            )
            plain = list(dated.articles.find(conditions, projection))
            assert sorted(map(str, read)) == sorted(map(str, plain))
    finally:
        client.close()
    assert listener.filters and not any("$or" in query for query in listener.filters)


class _Replies(monitoring.CommandListener):
    """How many documents each cursor returned, from the server's replies."""

    def __init__(self) -> None:
        self.per_cursor: dict[int, int] = defaultdict(int)
        self.queries = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name not in ("find", "getMore"):
            return
        cursor = event.reply["cursor"]
        batch = cursor.get("firstBatch", cursor.get("nextBatch", []))
        if event.command_name == "find":
            self.queries += 1
            key = cursor["id"] or -self.queries  # an exhausted cursor's id is 0
        else:
            key = cursor["id"]
        self.per_cursor[key] += len(batch)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_with_the_days_counted_no_query_returns_much_more_than_a_window(
    mongo_uri: str, mongo_db: Database[Doc]
) -> None:
    """5,000 records over a year, 1,000 of them on one day: with the records per day (as the
    counters keep them) no query returns more than the target (the busy day is read in
    parts); without, the windows adapt and every record is still read once."""
    rng = random.Random(3)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    docs = [
        {"url": f"u{i}", "published_at": start + timedelta(minutes=rng.randrange(365 * 24 * 60))}
        for i in range(4000)
    ]
    busy = datetime(2025, 7, 1, tzinfo=UTC)
    docs += [
        {"url": f"b{i}", "published_at": busy + timedelta(seconds=86 * i)} for i in range(1000)
    ]
    days: dict[datetime, int] = defaultdict(int)
    for doc in docs:
        days[doc["published_at"].replace(hour=0, minute=0, second=0)] += 1
    mongo_db.articles.insert_many(docs)
    mongo_db.articles.create_index("published_at")
    for hint, most in ((days, 200), (None, 5000)):
        listener = _Replies()
        client: MongoClient[Doc] = MongoClient(mongo_uri, event_listeners=[listener])
        try:
            articles = client[mongo_db.name].articles
            read = [
                doc["url"]
                for doc in find_windowed(
                    articles, {}, {"_id": 0}, window_records=200, days=hint, now=NOW
                )
            ]
        finally:
            client.close()
        assert len(read) == len(set(read)) == 5000
        assert max(listener.per_cursor.values()) <= most
    assert max(listener.per_cursor.values()) > 200  # without counts, one window overshot


def test_planned_cuts_split_a_busy_day_and_join_quiet_ones() -> None:
    day = datetime(2025, 1, 1, tzinfo=UTC)
    counts = {day: 50, day + timedelta(days=1): 60, day + timedelta(days=2): 500}
    cuts = planned_cuts(counts, 200)
    assert cuts == [day + timedelta(days=2, hours=h) for h in (0, 8, 16, 24)]


def test_next_span_grows_through_empty_windows_and_shrinks_in_busy_ones() -> None:
    day = timedelta(days=1)
    assert next_span(day, 0, 2000) == 2 * day
    assert next_span(day, 8000, 2000) == day / 4
    assert next_span(day, 1500, 2000) == day * 4 / 3
    assert next_span(timedelta(seconds=1), 10**9, 2000) == timedelta(minutes=1)
    assert next_span(5 * day, 0, 2000) == 7 * day


def test_the_tighter_bound_is_the_intersection() -> None:
    early, late = datetime(2020, 1, 1, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)
    assert tighter(Bound("$gte", early), Bound("$gt", late), lower=True) == Bound("$gt", late)
    assert tighter(Bound("$lt", late), Bound("$lte", early), lower=False) == Bound("$lte", early)
    assert tighter(Bound("$gte", early), Bound("$gt", early), lower=True) == Bound("$gt", early)
    assert tighter(Bound("$lte", late), Bound("$lt", late), lower=False) == Bound("$lt", late)
    assert tighter(None, Bound("$lt", late), lower=False) == Bound("$lt", late)


def test_read_ahead_gives_every_record_in_order_and_raises_where_the_error_was() -> None:
    assert list(read_ahead(iter(range(2345)), chunk=100, depth=3)) == list(range(2345))

    def failing() -> Iterator[int]:
        yield from range(250)
        raise ConnectionError("server gone")

    seen: list[int] = []
    with pytest.raises(ConnectionError, match="server gone"):
        for value in read_ahead(failing(), chunk=100, depth=2):
            seen.append(value)
    assert seen == list(range(200))  # the records of whole chunks before the error


def test_stopping_a_read_ahead_early_stops_its_thread() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        for value in itertools.count():
            produced.append(value)
            yield value

    reader = read_ahead(endless(), chunk=10, depth=2)
    assert [next(reader) for _ in range(5)] == [0, 1, 2, 3, 4]
    reader.close()
    assert not [t for t in threading.enumerate() if t.name == "archive-read-ahead"]
    assert len(produced) <= 10 * (2 + 2)  # the chunks queued, the one being offered, one more
