"""Counters of :meth:`crawler.archive.query.Archive.stats` and the report, one record at a time.

:func:`figures` is the one definition of what a record adds to the statistics: the scan
(:meth:`Tally.add`) and the counters the archive keeps as it writes
(:mod:`crawler.archive.counters`) both use it, so they cannot count differently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import bson
from bson.codec_options import CodecOptions

from crawler.items import ARTICLE_FIELDS

STATS_GROUPS = ("day", "source", "category", "tag", "author")
_EMPTY: tuple[Any, ...] = (None, "", [])
#: How the archive's clients read values back (``store.connect``: timezone-aware UTC).
_STORED: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)


@dataclass
class ArchiveStats:
    """Counts of one :meth:`Archive.stats` call; shares are in [0, 1]."""

    total: int
    duplicates: int
    by: str
    groups: list[tuple[str | None, int]]
    coverage: dict[str, float] = field(default_factory=dict)
    #: Stories carried by more than one source, first published in the window (see
    #: :mod:`crawler.archive.story_counts`); with ``source``, those of them it carries.
    multi_desk_stories: int = 0

    @property
    def duplicate_share(self) -> float:
        return self.duplicates / self.total if self.total else 0.0


def stored(value: Any) -> Any:
    """``value`` as the archive gives it back: a BSON round trip (datetimes to milliseconds,
    UTC; tuples to lists), so counting a record before it is written and after agrees."""
    return bson.decode(bson.encode({"v": value}), codec_options=_STORED)["v"]


def day_of(published: Any) -> datetime | None:
    """Midnight (UTC) of the UTC day of ``published_at``; None when it is no datetime. A naive
    datetime is UTC, as BSON stores it."""
    if not isinstance(published, datetime):
        return None
    when = published.astimezone(UTC) if published.tzinfo else published.replace(tzinfo=UTC)
    return datetime(when.year, when.month, when.day, tzinfo=UTC)


def day_label(day: datetime | None) -> str | None:
    """The ``day`` group's key, "YYYY-MM-DD" (``strftime``: years before 1000 are not padded)."""
    return day.strftime("%Y-%m-%d") if day is not None else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(stored(value))


def figure_source(value: Any) -> str | None:
    """A record's ``source`` as the statistics count it: a str (any other value as text)."""
    return None if value is None else _text(value)


@dataclass(frozen=True)
class Figures:
    """What one record adds to the statistics."""

    source: str | None
    day: datetime | None
    duplicate: bool
    filled: tuple[str, ...]  # Article fields with a non-empty value (not None, "", [])
    category: str | None
    tags: frozenset[str]  # distinct: a record counts once per tag
    authors: frozenset[str]

    @property
    def label(self) -> str | None:
        return day_label(self.day)


def figures(doc: Mapping[str, Any]) -> Figures:
    """The figures of one record (an archived document, or one about to be written)."""
    category = doc.get("category")

    def names(name: str) -> frozenset[str]:
        values = doc.get(name)
        return frozenset(_text(v) for v in values) if isinstance(values, list) else frozenset()

    return Figures(
        source=figure_source(doc.get("source")),
        day=day_of(doc.get("published_at")),
        duplicate=bool(doc.get("duplicate_of")),
        filled=tuple(name for name in ARTICLE_FIELDS if doc.get(name) not in _EMPTY),
        category=None if category is None else _text(category),
        tags=names("tags"),
        authors=names("authors"),
    )


@dataclass
class Tally:
    """Counters of a set of records: filled one record at a time by a scan, or summed from the
    archive's counters (:mod:`crawler.archive.counts_read`)."""

    total: int = 0
    duplicates: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    groups: dict[str, Counter[str | None]] = field(
        default_factory=lambda: {by: Counter() for by in STATS_GROUPS}
    )
    daily_by_source: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    duplicates_by_source: Counter[str | None] = field(default_factory=Counter)
    #: Multi-desk stories counted for these records' window (see ArchiveStats), and per source
    #: how many of them it carries.
    multi_desk: int = 0
    multi_desk_by_source: Counter[str | None] = field(default_factory=Counter)

    def add(self, doc: Mapping[str, Any]) -> None:
        self.add_figures(figures(doc))

    def add_figures(self, fig: Figures) -> None:
        self.total += 1
        self.filled.update(fig.filled)
        label = fig.label
        if label is not None:
            self.daily_by_source[(label, fig.source)] += 1
        if fig.duplicate:
            self.duplicates += 1
            self.duplicates_by_source[fig.source] += 1
        self.groups["day"][label] += 1
        self.groups["source"][fig.source] += 1
        self.groups["category"][fig.category] += 1
        self.groups["tag"].update(fig.tags)
        self.groups["author"].update(fig.authors)

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts (records of another window) to these."""
        self.total += other.total
        self.duplicates += other.duplicates
        self.multi_desk += other.multi_desk
        for mine, theirs in zip(self._counters(), other._counters(), strict=True):
            mine.update(theirs)

    def drop_zeros(self) -> Tally:
        """Without the keys whose count is 0 (a counter that went up and down again)."""
        for counter in self._counters():
            for key in [key for key, count in counter.items() if count == 0]:
                del counter[key]
        return self

    def _counters(self) -> list[Counter[Any]]:
        return [
            self.filled,
            self.daily_by_source,
            self.duplicates_by_source,
            self.multi_desk_by_source,
            *(self.groups[by] for by in STATS_GROUPS),
        ]

    def coverage(self) -> dict[str, float]:
        """Field -> share of records where it is non-empty."""
        return {
            name: self.filled[name] / self.total if self.total else 0.0 for name in ARTICLE_FIELDS
        }

    def ordered(self, by: str) -> list[tuple[str | None, int]]:
        """Days in date order; other groups largest first, then by name."""
        items = list(self.groups[by].items())
        if by == "day":
            return sorted(items, key=lambda item: (item[0] is None, item[0] or ""))
        return sorted(items, key=lambda item: (-item[1], item[0] is None, str(item[0])))
