"""Counters of :meth:`crawler.archive.query.Archive.stats` and the report, one record at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crawler.items import ARTICLE_FIELDS

STATS_GROUPS = ("day", "source", "category", "tag", "author")
_EMPTY: tuple[Any, ...] = (None, "", [])


@dataclass
class ArchiveStats:
    """Counts of one :meth:`Archive.stats` call; shares are in [0, 1]."""

    total: int
    duplicates: int
    by: str
    groups: list[tuple[str | None, int]]
    coverage: dict[str, float] = field(default_factory=dict)
    multi_desk_stories: int = 0  # stories carried by more than one source

    @property
    def duplicate_share(self) -> float:
        return self.duplicates / self.total if self.total else 0.0


@dataclass
class Tally:
    """Counters filled one record at a time by :meth:`Archive.tally`."""

    total: int = 0
    duplicates: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    groups: dict[str, Counter[str | None]] = field(
        default_factory=lambda: {by: Counter() for by in STATS_GROUPS}
    )
    daily_by_source: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    duplicates_by_source: Counter[str | None] = field(default_factory=Counter)
    story_sources: dict[str, set[str | None]] = field(default_factory=dict)  # story_id -> desks

    def add(self, doc: Mapping[str, Any]) -> None:
        self.total += 1
        self.filled.update(name for name in ARTICLE_FIELDS if doc.get(name) not in _EMPTY)
        source = doc.get("source")
        published = doc.get("published_at")
        day = None
        if isinstance(published, datetime):
            day = published.astimezone(UTC).strftime("%Y-%m-%d")
        if day is not None:
            self.daily_by_source[(day, source)] += 1
        if doc.get("duplicate_of"):
            self.duplicates += 1
            self.duplicates_by_source[source] += 1
        if doc.get("story_id"):
            self.story_sources.setdefault(str(doc["story_id"]), set()).add(source)
        self.groups["day"][day] += 1
        self.groups["source"][source] += 1
        self.groups["category"][doc.get("category")] += 1
        for by, name in (("tag", "tags"), ("author", "authors")):
            values = doc.get(name)
            if isinstance(values, list):
                self.groups[by].update({str(value) for value in values})

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
