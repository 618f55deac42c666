"""Writing raw pages to ``pages`` without losing one.

The fields are described in :mod:`crawler.components.page_archive`; one document's fields are
built and read back by :mod:`crawler.archive.page_doc` (re-exported here).

Pure pymongo (no Scrapy); :class:`PageStore` runs in the page archive middleware's worker
thread, one call at a time.

- Writes are journaled (``j=True``) unless the URI sets a write concern: a page is counted as
  stored only once the server has it in its journal, so a killed server cannot take it along.
- A fetch never overwrites a newer one: each page is two guarded upserts (the body fields when
  ``fetched_at`` is older, ``last_status``/``last_fetched_at`` when ``last_fetched_at`` is
  older). That makes a replay of old spooled pages, or a second replay after a crash,
  harmless: a page whose newer fetch is stored counts as ``superseded``.
- While the database is unreachable (a connection error, or a server that refuses the write)
  pages go to a spool, ``DATA_DIR/spool/pages/`` (:class:`crawler.archive.spool.Spool`, bodies as
  base64). Every ``ARCHIVE_RETRY_SECONDS`` the next write first pings the server; once it
  answers, the spool (this run's and earlier runs') is replayed and writing resumes.
- A page neither the server nor the spool can take (a full disk) is lost: counted in
  ``pages/lost`` and logged as an error with the count and the reason.

Stats (returned as counts for the caller to add): ``pages/stored`` (pages with a body, as
acknowledged by the server), ``pages/gone`` (non-2xx fetches recorded), ``pages/bytes``
(compressed bytes of stored pages), ``pages/superseded``, ``pages/errors`` (pages the server
refused, each logged), ``pages/batches``, ``pages/spooled``, ``pages/lost``,
``pages/replayed`` (spooled pages, of any run, replayed), ``pages/replay/stored``,
``pages/replay/superseded``, ``pages/replay/errors``, ``pages/corrupt_lines``,
``pages/replay_failed_files``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson
import pymongo
from pymongo import ASCENDING, DESCENDING, UpdateOne, WriteConcern
from pymongo.database import Database
from pymongo.errors import BulkWriteError, ConnectionFailure

from crawler import stats_keys
from crawler.archive.location import ArchiveConnection
from crawler.archive.page_doc import KEPT_HEADERS as KEPT_HEADERS
from crawler.archive.page_doc import page_fields as page_fields
from crawler.archive.page_doc import page_html as page_html
from crawler.archive.server import EmbeddedServerError
from crawler.archive.spool import ReplayResult, Spool
from crawler.archive.store import DUPLICATE_KEY, MAX_RECORD_BYTES, RECORD_ERRORS, ArchiveResult

logger = logging.getLogger(__name__)

PAGES = "pages"
Doc = dict[str, Any]
Page = tuple[
    str, Doc
]  # (live url, the fields of one fetch, see crawler.components.page_archive.page_fields)
#: Fields of the latest fetch of any status; the rest describe the latest 2xx fetch.
LAST_FETCH_FIELDS = ("source", "last_status", "last_fetched_at")
#: A reachability check must not hold up the crawl for long while the database is down.
PING_SECONDS = 2.0
#: Errors that mean "the database is unreachable": pages wait in the spool.
UNAVAILABLE = (ConnectionFailure, EmbeddedServerError)


def ensure_page_indexes(db: Database[Doc]) -> None:
    db[PAGES].create_index("url", unique=True)
    db[PAGES].create_index([("source", ASCENDING), ("fetched_at", DESCENDING)])


@dataclass
class PageCounts:
    """What one :func:`store_pages` call did, per page."""

    stored: int = 0
    gone: int = 0
    superseded: int = 0
    errors: int = 0
    bytes: int = 0


def store_pages(db: Database[Doc], pages: Sequence[Page]) -> PageCounts:
    """Upsert pages (guarded, see the module docstring) in unordered bulk writes. The guards
    rely on the unique ``url`` index (:func:`ensure_page_indexes`).

    Server errors (connection, refusal) propagate; a page the server cannot take for its own
    content, or a per-page write error, is logged and counted in ``errors``.
    """
    counts = PageCounts()
    ops: list[UpdateOne] = []
    page_ops: dict[int, list[int]] = {}  # per page (index into ``pages``): its ops
    main_op: dict[int, int] = {}  # per page: the op whose outcome decides stored/superseded
    for index, (url, fields) in enumerate(pages):
        problem = _encode_problem(url, fields)
        if problem is not None:
            logger.error("Not keeping page %r in the page archive: %s", url, problem)
            counts.errors += 1
            continue
        for op, is_main in _updates(url, fields):
            if is_main:
                main_op[index] = len(ops)
            page_ops.setdefault(index, []).append(len(ops))
            ops.append(op)
    failed, superseded = _bulk(db, ops)
    for index, op_index in main_op.items():
        fields = pages[index][1]
        if any(i in failed for i in page_ops[index]):
            counts.errors += 1
        elif op_index in superseded:
            counts.superseded += 1
        elif "body" in fields:
            counts.stored += 1
            counts.bytes += len(fields["body"])
        else:
            counts.gone += 1
    return counts


def _encode_problem(url: str, fields: Doc) -> str | None:
    try:
        size = len(bson.encode({"url": url, **fields}))
    except RECORD_ERRORS as exc:
        return f"{type(exc).__name__}: {exc}"
    return f"DocumentTooLarge: {size} bytes" if size > MAX_RECORD_BYTES else None


def _updates(url: str, fields: Doc) -> list[tuple[UpdateOne, bool]]:
    """The guarded upserts of one fetch, each with whether it is the page's main op."""
    last = {name: fields[name] for name in LAST_FETCH_FIELDS if name in fields}
    updates = [
        (
            UpdateOne(
                {"url": url, "last_fetched_at": {"$not": {"$gte": fields["last_fetched_at"]}}},
                {"$set": last},
                upsert=True,
            ),
            "body" not in fields,
        )
    ]
    if "body" in fields:
        body = {name: value for name, value in fields.items() if name not in LAST_FETCH_FIELDS}
        body["source"] = fields.get("source")
        guard = {"url": url, "fetched_at": {"$not": {"$gte": fields["fetched_at"]}}}
        updates.append((UpdateOne(guard, {"$set": body}, upsert=True), True))
    return updates


