"""Shared normalisers: small pure functions every site parser and pipeline calls.

Nothing here knows about Scrapy or about a particular site. Each function takes plain values
and returns plain values, so it can be tested on its own and reused when re-parsing the archive.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from crawler import stats_keys
from crawler.extract.dates import OUT_OF_RANGE, parse_date, parse_date_checked, plausible, to_utc
from crawler.extract.dates import (
    iso_utc as iso_utc,  # re-exported: the archive's datetime text form
)
from crawler.extract.text import clean_optional, clean_text, scrub_text
from crawler.items import Article

# --- Text ------------------------------------------------------------------------------------


def split_paragraphs(body: str | None) -> list[str]:
    """Split a body on blank lines into cleaned, non-empty paragraphs."""
    if not body:
        return []
    paragraphs = (clean_text(part) for part in re.split(r"\n\s*\n", body))
    return [p for p in paragraphs if p]


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    """Join paragraphs with one blank line, the body format of the archive."""
    return "\n\n".join(p for p in paragraphs if p)


def distinct(values: Iterable[str]) -> list[str]:
    """Cleaned, non-empty values without case-insensitive repeats, first spelling kept."""
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        cleaned = clean_text(value)
        key = cleaned.casefold()
        if cleaned and key not in seen:
            seen.add(key)
            result.append(cleaned)
    return result


def content_hash(body: str) -> str:
    """SHA-256 hex digest of the UTF-8 body: equal bodies, equal hashes, across URLs."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def word_count(body: str) -> int:
    return len(body.split())


# --- Boilerplate -----------------------------------------------------------------------------

#: Lines that are never article text, on ANTARA and most Indonesian news sites.
BOILERPLATE_PATTERNS: dict[str, re.Pattern[str]] = {
    "read_also": re.compile(
        r"^\s*(baca juga|simak juga|lihat juga|related news|read also)\b\s*:?", re.IGNORECASE
    ),
    "byline": re.compile(
        r"^\s*(pewarta|editor|uploader|penulis|reporter|fotografer|redaktur|penerjemah|translator)"
        r"\s*:",
        re.IGNORECASE,
    ),
    "copyright": re.compile(r"^\s*(copyright|hak cipta)\s*(©|\(c\)|&copy;)?", re.IGNORECASE),
    "legal_notice": re.compile(
        r"dilarang keras mengambil konten|tanpa izin tertulis dari kantor berita antara"
        r"|strictly prohibited to take content|without written permission from antara",
        re.IGNORECASE,
    ),
    "comments": re.compile(r"^\s*komentar\s*$", re.IGNORECASE),
    "ad_script": re.compile(r"adsbygoogle|googletag\.|document\.write\(", re.IGNORECASE),
}


def boilerplate_kind(paragraph: str) -> str | None:
    """The kind of boilerplate a paragraph is (a key of BOILERPLATE_PATTERNS), or None."""
    for kind, pattern in BOILERPLATE_PATTERNS.items():
        if pattern.search(paragraph):
            return kind
    return None


def strip_boilerplate(paragraphs: Iterable[str]) -> list[str]:
    return [p for p in paragraphs if boilerplate_kind(p) is None]


_DATELINE = re.compile(
    r"^(?P<place>[A-Z][^()\n]{0,60}?)\s*\((?:ANTARA|Antara)(?: News)?(?: Kalteng)?[^)]{0,30}\)"
    r"\s*[-\u2013\u2014]+\s*"
)


