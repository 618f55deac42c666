"""Shared normalisers: small pure functions every site parser and pipeline calls.

Nothing here knows about Scrapy or about a particular site. Each function takes plain values
and returns plain values, so it can be tested on its own and reused when re-parsing the archive.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import overload
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from crawler.items import Article

# --- Text ------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
# Zero-width characters and soft hyphens survive copy-paste from CMS editors; they are noise.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def clean_text(text: str | None) -> str:
    """Unescape entities, apply Unicode NFC, drop invisible characters, collapse whitespace."""
    if not text:
        return ""
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


def clean_optional(text: str | None) -> str | None:
    """``clean_text`` that maps empty results to ``None`` (for optional fields)."""
    cleaned = clean_text(text)
    return cleaned or None


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


def decode_html(body: bytes, declared_encoding: str | None) -> str:
    """Decode a page, trusting valid UTF-8 over a declared encoding.

    Servers often declare ``iso-8859-1`` for pages that are really UTF-8; decoding those
    bytes as Latin-1 silently produces mojibake ("â€œ"). Strict UTF-8 almost never succeeds
    on text that is not UTF-8, so it is the safer first guess.
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return body.decode(declared_encoding or "cp1252", errors="replace")
    except LookupError:
        return body.decode("cp1252", errors="replace")


# --- Boilerplate -----------------------------------------------------------------------------