def _bulk(db: Database[Doc], ops: list[UpdateOne]) -> tuple[set[int], set[int]]:
    """Run ``ops``; returns (indexes that failed, indexes superseded by a newer fetch).

    A guarded upsert that finds a newer fetch tries to insert and hits the unique url: a
    duplicate key. It is tried once more, since the first try may have raced another writer
    inserting the same new url; a second duplicate key means a newer fetch is stored.
    """
    failed: set[int] = set()
    pending = list(range(len(ops)))
    for _ in range(2):
        if not pending:
            break
        duplicates: list[int] = []
        try:
            db[PAGES].bulk_write([ops[i] for i in pending], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                index = pending[error["index"]]
                if error.get("code") == DUPLICATE_KEY:
                    duplicates.append(index)
                else:
                    logger.error("Page archive write failed: %s", error.get("errmsg"))
                    failed.add(index)
        pending = duplicates
    return failed, set(pending)


def replay_pages(db: Database[Doc], records: Sequence[Mapping[str, Any]]) -> ArchiveResult:
    """The :class:`~crawler.archive.spool.Spool` of pages (``{"url", "fields"}`` records).

    In the result, ``inserted`` counts pages now stored, ``unchanged`` pages whose newer fetch
    was already stored, ``errors`` pages refused (or malformed lines).
    """
    pages: list[Page] = []
    result = ArchiveResult()
    for record in records:
        url, fields = record.get("url"), record.get("fields")
        if isinstance(url, str) and isinstance(fields, dict) and "last_fetched_at" in fields:
            pages.append((url, fields))
        else:
            logger.error("Skipping a malformed spooled page: %r", str(record)[:200])
            result.errors += 1
    counts = store_pages(db, pages)
    result.inserted += counts.stored + counts.gone
    result.unchanged += counts.superseded
    result.errors += counts.errors
    return result


class PageStore:
    """Store pages, or spool them while the database is unreachable (module docstring)."""

    def __init__(
        self, connection: ArchiveConnection, data_dir: str | Path, retry_seconds: float
    ) -> None:
        self.connection = connection
        self.spool = Spool(Path(data_dir).resolve() / "spool" / "pages", write=replay_pages)
        self.retry_seconds = max(0.0, retry_seconds)
        self.online = False
        self._next_check = 0.0  # the first write connects (and replays earlier runs' pages)
        self._was_down = False
        self._db: Database[Doc] | None = None

    def write(self, pages: Sequence[Page], *, check_now: bool = False) -> Counter[str]:
        """Store (or spool) ``pages``; the stats it changed. Blocking; never raises."""
        counts: Counter[str] = Counter()
        if not self.online and (check_now or time.monotonic() >= self._next_check):
            self._reconnect(counts)
        if not pages:
            return counts
        if self.online and self._db is not None:
            try:
                result = store_pages(self._db, pages)
            except UNAVAILABLE as exc:
                self._go_offline()
                logger.warning(
                    "Page archive unavailable (%s: %s); spooling %s page(s) in %s",
                    type(exc).__name__,
                    exc,
                    len(pages),
                    self.spool.directory,
                )
            except Exception as exc:
                self._go_offline()
                logger.error(
                    "Page archive write of %s page(s) failed (%s: %s), not a connection "
                    "error; spooling them, retrying in %s s",
                    len(pages),
                    type(exc).__name__,
                    exc,
                    self.retry_seconds,
                )
            else:
                counts[stats_keys.PAGES_BATCHES] += 1
                for name, value in vars(result).items():
                    counts[stats_keys.pages_count(name)] += value
                return counts
        self._spool(pages, counts)
        return counts

    @property
    def write_concern(self) -> dict[str, Any] | None:
        """The write concern of page writes (None while not connected)."""
        return None if self._db is None else dict(self._db.write_concern.document)

    def pending(self) -> int:
        try:
            return self.spool.pending()
        except OSError:
            return 0

    def close(self) -> None:
        self.spool.close()
        self.connection.close()
        self._db = None

    def _spool(self, pages: Sequence[Page], counts: Counter[str]) -> None:
        try:
            counts[stats_keys.PAGES_SPOOLED] += self.spool.append(
                {"url": url, "fields": fields} for url, fields in pages
            )
        except Exception as exc:
            counts[stats_keys.PAGES_LOST] += len(pages)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            logger.error(
                "Lost %s raw page(s): the page archive is unavailable and the spool in %s "
                "cannot take them (%s: %s): %s",
                len(pages),
                self.spool.directory,
                type(exc).__name__,
                reason,
                " ".join(url for url, _ in pages),
            )

    def _reconnect(self, counts: Counter[str]) -> None:
        try:
            db = self.connection.db()
            with pymongo.timeout(PING_SECONDS):
                db.command("ping")
            # A page counts as kept only once it is in the server's journal. A write concern
            # given in the URI (e.g. w=majority) is kept.
            if not db.write_concern.document:
                db = db.with_options(write_concern=WriteConcern(w=1, j=True))
            ensure_page_indexes(db)
        except Exception as exc:
            self._go_offline()
            logger.warning(
                "Page archive unavailable (%s: %s); pages are spooled in %s",
                type(exc).__name__,
                exc,
                self.spool.directory,
            )
            return
        if self._was_down:
            logger.info("Page archive reachable again; writing to it")
        self._db, self.online, self._was_down = db, True, False
        self._replay(db, counts)

    def _replay(self, db: Database[Doc], counts: Counter[str]) -> None:
        replay = ReplayResult()
        try:
            self.spool.close()  # what this run spooled is replayed too
            self.spool.replay(db, result=replay)
        except UNAVAILABLE as exc:
            self._go_offline()
            logger.warning("Page archive lost while replaying its spool (%s)", exc)
        except OSError as exc:  # the spool, not the database: keep writing to the database
            counts[stats_keys.PAGES_REPLAY_FAILED_FILES] += 1
            logger.error("Could not replay the page spool in %s: %s", self.spool.directory, exc)
        except Exception as exc:
            self._go_offline()
            logger.error("Replaying the page spool failed (%s: %s)", type(exc).__name__, exc)
        finally:
            counts[stats_keys.PAGES_REPLAYED] += replay.records
            counts[stats_keys.pages_replay("stored")] += replay.archive.inserted
            counts[stats_keys.pages_replay("superseded")] += replay.archive.unchanged
            counts[stats_keys.pages_replay("errors")] += replay.archive.errors
            counts[stats_keys.PAGES_CORRUPT_LINES] += replay.corrupt_lines
            counts[stats_keys.PAGES_REPLAY_FAILED_FILES] += replay.failed_files

    def _go_offline(self) -> None:
        self.online, self._was_down = False, True
        self._next_check = time.monotonic() + self.retry_seconds
        # The next check resolves the server anew (the embedded one may have to be restarted).
        self._db = None
        self.connection.close()
