"""The runner's end of the stats hand-back: a pipe the crawl writes its final stats to.

:class:`crawler.components.stats_dump.StatsDump` (the crawl's end, a Scrapy extension) writes
one line of JSON per crawler, ``{"spider": name, "stats": {...}}``, to the inherited pipe
(``STATS_DUMP_FD``), or the stats to a file (``STATS_DUMP_FILE``); :class:`StatsPipe` reads
them in the runner: :meth:`StatsPipe.result` the one crawler of ``scrapy crawl``,
:meth:`StatsPipe.results` each crawler of ``scrapy crawlall`` by spider. Datetimes are tagged
as in :mod:`crawler.archive.spool`. No Scrapy here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.archive.spool import decode

logger = logging.getLogger(__name__)


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
        return _unpacked(envelope)

    def results(self, spiders: list[str], timeout: float = 5.0) -> dict[str, HandedBack]:
        """After a ``crawlall`` of ``spiders`` exited: each one's stats, or why there are none.

        A spider whose line never came gets ``HandedBack(None)`` (it never finished: the
        process crashed or was killed first, or it could not start), with the reason when a
        line arrived broken (the process died while writing it: whose it was is unknown).
        """
        self._close_write_end()
        self._reader.join(timeout)
        handed: dict[str, HandedBack] = {}
        broken: str | None = None
        for line in b"".join(self._chunks).splitlines():
            if not line.strip():
                continue
            try:
                envelope = decode(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                broken = "its stats arrived incomplete: the crawl died while handing them back"
                continue
            spider = envelope.get("spider") if isinstance(envelope, dict) else None
            if spider in spiders and spider not in handed:
                handed[spider] = _unpacked(envelope)
            else:
                logger.warning("Stats handed back for an unexpected spider: %r", spider)
        return {spider: handed.get(spider) or HandedBack(None, broken) for spider in spiders}

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


def _unpacked(envelope: Any) -> HandedBack:
    if isinstance(envelope, dict) and isinstance(envelope.get("stats"), dict):
        return HandedBack(envelope["stats"])
    if isinstance(envelope, dict) and envelope.get("error"):
        return HandedBack(None, str(envelope["error"]))
    return HandedBack(None, "its stats arrived in an unknown form")
