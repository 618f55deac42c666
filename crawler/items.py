"""The Article item: the archive's record of one news article.

Every field states its format. Datetimes are timezone-aware and in UTC; the archive stores
them as BSON dates (UTC). ``*_raw`` fields keep what the page showed, so a user can check the
normalised value against the source.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

#: Fields a record must have to be archived: the default of ``VALIDATE_REQUIRED_FIELDS``
#: (``pipelines.validate``), and what ``reparse`` requires (:func:`missing_required`).
REQUIRED_FIELDS = ("url", "title", "body", "published_at")


@dataclass
class Article:
    url: str | None = None
    """Canonical absolute URL: https, lower-case host, no fragment, no ``utm_*``/``fbclid``/
    ``gclid`` parameters, no trailing slash, AMP/mobile variants mapped to the desktop URL."""

    source: str | None = None
    """Name of the spider that produced the record, e.g. ``"antara_kalteng"``."""

    site_name: str | None = None
    """Human name of the site, e.g. ``"ANTARA Kalteng"``."""

    region: str | None = None
    """Region the desk covers, e.g. ``"Kalimantan Tengah"``."""

    language: str | None = None
    """ISO 639-1 language code, e.g. ``"id"``."""

    title: str | None = None
    """Headline, Unicode NFC, whitespace collapsed to single spaces."""

    description: str | None = None
    """Lead or meta description, or ``None``."""

    body: str | None = None
    """Plain text, paragraphs separated by one blank line (``"\\n\\n"``). No dateline prefix,
    no "Baca juga" lines, no byline, no copyright line, no ad/script text, no photo caption,
    no "Komentar", no legal notice about crawling."""

    dateline: str | None = None
    """Place before "(ANTARA) -" / "(Antara Kalteng) -", e.g. ``"Palangka Raya"``, or ``None``."""

    published_at: datetime | None = None
    """Publication time, timezone-aware UTC."""

    published_at_raw: str | None = None
    """The publication date text as the page shows it, e.g. ``"Senin, 25 Maret 2019 16:42 WIB"``."""

    modified_at: datetime | None = None
    """Last modification time, timezone-aware UTC, or ``None``."""

    authors: list[str] = field(default_factory=list)
    """Reporters ("Pewarta"), in page order; ``[]`` when the line is empty."""

    editors: list[str] = field(default_factory=list)
    """Editors ("Editor"), in page order; ``[]`` when absent."""

    uploader: str | None = None
    """CMS account that uploaded the article ("Uploader"), or ``None``."""

    category: str | None = None
    """Section name, e.g. ``"Kalteng"``, or ``None``."""

    tags: list[str] = field(default_factory=list)
    """Tags, distinct (case-insensitive), in page order."""

    image_url: str | None = None
    """Absolute URL of the lead image (the real one, not a lazy-load placeholder), or ``None``."""

    image_caption: str | None = None
    """Lead image caption without the trailing credit "(Foto ...)", or ``None``."""

    image_credit: str | None = None
    """Image credit without parentheses or the leading "Foto", e.g.
    ``"Antara Kalteng/Muhammad Arif Hidayat"``, or ``None``."""

    word_count: int | None = None
    """Number of whitespace-separated words in ``body``."""

    content_hash: str | None = None
    """SHA-256 hex digest of ``body`` encoded as UTF-8."""

    crawled_at: datetime | None = None
    """When the page was fetched, timezone-aware UTC."""


ARTICLE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Article))


def missing_required(
    record: Mapping[str, Any], required: Sequence[str] = REQUIRED_FIELDS
) -> list[str]:
    """The required fields ``record`` lacks, in order. A field is missing when it holds
    nothing: absent, None, ``""`` or ``[]``. The one validation rule of the crawl's validate
    pipeline and of ``reparse``."""
    return [name for name in required if not record.get(name)]


def drop_reason(missing: Sequence[str]) -> str:
    """Why a record missing ``missing`` (non-empty) is dropped: ``missing_<first field>``,
    counted as ``item_dropped_reasons_count/<reason>``."""
    return f"missing_{missing[0]}"
