"""Importing JSON lines into the archive: ``export --format jsonl`` read back, on the write path.

A line is one record as :func:`crawler.archive.export.to_jsonable` writes it (datetimes as
ISO 8601 text). Only the Article fields are kept, datetimes become aware UTC datetimes again,
and the records go through :func:`crawler.archive.store.archive_batch`, so the archive computes
what it always computes itself: ``content_hash`` (from ``body``), ``version``, ``duplicate_of``,
``story_id``, signatures and band keys; the file's values of those are never trusted. Importing
the same file twice changes nothing the second time (every record is unchanged).

History is kept: a URL new to the archive keeps the file's ``first_seen_at``, and records are
written oldest ``first_seen_at`` first, so the original of a duplicate and the founder of a
story are the records first seen in the source archive, as there. An export lists records
newest ``published_at`` first, so the whole file is ordered before anything is written, by an
external merge sort (:mod:`crawler.archive.line_sort`: sorted runs of 32 MiB spilled to a
temporary directory, then merged). Memory stays flat whatever the file size (a run, a batch
and one line of at most :data:`MAX_LINE_BYTES`); the temporary space is the size of the
file's good lines, uncompressed. A file that cannot be read to its end (a truncated ``.gz``)
fails before anything is written.

A bad line is counted by reason with its line number (:class:`ImportSummary`), never raised.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import IO, Any, cast

from pymongo.database import Database

from crawler.archive import line_sort, store
from crawler.archive.export import DATETIME_FIELDS
from crawler.items import ARTICLE_FIELDS

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
#: A longer line is rejected unread (the archive takes at most 16 MiB per record; JSON escapes
#: can make its text a few times longer).
MAX_LINE_BYTES = 64 * 1024 * 1024
#: Line numbers listed per rejection reason.
SHOWN_LINES = 5
GZIP_MAGIC = b"\x1f\x8b"
#: Fields a record carries that the archive keeps: the Article fields, and ``first_seen_at``
#: for a URL new to it. ``content_hash`` is recomputed from ``body``.
KEPT_FIELDS = frozenset(ARTICLE_FIELDS) - {"content_hash"}
#: Sort key of a record without ``first_seen_at``: after every dated one ("~" > digits).
_UNDATED = "~" * 26
_READ_CHUNK = 1024 * 1024
_PROGRESS_EVERY = 200
#: Called with the number of bytes read / records written since the previous call.
ProgressCallback = Callable[[int], None]
Record = dict[str, Any]


class NotGzipError(ValueError):
    """A file named ``.gz`` that does not start with the gzip magic bytes."""


class Rejected(ValueError):
    """A line that holds no record the archive can take; ``str()`` is the reason."""


@dataclass
class Rejections:
    """The lines rejected for one reason: how many, and the first few line numbers."""

    count: int = 0
    lines: list[int] = field(default_factory=list)


@dataclass
class ImportSummary:
    """What one import did. ``rejected`` = lines rejected by reason + records ``refused``
    by the archive while writing (logged; they have no line number)."""

    lines: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    reasons: dict[str, Rejections] = field(default_factory=dict)

    @property
    def rejected(self) -> int:
        return sum(rejection.count for rejection in self.reasons.values()) + self.refused

    def reject(self, number: int, reason: str) -> None:
        rejection = self.reasons.setdefault(reason, Rejections())
        rejection.count += 1
        if len(rejection.lines) < SHOWN_LINES:
            rejection.lines.append(number)

    def add(self, result: store.ArchiveResult) -> None:
        self.inserted += result.inserted
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.refused += result.errors

    def report(self) -> list[str]:
        """The summary as lines of text, rejections by reason (most frequent first)."""
        lines = [
            f"read {self.lines} line(s): inserted {self.inserted}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}"
        ]
        by_count = sorted(self.reasons.items(), key=lambda item: (-item[1].count, item[0]))
        for reason, rejection in by_count:
            numbers = ", ".join(str(number) for number in rejection.lines)
            more = ", ..." if rejection.count > len(rejection.lines) else ""
            noun = "line" if rejection.count == 1 else "lines"
            lines.append(f"  {reason}: {rejection.count} ({noun} {numbers}{more})")
        if self.refused:
            lines.append(f"  refused by the archive while writing: {self.refused} (see the log)")
        return lines


# --- Reading -------------------------------------------------------------------------------


@dataclass
class Source:
    """An opened input: its lines (decompressed), and how far the file under it was read."""

    name: str
    stream: IO[bytes]
    raw: IO[bytes]
    size: int | None

    def position(self) -> int:
        """Bytes of the underlying (maybe compressed) file read so far; 0 if unknown."""
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0


@contextmanager
def opened(path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> Iterator[Source]:
    """``path`` (``-``: ``stdin``) for reading, gunzipped when it starts with the gzip magic
    bytes. Raises :class:`NotGzipError` for a ``.gz`` file that is not gzip, ``OSError`` when
    it cannot be opened."""
    name = os.fspath(path)
    with ExitStack() as stack:
        if name == "-":
            if stdin is None:
                raise ValueError("reading '-' needs a stdin stream")
            raw, size = stdin, None
        else:
            raw = stack.enter_context(open(name, "rb"))
            status = os.fstat(raw.fileno())
            size = status.st_size if stat.S_ISREG(status.st_mode) else None
        peekable = raw if hasattr(raw, "peek") else io.BufferedReader(cast(Any, raw))
        compressed = cast(io.BufferedReader, peekable).peek(2)[:2] == GZIP_MAGIC
        if name.endswith(".gz") and not compressed:
            raise NotGzipError(f"{name} is named .gz but is not gzip-compressed")
        stream: IO[bytes] = peekable
        if compressed:
            gunzipped = stack.enter_context(gzip.GzipFile(fileobj=peekable, mode="rb"))
            stream = cast(IO[bytes], gunzipped)
        yield Source(name, stream, raw, size)


def numbered_lines(
    stream: IO[bytes], max_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """(line number from 1, line) for each line of ``stream``, read one at a time; the line is
    None when it is longer than ``max_bytes`` (the rest is skipped in chunks, never held)."""
    number = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(_READ_CHUNK)
            yield number, None
        else:
            yield number, line


def load_object(line: bytes) -> Record:
    """The JSON object a line holds (raises :class:`Rejected`)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected("not UTF-8") from None
    try:
        value = json.loads(text.lstrip("\ufeff"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Rejected("not JSON") from None
    if not isinstance(value, dict):
        raise Rejected("not a JSON object")
    return value


def to_record(value: Record) -> Record:
    """A JSON object -> the record to archive: the kept fields, datetimes parsed (raises
    :class:`Rejected`)."""
    url = value.get("url")
    if not isinstance(url, str) or not url.strip():
        raise Rejected("no url")
    record = {name: value[name] for name in KEPT_FIELDS if name in value}
    for name in sorted(DATETIME_FIELDS):
        if name not in value:
            continue
        try:
            when = parse_datetime(value[name])
        except (TypeError, ValueError, OverflowError):
            raise Rejected(f"{name} is not an ISO 8601 datetime") from None
        if name in KEPT_FIELDS or name == "first_seen_at":
            record[name] = when
    return record


def checked(record: Record, started: datetime) -> Record:
    """``record`` if the archive can store it (raises :class:`Rejected` with the reason).
    A ``first_seen_at`` after ``started`` (a clock ahead) is dropped: the import time is used."""
    problem = store.storage_problem(record)
    if problem is not None:
        logger.info("Unstorable record %r: %s", record.get("url"), problem)
        raise Rejected(f"unstorable: {problem.partition(':')[0]}")
    seen = record.get("first_seen_at")
    if seen is not None and seen > started:
        del record["first_seen_at"]
    return record


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 text -> aware UTC datetime (naive means UTC); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"not text: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    aware = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def sort_key(record: Record, value: Record, number: int) -> bytes:
    """Fixed-width key of line ``number``: oldest ``first_seen_at`` first (undated last); on
    a tie, the file's original (``duplicate_of`` null) and story founder (``story_id`` its
    URL) first, then file order. The file's archive fields (in ``value``) only order records
    here; they are not stored."""
    seen = record.get("first_seen_at")
    when = seen.replace(tzinfo=None).isoformat(timespec="microseconds") if seen else _UNDATED
    copy = "1" if value.get("duplicate_of") else "0"
    member = "0" if value.get("story_id") in (None, record["url"]) else "1"
    return f"{when} {copy}{member} {number:015d}\t".encode("ascii")


# --- Ordering ------------------------------------------------------------------------------


@dataclass
class Ordered:
    """The good lines of a source, oldest ``first_seen_at`` first (see :func:`ordered`)."""

    count: int
    lines: Iterator[bytes]

    def records(self) -> Iterator[Record]:
        for prefixed in self.lines:
            yield to_record(load_object(prefixed.partition(b"\t")[2]))


@contextmanager
def ordered(
    source: Source,
    summary: ImportSummary,
    *,
    progress: ProgressCallback | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
    run_bytes: int = line_sort.RUN_BYTES,
    fan_in: int = line_sort.MERGE_FAN_IN,
) -> Iterator[Ordered]:
    """Read ``source`` to its end (rejections go to ``summary``), then yield its good lines in
    import order (:mod:`crawler.archive.line_sort`). ``progress`` gets bytes of the underlying
    file read. A read error (a truncated or corrupt ``.gz``) raises ``OSError`` before anything
    is yielded."""
    good = _good_lines(source, summary, progress)
    with line_sort.sorted_lines(
        good, temp_dir=temp_dir, prefix="crawler-import-", run_bytes=run_bytes, fan_in=fan_in
    ) as lines:
        yield Ordered(summary.records, lines)


def _good_lines(
    source: Source, summary: ImportSummary, progress: ProgressCallback | None
) -> Iterator[bytes]:
    """Each good line, prefixed with its :func:`sort_key`, counted into ``summary``."""
    started = store.utc_now()
    reported = 0
    try:
        for number, line in numbered_lines(source.stream):
            summary.lines = number
            if progress is not None and number % _PROGRESS_EVERY == 0:
                reported = _report(source, progress, reported)
            if line is None:
                summary.reject(number, f"longer than {MAX_LINE_BYTES} bytes")
                continue
            if not line.strip():
                continue  # a blank line holds no record
            try:
                value = load_object(line)
                record = checked(to_record(value), started)
            except Rejected as exc:
                logger.info("Line %s rejected: %s", number, exc)
                summary.reject(number, str(exc))
                continue
            summary.records += 1
            yield sort_key(record, value, number) + line.rstrip(b"\r\n") + b"\n"
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise OSError(f"cannot read {source.name} to its end: {exc}") from exc
    if progress is not None:
        _report(source, progress, reported)


def _report(source: Source, progress: ProgressCallback, reported: int) -> int:
    position = source.position()
    if position > reported:
        progress(position - reported)
    return max(position, reported)


# --- Writing -------------------------------------------------------------------------------


def write_ordered(
    db: Database[store.Doc],
    records: Iterable[Record],
    summary: ImportSummary,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> None:
    """Archive ``records`` in batches through the write path, keeping their ``first_seen_at``.

    A server error propagates (what was written stays written: importing again resumes)."""
    iterator = iter(records)
    while batch := list(islice(iterator, batch_size)):
        summary.add(store.archive_batch(db, batch, keep_first_seen=True))
        logger.debug("Imported a batch of %s record(s)", len(batch))
        if progress is not None:
            progress(len(batch))


def import_file(
    db: Database[store.Doc],
    path: str | os.PathLike[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    stdin: IO[bytes] | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
) -> ImportSummary:
    """Import a JSON lines file (``.gz`` too; ``-`` reads ``stdin``) into the archive ``db``."""
    summary = ImportSummary()
    store.ensure_indexes(db)
    with opened(path, stdin) as source, ordered(source, summary, temp_dir=temp_dir) as good:
        write_ordered(db, good.records(), summary, batch_size=batch_size)
    return summary
