"""StatsDump: hand the crawl's final stats back to the cron runner (and the runner's end of it).

Settings (unset: the extension is off):

- ``STATS_DUMP_FD``: a pipe's write end inherited from :mod:`crawler.runner`. The stats go
  there as one JSON document, ``{"stats": {...}}`` (or ``{"error": "..."}`` if they could not
  be encoded). A pipe needs no disk: with ``DATA_DIR`` on a full filesystem the runner still
  learns what the crawl did. :class:`StatsPipe` is the runner's end.
- ``STATS_DUMP_FILE``: a path; the stats are written there (a temporary file, fsynced, then
  renamed; removed again if the write fails, so no partial file is ever left).

Written on ``engine_stopped``, after the stats are final (monitor results included), with
datetimes tagged as in :mod:`crawler.spool` so they load back as datetimes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.spool import decode, encode

logger = logging.getLogger(__name__)


class StatsDump:
    def __init__(self, crawler: Crawler, path: Path | None = None, fd: int | None = None) -> None:
        self.crawler = crawler
        self.path = path
        self.fd = fd

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsDump:
        path = crawler.settings.get("STATS_DUMP_FILE")
        fd = crawler.settings.getint("STATS_DUMP_FD", -1)
        if fd >= 0:
            try:
                os.fstat(fd)
            except OSError as exc:
                logger.error("STATS_DUMP_FD=%s is not an open file descriptor (%s)", fd, exc)
                fd = -1
        if not path and fd < 0:
            raise NotConfigured("neither STATS_DUMP_FILE nor STATS_DUMP_FD is set")
        extension = cls(crawler, Path(path) if path else None, fd if fd >= 0 else None)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        assert self.crawler.stats is not None
        stats = dict(self.crawler.stats.get_stats())
        if self.fd is not None:
            self._send(stats)
        if self.path is not None:
            try:
                write_atomically(self.path, encode(stats))
            except (OSError, ValueError):
                logger.exception("Could not write the stats to %s", self.path)

    def _send(self, stats: dict[str, Any]) -> None:
        assert self.fd is not None
        try:
            payload = encode({"stats": stats}) + "\n"
        except (TypeError, ValueError) as exc:
            logger.exception("Could not encode the stats for the runner")
            payload = json.dumps({"error": f"the crawl could not encode its stats: {exc}"}) + "\n"
        try:
            with os.fdopen(self.fd, "wb") as pipe:
                pipe.write(payload.encode("utf-8"))
        except OSError:
            logger.exception("Could not hand the stats back to the runner")
        self.fd = None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a fsynced temporary file renamed over it; on any
    error the temporary file is removed and the error raised (no partial file is left)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    # The rename survives a power cut only once the directory is synced too (best effort).
    with contextlib.suppress(OSError):
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def load_stats(path: Path) -> dict[str, Any] | None:
    """The stats a crawl dumped to ``STATS_DUMP_FILE``, or None if it wrote none."""
    try:
        return decode(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class HandedBack:
    """What came through the pipe: the stats, or why there are none (``problem`` is None when
    the crawl wrote nothing at all: it crashed or was killed)."""

    stats: dict[str, Any] | None
    problem: str | None = None


class StatsPipe:
    """The runner's end: a pipe whose write end the crawl inherits (``STATS_DUMP_FD``).

    A thread reads it while the crawl runs, so a large stats document never blocks the crawl
    on a full pipe. Use ``with``; pass :attr:`write_fd` in ``pass_fds`` and call
    :meth:`started` once the crawl process exists.
    """

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, name="stats-pipe", daemon=True)
        self._reader.start()

    def __enter__(self) -> StatsPipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close_write_end()
        self._reader.join(timeout=5)
        if not self._reader.is_alive():
            with contextlib.suppress(OSError):
                os.close(self.read_fd)

    def started(self) -> None:
        """The crawl holds its copy now; ours must go, or the reader never sees the end."""
        self._close_write_end()

    def result(self, timeout: float = 5.0) -> HandedBack:
        """After the crawl exited: its stats, or why there are none."""
        self._close_write_end()
        self._reader.join(timeout)  # a descendant still holding the pipe must not hang us
        data = b"".join(self._chunks)
        if not data.strip():
            return HandedBack(None)
        try:
            envelope = decode(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return HandedBack(None, "its stats arrived incomplete: it died while handing them back")
        if isinstance(envelope, dict) and isinstance(envelope.get("stats"), dict):
            return HandedBack(envelope["stats"])
        if isinstance(envelope, dict) and envelope.get("error"):
            return HandedBack(None, str(envelope["error"]))
        return HandedBack(None, "its stats arrived in an unknown form")

    def _close_write_end(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.read_fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._chunks.append(chunk)
