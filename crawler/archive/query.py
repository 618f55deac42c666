"""Read side of the archive for data teams: search, get, history, statistics and exports.

:class:`Archive` is what notebooks and the CLI (``python -m crawler``) use. It opens the archive
as the crawler does (explicit argument, else ``MONGO_URI``, else the embedded SecantusDB server
under ``DATA_DIR``) and never writes.

Word searches are answered from the archive's word index (:mod:`crawler.archive.search_terms`),
the same on SecantusDB and MongoDB, and checked exactly on each record. Safe queries: user input
only ever becomes a *value* in a query document, never a key; search text reaches the server
only as folded words, and other text reaches ``$regex`` only through
:func:`~crawler.archive.text_match.literal_pattern`, which escapes every character that is not
a letter or digit: ``tag='{"$gt": ""}'`` and ``author=".*"`` find the literal strings, nothing
else. Arguments are validated first (:mod:`crawler.archive.query_filter`): a bad one raises
:class:`ArchiveQueryError`, a ``ValueError``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pymongo.database import Database
from pymongo.errors import PyMongoError

from crawler import settings
from crawler.archive import counts_read, search_terms
from crawler.archive.export import (
    EXPORT_PROJECTION,
    RECORD_FIELDS,
    ProgressCallback,
    write_records,
)

# The ``name as name`` imports are re-exports: defined here first, notebooks import them here.
from crawler.archive.query_filter import MAX_LIMIT as MAX_LIMIT
from crawler.archive.query_filter import MAX_TEXT_LENGTH as MAX_TEXT_LENGTH
from crawler.archive.query_filter import (
    ArchiveQueryError,
    SearchFilter,
    build_filter,
    check_limit,
    url_candidates,
)
from crawler.archive.query_filter import parse_when as parse_when
from crawler.archive.read_ahead import read_ahead
from crawler.archive.server import EmbeddedServer, EmbeddedServerError, resolve_mongo_uri
from crawler.archive.store import ARTICLE_VERSIONS, ARTICLES, connect
from crawler.archive.stories import READ_PROJECTION, first_of_each_story
from crawler.archive.tally import STATS_GROUPS as STATS_GROUPS
from crawler.archive.tally import ArchiveStats as ArchiveStats
from crawler.archive.tally import Tally as Tally
from crawler.archive.text_match import LiteralMatch
from crawler.archive.text_match import fold as fold
from crawler.archive.text_match import literal_pattern as literal_pattern
from crawler.archive.windowed import find_windowed, split_projection, stripped

if TYPE_CHECKING:
    import pandas

logger = logging.getLogger(__name__)

Record = dict[str, Any]
#: Articles fetched per ``url $in`` query of a word search: SecantusDB compares each returned
#: document's URL with the list one by one, so a long list costs more than a round trip.
FETCH_CHUNK = 50
_DATETIME_FIELDS = ("published_at", "modified_at", "crawled_at", "first_seen_at", "last_seen_at")


class ArchiveUnavailableError(ConnectionError):
    """The archive's server could not be reached or started (CLI exit code 3)."""


