"""Search arguments -> a MongoDB filter plus the checks the server cannot do, validated.

Everything a caller passes is checked here, before any query is built, and refused with
:class:`ArchiveQueryError` (a ``ValueError``): a limit the server cannot encode, text that is
not valid Unicode (``python -m crawler`` hands undecodable argv bytes over as lone
surrogates), text longer than :data:`MAX_TEXT_LENGTH`, a URL that cannot be parsed. So a bad
argument is one clear error, never an ``OverflowError`` from BSON or an ``OperationFailure``
from the server.

User input only ever becomes a *value* in a query document, never a key, and text reaches
``$regex`` only through :mod:`crawler.archive.text_match`; search text reaches the server only
as words (:mod:`crawler.archive.search_terms`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from crawler.archive.search_terms import TextQuery
from crawler.archive.text_match import LiteralMatch
from crawler.extract.normalize import canonical_url

Record = dict[str, Any]
#: Longest ``text``, ``author``, ``tag`` or ``source`` accepted, in characters. A headline is
#: ~100; beyond this a query is a mistake (a pasted file), and a 100 KB one used to cost the
#: server hundreds of MB before it was refused.
MAX_TEXT_LENGTH = 1000
#: Longest URL ``get`` looks up (Scrapy refuses URLs over 2,083 characters by default).
MAX_URL_LENGTH = 100_000
#: Largest ``limit``: the find command's limit is a BSON int64 (on MongoDB and SecantusDB).
MAX_LIMIT = 2**63 - 1
_UTC_MIN = datetime.min.replace(tzinfo=UTC)
_UTC_MAX = datetime.max.replace(tzinfo=UTC)


class ArchiveQueryError(ValueError):
    """A search argument the archive cannot answer (CLI exit code 2); the message says why."""


def check_text(value: object, what: str = "search text", max_length: int = MAX_TEXT_LENGTH) -> str:
    """``value`` as a str that can be sent to the server, else :class:`ArchiveQueryError`."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates: what Python makes of argv bytes that are not UTF-8.
        raise ArchiveQueryError(f"{what} is not valid UTF-8: {text!r}") from None
    if len(text) > max_length:
        raise ArchiveQueryError(f"{what} too long (max {max_length} characters)")
    return text


def check_limit(limit: object) -> int | None:
    """``limit`` as an int in 0..:data:`MAX_LIMIT` (None: no limit)."""
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ArchiveQueryError(f"limit must be an integer, not {limit!r}")
    if not 0 <= limit <= MAX_LIMIT:
        raise ArchiveQueryError(f"limit must be between 0 and {MAX_LIMIT}, not {limit}")
    return limit


def url_candidates(url: object) -> list[str]:
    """The URLs to look ``url`` up under: its canonical form, then as given (stripped)."""
    text = check_text(url, "URL", max_length=MAX_URL_LENGTH)
    if not text.strip():
        raise ArchiveQueryError("not a valid URL: ''")
    try:
        canonical = canonical_url(text)
    except ValueError as exc:  # urlsplit: "Invalid IPv6 URL", a port out of range, ...
        raise ArchiveQueryError(f"not a valid URL: {text!r} ({exc})") from None
    return list(dict.fromkeys((canonical, text.strip())))


def parse_when(value: str | date | datetime, *, end: bool = False) -> tuple[datetime, bool]:
    """A bound for ``published_at``: (UTC datetime, inclusive).

    A bare date means the whole day: as ``since`` it starts at 00:00 UTC, as ``until`` (``end``)
    it includes the day (exclusive bound at the next midnight). Naive datetimes are UTC.
    Bounds beyond what a datetime can hold in UTC (``9999-12-31`` as ``until``,
    ``0001-01-01T00:00+01:00``) are clamped to the first/last representable instant.
    Raises ``ValueError`` (:class:`ArchiveQueryError`) for text that is neither
    ``YYYY-MM-DD`` nor ISO 8601.
    """
    if not isinstance(value, (str, date)):
        raise ArchiveQueryError(f"a date must be text, a date or a datetime, not {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                value = date.fromisoformat(text)
            else:
                value = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ArchiveQueryError(f"{text!r} is not YYYY-MM-DD or an ISO 8601 datetime") from None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            return aware.astimezone(UTC), True
        except OverflowError:  # within a day of year 1 or 9999, shifted out by its offset
            return (_UTC_MIN if aware.year == 1 else _UTC_MAX), True
    midnight = datetime.combine(value, time(), tzinfo=UTC)
    if not end:
        return midnight, True
    try:
        return midnight + timedelta(days=1), False
    except OverflowError:  # until 9999-12-31: every instant there is
        return _UTC_MAX, True


@dataclass
class SearchFilter:
    """The server's filter, the search text, and the checks left for Python.

    ``conditions`` never holds the text: :class:`~crawler.archive.query.Archive` answers it
    from the word index (:mod:`crawler.archive.search_terms`) and checks ``text`` on every
    record. ``checks`` holds what one server regex could not say (a long ``author``).
    """

    conditions: Record
    checks: list[Callable[[Mapping[str, Any]], bool]] = field(default_factory=list)
    text: TextQuery | None = None
    #: One record per story: the caller adds the check (it needs the database).
    unique: bool = False

    def apply(self, records: Iterable[Mapping[str, Any]]) -> Iterator[Any]:
        """``records`` that pass the text and every check."""
        text = self.text
        if not self.checks and text is None:
            yield from records
            return
        for doc in records:
            if (text is None or text.matches(doc)) and all(check(doc) for check in self.checks):
                yield doc


def build_filter(
    text: str | None = None,
    source: str | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    tag: str | None = None,
    author: str | None = None,
    unique: bool = False,
) -> SearchFilter:
    """The filter for :meth:`crawler.archive.query.Archive.search`'s arguments (semantics there).

    A blank ``text`` is no condition; one with no word in it (``".*"``, ``"!!"``) is refused.
    """
    result = SearchFilter({})
    conditions = result.conditions
    if text is not None and check_text(text).strip():
        result.text = TextQuery.parse(text)
        if result.text is None:
            raise ArchiveQueryError(f"no word to search for in {text!r} (letters or digits)")
    if source is not None:
        conditions["source"] = check_text(source, "source")
    if tag is not None:
        conditions["tags"] = check_text(tag, "tag")
    if author is not None:
        by = LiteralMatch.of(check_text(author, "author"))
        # An empty author text still means "has an author" (every name contains ""), as before.
        conditions["authors"] = by.server_condition() if by else {"$regex": "", "$options": "i"}
        if by is not None and not by.exact:
            result.checks.append(lambda doc: by.matches(doc.get("authors")))
    published: Record = {}
    if since is not None:
        bound, inclusive = parse_when(since)
        published["$gte" if inclusive else "$gt"] = bound
    if until is not None:
        bound, inclusive = parse_when(until, end=True)
        published["$lte" if inclusive else "$lt"] = bound
    if published:
        conditions["published_at"] = published
    result.unique = unique
    return result
