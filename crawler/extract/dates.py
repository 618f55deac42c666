"""Dates as Indonesian news pages write them, read into aware UTC datetimes.

Pure functions, like the rest of the normalisers: a date that cannot be read, or that falls
outside the window a news archive can hold (:data:`EARLIEST_DATE` to now +
:data:`FUTURE_TOLERANCE`), comes back as ``None``; :func:`parse_date_checked` also says which of
the two it was, so a caller with stats can count implausible dates.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import NamedTuple, overload
from zoneinfo import ZoneInfo

from crawler.extract.text import clean_text

#: No page of a news site the archive covers predates this; a year 0001 or 1000 on a page is
#: a CMS default or a typo, never a publication date.
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
#: How far past "now" a date may lie: time zones and clock skew, not scheduled stories years
#: ahead (a pubDate of 9999 is a placeholder).
FUTURE_TOLERANCE = timedelta(days=2)

#: ``DateResult.problem`` values.
UNPARSEABLE = "unparseable"
OUT_OF_RANGE = "out_of_range"


class DateResult(NamedTuple):
    """A parsed date, or ``None`` and why (:data:`UNPARSEABLE` or :data:`OUT_OF_RANGE`)."""

    value: datetime | None
    problem: str | None = None


def date_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The (earliest, latest) plausible publication times, both inclusive, in UTC."""
    return EARLIEST_DATE, (now or datetime.now(UTC)).astimezone(UTC) + FUTURE_TOLERANCE


