"""Streaming exporters: archive records to JSON lines, CSV or Parquet with constant memory.

Records arrive from a cursor one at a time and leave in small batches, so exporting a million
articles needs no more memory than exporting a thousand. Output goes to ``FILE.part`` and is
renamed to ``FILE`` only when complete: a failed export never leaves a truncated file behind
under the name a downstream job is waiting for. A symlink is followed (its target is replaced,
the link kept). ``FILE`` that exists and is no regular file (``/dev/stdout``, a FIFO, a device)
is written directly: renaming a ``.part`` file over it would replace the device node itself
(as root, ``-o /dev/full`` turned /dev/full into a regular file) and hide every write error.

Formats (every format has the columns of :data:`RECORD_FIELDS`):

- ``jsonl``: one JSON object per line, UTF-8; datetimes as ISO 8601 UTC (``2024-03-01T07:05:00Z``,
  milliseconds only when non-zero); lists as JSON arrays.
- ``csv``: RFC 4180 (``csv`` module quoting), UTF-8, header row; datetimes as above; lists
  joined with ``" | "``, where a literal ``|`` or ``\\`` inside an item is escaped as ``\\|`` /
  ``\\\\`` (:func:`split_list` reverses it); null is the empty cell.
- ``parquet``: typed columns (timestamp[ms, UTC], list<string>, int64, string), row groups of
  :data:`PARQUET_ROW_GROUP` records; needs pyarrow.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any

from crawler.extract.normalize import iso_utc
from crawler.items import ARTICLE_FIELDS

logger = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv", "parquet")
#: Article fields, then what the archive adds to each record.
RECORD_FIELDS: tuple[str, ...] = (
    *ARTICLE_FIELDS,
    "first_seen_at",
    "last_seen_at",
    "version",
    "duplicate_of",
    "story_id",
)
#: The projection that reads a record's exported fields and nothing else.
EXPORT_PROJECTION: dict[str, int] = {"_id": 0, **dict.fromkeys(RECORD_FIELDS, 1)}
DATETIME_FIELDS = frozenset(
    {"published_at", "modified_at", "crawled_at", "first_seen_at", "last_seen_at"}
)
LIST_FIELDS = frozenset({"authors", "editors", "tags"})
INT_FIELDS = frozenset({"word_count", "version"})
LIST_SEPARATOR = " | "
PARQUET_ROW_GROUP = 5000
#: Called with the number of records written since the previous call.
ProgressCallback = Callable[[int], None]
_PROGRESS_EVERY = 500


def to_jsonable(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with datetimes as ISO 8601 UTC text and anything else non-JSON as text."""
    return {key: _jsonable(value) for key, value in record.items() if key != "_id"}


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def join_list(items: Iterable[Any]) -> str:
    """``["a", "b|c"]`` -> ``"a | b\\|c"``: one CSV cell, reversible with :func:`split_list`."""
    escaped = (str(item).replace("\\", "\\\\").replace("|", "\\|") for item in items)
    return LIST_SEPARATOR.join(escaped)


def split_list(cell: str) -> list[str]:
    """Inverse of :func:`join_list`."""
    if not cell:
        return []
    parts = re.split(r"(?<!\\)((?:\\\\)*) \| ", cell)
    # re.split keeps the captured escaped-backslash runs; glue them back to their item.
    items = [parts[0]]
    for index in range(1, len(parts), 2):
        items[-1] += parts[index]
        items.append(parts[index + 1])
    return [re.sub(r"\\(.)", r"\1", item) for item in items]


def csv_cell(name: str, value: Any) -> str:
    """One record value as CSV text (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, (list, tuple)):
        return join_list(value)
    return str(value)


def write_records(
    records: Iterable[Mapping[str, Any]],
    out: Path,
    format: str = "jsonl",
    progress: ProgressCallback | None = None,
) -> int:
    """Write ``records`` to ``out`` in ``format``; return the number written."""
    writers = {"jsonl": _write_jsonl, "csv": _write_csv, "parquet": _write_parquet}
    if format not in writers:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    out = Path(out)
    if _is_special(out):
        count = writers[format](_counted(records, progress), out)
        logger.info("Exported %s record(s) to %s (%s)", count, out, format)
        return count
    target = Path(os.path.realpath(out))
    partial = target.with_name(target.name + ".part")
    try:
        count = writers[format](_counted(records, progress), partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("Exported %s record(s) to %s (%s)", count, out, format)
    return count


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists (after symlinks) and is not a regular file."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _counted(
    records: Iterable[Mapping[str, Any]], progress: ProgressCallback | None
) -> Iterator[Mapping[str, Any]]:
    """Pass records through, reporting progress every few hundred."""
    pending = 0
    for record in records:
        yield record
        pending += 1
        if progress is not None and pending >= _PROGRESS_EVERY:
            progress(pending)
            pending = 0
    if progress is not None and pending:
        progress(pending)


def _open_text(path: Path) -> IO[str]:
    return open(path, "w", encoding="utf-8", newline="")


def _write_jsonl(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    count = 0
    with _open_text(path) as handle:
        for record in records:
            handle.write(json.dumps(to_jsonable(record), ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count


def _write_csv(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    count = 0
    with _open_text(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(RECORD_FIELDS)
        for record in records:
            writer.writerow([csv_cell(name, record.get(name)) for name in RECORD_FIELDS])
            count += 1
    return count


def _parquet_column(name: str, values: list[Any]) -> list[Any]:
    """The stored values of one column coerced to its type; a value of the wrong type becomes
    null (one comprehension per column: a call per value was a fifth of the export's time)."""
    if name in DATETIME_FIELDS:
        return [value if isinstance(value, datetime) else None for value in values]
    if name in LIST_FIELDS:
        return [
            [str(item) for item in value] if isinstance(value, (list, tuple)) else None
            for value in values
        ]
    if name in INT_FIELDS:
        return [
            value if isinstance(value, int) and not isinstance(value, bool) else None
            for value in values
        ]
    return [value if value is None or type(value) is str else str(value) for value in values]


def _write_parquet(records: Iterable[Mapping[str, Any]], path: Path) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError("pyarrow is needed for parquet export: pip install pyarrow") from exc
    types = {
        **{name: pa.string() for name in RECORD_FIELDS},
        **{name: pa.timestamp("ms", tz="UTC") for name in DATETIME_FIELDS},
        **{name: pa.list_(pa.string()) for name in LIST_FIELDS},
        **{name: pa.int64() for name in INT_FIELDS},
    }
    schema = pa.schema([(name, types[name]) for name in RECORD_FIELDS])
    count = 0
    iterator = iter(records)
    with pq.ParquetWriter(path, schema) as writer:
        while True:
            batch = list(islice(iterator, PARQUET_ROW_GROUP))
            if not batch:
                return count
            columns = {
                name: _parquet_column(name, [record.get(name) for record in batch])
                for name in RECORD_FIELDS
            }
            count += len(batch)
            # Dropped before the next batch is read: one row group in memory at a time.
            del batch
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            del columns
