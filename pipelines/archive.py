"""Item pipeline that stores articles in the MongoDB archive, in batches, off the reactor."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itemadapter import ItemAdapter
from pymongo.database import Database

from crawler.archive import ArchiveResult, archive_batch, connect, ensure_indexes
from crawler.mongo_server import EmbeddedServer, resolve_mongo_uri

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class MongoArchivePipeline:
    """Archive every item in MongoDB (see :mod:`crawler.archive` for the versioning rules).

    Settings (read once):

    - ``MONGO_URI``: connection string (setting, else the ``MONGO_URI`` environment variable);
      unset means the embedded SecantusDB server under ``DATA_DIR`` (started or reused).
    - ``MONGO_DATABASE``: database name.
    - ``DATA_DIR``: the embedded server's data and state, and ``failed/`` for batches that
      could not be written.
    - ``ARCHIVE_BATCH_SIZE``: records per bulk write.
    - ``ARCHIVE_FLUSH_SECONDS``: the buffer is written at least this often.

    Writes run in a worker thread, one batch at a time, so the reactor never waits on the
    database. A batch that cannot be written is appended to ``DATA_DIR/failed/<time>.jsonl``:
    an item that reached this pipeline is never lost. Stats: ``archive/inserted``,
    ``archive/updated``, ``archive/unchanged``, ``archive/duplicates``, ``archive/errors``,
    ``archive/batches``, ``archive/failed_records``.
    """

    def __init__(
        self,
        mongo_uri: str | None,
        database: str,
        data_dir: str,
        batch_size: int,
        flush_seconds: float,
        stats: StatsCollector,
    ) -> None:
        self.mongo_uri = mongo_uri
        self.database = database
        self.data_dir = Path(data_dir).resolve()
        self.batch_size = max(1, batch_size)
        self.flush_seconds = flush_seconds
        self.stats = stats
        self._db: Database[dict[str, Any]] | None = None
        self._indexes_ready = False
        self._server: EmbeddedServer | None = None
        self._buffer: list[dict[str, Any]] = []
        self._flush_lock = asyncio.Lock()
        self._closing = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._failed_path: Path | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MongoArchivePipeline:
        settings = crawler.settings
        assert crawler.stats is not None
        return cls(
            mongo_uri=settings.get("MONGO_URI") or os.environ.get("MONGO_URI") or None,
            database=settings.get("MONGO_DATABASE", "news_archive"),
            data_dir=settings.get("DATA_DIR", "./data"),
            batch_size=settings.getint("ARCHIVE_BATCH_SIZE", 200),
            flush_seconds=settings.getfloat("ARCHIVE_FLUSH_SECONDS", 2.0),
            stats=crawler.stats,
        )

    async def open_spider(self) -> None:
        # Starting the embedded server can take a few seconds: not on the reactor thread.
        await asyncio.to_thread(self._open)
        if self.flush_seconds > 0:
            self._timer = asyncio.create_task(self._flush_periodically())

    async def process_item(self, item: Any) -> Any:
        self._buffer.append(ItemAdapter(item).asdict())
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
        finally:
            await asyncio.to_thread(self._close)

    def _open(self) -> None:
        try:
            uri, self._server = resolve_mongo_uri(self.mongo_uri, self.data_dir)
            self._db = connect(uri, self.database)
            # Hosts only: the URI may carry a password.
            servers = self._db.client.topology_description.server_descriptions()
            hosts = ",".join(f"{host}:{port}" for host, port in servers)
            logger.info("Archiving into database %r on %s", self.database, hosts)
            self._ensure_indexes()
        except Exception:
            logger.exception(
                "Archive database unavailable; items will be kept in %s", self.data_dir / "failed"
            )

    def _ensure_indexes(self) -> None:
        if self._db is not None and not self._indexes_ready:
            ensure_indexes(self._db)
            self._indexes_ready = True

    def _close(self) -> None:
        if self._db is not None:
            self._db.client.close()
        if self._server is not None:
            self._server.release()

    async def _flush_periodically(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=self.flush_seconds)
            if not self._closing.is_set():
                await self._flush(full_batches_only=False)

    async def _flush(self, full_batches_only: bool) -> None:
        """Write buffered records, one batch at a time (the lock serialises flushes)."""
        async with self._flush_lock:
            while self._buffer and (len(self._buffer) >= self.batch_size or not full_batches_only):
                batch = self._buffer[: self.batch_size]
                del self._buffer[: self.batch_size]
                result = await asyncio.to_thread(self._write, batch)
                self._count(result, len(batch))

    def _write(self, batch: list[dict[str, Any]]) -> ArchiveResult | None:
        """Runs in a worker thread. None: the batch went to the failed file."""
        try:
            if self._db is None:
                raise RuntimeError("no archive database")
            self._ensure_indexes()
            return archive_batch(self._db, batch)
        except Exception:
            path = self._spool(batch)
            logger.exception("Could not archive %s record(s); kept them in %s", len(batch), path)
            return None

    def _spool(self, batch: list[dict[str, Any]]) -> Path:
        """Append the batch as JSON lines to this run's failed file (the seam for a replay)."""
        if self._failed_path is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            self._failed_path = self.data_dir / "failed" / f"{stamp}.jsonl"
            self._failed_path.parent.mkdir(parents=True, exist_ok=True)
        with self._failed_path.open("a", encoding="utf-8") as out:
            for record in batch:
                out.write(json.dumps(record, default=_json_default, ensure_ascii=False) + "\n")
        return self._failed_path

    def _count(self, result: ArchiveResult | None, size: int) -> None:
        self.stats.inc_value("archive/batches")
        if result is None:
            self.stats.inc_value("archive/failed_records", size)
            return
        for name, value in asdict(result).items():
            if value:
                self.stats.inc_value(f"archive/{name}", value)


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
