"""Read side of the archive for data teams: search, get, history, statistics and exports.

:class:`Archive` is what notebooks and the CLI (``python -m crawler``) use. It opens the archive
as the crawler does (explicit argument, else ``MONGO_URI``, else the embedded SecantusDB server
under ``DATA_DIR``) and never writes articles; its only write is creating a text index on
servers that support one.

Safe queries: user input only ever becomes a *value* in a query document, never a key, and text
only reaches ``$regex`` through :func:`~crawler.archive.text_match.literal_pattern`, which
escapes every
character that is not a letter or digit. ``search("$where")``, ``search(".*")`` and
``tag='{"$gt": ""}'`` find the literal strings, nothing else. Arguments are validated first
(:mod:`crawler.archive.query_filter`): a bad one raises :class:`ArchiveQueryError`, a
``ValueError``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

from crawler import settings
from crawler.archive.export import RECORD_FIELDS, ProgressCallback, write_records

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
from crawler.archive.server import EmbeddedServer, EmbeddedServerError, resolve_mongo_uri
from crawler.archive.store import ARTICLE_VERSIONS, ARTICLES, connect
from crawler.archive.stories import READ_PROJECTION, first_of_each_story
from crawler.archive.tally import STATS_GROUPS as STATS_GROUPS
from crawler.archive.tally import ArchiveStats as ArchiveStats
from crawler.archive.tally import Tally as Tally
from crawler.archive.text_match import fold as fold
from crawler.archive.text_match import literal_pattern as literal_pattern

if TYPE_CHECKING:
    import pandas

logger = logging.getLogger(__name__)

Record = dict[str, Any]
TEXT_INDEX_NAME = "title_body_text"
#: Documents fetched per round trip when streaming; large enough to amortise latency, small
#: enough that memory stays flat (a record is a few KB).
CURSOR_BATCH = 1000
_DATETIME_FIELDS = ("published_at", "modified_at", "crawled_at", "first_seen_at", "last_seen_at")


class ArchiveUnavailableError(ConnectionError):
    """The archive's server could not be reached or started (CLI exit code 3)."""


class Archive:
    """The archive, read-only: ``with Archive.connect() as archive: archive.search("banjir")``."""

    def __init__(self, db: Database[Record], server: EmbeddedServer | None = None) -> None:
        self.db = db
        self.server = server
        self._text_index: bool | None = None

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

    def has_text_index(self) -> bool:
        """Whether ``$text`` can narrow searches; detected (and created if possible) once.

        SecantusDB has no text indexes; a real MongoDB gets one on title and body with
        language "none" (no English stemming or stop words for Indonesian text).
        """
        if self._text_index is None:
            self._text_index = self._detect_text_index()
            logger.debug("Text index available: %s", self._text_index)
        return self._text_index

    def _detect_text_index(self) -> bool:
        collection = self.db[ARTICLES]
        try:
            for index in collection.list_indexes():
                if "_fts" in index["key"] and {"title", "body"} <= set(index.get("weights", {})):
                    return True
            collection.create_index(
                [("title", "text"), ("body", "text")],
                name=TEXT_INDEX_NAME,
                default_language="none",
            )
            return True
        except OperationFailure as exc:
            logger.info("No text index (%s); text search scans title and body", exc.details)
            return False

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
        """The MongoDB filter for these search arguments (see :meth:`search`).

        For a ``text`` or ``author`` too long for one server regex (SecantusDB), the filter
        holds a prefix of it only: :meth:`search` checks the rest on what the server returns;
        ``unique`` too is applied by :meth:`search`, not by this filter.
        """
        search = build_filter(text, source, since, until, tag, author, unique, self.has_text_index)
        return search.conditions

    def _filter(self, *args: Any, **kwargs: Any) -> SearchFilter:
        """:func:`build_filter` for :meth:`search`'s arguments, on this archive's server."""
        kwargs["text_index"] = self.has_text_index
        search = build_filter(*args, **kwargs)
        if search.unique:
            text = ("title", "body", "authors") if search.checks else ()
            firsts = first_of_each_story(self.db[ARTICLES], search.conditions, search.apply, text)
            search.checks.append(lambda doc: doc.get("url") in firsts)
        return search

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

        ``text`` matches title or body as a literal substring, case- and accent-insensitive
        ("kafe" finds "Kafé"); whitespace in it matches any whitespace. Where the server has a
        text index, it also narrows the scan, so a record must additionally contain at least
        one of the query's words as a *whole word* (MongoDB's tokenizer); without one
        (SecantusDB) any substring matches ("kafe" also finds "kafetaria"). ``tag`` and
        ``source`` match exactly; ``author`` is a case- and accent-insensitive substring of
        any author; ``since``/``until`` bound ``published_at`` (dates are whole UTC days);
        ``unique`` keeps one record per story: of the records that match, the first archived.

        ``text``, ``author``, ``tag`` and ``source`` are at most :data:`MAX_TEXT_LENGTH`
        characters, ``limit`` is 0 to :data:`MAX_LIMIT`. A bad argument raises
        :class:`ArchiveQueryError` (a ``ValueError``) at the call, before any query runs.
        """
        checked_limit = check_limit(limit)
        search = self._filter(text, source, since, until, tag, author, unique)
        return self._stream(search, checked_limit)

    def _stream(self, search: SearchFilter, limit: int | None) -> Iterator[Record]:
        if limit == 0:
            return
        cursor = self.db[ARTICLES].find(search.conditions, READ_PROJECTION, batch_size=CURSOR_BATCH)
        cursor = cursor.sort("published_at", -1)
        if limit is not None and not search.checks:
            # With checks left for Python the server cannot tell which records count.
            cursor = cursor.limit(limit)
        with cursor:
            yield from islice(search.apply(cursor), limit)

    def count(self, **filters: Any) -> int:
        """Number of records :meth:`search` would yield without a limit."""
        search = self._filter(**filters)
        if not search.checks:
            return self.db[ARTICLES].count_documents(search.conditions)
        fields = {"_id": 0, "url": 1, "title": 1, "body": 1, "authors": 1}
        with self.db[ARTICLES].find(search.conditions, fields, batch_size=CURSOR_BATCH) as cursor:
            return sum(1 for _ in search.apply(cursor))

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
    ) -> Tally:
        """Every count :meth:`stats` and the report need, in one pass over a projection.

        One streamed scan instead of one aggregation per figure: on SecantusDB a ``$group``
        evaluating a ``$cond`` per field costs ~70 µs per record and field (8 s for 5k records),
        while this scan, with ``body`` cut to its first character on the server, reads 100k
        records in ~10 s. Memory holds only counters.
        """
        projection: Record = {name: 1 for name in RECORD_FIELDS if name != "body"}
        projection.update(_id=0, body={"$substrCP": [{"$ifNull": ["$body", ""]}, 0, 1]})
        match = self.query(since=since, until=until, source=source)
        result = Tally()
        with self.db[ARTICLES].find(match, projection, batch_size=CURSOR_BATCH) as cursor:
            for doc in cursor:
                result.add(doc)
        return result

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
        Groups: days in date order, the others largest first.
        """
        if by not in STATS_GROUPS:
            raise ArchiveQueryError(f"by must be one of {', '.join(STATS_GROUPS)}")
        counts = self.tally(since, until, source)
        multi = sum(len(desks) > 1 for desks in counts.story_sources.values())
        return ArchiveStats(
            counts.total, counts.duplicates, by, counts.ordered(by), counts.coverage(), multi
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
        return write_records(self.search(**filters), Path(out), format, progress)