def split_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split "Palangka Raya (ANTARA) - text" into ("Palangka Raya", "text")."""
    match = _DATELINE.match(paragraph)
    if not match:
        return None, paragraph
    return clean_text(match.group("place")) or None, paragraph[match.end() :].strip()


_CAPTION_CREDIT = re.compile(r"^(?P<caption>.*?)\s*\((?P<credit>[^()]*[A-Za-z][^()]*)\)\s*\.?\s*$")
_CREDIT_PREFIX = re.compile(r"^(foto|photo|dok\.?|dokumentasi)\s*:?\s*", re.IGNORECASE)


def split_caption(text: str | None) -> tuple[str | None, str | None]:
    """Split a photo caption into (caption, credit) at its trailing "(Foto X/Y)".

    Only a trailing parenthesis that looks like a credit (it holds a "/" as in "ANTARA/Name",
    or starts with "Foto") is taken, so "Senin (26/1/2026)." stays part of the caption.
    """
    text = clean_text(text)
    if not text:
        return None, None
    match = _CAPTION_CREDIT.match(text)
    if match:
        credit = match.group("credit").strip()
        looks_like_credit = _CREDIT_PREFIX.match(credit) or (
            "/" in credit and not re.fullmatch(r"[\d/\s.-]+", credit)
        )
        if looks_like_credit:
            credit = _CREDIT_PREFIX.sub("", credit).strip()
            return clean_optional(match.group("caption")), credit or None
    return text, None


# --- People ----------------------------------------------------------------------------------

_NAME_LABEL = re.compile(
    r"^\s*(pewarta|editor|uploader|penulis|reporter|fotografer|redaktur|penerjemah|translator"
    r"|oleh|by)\s*:?\s*",
    re.IGNORECASE,
)
_NAME_SEPARATOR = re.compile(r"\s*(?:,|;|&|\bdan\b|\band\b)\s*", re.IGNORECASE)


def split_names(text: str | Iterable[str] | None) -> list[str]:
    """Names from "Pewarta: A, B dan C" (or a list of such strings), labels stripped."""
    if text is None:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    names: list[str] = []
    for part in parts:
        part = _NAME_LABEL.sub("", clean_text(part))
        names.extend(_NAME_SEPARATOR.split(part))
    return distinct(names)


_BYLINE_LABELS = "pewarta|editor|uploader|penulis|reporter|fotografer|penerjemah|translator"
_BYLINE_FIELD = re.compile(
    rf"(?P<label>{_BYLINE_LABELS})\s*:\s*"
    rf"(?P<value>.*?)\s*(?=(?:{_BYLINE_LABELS})\s*:"
    r"|copyright|hak cipta|$)",
    re.IGNORECASE | re.DOTALL,
)


def parse_byline(text: str) -> dict[str, str]:
    """Label → value from a byline block, even when the lines ran together.

    "Pewarta: A dan BEditor: CCOPYRIGHT © ANTARA" → {"pewarta": "A dan B", "editor": "C"}.
    """
    fields: dict[str, str] = {}
    for match in _BYLINE_FIELD.finditer(text):
        fields.setdefault(match.group("label").lower(), clean_text(match.group("value")))
    return fields


# --- URLs ------------------------------------------------------------------------------------

_TRACKING_PARAMS = re.compile(
    r"^(utm_\w*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|_ga|igshid|ref_src)$",
    re.IGNORECASE,
)
_AMP_PARAMS = {"amp", "outputtype", "output"}
_MOBILE_HOST_PREFIXES = ("m.", "amp.", "mobile.")


def canonical_url(url: str, base: str | None = None, *, force_https: bool = True) -> str:
    """The one URL an article is archived under.

    https, lower-case host without default port, no fragment, no tracking parameters,
    no trailing slash, and AMP/mobile variants (``m.`` host, ``/amp/`` prefix, ``/amp``
    suffix, ``?amp=1``, ``?outputType=amp``) mapped to the desktop URL.
    """
    if base:
        url = urljoin(base, url.strip())
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower() or "https"
    if force_https and scheme == "http":
        scheme = "https"
    host = (parts.hostname or "").lower().rstrip(".")
    for prefix in _MOBILE_HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    port = parts.port
    if port and not ((scheme == "https" and port == 443) or (scheme == "http" and port == 80)):
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if path.startswith("/amp/"):
        path = path[len("/amp") :]
    path = re.sub(r"/amp/?$", "", path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(key)
        and not (key.lower() in _AMP_PARAMS and value.lower() in {"", "1", "amp", "true"})
    ]
    return urlunsplit((scheme, host, path or "/", urlencode(query), ""))


# --- Whole records ---------------------------------------------------------------------------


def normalize_article(
    article: Article, *, default_tz: str = "Asia/Jakarta", problems: list[str] | None = None
) -> Article:
    """Bring an Article to the archive's normal form; idempotent.

    Site parsers already return mostly clean values; this is the one place that guarantees
    the schema's invariants for every source: encodable NFC text, canonical URL, UTC datetimes
    within the plausible window (others become None), split names, distinct tags, a body free
    of boilerplate, and hash/word count of the final body. A value given but discarded is
    reported by appending a stats key to ``problems`` (``dates/out_of_range/<field>``).
    """
    if article.url:
        article.url = canonical_url(scrub_text(article.url))
    for name in _OPTIONAL_TEXT_FIELDS:
        setattr(article, name, clean_optional(getattr(article, name)))
    paragraphs = strip_boilerplate(split_paragraphs(article.body))
    if paragraphs:
        dateline, first = split_dateline(paragraphs[0])
        if dateline:
            article.dateline = article.dateline or dateline
            paragraphs[0] = first
    article.body = join_paragraphs(paragraphs) or None
    article.authors = split_names(article.authors)
    article.editors = split_names(article.editors)
    article.tags = distinct(article.tags)
    if article.published_at is None and article.published_at_raw:
        # A raw date out of range was already reported by whoever parsed it.
        article.published_at = parse_date(article.published_at_raw, default_tz=default_tz)
    for name in ("published_at", "modified_at"):
        value = getattr(article, name)
        if value is None:
            continue
        result = (
            parse_date_checked(value, default_tz=default_tz)
            if isinstance(value, str)
            else plausible(value, default_tz=default_tz)
        )
        setattr(article, name, result.value)
        if result.problem == OUT_OF_RANGE and problems is not None:
            problems.append(stats_keys.date_out_of_range(name))
    crawled = article.crawled_at
    if isinstance(crawled, str):
        crawled = parse_date(crawled, default_tz=default_tz)
    article.crawled_at = _utc_or_none(crawled, default_tz) if crawled else None
    image_url = clean_optional(article.image_url)
    article.image_url = urljoin(article.url, image_url) if image_url and article.url else image_url
    if article.body:
        article.word_count = word_count(article.body)
        article.content_hash = content_hash(article.body)
    else:
        article.word_count, article.content_hash = 0, None
    return article


def _utc_or_none(value: datetime, default_tz: str) -> datetime | None:
    try:
        return to_utc(value, default_tz)
    except (OverflowError, ValueError):  # a local time within a day of datetime.min/max
        return None


_OPTIONAL_TEXT_FIELDS = (
    "source",
    "site_name",
    "region",
    "language",
    "title",
    "description",
    "dateline",
    "published_at_raw",
    "uploader",
    "category",
    "image_caption",
    "image_credit",
)
