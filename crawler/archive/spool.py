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
to ``rejected/`` for a human, and skipped: replay never crashes on it. If even that copy fails
(a full disk), the file is cut down, in place (which needs no free space), to the lines that
could not be copied, and kept for the next replay: the good lines are archived all the same.

Spool trouble is not database trouble: a file that cannot be read or renamed is logged, counted
(``failed_files``) and skipped; only a database error propagates out of :meth:`Spool.replay`.
An append that fails (``ENOSPC``) cuts the file back to where the batch started, so a later
append never glues a good record onto a partial line; the caller learns of the failure.

Bytes are written as ``{"$base64": "..."}`` (the page archive spools raw pages). Text that
UTF-8 cannot encode (a lone surrogate) is written ``\\u``-escaped, so :meth:`Spool.append` never
fails on content; the writer then refuses that one record (see :func:`archive_batch`).
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import FileIO
from pathlib import Path
from typing import Any

from pymongo.database import Database

from crawler.archive.store import ArchiveResult, archive_batch

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"
REPLAYING_SUFFIX = ".jsonl.replaying"
REJECTED_DIR = "rejected"
DATETIME_TAG = "$datetime"
BYTES_TAG = "$base64"
REPLAY_BATCH_SIZE = 500


@dataclass
class ReplayResult:
    """What one :meth:`Spool.replay` did; ``archive`` sums the archive writes."""

    files: int = 0
    records: int = 0
    corrupt_lines: int = 0
    skipped_locked: int = 0
    #: Files that could not be read or renamed (an ``OSError``), left for the next replay.
    failed_files: int = 0
    #: Corrupt lines that could not be copied to ``rejected/``, kept in their file.
    unrejected_lines: int = 0
    archive: ArchiveResult = field(default_factory=ArchiveResult)


#: How a spool hands records back: :func:`crawler.archive.archive_batch` for articles.
Writer = Callable[[Database[dict[str, Any]], Sequence[Mapping[str, Any]]], ArchiveResult]


def encode(record: Mapping[str, Any]) -> str:
    """One JSON line (no newline), always UTF-8 encodable; datetimes and bytes tagged, anything
    unknown as its ``str``."""
    tagged = _tag(record)
    line = json.dumps(tagged, ensure_ascii=False, default=str)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, the record is kept as it was
        return json.dumps(tagged, ensure_ascii=True, default=str)
    return line


def decode(line: str) -> dict[str, Any]:
    """The record of one line; ``ValueError`` if it is not a JSON object."""
    record = json.loads(line, object_hook=_untag)
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object: {line[:80]!r}")
    return record


