"""What discovery returns: an article URL with the dates a sitemap, feed or API gave for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Entry:
    """One article found by discovery.

    ``url`` is absolute, as the source wrote it (the caller maps a mirror's URL back to the
    live site and canonicalises it); ``published`` and ``modified`` are aware UTC datetimes, or
    None when the source gives none or gives an implausible one.
    """

    url: str
    published: datetime | None = None
    modified: datetime | None = None


class DiscoveryError(ValueError):
    """A page that is not what it should be (broken JSON, not a sitemap, not a feed).

    ``reason`` is a short stats-friendly name (``wp_api_json``, ``sitemap_xml``...), the
    message says what was wrong.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
