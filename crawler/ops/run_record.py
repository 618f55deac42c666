"""The ``crawl_runs`` record of one scheduled run: built from the crawl's stats, judged, stored.

A run is stored in the ``crawl_runs`` collection of the archive database, ``_id`` = run id.
When the database is unreachable it is written to ``DATA_DIR/runs/pending/<id>.json``
instead (datetimes tagged as in :mod:`crawler.archive.spool`; fsynced, renamed into place,
never left
half-written) and uploaded, idempotently, by the next run that reaches the database. Recording
never raises; :func:`save_record` says where the record went, or why it went nowhere.

Credentials never go into a record: spider arguments and setting overrides are redacted
(:mod:`crawler.archive.redaction`), also those of pending records written by earlier versions.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler import stats_keys as keys
from crawler.archive.redaction import redact_settings, redact_text
from crawler.archive.spool import decode, encode
from crawler.archive.store import connect
from crawler.ops.stats_handoff import write_atomically

logger = logging.getLogger(__name__)

CRAWL_RUNS = "crawl_runs"
PENDING_DIR = Path("runs") / "pending"
RECORD_TIMEOUT_MS = 5000


def build_record(
    spider: str,
    spider_args: Sequence[tuple[str, str]],
    overrides: Sequence[tuple[str, str]],
    started_at: datetime,
    finished_at: datetime,
    stats: Mapping[str, Any] | None,
    log_path: Path,
) -> dict[str, Any]:
    """The run document (without its verdict: see :func:`judge`)."""
    stats = stats or {}

    def number(key: str) -> int:
        value = stats.get(key, 0)
        return int(value) if isinstance(value, (int, float)) else 0

    def by_suffix(prefix: str) -> dict[str, int]:
        return {
            key[len(prefix) :]: int(value)
            for key, value in stats.items()
            if key.startswith(prefix) and isinstance(value, int)
        }

    skipped = by_suffix(keys.spider_prefix(spider, keys.SKIPPED))
    failed_pages = (
        sum(by_suffix(keys.spider_prefix(spider, keys.DOWNLOAD_ERRORS)).values())
        + sum(by_suffix(keys.spider_prefix(spider, keys.LISTING_ERRORS)).values())
        + sum(n for reason, n in skipped.items() if reason.startswith(keys.HTTP_SKIP_PREFIX))
    )
    return {
        "_id": f"{spider}-{started_at:%Y%m%dT%H%M%S.%f}Z-{os.getpid()}",
        "spider": spider,
        "args": {name: redact_text(value) for name, value in spider_args},
        "settings": redact_settings(overrides),
        "host": socket.gethostname(),
        "started_at": started_at,
        "finished_at": finished_at,
        "seconds": round((finished_at - started_at).total_seconds(), 3),
        "finish_reason": stats.get(keys.FINISH_REASON),
        "counts": {
            "new": number(keys.ARCHIVE_INSERTED),
            "updated": number(keys.ARCHIVE_UPDATED),
            "unchanged": number(keys.ARCHIVE_UNCHANGED),
            "duplicate": number(keys.ARCHIVE_DUPLICATES),
            "dropped": number(keys.ITEM_DROPPED),
            "dropped_by_reason": by_suffix(keys.ITEM_DROPPED_REASONS_PREFIX),
            "failed_pages": failed_pages,
            "skipped_by_reason": skipped,
            "errors": number(keys.LOG_ERRORS),
            "items": number(keys.ITEM_SCRAPED),
            "requests": number(keys.REQUEST_COUNT),
            "spooled": number(keys.SPOOL_WRITTEN),
            "replayed": number(keys.SPOOL_REPLAYED),
        },
        "monitors": monitor_results(stats),
        "log_file": str(log_path),
    }


def monitor_results(stats: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: {"passed": bool, "message": str}}`` from ``monitors/<name>/failed|message``."""
    results: dict[str, dict[str, Any]] = {}
    for key, value in stats.items():
        name = keys.monitor_name(key)  # None for "monitors/failed", the total
        if name is not None:
            message = stats.get(keys.monitor_message(name), "")
            results[name] = {"passed": not value, "message": message}
    return results


