"""Reading many records a window of ``published_at`` at a time, in constant server memory.

SecantusDB (0.7.0b3) answers a ``find`` by decoding *every* matching document into the
server's memory before it sends the first batch (``Storage.find_matching``), and applies an
exclusion projection by deep-copying each one. On a generated 100k-record archive a sorted read
of everything waited 7.9 s for its first record, and a million would hold the whole archive,
decoded, in the server. So whoever reads many records (``export``, a search without words,
``stats`` by scan, ``recount``, ``reindex``) asks for consecutive windows of ``published_at``
of about :data:`WINDOW_RECORDS` records each: the server's memory and the wait for the first
record are bounded by a window, on any server.

The windows run from "tomorrow" back to 1990 (or forward, for ``ascending``). Where they are
cut comes from the records per day the archive's counters keep (``days``; stale counts only
change a window's size), else as the read goes: each next span is the last one scaled by how
full it was, at most doubled and at most :data:`LONGEST_SPAN`, so an empty year costs ~50
cheap queries and a busy day is read in parts (there is no cheap count to ask first: a
``count`` with a filter decodes every record on SecantusDB). The first and last windows are
open-ended (``>= tomorrow``, ``< 1990``) and records without a ``published_at`` are read last
(descending) or first (ascending), where MongoDB's sort puts null: together they cover every
record the condition matches, whatever the dates. (The archive's writers store
``published_at`` as a date or null: the Article field's type, ``import``'s check; a value of
another type would be outside every window.) Records are newest first (or oldest first)
across windows and, within one, in the server's order for the ``published_at`` sort. Records
written while a read goes on may be seen or not, as with one cursor; one whose
``published_at`` changes meanwhile may be seen twice or not.

An exclusion projection (``{"minhash": 0, ...}``) is applied here rather than by the server:
on SecantusDB it halved the server's time per record (375 µs less, measured on the 100k
archive); on MongoDB it only costs the dropped fields' bytes on the wire.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

Doc = dict[str, Any]
FIELD = "published_at"
#: Records a window should hold: what the server decodes at once for one query.
WINDOW_RECORDS = 2000
#: Records a batch of the server's answer holds (a window is a few batches).
CURSOR_BATCH = 1000
#: Windows stop here; older dates are read as one window (few, if any: misread dates).
FLOOR = datetime(1990, 1, 1, tzinfo=UTC)
FIRST_SPAN = timedelta(days=1)
SHORTEST_SPAN = timedelta(minutes=1)
#: Without ``days``, no window spans more: after a stretch without records the next window
#: may meet a busy one (a week of a national archive: ~14,000 records).
LONGEST_SPAN = timedelta(days=7)
#: How much a window's span may change from one window to the next (without ``days``).
MOST_GROWTH = 2.0
LEAST_GROWTH = 0.25
_LOWER = ("$gte", "$gt")
_UPPER = ("$lt", "$lte")
_EXCLUSIVE = frozenset({"$gt", "$lt"})


@dataclass(frozen=True)
class Bound:
    """One end of a window: an operator (``$gte``, ``$gt``, ``$lt``, ``$lte``) and a date."""

    op: str
    value: datetime


def find_windowed(
    collection: Collection[Doc],
    conditions: Mapping[str, Any],
    projection: Mapping[str, Any] | None = None,
    *,
    ascending: bool = False,
    window_records: int = WINDOW_RECORDS,
    days: Mapping[datetime, int] | None = None,
    now: datetime | None = None,
) -> Iterator[Doc]:
    """Every record matching ``conditions``, sorted by ``published_at`` (newest first unless
    ``ascending``), read in windows (see the module docstring). ``projection`` is applied as
    ``find`` would apply it. ``days`` (records per UTC day, from the archive's counters; stale
    or missing days only change the windows' sizes) places the cuts; without it the windows
    adapt as they go."""
    fetch, dropped = split_projection(projection)
    direction = ASCENDING if ascending else DESCENDING
    conditions, any_of = _split_or(conditions)
    if any_of:  # records of several queries are told apart by _id, dropped afterwards
        fetch, dropped = _with_id(fetch, dropped)
    bounds = user_bounds(conditions[FIELD]) if FIELD in conditions else (None, None)

    def fetched(query: Doc, *, sort: bool = True) -> Iterator[Doc]:
        if any_of:
            order = direction if sort else None
            yield from stripped(_union(collection, query, any_of, fetch, order), dropped)
            return
        cursor = collection.find(query, fetch, batch_size=CURSOR_BATCH)
        with cursor.sort(FIELD, direction) if sort else cursor as records:
            yield from stripped(records, dropped)

    if bounds is None:  # an equality, an $in, ...: one query is already narrow
        yield from fetched(dict(conditions))
        return
    lower, upper = bounds
    others = {key: value for key, value in conditions.items() if key != FIELD}

    def read(low: Bound | None, high: Bound | None) -> Iterator[Doc]:
        """The records of one window, within the caller's own bounds."""
        low, high = tighter(lower, low, lower=True), tighter(upper, high, lower=False)
        if is_empty(low, high):
            return
        window = {bound.op: bound.value for bound in (low, high) if bound is not None}
        yield from fetched({**others, FIELD: window} if window else dict(others))

    def undated() -> Iterator[Doc]:
        """Records without a date (null or missing: one index lookup), if the caller has no
        date bounds (a bound excludes them, as in MongoDB)."""
        if lower is None and upper is None:
            yield from fetched({**others, FIELD: None}, sort=False)

    ceiling = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(days=1)
    below, above = (None, Bound("$lt", FLOOR)), (Bound("$gte", ceiling), None)
    inner = _inner_range(lower, upper, ceiling)
    if days:  # every window known now: read two at once (the server works while we decode)
        cuts = planned_cuts(days, window_records)
        windows = [below, *(_planned(inner, cuts) if inner else []), above]
        middle = _in_order(lambda window: list(read(*window)), windows[:: 1 if ascending else -1])
        if ascending:
            yield from undated()
        yield from middle
        if not ascending:
            yield from undated()
        return
    walk = _walk(read, inner, ascending, window_records) if inner else iter(())
    if ascending:
        yield from undated()
        yield from read(*below)
        yield from walk
        yield from read(*above)
    else:
        yield from read(*above)
        yield from walk
        yield from read(*below)
        yield from undated()


def _split_or(conditions: Mapping[str, Any]) -> tuple[Doc, list[Doc]]:
    """(``conditions`` without a top-level ``$or``, its alternatives) when each alternative can
    be added to the others' conditions and a window's as they are (it names none of their
    fields); else (``conditions``, [])."""
    alternatives = conditions.get("$or")
    rest = {key: value for key, value in conditions.items() if key != "$or"}
    taken = {*rest, FIELD}
    if (
        not isinstance(alternatives, list)
        or not alternatives
        or not all(isinstance(one, Mapping) and not set(one) & taken for one in alternatives)
    ):
        return dict(conditions), []
    return rest, [dict(one) for one in alternatives]


def _with_id(fetch: Doc | None, dropped: set[str]) -> tuple[Doc | None, set[str]]:
    """The projection returning ``_id`` too (by default, as the server does), and the fields
    to drop then."""
    if fetch is None or fetch.get("_id", 1):
        return fetch, dropped
    others = {key: value for key, value in fetch.items() if key != "_id"}
    return others or None, dropped | {"_id"}


def _union(
    collection: Collection[Doc],
    query: Doc,
    any_of: list[Doc],
    fetch: Doc | None,
    direction: int | None,
) -> list[Doc]:
    """The records of one window matching ``query`` and any of ``any_of``, one query each,
    each once, sorted by ``published_at`` in ``direction`` (None: as found). SecantusDB
    answers any ``$or`` with a collection scan (its planner gave COLLSCAN with a
    ``published_at`` range beside it: 11 s a window on the 100k bench archive, where each
    alternative alone used the index, in 0.01 s)."""
    found: dict[Any, Doc] = {}
    for alternative in any_of:
        with collection.find({**query, **alternative}, fetch, batch_size=CURSOR_BATCH) as cursor:
            for doc in cursor:
                found.setdefault(doc["_id"], doc)
    if direction is None:
        return list(found.values())
    return sorted(found.values(), key=_sort_key, reverse=direction == DESCENDING)


def _sort_key(doc: Doc) -> tuple[bool, Any]:
    """``published_at`` as the server sorts it: null (or missing) before any date."""
    when = doc.get(FIELD)
    return (when is not None, when if when is not None else 0)


@dataclass(frozen=True)
class _Inner:
    """The windows' range between 1990 and tomorrow, within the caller's bounds; ``first`` and
    ``last`` close it, or are None where the caller's own bound does."""

    start: datetime
    end: datetime
    first: Bound | None
    last: Bound | None


def _inner_range(lower: Bound | None, upper: Bound | None, ceiling: datetime) -> _Inner | None:
    start = max(FLOOR, lower.value) if lower is not None else FLOOR
    end = min(ceiling, upper.value) if upper is not None else ceiling
    if start > end:
        return None
    first = Bound("$gte", start) if lower is None or lower.value <= FLOOR else None
    last = Bound("$lt", end) if upper is None or ceiling <= upper.value else None
    return _Inner(start, end, first, last)


def _planned(inner: _Inner, cuts: list[datetime]) -> list[tuple[Bound | None, Bound | None]]:
    """The windows of ``inner`` between the ``cuts`` (oldest first)."""
    inside = [cut for cut in cuts if inner.start < cut < inner.end]
    lows = [inner.first, *(Bound("$gte", cut) for cut in inside)]
    highs = [*(Bound("$lt", cut) for cut in inside), inner.last]
    return list(zip(lows, highs, strict=True))


def _in_order(
    read_window: Callable[[tuple[Bound | None, Bound | None]], list[Doc]],
    windows: list[tuple[Bound | None, Bound | None]],
    at_once: int = 2,
) -> Iterator[Doc]:
    """The records of ``windows`` in order, ``at_once`` windows read at the same time."""
    pool = ThreadPoolExecutor(at_once, thread_name_prefix="archive-window")
    try:
        pending: deque[Future[list[Doc]]] = deque()
        queued = iter(windows)
        for window in islice(queued, at_once):
            pending.append(pool.submit(read_window, window))
        while pending:
            docs = pending.popleft().result()
            for window in islice(queued, 1):
                pending.append(pool.submit(read_window, window))
            yield from docs
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _walk(
    read: Callable[[Bound | None, Bound | None], Iterator[Doc]],
    inner: _Inner,
    ascending: bool,
    window_records: int,
) -> Iterator[Doc]:
    """The records of ``inner`` in windows that adapt as they go: each span is the last one
    scaled by how far its count was from the target."""
    span = FIRST_SPAN
    position = inner.first if ascending else inner.last
    while True:
        at = position.value if position is not None else (inner.start if ascending else inner.end)
        cut = _shifted(at, span if ascending else -span)
        if cut is None or (cut >= inner.end if ascending else cut <= inner.start):
            yield from read(position, inner.last) if ascending else read(inner.first, position)
            return
        count = 0
        window = (position, Bound("$lt", cut)) if ascending else (Bound("$gte", cut), position)
        for doc in read(*window):
            count += 1
            yield doc
        position = Bound("$gte", cut) if ascending else Bound("$lt", cut)
        span = next_span(span, count, window_records)


def planned_cuts(days: Mapping[datetime, int], window_records: int) -> list[datetime]:
    """Where to cut, oldest first, so that each window holds about ``window_records`` by the
    records per day ``days`` (UTC midnights): whole days together, a busy day in equal parts."""
    cuts: list[datetime] = []
    held = 0
    for day, count in sorted(days.items()):
        if count <= 0:
            continue
        if count > window_records:
            parts = -(-count // window_records)
            cuts += [day + timedelta(days=1) * part / parts for part in range(parts)]
            cuts.append(day + timedelta(days=1))
            held = 0
        elif held + count > window_records:
            cuts.append(day)
            held = count
        else:
            held += count
    return sorted(set(cuts))


def next_span(span: timedelta, count: int, window_records: int) -> timedelta:
    """The span of the next window after one of ``span`` held ``count`` records."""
    growth = window_records / count if count else MOST_GROWTH
    scaled = span * min(max(growth, LEAST_GROWTH), MOST_GROWTH)
    return min(max(scaled, SHORTEST_SPAN), LONGEST_SPAN)


def _shifted(when: datetime, by: timedelta) -> datetime | None:
    try:
        return when + by
    except OverflowError:
        return None


def user_bounds(condition: Any) -> tuple[Bound | None, Bound | None] | None:
    """The caller's ``published_at`` range as (lower, upper); None if the condition is not a
    plain range of dates (then it is read as one query)."""
    if not isinstance(condition, Mapping) or not condition:
        return None
    if set(condition) - {*_LOWER, *_UPPER} or any(
        not isinstance(value, datetime) or value.tzinfo is None for value in condition.values()
    ):
        return None
    lowers = [Bound(op, condition[op]) for op in _LOWER if op in condition]
    uppers = [Bound(op, condition[op]) for op in _UPPER if op in condition]
    lower = upper = None
    for bound in lowers:
        lower = tighter(lower, bound, lower=True)
    for bound in uppers:
        upper = tighter(upper, bound, lower=False)
    return lower, upper


def tighter(one: Bound | None, other: Bound | None, lower: bool) -> Bound | None:
    """The stricter of two bounds on the same side (their intersection): the later of two
    lower bounds, the earlier of two upper ones; at the same date the exclusive one."""
    if one is None or other is None:
        return one or other
    if one.value != other.value:
        return max(one, other, key=_date) if lower else min(one, other, key=_date)
    return one if one.op in _EXCLUSIVE else other


def _date(bound: Bound) -> datetime:
    return bound.value


def is_empty(low: Bound | None, high: Bound | None) -> bool:
    if low is None or high is None:
        return False
    if low.value != high.value:
        return low.value > high.value
    return low.op == "$gt" or high.op == "$lt"


def split_projection(projection: Mapping[str, Any] | None) -> tuple[Doc | None, set[str]]:
    """(what to ask the server for, top-level fields to drop here): an exclusion projection of
    top-level fields is applied here, anything else by the server."""
    if not projection:
        return None, set()
    if all(not value and "." not in key for key, value in projection.items()):
        return None, set(projection)
    return dict(projection), set()


def stripped(records: Iterable[Doc], dropped: set[str]) -> Iterator[Doc]:
    """``records`` without the ``dropped`` fields (see :func:`split_projection`)."""
    if not dropped:
        yield from records
        return
    for doc in records:
        for name in dropped:
            doc.pop(name, None)
        yield doc