def _tag(value: Any) -> Any:
    if isinstance(value, datetime):
        return {DATETIME_TAG: value.isoformat()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {BYTES_TAG: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(key): _tag(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tag(item) for item in value]
    return value


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get(DATETIME_TAG), str):
        return datetime.fromisoformat(obj[DATETIME_TAG])
    if len(obj) == 1 and isinstance(obj.get(BYTES_TAG), str):
        return base64.b64decode(obj[BYTES_TAG], validate=True)
    return obj


class Spool:
    """The spool directory: :meth:`append` batches, :meth:`replay` them with ``write``
    (default :func:`crawler.archive.archive_batch`)."""

    def __init__(self, directory: str | os.PathLike[str], write: Writer = archive_batch) -> None:
        self.directory = Path(directory)
        self.write = write
        self._file: FileIO | None = None
        self.path: Path | None = None  # the file this process appends to, if any

    # --- writing ----------------------------------------------------------------------------

    def append(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append records and fsync once; returns how many were written.

        An ``OSError`` (a full disk) propagates with nothing of the batch left in the file.
        """
        data = "".join(encode(record) + "\n" for record in records).encode("utf-8")
        if not data:
            return 0
        out = self._writer()
        start = os.fstat(out.fileno()).st_size  # we hold the file's lock: nobody else appends
        try:
            _write_all(out, data)
            os.fsync(out.fileno())
        except OSError:
            self._cut_back(out, start)
            raise
        return data.count(b"\n")

    def _cut_back(self, out: FileIO, size: int) -> None:
        """Drop the part of a failed batch that reached the file; a new file next time."""
        self._file, self.path = None, None
        try:
            os.ftruncate(out.fileno(), size)
            os.fsync(out.fileno())
        except OSError:
            logger.exception("Could not cut spool file %s back after a failed append", out.name)
        finally:
            out.close()

    def close(self) -> None:
        """Stop appending to the current file (releasing its lock); the next append starts a
        new one. Call before replaying records this process spooled."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self.path = None

    def _writer(self) -> FileIO:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            path = self.directory / f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
            out = FileIO(path, "ab")
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

    def records(
        self,
        path: Path,
        result: ReplayResult | None = None,
        unrejected: list[bytes] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The records of one file; corrupt lines are counted in ``result`` and copied to
        ``rejected/``; those that cannot be copied (a full disk) are added to ``unrejected``."""
        with path.open("rb") as data:
            for number, raw in enumerate(data, start=1):
                if not raw.strip():
                    continue
                try:
                    yield decode(raw.decode("utf-8", errors="replace"))
                except ValueError:
                    logger.warning("Skipping corrupt spool line %s:%s", path.name, number)
                    if result is not None:
                        result.corrupt_lines += 1
                    try:
                        self._reject(path, raw)
                    except OSError as exc:
                        logger.error(
                            "Could not copy corrupt spool line %s:%s to %s (%s); it is kept in "
                            "the spool file",
                            path.name,
                            number,
                            self.directory / REJECTED_DIR,
                            exc.strerror or exc,
                        )
                        if unrejected is not None:
                            unrejected.append(raw)

    def replay(
        self,
        db: Database[dict[str, Any]],
        batch_size: int = REPLAY_BATCH_SIZE,
        result: ReplayResult | None = None,
    ) -> ReplayResult:
        """Write every spooled file not being written, oldest first, then delete it.

        A database error propagates: the file being replayed stays (as ``.replaying``) for the
        next replay, and ``result``, when given, holds what was done before the error. A file
        the spool cannot read or rename (an ``OSError``) is logged, counted in
        ``failed_files`` and left for the next replay; the other files are replayed.
        """
        result = result if result is not None else ReplayResult()
        for path in self.files():
            if path == self.path:
                continue
            try:
                self._replay_file(db, path, max(1, batch_size), result)
            except OSError as exc:
                result.failed_files += 1
                logger.error(
                    "Could not replay spool file %s (%s); it stays for the next replay", path, exc
                )
        if result.files or result.failed_files:
            logger.info(
                "Replayed %s spooled record(s) from %s file(s) (%s corrupt line(s) skipped, "
                "%s file(s) failed)",
                result.records,
                result.files,
                result.corrupt_lines,
                result.failed_files,
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
            unrejected: list[bytes] = []
            for record in self.records(path, result, unrejected):
                batch.append(record)
                if len(batch) >= batch_size:
                    result.archive.add(self.write(db, batch))
                    result.records += len(batch)
                    batch = []
            if batch:
                result.archive.add(self.write(db, batch))
                result.records += len(batch)
            result.files += 1
            if unrejected:
                result.unrejected_lines += len(unrejected)
                _keep_only(path, unrejected)
            else:
                path.unlink()

    def _reject(self, path: Path, line: bytes) -> None:
        rejected = self.directory / REJECTED_DIR
        rejected.mkdir(exist_ok=True)
        name = path.name.removesuffix(".replaying")
        with FileIO(rejected / name, "ab") as out:
            size = os.fstat(out.fileno()).st_size
            try:
                _write_all(out, line if line.endswith(b"\n") else line + b"\n")
            except OSError:
                os.ftruncate(out.fileno(), size)  # no fragment for the next copy to glue onto
                raise


def _write_all(out: FileIO, data: bytes) -> None:
    """Unbuffered, so a failed write leaves nothing behind to be flushed later; a disk that
    fills up mid-write makes a short write, and the next one raises ``ENOSPC``."""
    view = memoryview(data)
    while view:
        view = view[out.write(view) or 0 :]


def _keep_only(path: Path, lines: list[bytes]) -> None:
    """Cut ``path`` down to ``lines`` (some of its own lines, in order, as read), overwriting it
    in place: unlike a new file, that needs no free space on a full disk."""
    data = b"".join(lines)
    with path.open("r+b") as out:
        out.write(data)
        out.truncate(len(data))
        out.flush()
        os.fsync(out.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