#: Lines that are never article text, on ANTARA and most Indonesian news sites.
BOILERPLATE_PATTERNS: dict[str, re.Pattern[str]] = {
    "read_also": re.compile(r"^\s*(baca juga|simak juga|lihat juga)\b\s*:?", re.IGNORECASE),
    "byline": re.compile(
        r"^\s*(pewarta|editor|uploader|penulis|reporter|fotografer|redaktur)\s*:", re.IGNORECASE
    ),
    "copyright": re.compile(r"^\s*(copyright|hak cipta)\s*(©|\(c\)|&copy;)?", re.IGNORECASE),
    "legal_notice": re.compile(
        r"dilarang keras mengambil konten|tanpa izin tertulis dari kantor berita antara",
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
    r"^\s*(pewarta|editor|uploader|penulis|reporter|fotografer|redaktur|oleh|by)\s*:?\s*",
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


_BYLINE_FIELD = re.compile(
    r"(?P<label>pewarta|editor|uploader|penulis|reporter|fotografer)\s*:\s*"
    r"(?P<value>.*?)\s*(?=(?:pewarta|editor|uploader|penulis|reporter|fotografer)\s*:"
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


# --- Dates -----------------------------------------------------------------------------------

#: Indonesian time zone abbreviations; WITA must be tried before WIT.
ZONE_OFFSETS = {"WIB": 7, "WITA": 8, "WIT": 9}
_MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "pebruari": 2, "maret": 3, "mar": 3,
    "april": 4, "apr": 4, "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7,
    "agustus": 8, "agu": 8, "agt": 8, "ags": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10, "oct": 10, "november": 11, "nov": 11, "nopember": 11,
    "desember": 12, "des": 12, "dec": 12, "may": 5, "june": 6, "july": 7, "august": 8,
    "october": 10, "december": 12, "january": 1, "february": 2, "march": 3,
}  # fmt: skip
_ZONE = re.compile(r"\b(WITA|WIB|WIT)\b")
_LONG_DATE = re.compile(
    r"(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]+)\.?\s+(?P<year>\d{4})"
    r"(?:\s*[,|]?\s*(?:pukul\s+)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?)?",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(
    r"^(?P<day>\d{1,2})[/-](?P<month>\d{1,2})[/-](?P<year>\d{4})"
    r"(?:\s+(?P<hour>\d{1,2})[:.](?P<minute>\d{2}))?$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_RFC_822 = re.compile(r"^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}")
_RELATIVE = re.compile(r"\b(lalu|yang lalu|kemarin|baru saja|ago)\b", re.IGNORECASE)


def _zone_for(text: str, default_tz: str) -> timezone | ZoneInfo:
    match = _ZONE.search(text)
    if match:
        return timezone(timedelta(hours=ZONE_OFFSETS[match.group(1)]))
    return ZoneInfo(default_tz)


def _from_parts(parts: dict[str, str | None], month: int, tz: timezone | ZoneInfo) -> datetime:
    local = datetime(
        int(parts["year"] or 0),
        month,
        int(parts["day"] or 0),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        int(parts.get("second") or 0),
        tzinfo=tz,
    )
    return local.astimezone(UTC)


def to_utc(value: datetime, default_tz: str = "Asia/Jakarta") -> datetime:
    """An aware UTC datetime; naive values are taken as local time in ``default_tz``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz))
    return value.astimezone(UTC)


def parse_date(
    text: str | None, *, now: datetime | None = None, default_tz: str = "Asia/Jakarta"
) -> datetime | None:
    """Parse a date as Indonesian news pages write it; return an aware UTC datetime or None.

    Handles "Senin, 25 Maret 2019 16:42 WIB", "25/3/2019", ISO 8601 (JSON-LD), RFC 822 (RSS)
    and relative dates ("25 menit lalu", "kemarin", taken relative to ``now``). Times with
    WIB/WITA/WIT are read in that zone; times without a zone are read in ``default_tz``.
    The common absolute forms are parsed by regex because dateparser costs milliseconds a call.
    """
    text = clean_text(text)
    if not text:
        return None
    try:
        if _ISO_DATE.match(text):
            return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")), default_tz)
    except ValueError:
        pass
    if _RFC_822.match(text):
        try:
            return to_utc(parsedate_to_datetime(text), default_tz)
        except (TypeError, ValueError):
            pass
    tz = _zone_for(text, default_tz)
    numeric = _NUMERIC_DATE.match(text)
    if numeric:
        try:
            return _from_parts(numeric.groupdict(), int(numeric.group("month")), tz)
        except ValueError:
            return None
    long_date = _LONG_DATE.search(text)
    if long_date:
        month = _MONTHS.get(long_date.group("month").lower())
        if month:
            try:
                return _from_parts(long_date.groupdict(), month, tz)
            except ValueError:
                return None
    return _parse_with_dateparser(text, now=now, default_tz=default_tz)


def _parse_with_dateparser(text: str, *, now: datetime | None, default_tz: str) -> datetime | None:
    import dateparser  # imported lazily: it takes a second to load its language data

    settings: dict[str, object] = {
        "TIMEZONE": default_tz,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "DATE_ORDER": "DMY",
        "PREFER_DATES_FROM": "past",
    }
    if _RELATIVE.search(text):
        base = now or datetime.now(UTC)
        # dateparser wants a naive base in the target zone.
        settings["RELATIVE_BASE"] = (
            to_utc(base).astimezone(ZoneInfo(default_tz)).replace(tzinfo=None)
        )
    text = _ZONE.sub("", text).strip()
    parsed = dateparser.parse(text, languages=["id", "en"], settings=settings)
    return to_utc(parsed, default_tz) if parsed else None


@overload
def iso_utc(value: datetime) -> str: ...
@overload
def iso_utc(value: None) -> None: ...
def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a "Z" suffix, the archive's text form of a datetime; milliseconds
    (all BSON keeps) only when there are some."""
    if value is None:
        return None
    value = to_utc(value, "UTC")
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


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


def normalize_article(article: Article, *, default_tz: str = "Asia/Jakarta") -> Article:
    """Bring an Article to the archive's normal form; idempotent.

    Site parsers already return mostly clean values; this is the one place that guarantees
    the schema's invariants for every source: NFC text, canonical URL, UTC datetimes, split
    names, distinct tags, a body free of boilerplate, and hash/word count of the final body.
    """
    if article.url:
        article.url = canonical_url(article.url)
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
        article.published_at = parse_date(article.published_at_raw, default_tz=default_tz)
    for name in ("published_at", "modified_at", "crawled_at"):
        value = getattr(article, name)
        if isinstance(value, str):
            value = parse_date(value, default_tz=default_tz)
        setattr(article, name, to_utc(value, default_tz) if value else None)
    if article.image_url and article.url:
        article.image_url = urljoin(article.url, article.image_url.strip())
    if article.body:
        article.word_count = word_count(article.body)
        article.content_hash = content_hash(article.body)
    else:
        article.word_count, article.content_hash = 0, None
    return article


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