class Archive:
    """The archive, read-only: ``with Archive.connect() as archive: archive.search("banjir")``."""

    def __init__(self, db: Database[Record], server: EmbeddedServer | None = None) -> None:
        self.db = db
        self.server = server
        self._index_ready: bool | None = None

    @classmethod
    def connect(
        cls,
        uri: str | None = None,
        database: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        timeout_ms: int = 10_000,
    ) -> Archive:
        """Open the archive the way the crawler does.

        ``uri``, else env ``MONGO_URI``, else the embedded server for ``data_dir`` (else env
        ``DATA_DIR``, else ``./data``), started if none runs. ``database`` defaults to env
        ``MONGO_DATABASE`` or ``news_archive``. Pings once so an unreachable server fails here,
        with :class:`ArchiveUnavailableError`, not in the middle of a loop.
        """
        uri = uri or os.environ.get("MONGO_URI") or None
        data_dir = data_dir or os.environ.get("DATA_DIR") or settings.DATA_DIR
        database = database or os.environ.get("MONGO_DATABASE") or settings.MONGO_DATABASE
        try:
            resolved, server = resolve_mongo_uri(uri, data_dir)
        except (EmbeddedServerError, OSError) as exc:
            raise ArchiveUnavailableError(
                f"cannot start the embedded archive server: {exc}"
            ) from exc
        db = connect(resolved, database, timeout_ms=timeout_ms)
        try:
            db.command("ping")
        except PyMongoError as exc:
            db.client.close()
            if server is not None:
                server.release()
            raise ArchiveUnavailableError(f"archive server unreachable: {exc}") from exc
        return cls(db, server)

    def close(self) -> None:
        """Close the client and release the embedded server (it stops once no client uses it)."""
        self.db.client.close()
        if self.server is not None:
            self.server.release()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- Search ------------------------------------------------------------------------------

    def query(
        self,
        text: str | None = None,
        source: str | None = None,
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
        tag: str | None = None,
        author: str | None = None,
        unique: bool = False,
    ) -> Record:
        """The MongoDB filter for the arguments other than ``text`` (see :meth:`search`).

        ``text`` is answered from the word index and checked in Python, ``unique`` by
        :meth:`search`: neither is part of this filter (a too long ``author`` only in part).
        """
        return build_filter(text, source, since, until, tag, author, unique).conditions

    def search_index_ready(self) -> bool:
        """Whether word searches use the index (else they scan; ``reindex`` builds it)."""
        if self._index_ready is None:
            self._index_ready = search_terms.index_ready(self.db)
            if not self._index_ready:
                logger.warning(
                    "This archive has no complete word index: searches scan every record. "
                    "Build it once with: python -m crawler reindex"
                )
        return self._index_ready

    def _filter(self, *args: Any, **kwargs: Any) -> SearchFilter:
        """:func:`build_filter` for :meth:`search`'s arguments, ``unique`` resolved."""
        search = build_filter(*args, **kwargs)
        if search.unique:
            fields = ["url", "story_id", "duplicate_of", "first_seen_at", "authors"]
            if search.text is not None:
                fields += ["title", "body"]
            firsts = first_of_each_story(self._matching(search, dict.fromkeys(fields, 1)))
            search.checks.append(lambda doc: doc.get("url") in firsts)
        return search

    def _matching(self, search: SearchFilter, projection: Mapping[str, Any]) -> Iterator[Record]:
        """Every record matching ``search`` (``projection`` must keep what its checks read),
        newest ``published_at`` first: from the word index when there is a text, else one
        query."""
        articles = self.db[ARTICLES]
        projection = {"_id": 0, **projection}
        if search.text is None:
            yield from search.apply(self._windowed(search.conditions, projection))
            return
        if not self.search_index_ready():
            yield from search.apply(self._scan_for_words(search, projection))
            return
        published = search.conditions.get("published_at")
        found = search_terms.candidates(
            self.db, search.text, search.conditions.get("source"), published
        )

        def fetch(urls: list[str]) -> Iterable[Record]:
            # url first: SecantusDB then looks the URLs up on their index; with another
            # condition first it took that one's index (20x slower; a hint was slower too).
            condition = {"url": {"$in": urls}, **search.conditions}
            fetch, dropped = split_projection(_including(projection, "url"))
            return stripped(articles.find(condition, fetch), dropped)

        ordered = search_terms.fetch_in_order(fetch, (url for url, _ in found), FETCH_CHUNK)
        yield from search.apply(ordered)

    def _scan_for_words(self, search: SearchFilter, projection: Mapping[str, Any]) -> Any:
        """Without the word index: the records containing the longest word as a substring
        (a necessary condition the server can check), for the exact check in Python."""
        assert search.text is not None
        longest = max(search.text.keys, key=len)
        pattern = LiteralMatch.of(longest)
        conditions = dict(search.conditions)
        if pattern is not None:
            condition = pattern.server_condition()
            conditions["$or"] = [{"title": condition}, {"body": condition}]
        return self._windowed(conditions, _including(projection, "title", "body"))

    def _windowed(
        self, conditions: Mapping[str, Any], projection: Mapping[str, Any]
    ) -> Iterator[Record]:
        """The records matching ``conditions``, newest first, read a window of dates at a time
        (:mod:`crawler.archive.windowed`: one ``find`` of everything would make SecantusDB
        decode every record before the first one arrives)."""
        source = conditions.get("source")
        days = counts_read.day_counts(self.db, source if isinstance(source, str) else None)
        return find_windowed(self.db[ARTICLES], conditions, projection, days=days)

    def search(
        self,
        text: str | None = None,
        source: str | None = None,
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
        tag: str | None = None,
        author: str | None = None,
        unique: bool = False,
        limit: int | None = None,
    ) -> Iterator[Record]:
        """Yield matching records (without ``_id``), newest ``published_at`` first.

        ``text`` is words and quoted phrases, matched as whole words in the title or the body,
        ignoring case and accents ("kafe" finds "Kafé", not "kafetaria"); see
        :mod:`crawler.archive.search_terms` for the exact rules. A text without any letter or
        digit is refused. ``tag`` and ``source`` match exactly; ``author`` is a case- and
        accent-insensitive substring of any author; ``since``/``until`` bound ``published_at``
        (dates are whole UTC days); ``unique`` keeps one record per story: of the records
        that match, the first archived.

        ``text``, ``author``, ``tag`` and ``source`` are at most :data:`MAX_TEXT_LENGTH`
        characters, ``limit`` is 0 to :data:`MAX_LIMIT`. A bad argument raises
        :class:`ArchiveQueryError` (a ``ValueError``) at the call, before any query runs.
        """
        return self._records(
            READ_PROJECTION, limit, text, source, since, until, tag, author, unique
        )

    def _records(
        self, projection: Mapping[str, Any], limit: object, *args: Any, **kwargs: Any
    ) -> Iterator[Record]:
        """:meth:`search` with its fields named by ``projection``: arguments are checked
        here, before the caller starts iterating."""
        checked_limit = check_limit(limit)
        return self._stream(self._filter(*args, **kwargs), checked_limit, projection)

    def _stream(
        self,
        search: SearchFilter,
        limit: int | None,
        projection: Mapping[str, Any],
    ) -> Iterator[Record]:
        if limit == 0:
            return
        records = self._matching(search, projection)
        # The generator closes its cursor when the caller stops early.
        yield from islice(records, limit)

    def count(self, **filters: Any) -> int:
        """Number of records :meth:`search` would yield without a limit."""
        search = self._filter(**filters)
        if not search.checks and search.text is None:
            return self.db[ARTICLES].count_documents(search.conditions)
        fields = {"url": 1, "title": 1, "body": 1, "authors": 1}
        return sum(1 for _ in self._matching(search, fields))

    def to_dataframe(self, **filters: Any) -> pandas.DataFrame:
        """:meth:`search` as a pandas DataFrame, one row per record, datetimes UTC.

        pandas is optional: install it (``pip install pandas``) to use this.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise RuntimeError("pandas is needed for to_dataframe: pip install pandas") from exc
        frame = pd.DataFrame.from_records(list(self.search(**filters)), columns=RECORD_FIELDS)
        for name in _DATETIME_FIELDS:
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return frame

    # --- One article -------------------------------------------------------------------------

    def get(self, url: str) -> Record | None:
        """The current record for ``url`` (canonicalised first: AMP, ``m.``, utm_... all work).

        Raises :class:`ArchiveQueryError` for text that is no URL (``http://[::1``, "").
        """
        for candidate in url_candidates(url):
            doc = self.db[ARTICLES].find_one({"url": candidate}, READ_PROJECTION)
            if doc is not None:
                return doc
        return None

    def history(self, url: str) -> list[Record]:
        """Every version of ``url``, oldest first; the current record is last. ``[]`` if unknown."""
        current = self.get(url)
        if current is None:
            return []
        versions = self.db[ARTICLE_VERSIONS].find({"url": current["url"]}, READ_PROJECTION)
        return [*versions.sort("version", 1), current]

    # --- Statistics --------------------------------------------------------------------------

    def tally(
        self,
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
        source: str | None = None,
        groups: Iterable[str] = STATS_GROUPS,
        *,
        scan: bool = False,
    ) -> Tally:
        """Every count :meth:`stats` and the report need, for the records published in the
        window (of ``source``).

        From the counters the archive keeps as it writes (a few hundred small documents, see
        :mod:`crawler.archive.counts_read`) when they are valid for this archive, else (or
        with ``scan``) from one streamed scan of the matching records. ``groups`` says which
        groups are needed: ``tag`` (thousands of keys) is read from the counters only if named.
        """
        return counts_read.tally(self.db, since, until, source, groups, scan=scan)

    def stats(
        self,
        by: str = "source",
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
        source: str | None = None,
    ) -> ArchiveStats:
        """Counts per group, field coverage, duplicates and stories carried by several desks.

        ``by`` is one of ``day`` (UTC day of ``published_at``), ``source``, ``category``, ``tag``
        or ``author`` (a record counts once per tag/author it has). ``coverage`` maps every
        Article field to the share of records where it is non-empty (not null, "" or []).
        Groups: days in date order, the others largest first. ``multi_desk_stories``: the
        stories carried by more than one source that were first published in the window (with
        ``source``: those it carries), see :mod:`crawler.archive.story_counts`.
        """
        if by not in STATS_GROUPS:
            raise ArchiveQueryError(f"by must be one of {', '.join(STATS_GROUPS)}")
        counts = self.tally(since, until, source, groups=(by,))
        return ArchiveStats(
            counts.total,
            counts.duplicates,
            by,
            counts.ordered(by),
            counts.coverage(),
            counts.multi_desk,
        )

    # --- Export ------------------------------------------------------------------------------

    def export(
        self,
        out: str | os.PathLike[str],
        format: str = "jsonl",
        progress: ProgressCallback | None = None,
        **filters: Any,
    ) -> int:
        """Stream the records :meth:`search` yields into ``out``; return how many were written.

        Memory stays flat whatever the archive size (see :mod:`crawler.archive.export` for formats).
        """
        return write_records(
            read_ahead(self.export_records(**filters)), Path(out), format, progress
        )

    def export_records(self, limit: int | None = None, **filters: Any) -> Iterator[Record]:
        """What :meth:`export` writes: :meth:`search`'s records (same arguments), holding the
        exported fields only (:data:`~crawler.archive.export.RECORD_FIELDS`). They are asked of
        the server by name: SecantusDB spent ~35% less CPU a record than on whole records
        (100 and 115 µs against 162 and 173, measured on the 100k bench archive)."""
        return self._records(EXPORT_PROJECTION, limit, **filters)


def _including(projection: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """``projection`` that also returns ``names`` (an exclusion projection already does)."""
    if any(value for key, value in projection.items() if key != "_id"):
        return {**projection, **dict.fromkeys(names, 1)}
    return {key: value for key, value in projection.items() if key not in names}
