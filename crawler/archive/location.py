"""Which archive server to use, read the same way by every component, and a shared handle.

``MONGO_URI`` (setting, else environment variable) names a server; unset, the embedded
SecantusDB server under ``DATA_DIR`` is found or started (:mod:`crawler.archive.server`).
No Scrapy here: components pass their crawler's settings in (:mod:`crawler.config` reads them).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo.database import Database

from crawler.archive.server import EmbeddedServer, resolve_mongo_uri
from crawler.archive.store import connect
from crawler.config import SettingError, Settings, SettingsReader

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
#: How long a lookup waits for the server before the crawl goes on without it.
DB_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class ArchiveLocation:
    """Where the archive is, read once from the settings the same way by every component.

    ``mongo_uri``: ``MONGO_URI`` (the setting, else the environment variable; None means the
    embedded server); ``database``: ``MONGO_DATABASE``; ``data_dir``: ``DATA_DIR`` (the embedded
    server's data and the spools); ``retry_seconds``: ``ARCHIVE_RETRY_SECONDS``, how often a
    writer whose database stopped answering checks whether it is back (0 or more);
    ``linger_seconds``: ``EMBEDDED_SERVER_LINGER_SECONDS``, how long the embedded server stays
    up after this process leaves it, if nobody else uses it (0 or more, finite).
    """

    mongo_uri: str | None
    database: str
    data_dir: str
    retry_seconds: float
    linger_seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ArchiveLocation:
        reader = SettingsReader(settings)
        database = reader.text("MONGO_DATABASE")
        if database is None:
            raise SettingError("MONGO_DATABASE", "a database name", reader.raw("MONGO_DATABASE"))
        data_dir = reader.text("DATA_DIR")
        if data_dir is None:
            raise SettingError("DATA_DIR", "a directory", reader.raw("DATA_DIR"))
        linger = reader.number("EMBEDDED_SERVER_LINGER_SECONDS", minimum=0.0)
        if not math.isfinite(linger):
            raise SettingError("EMBEDDED_SERVER_LINGER_SECONDS", "a finite number", linger)
        return cls(
            mongo_uri=reader.text("MONGO_URI") or os.environ.get("MONGO_URI") or None,
            database=database,
            data_dir=data_dir,
            retry_seconds=reader.number("ARCHIVE_RETRY_SECONDS", minimum=0.0),
            linger_seconds=linger,
        )


class ArchiveConnection:
    """A lazily opened database handle, resolved as the archive pipeline resolves its own.

    Opened on first use (in a worker thread), i.e. after the pipelines have opened, so with
    the embedded server this process normally reuses the pipeline's server. The embedded
    server's handle holds a lease on it (:mod:`crawler.archive.server`), so the server lives at
    least as long as this connection; if it was killed, the next :meth:`db` finds or starts
    another. :meth:`close` closes the client and releases the lease (the server then stays up
    ``linger`` seconds more if nobody else uses it; None: the process's default). Thread-safe.
    """

    def __init__(
        self, mongo_uri: str | None, database: str, data_dir: str, linger: float | None = None
    ) -> None:
        self.mongo_uri = mongo_uri
        self.database = database
        self.data_dir = Path(data_dir).resolve()
        self.linger = linger
        self._db: Database[Doc] | None = None
        self._server: EmbeddedServer | None = None
        self._lock = threading.Lock()

    @classmethod
    def at(cls, location: ArchiveLocation) -> ArchiveConnection:
        """The connection to the archive at ``location``."""
        return cls(
            location.mongo_uri, location.database, location.data_dir, location.linger_seconds
        )

    def db(self) -> Database[Doc]:
        """The database (blocking: call from a worker thread). Raises if unreachable."""
        with self._lock:
            if self._server is not None and not self._server.alive():
                logger.warning(
                    "The embedded archive server (pid %s) is gone; finding or starting another",
                    self._server.pid,
                )
                self._close()
            if self._db is None:
                uri, self._server = resolve_mongo_uri(
                    self.mongo_uri, self.data_dir, linger=self.linger
                )
                self._db = connect(uri, self.database, timeout_ms=DB_TIMEOUT_MS)
            return self._db

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._db is not None:
            self._db.client.close()
            self._db = None
        if self._server is not None:
            self._server.release()
            self._server = None
