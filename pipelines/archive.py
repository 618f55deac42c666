"""Item pipeline that stores articles in the MongoDB archive, in batches, off the reactor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from pymongo import WriteConcern
from pymongo.database import Database
from pymongo.errors import ConnectionFailure
from scrapy.exceptions import DropItem

from crawler import stats_keys
from crawler.archive.location import ArchiveLocation
from crawler.archive.server import EmbeddedServer, ping, resolve_mongo_uri
from crawler.archive.spool import ReplayResult, Spool
from crawler.archive.store import (
    archive_batch,
    connect,
    ensure_indexes,
    make_encodable,
    storage_problem,
)
from crawler.config import Settings, SettingsReader

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

#: A reachability check must not hold up the crawl for long while the database is down.
PING_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class ArchiveConfig:
    """The archive pipeline's settings, read and checked once."""

    location: ArchiveLocation
    batch_size: int
    flush_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveConfig:
        reader = SettingsReader(settings)
        return cls(
            location=ArchiveLocation.from_settings(settings),
            batch_size=reader.integer("ARCHIVE_BATCH_SIZE", minimum=1),
            flush_seconds=reader.number("ARCHIVE_FLUSH_SECONDS", minimum=0),
        )


class MongoArchivePipeline:
    """Archive every item in MongoDB (see :mod:`crawler.archive.store` for the versioning rules);
    spool it to disk while the database is unreachable (see :mod:`crawler.archive.spool`).

    Settings (read once into :class:`ArchiveConfig`, defaults in :mod:`crawler.settings`):

    - ``MONGO_URI``, ``MONGO_DATABASE``, ``DATA_DIR`` (also for ``spool/``, records that could
      not be written), ``ARCHIVE_RETRY_SECONDS`` (while the database is unreachable, how often
      to check whether it is back), ``EMBEDDED_SERVER_LINGER_SECONDS`` (how long the embedded
      server stays up after the crawl, for the next client):
      :class:`crawler.archive.location.ArchiveLocation`.
    - ``ARCHIVE_BATCH_SIZE``: records per bulk write (at least 1).
    - ``ARCHIVE_FLUSH_SECONDS``: the buffer is written at least this often (0: only full
      batches and at close).

    Before a record joins a batch it is made storable: a lone surrogate (``"\\ud83d"`` in a
    page's JSON-LD) in any string becomes U+FFFD, in the item too (``archive/sanitized_records``,
    a warning with the URL); a record the archive would still refuse (too large, an int beyond
    8 bytes) is dropped with ``DropItem`` (``item_dropped_reasons_count/unstorable``). So one
    record's text never costs its batch.

    Writes run in a worker thread, one batch at a time, so the reactor never waits on the
    database. Writes are journaled (``j=True``) unless the URI sets a write concern, so an
    acknowledged batch survives a killed server. At open the spool left by earlier runs is
    replayed before anything is crawled.
    A batch whose write fails (even partway: the archive's upserts by url make a second write
    harmless) is appended to the spool and the crawl goes on; later batches go straight to the
    spool until a ping (every ``ARCHIVE_RETRY_SECONDS``, and once more at close) finds the
    database back, when the spool is replayed and writing resumes. Only a connection error
    means "database unavailable"; a server that refuses a write is handled the same way but
    logged as an error. Spool trouble is never taken for database trouble: a spool file that
    cannot be replayed is logged and left, and writing to the database goes on.

    When neither the database nor the spool can take a batch (the server is down and the disk
    is full), its records are lost: counted in ``spool/lost_records``, logged as an error with
    the count and the reason, which fails the ``archive`` monitor and the run (and makes
    ``scrapy crawl`` exit 1, see :mod:`crawler.commands.crawl`).

    Stats: ``archive/inserted``, ``archive/updated``, ``archive/unchanged``,
    ``archive/duplicates``, ``archive/errors`` (records the archive refused, each logged with
    its reason), ``archive/batches``, ``archive/sanitized_records``, ``archive/received`` and
    ``archive/settled`` (records taken, and written, spooled or lost: the shared frontier's
    acknowledgement barrier); ``spool/written``
    (records spooled by this run), ``spool/replayed`` (records replayed, from any run),
    ``spool/corrupt_lines``, ``spool/unrejected_lines`` (corrupt lines that could not be
    copied to ``rejected/``, kept in their spool file), ``spool/replay_failed_files``,
    ``spool/replay/<inserted|updated|unchanged|...>``, ``spool/lost_records``.
    """

    def __init__(self, config: ArchiveConfig, stats: StatsCollector) -> None:
        location = config.location
        self.mongo_uri = location.mongo_uri
        self.database = location.database
        self.data_dir = Path(location.data_dir).resolve()
        self.batch_size = config.batch_size
        self.flush_seconds = config.flush_seconds
        self.retry_seconds = location.retry_seconds
        self.linger_seconds = location.linger_seconds
        self.stats = stats
        self.spool = Spool(self.data_dir / "spool")
        self._uri: str | None = None
        self._db: Database[dict[str, Any]] | None = None
        self._indexes_ready = False
        self._server: EmbeddedServer | None = None
        self._online = False
        self._next_check = 0.0
        self._buffer: list[dict[str, Any]] = []
        self._flush_lock = asyncio.Lock()
        self._closing = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MongoArchivePipeline:
        assert crawler.stats is not None
        return cls(ArchiveConfig.from_settings(crawler.settings), crawler.stats)

    async def open_spider(self) -> None:
        # Starting the embedded server and replaying the spool take a while: not on the reactor.
        self._apply(await asyncio.to_thread(self._reconnect))
        if self.flush_seconds > 0:
            self._timer = asyncio.create_task(self._flush_periodically())

    async def process_item(self, item: Any) -> Any:
        self._buffer.append(self._storable(ItemAdapter(item)))
        self.stats.inc_value(stats_keys.ARCHIVE_RECEIVED)
        if len(self._buffer) >= self.batch_size:
            # Awaiting the write slows item processing while the database is slow (back
            # pressure) instead of growing the buffer without bound.
            await self._flush(full_batches_only=True)
        return item

    async def close_spider(self) -> None:
        self._closing.set()
        try:
            if self._timer is not None:
                await self._timer
            await self._flush(full_batches_only=False)
            if not self._online:
                self._next_check = 0.0  # one last chance to hand the spool over
                async with self._flush_lock:
                    self._apply(await asyncio.to_thread(self._store, []))
            if not self._online:
                logger.warning(
                    "The archive database is unreachable: %s record(s) wait in %s and will be "
                    "archived by the next run",
                    await asyncio.to_thread(self._pending),
                    self.spool.directory,
                )
            lost = int(self.stats.get_value(stats_keys.SPOOL_LOST, 0))
            if lost:
                logger.error(
                    "This run lost %s record(s): neither the archive database nor the spool "
                    "in %s could take them (see the errors above)",
                    lost,
                    self.spool.directory,
                )
        finally:
            await asyncio.to_thread(self._close)

    def _storable(self, adapter: ItemAdapter) -> dict[str, Any]:
        """The record to archive; raises ``DropItem`` if the archive could never store it."""
        record, changed = make_encodable(adapter.asdict())
        if changed:
            for name in changed:
                adapter[name] = record[name]  # feeds and later pipelines get storable text too
            self.stats.inc_value(stats_keys.ARCHIVE_SANITIZED)
            logger.warning(
                "Replaced unencodable characters (lone surrogates) with U+FFFD in %s of %s",
                ", ".join(changed),
                record.get("url"),
            )
        problem = storage_problem(record)
        if problem is not None:
            self.stats.inc_value(stats_keys.item_dropped_reason("unstorable"))
            logger.warning("Dropped %r: unstorable (%s)", record.get("url"), problem)
            raise DropItem(f"unstorable: {problem}")
        return record

    # --- worker thread -----------------------------------------------------------------------

    def _reconnect(self) -> Counter[str]:
        """Connect if needed, check the server answers, ensure indexes, replay the spool."""
        counts: Counter[str] = Counter()
        try:
            self._connect()
        except Exception as exc:
            self._go_offline()
            logger.warning(
                "Archive database unavailable (%s: %s); records are spooled in %s",
                type(exc).__name__,
                exc,
                self.spool.directory,
            )
            return counts
        if not self._online:
            logger.info("Archive database reachable; writing to it")
        self._online = True
        self._replay(counts)
        return counts

    def _connect(self) -> None:
        if self._uri is None:
            self._uri, self._server = resolve_mongo_uri(
                self.mongo_uri, self.data_dir, linger=self.linger_seconds
            )
        if not ping(self._uri, timeout_ms=PING_TIMEOUT_MS):
            raise ConnectionError("no answer to ping")
        if self._db is None:
            db = connect(self._uri, self.database)
            # A write is only taken off our hands once it is in the server's journal: an
            # acknowledged but unjournaled write dies with a killed server or machine.
            # A write concern given in the URI (e.g. w=majority) is kept.
            if not db.write_concern.document:
                db = db.with_options(write_concern=WriteConcern(w=1, j=True))
            self._db = db
            # Hosts only: the URI may carry a password.
            servers = self._db.client.topology_description.server_descriptions()
            hosts = ",".join(f"{host}:{port}" for host, port in servers)
            logger.info("Archiving into database %r on %s", self.database, hosts)
        if not self._indexes_ready:
            ensure_indexes(self._db)
            self._indexes_ready = True

    def _replay(self, counts: Counter[str]) -> None:
        """Replay the spool into the (reachable) database; a spool problem leaves it online."""
        assert self._db is not None
        replay = ReplayResult()
        try:
            self.spool.close()  # what this run spooled is replayed too
            self.spool.replay(self._db, self.batch_size, replay)
        except ConnectionFailure as exc:
            self._go_offline()
            logger.warning(
                "Archive database lost while replaying the spool (%s: %s); the rest waits in %s",
                type(exc).__name__,
                exc,
                self.spool.directory,
            )
        except OSError as exc:  # the spool, not the database: keep writing to the database
            counts[stats_keys.SPOOL_REPLAY_FAILED_FILES] += 1
            logger.error("Could not replay the spool in %s: %s", self.spool.directory, exc)
        except Exception as exc:
            self._go_offline()
            logger.error(
                "Replaying the spool failed (%s: %s), not a connection error; retrying in %s s",
                type(exc).__name__,
                exc,
                self.retry_seconds,
            )
        finally:
            _count_replay(counts, replay)

    def _go_offline(self) -> None:
        self._online = False
        self._next_check = time.monotonic() + self.retry_seconds
        if self._embedded_server_died():
            self._forget_embedded()  # next time find (or start) the embedded server anew

    def _store(self, batch: list[dict[str, Any]]) -> Counter[str]:
        """Write one batch to the archive, or to the spool when the database is unreachable."""
        counts: Counter[str] = Counter()
        if not self._online and time.monotonic() >= self._next_check:
            counts.update(self._reconnect())
        if not batch:
            return counts
        counts[stats_keys.ARCHIVE_BATCHES] += 1
        if self._online and self._db is not None:
            try:
                result = archive_batch(self._db, batch)
            except ConnectionFailure as exc:
                self._go_offline()
                logger.warning(
                    "Archive database unavailable during a write of %s record(s) (%s: %s); "
                    "spooling them and later records until it answers again",
                    len(batch),
                    type(exc).__name__,
                    exc,
                )
            except Exception as exc:
                # Not one record's fault (those are counted by archive_batch): the server
                # refused the batch. Keep the records and try again later.
                self._go_offline()
                logger.error(
                    "Archive write of %s record(s) failed (%s: %s), not a connection error; "
                    "spooling them and later records, retrying in %s s",
                    len(batch),
                    type(exc).__name__,
                    exc,
                    self.retry_seconds,
                )
            else:
                written = asdict(result).items()
                counts.update({stats_keys.archive_count(k): v for k, v in written if v})
                return counts
        try:
            counts[stats_keys.SPOOL_WRITTEN] += self.spool.append(batch)
        except Exception as exc:
            counts[stats_keys.SPOOL_LOST] += len(batch)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            logger.error(
                "Lost %s record(s): the archive database is unavailable and the spool in %s "
                "cannot take them (%s: %s)",
                len(batch),
                self.spool.directory,
                type(exc).__name__,
                reason,
            )
            logger.warning("URLs of the lost records: %s", " ".join(_urls(batch)))
        return counts

    def _pending(self) -> int | str:
        try:
            return self.spool.pending()
        except OSError as exc:
            return f"an unknown number of ({exc})"

    def _embedded_server_died(self) -> bool:
        """True if the embedded server we use has exited (a slow one is left alone)."""
        if self.mongo_uri is not None or self._server is None:
            return False
        return not self._server.alive()

    def _forget_embedded(self) -> None:
        if self._db is not None:
            self._db.client.close()
        if self._server is not None:
            self._server.release()
        self._uri, self._db, self._server, self._indexes_ready = None, None, None, False

    def _close(self) -> None:
        self.spool.close()
        if self._db is not None:
            self._db.client.close()
        if self._server is not None:
            self._server.release()

    # --- reactor thread ----------------------------------------------------------------------

    async def _flush_periodically(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=self.flush_seconds)
            if self._closing.is_set():
                break
            await self._flush(full_batches_only=False)
            if not self._online:  # nothing to write, but the database may be back
                async with self._flush_lock:
                    self._apply(await asyncio.to_thread(self._store, []))

    async def _flush(self, full_batches_only: bool) -> None:
        """Write buffered records, one batch at a time (the lock serialises flushes)."""
        async with self._flush_lock:
            while self._buffer and (len(self._buffer) >= self.batch_size or not full_batches_only):
                batch = self._buffer[: self.batch_size]
                del self._buffer[: self.batch_size]
                try:
                    self._apply(await asyncio.to_thread(self._store, batch))
                finally:
                    self.stats.inc_value(stats_keys.ARCHIVE_SETTLED, len(batch))

    def _apply(self, counts: Counter[str]) -> None:
        for key, value in counts.items():
            if value:
                self.stats.inc_value(key, value)


def _urls(batch: list[dict[str, Any]]) -> list[str]:
    return [str(record.get("url")) for record in batch]


def _count_replay(counts: Counter[str], replay: ReplayResult) -> None:
    counts[stats_keys.SPOOL_REPLAYED] += replay.records
    counts[stats_keys.SPOOL_CORRUPT_LINES] += replay.corrupt_lines
    counts[stats_keys.SPOOL_UNREJECTED_LINES] += replay.unrejected_lines
    counts[stats_keys.SPOOL_REPLAY_FAILED_FILES] += replay.failed_files
    for name, value in asdict(replay.archive).items():
        counts[stats_keys.spool_replay(name)] += value