def judge(
    record: Mapping[str, Any],
    stats: Mapping[str, Any] | None,
    returncode: int,
    timed_out: bool,
    max_errors: int,
    stats_problem: str | None = None,
) -> list[str]:
    """Why the run failed; empty when it succeeded. ``stats_problem``: why the stats could not
    be read, when that is known (they are None then)."""
    failures: list[str] = []
    if timed_out:
        failures.append("the crawl ran out of time and was stopped")
    if stats is None:
        if stats_problem:
            failures.append(
                f"the crawl's stats are missing (exit code {returncode}): {stats_problem}"
            )
        elif returncode == 0:
            failures.append("the crawl exited with code 0 but handed back no stats (see its log)")
        else:
            failures.append(f"the crawl wrote no stats (exit code {returncode}): crashed or killed")
    elif returncode != 0:
        failures.append(f"the crawl exited with code {returncode}")
    if stats is not None and record["finish_reason"] != "finished":
        failures.append(f"finish reason {record['finish_reason']!r}, not 'finished'")
    errors = record["counts"]["errors"]
    if errors > max_errors:
        failures.append(f"{errors} error(s) logged, more than RUN_MAX_ERRORS={max_errors}")
    for name, result in record["monitors"].items():
        if not result["passed"]:
            failures.append(f"monitor {name}: {result['message']}")
    return failures


@dataclass
class StoredRecord:
    """Where :func:`save_record` put a run: ``where`` is ``<db>.crawl_runs`` or a pending file,
    None if nowhere; ``problems`` says what failed on the way."""

    where: str | None
    problems: list[str] = field(default_factory=list)


def store_record(
    record: Mapping[str, Any], mongo_uri: str | None, database: str, data_dir: Path
) -> str:
    """Store the run (and any pending ones); returns where it went ("nowhere"). Never raises."""
    return save_record(record, mongo_uri, database, data_dir).where or "nowhere"


def save_record(
    record: Mapping[str, Any], mongo_uri: str | None, database: str, data_dir: Path
) -> StoredRecord:
    """Store the run in the database, else in a pending file; upload pending ones. Never
    raises."""
    problems: list[str] = []
    pending = data_dir / PENDING_DIR
    if mongo_uri:
        try:
            db = connect(mongo_uri, database, timeout_ms=RECORD_TIMEOUT_MS)
            try:
                runs = db[CRAWL_RUNS]
                runs.replace_one({"_id": record["_id"]}, dict(record), upsert=True)
                for path in sorted(pending.glob("*.json")) if pending.is_dir() else []:
                    try:
                        earlier = _redacted(decode(path.read_text(encoding="utf-8")))
                    except (OSError, ValueError):
                        logger.warning("Unreadable pending run record %s; left in place", path)
                        continue
                    runs.replace_one({"_id": earlier["_id"]}, earlier, upsert=True)
                    path.unlink()
            finally:
                db.client.close()
            return StoredRecord(f"{database}.{CRAWL_RUNS}")
        except Exception as exc:
            problem = f"database: {type(exc).__name__}: {redact_text(str(exc))[:300]}"
            logger.warning("Could not record the run in the database (%s)", problem)
            problems.append(problem)
    else:
        problems.append("database: no server to record in")
    path = pending / f"{record['_id']}.json"
    try:
        write_atomically(path, encode(record))
    except (OSError, ValueError) as exc:
        problems.append(f"{pending}: {exc}")
        logger.error("Could not record the run anywhere: %s", "; ".join(problems))
        return StoredRecord(None, problems)
    return StoredRecord(str(path), problems)


def _redacted(record: dict[str, Any]) -> dict[str, Any]:
    """A pending record with its settings and arguments redacted (earlier versions kept them
    verbatim)."""
    settings, args = record.get("settings"), record.get("args")
    if isinstance(settings, dict):
        record["settings"] = redact_settings((str(k), str(v)) for k, v in settings.items())
    if isinstance(args, dict):
        record["args"] = {str(k): redact_text(str(v)) for k, v in args.items()}
    return record
