"""An append-only, fsynced spool of archive records for when the database is unreachable.

Pure Python and pymongo (no Scrapy), so the pipeline, the runner and benches share it.

Layout: ``<directory>/<UTC time>-<pid>-<random>.jsonl``, one JSON object per line. A datetime
is written as ``{"$datetime": "<ISO 8601 with offset and microseconds>"}`` so it comes back
equal, tz-aware and all. Each :meth:`Spool.append` writes one batch and fsyncs once.

Every writer holds an exclusive ``flock`` on the file it appends to, so a replay (in this or
another process) never takes a file that is still being written. Replay renames a file to
``.replaying`` first, archives it in batches with :func:`crawler.archive.archive_batch` (an
upsert by url, so a record replayed twice after a crash mid-replay is harmless), then deletes it.
A line that does not parse (a crash mid-write leaves a truncated last line) is counted, copied
to ``rejected/`` for a human, and skipped: replay never crashes on it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pymongo.database import Database

from crawler.archive import ArchiveResult, archive_batch

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"
REPLAYING_SUFFIX = ".jsonl.replaying"
REJECTED_DIR = "rejected"
DATETIME_TAG = "$datetime"
REPLAY_BATCH_SIZE = 500


@dataclass
class ReplayResult:
    """What one :meth:`Spool.replay` did; ``archive`` sums the archive writes."""

    files: int = 0
    records: int = 0
    corrupt_lines: int = 0
    skipped_locked: int = 0
    archive: ArchiveResult = field(default_factory=ArchiveResult)


def encode(record: Mapping[str, Any]) -> str:
    """One JSON line (no newline); datetimes tagged, anything unknown as its ``str``."""
    return json.dumps(_tag(record), ensure_ascii=False, default=str)


def decode(line: str) -> dict[str, Any]:
    """The record of one line; ``ValueError`` if it is not a JSON object."""
    record = json.loads(line, object_hook=_untag)
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object: {line[:80]!r}")
    return record


def _tag(value: Any) -> Any:
    if isinstance(value, datetime):
        return {DATETIME_TAG: value.isoformat()}
    if isinstance(value, Mapping):
        return {str(key): _tag(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag(item) for item in value]
    return value


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get(DATETIME_TAG), str):
        return datetime.fromisoformat(obj[DATETIME_TAG])
    return obj


class Spool:
    """The spool directory: :meth:`append` batches, :meth:`replay` them into the archive."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._file: IO[str] | None = None
        self.path: Path | None = None  # the file this process appends to, if any

    # --- writing ----------------------------------------------------------------------------

    def append(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append records and fsync once; returns how many were written."""
        lines = [encode(record) + "\n" for record in records]
        if not lines:
            return 0
        out = self._writer()
        out.write("".join(lines))
        out.flush()
        os.fsync(out.fileno())
        return len(lines)

    def close(self) -> None:
        """Stop appending to the current file (releasing its lock); the next append starts a
        new one. Call before replaying records this process spooled."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self.path = None

    def _writer(self) -> IO[str]:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            path = self.directory / f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
            out = path.open("a", encoding="utf-8")
            fcntl.flock(out.fileno(), fcntl.LOCK_EX)
            _fsync_dir(self.directory)  # the new name survives a power cut too
            self._file, self.path = out, path
        return self._file

    # --- reading ----------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """Spooled files, oldest first (names start with their UTC creation time)."""
        if not self.directory.is_dir():
            return []
        found = [*self.directory.glob(f"*{SUFFIX}"), *self.directory.glob(f"*{REPLAYING_SUFFIX}")]
        return sorted(found, key=lambda path: path.name)

    def pending(self) -> int:
        """Records waiting (lines in all files, corrupt ones included); for reports and tests."""
        count = 0
        for path in self.files():
            with path.open("rb") as data:
                count += sum(1 for line in data if line.strip())
        return count

    def records(self, path: Path, result: ReplayResult | None = None) -> Iterator[dict[str, Any]]:
        """The records of one file; corrupt lines are counted in ``result`` and set aside."""
        with path.open("r", encoding="utf-8", errors="replace") as data:
            for number, line in enumerate(data, start=1):
                if not line.strip():
                    continue
                try:
                    yield decode(line)
                except ValueError:
                    logger.warning("Skipping corrupt spool line %s:%s", path.name, number)
                    self._reject(path, line)
                    if result is not None:
                        result.corrupt_lines += 1

    def replay(
        self,
        db: Database[dict[str, Any]],
        batch_size: int = REPLAY_BATCH_SIZE,
        result: ReplayResult | None = None,
    ) -> ReplayResult:
        """Archive every spooled file not being written, oldest first, then delete it.

        A database error propagates: the file being replayed stays (as ``.replaying``) for the
        next replay, and ``result``, when given, holds what was done before the error.
        """
        result = result if result is not None else ReplayResult()
        for path in self.files():
            if path != self.path:
                self._replay_file(db, path, max(1, batch_size), result)
        if result.files:
            logger.info(
                "Replayed %s spooled record(s) from %s file(s) (%s corrupt line(s) skipped)",
                result.records,
                result.files,
                result.corrupt_lines,
            )
        return result

    def _replay_file(
        self, db: Database[dict[str, Any]], path: Path, batch_size: int, result: ReplayResult
    ) -> None:
        try:
            handle = path.open("rb")
        except FileNotFoundError:  # another replayer finished it meanwhile
            return
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                result.skipped_locked += 1  # still being written, or another replay has it
                return
            if not path.exists():  # replayed and deleted between our open and our lock
                return
            if path.name.endswith(SUFFIX):
                replaying = path.with_name(path.name + ".replaying")
                path.rename(replaying)
                path = replaying
            batch: list[dict[str, Any]] = []
            for record in self.records(path, result):
                batch.append(record)
                if len(batch) >= batch_size:
                    result.archive.add(archive_batch(db, batch))
                    result.records += len(batch)
                    batch = []
            if batch:
                result.archive.add(archive_batch(db, batch))
                result.records += len(batch)
            path.unlink()
            result.files += 1

    def _reject(self, path: Path, line: str) -> None:
        rejected = self.directory / REJECTED_DIR
        rejected.mkdir(exist_ok=True)
        name = path.name.removesuffix(".replaying")
        with (rejected / name).open("a", encoding="utf-8") as out:
            out.write(line if line.endswith("\n") else line + "\n")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