def plausible(
    value: datetime | None, *, now: datetime | None = None, default_tz: str = "UTC"
) -> DateResult:
    """``value`` in UTC if it lies in the window, else ``None`` with :data:`OUT_OF_RANGE`;
    a naive ``value`` is local time in ``default_tz``."""
    if value is None:
        return DateResult(None, UNPARSEABLE)
    try:
        value = to_utc(value, default_tz)
    except (OverflowError, ValueError):  # an aware datetime next to datetime.min/max
        return DateResult(None, OUT_OF_RANGE)
    earliest, latest = date_window(now)
    if not earliest <= value <= latest:
        return DateResult(None, OUT_OF_RANGE)
    return DateResult(value)


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
#: An offset as the English service prints it ("GMT+700"), or "GMT+07:00", "UTC+8".
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*(?P<sign>[+-])(?P<hours>\d{1,2}):?(?P<minutes>\d{2})?\b")
# Years take every digit there is: "1 Januari 10000" is the year 10000 (out of range), not
# the year 1000 followed by a stray "0".
_LONG_DATE = re.compile(
    r"(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]+)\.?\s+(?P<year>\d{4,})\b"
    r"(?:\s*[,|]?\s*(?:pukul\s+)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?)?",
    re.IGNORECASE,
)
#: English order, as en.antaranews.com writes it: "April 28, 2026 06:40".
_MONTH_FIRST_DATE = re.compile(
    r"\b(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4,})\b"
    r"(?:\s*[,|]?\s*(?:at\s+)?(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?)?",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(
    r"^(?P<day>\d{1,2})[/-](?P<month>\d{1,2})[/-](?P<year>\d{4,})"
    r"(?:\s+(?P<hour>\d{1,2})[:.](?P<minute>\d{2}))?$"
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_RFC_822 = re.compile(r"^(?:[A-Z][a-z]{2}, )?\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}")
_RELATIVE = re.compile(r"\b(lalu|yang lalu|kemarin|baru saja|ago)\b", re.IGNORECASE)


def _zone_for(text: str, default_tz: str) -> timezone | ZoneInfo:
    """The zone the text names (WIB/WITA/WIT, or a GMT offset), else ``default_tz``."""
    match = _ZONE.search(text)
    if match:
        return timezone(timedelta(hours=ZONE_OFFSETS[match.group(1)]))
    offset = _GMT_OFFSET.search(text)
    if offset:
        hours, minutes = int(offset.group("hours")), int(offset.group("minutes") or 0)
        if hours <= 14 and minutes < 60:
            sign = -1 if offset.group("sign") == "-" else 1
            return timezone(sign * timedelta(hours=hours, minutes=minutes))
    return ZoneInfo(default_tz)


def _from_parts(parts: dict[str, str | None], month: int, tz: timezone | ZoneInfo) -> datetime:
    """The local time the parts name; ValueError for impossible ones (year 10000, 31/2)."""
    return datetime(
        int(parts["year"] or 0),
        month,
        int(parts["day"] or 0),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        int(parts.get("second") or 0),
        tzinfo=tz,
    )


def to_utc(value: datetime, default_tz: str = "Asia/Jakarta") -> datetime:
    """An aware UTC datetime; naive values are taken as local time in ``default_tz``.

    Raises OverflowError for a local time within a day of ``datetime.min``/``max``, which has
    no UTC equivalent; :func:`plausible` turns that into an out-of-range date.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(default_tz))
    return value.astimezone(UTC)


def parse_date(
    text: str | None, *, now: datetime | None = None, default_tz: str = "Asia/Jakarta"
) -> datetime | None:
    """Parse a date as Indonesian news pages write it; an aware UTC datetime or None.

    None also for a date outside the plausible window (see :func:`parse_date_checked`).
    """
    return parse_date_checked(text, now=now, default_tz=default_tz).value


def parse_date_checked(
    text: str | None, *, now: datetime | None = None, default_tz: str = "Asia/Jakarta"
) -> DateResult:
    """Parse a date; the value if plausible, else None and why.

    Handles "Senin, 25 Maret 2019 16:42 WIB", "25/3/2019", ISO 8601 (JSON-LD), RFC 822 (RSS)
    and relative dates ("25 menit lalu", "kemarin", taken relative to ``now``). Times with
    WIB/WITA/WIT or a GMT offset ("April 28, 2026 06:40 GMT+700", English month-first order)
    are read in that zone; times without a zone are read in ``default_tz``.
    The common absolute forms are parsed by regex because dateparser costs milliseconds a call.
    A date outside :func:`date_window` is :data:`OUT_OF_RANGE`, as is one that Python's
    datetime cannot even hold (year 0, year 10000).
    """
    text = clean_text(text)
    if not text:
        return DateResult(None, UNPARSEABLE)
    try:
        local = _parse_local(text, now=now, default_tz=default_tz)
    except (OverflowError, _YearOutOfRange):  # dateparser overflows near year 1, too
        return DateResult(None, OUT_OF_RANGE)
    if local is None:
        return DateResult(None, UNPARSEABLE)
    return plausible(local, now=now, default_tz=default_tz)


class _YearOutOfRange(Exception):
    """A date whose parts are well formed but whose year no datetime can hold (not a
    ValueError, so the "impossible day" handlers below let it through)."""


def _checked_parts(parts: dict[str, str | None], month: int, tz: timezone | ZoneInfo) -> datetime:
    year = int(parts["year"] or 0)
    if not 1 <= year <= 9999:
        raise _YearOutOfRange(year)
    return _from_parts(parts, month, tz)


def _parse_local(text: str, *, now: datetime | None, default_tz: str) -> datetime | None:
    """The datetime ``text`` names, aware or naive (local to ``default_tz``), or None."""
    if _ISO_DATE.match(text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
    if _RFC_822.match(text):
        try:
            return parsedate_to_datetime(text)
        except (TypeError, ValueError):
            pass
    tz = _zone_for(text, default_tz)
    numeric = _NUMERIC_DATE.match(text)
    if numeric:
        try:
            return _checked_parts(numeric.groupdict(), int(numeric.group("month")), tz)
        except ValueError:
            return None
    long_date = _LONG_DATE.search(text)
    if long_date:
        month = _MONTHS.get(long_date.group("month").lower())
        if month:
            try:
                return _checked_parts(long_date.groupdict(), month, tz)
            except ValueError:
                return None
    for month_first in _MONTH_FIRST_DATE.finditer(text):
        month = _MONTHS.get(month_first.group("month").lower())
        if month:
            try:
                return _checked_parts(month_first.groupdict(), month, tz)
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
    named_zone = _ZONE.search(text) or _GMT_OFFSET.search(text)
    tz = _zone_for(text, default_tz)
    text = _GMT_OFFSET.sub("", _ZONE.sub("", text)).strip()
    parsed: datetime | None = dateparser.parse(text, languages=["id", "en"], settings=settings)
    if parsed is not None and named_zone and not _RELATIVE.search(text):
        # The zone on the page wins over the default dateparser was given.
        parsed = parsed.replace(tzinfo=tz)
    return parsed


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
    # isoformat, not strftime: strftime writes the year 999 as "999", which no reader parses.
    text = value.replace(tzinfo=None).isoformat(timespec="seconds")
    millis = value.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"
