"""crawler.archive.spool: exact round trips, one fsync per batch, idempotent and crash-tolerant replay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import PyMongoError

from crawler.archive.spool import ReplayResult, Spool, decode, encode
from crawler.archive.store import (
    ARTICLE_VERSIONS,
    ARTICLES,
    archive_batch,
    connect,
    ensure_indexes,
)
from tests.mirror import free_port

DB = Database[dict[str, Any]]


def record(n: int, body: str | None = None) -> dict[str, Any]:
    return {
        "url": f"https://kalteng.antaranews.com/berita/{n}",
        "source": "antara_kalteng",
        "title": f"Berita {n}",
        "body": body or f"Isi berita nomor {n}.",
        "published_at": datetime(2024, 5, 1, 1, n % 60, 7, 123456, tzinfo=UTC),
        "crawled_at": datetime(2026, 1, 27, 9, 0, tzinfo=UTC),
        "tags": ["$gt", "a.b"],
        "authors": [],
        "image_url": None,
    }


def test_datetimes_round_trip_exactly() -> None:
    wib = timezone(timedelta(hours=7))
    value = {
        "at": datetime(2026, 1, 27, 16, 42, 1, 999999, tzinfo=wib),
        "naive": datetime(2026, 1, 27, 16, 42),
        "nested": [datetime(2026, 1, 1, tzinfo=UTC), {"x": 1}],
        "text": "Kafé “Huma Betang”",
        "dollar": {"$set": "stays a dict"},
    }
    back = decode(encode(value))
    assert back == value
    assert back["at"].utcoffset() == timedelta(hours=7)
    assert back["naive"].tzinfo is None


def test_append_fsyncs_once_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    spool = Spool(tmp_path / "spool")
    assert spool.append([record(n) for n in range(50)]) == 50
    files_after_first = len(synced)  # the file, and its directory once
    assert spool.append([record(n) for n in range(50, 60)]) == 10
    assert spool.append([]) == 0
    assert len(synced) == files_after_first + 1
    spool.close()
    (path,) = spool.files()
    assert [r["url"] for r in spool.records(path)] == [record(n)["url"] for n in range(60)]
    assert spool.pending() == 60


def test_replay_archives_and_deletes(tmp_path: Path, mongo_db: DB) -> None:
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(5)])
    spool.close()
    spool.append([record(n) for n in range(5, 8)])
    spool.close()
    result = spool.replay(mongo_db, batch_size=2)
    assert (result.files, result.records, result.corrupt_lines) == (2, 8, 0)
    assert result.archive.inserted == 8
    assert spool.files() == []
    doc = mongo_db[ARTICLES].find_one({"url": record(3)["url"]})
    assert doc is not None
    assert doc["published_at"] == record(3)["published_at"].replace(microsecond=123000)
    assert doc["tags"] == ["$gt", "a.b"]


def test_truncated_and_corrupt_lines_are_counted_not_fatal(tmp_path: Path, mongo_db: DB) -> None:
    spool = Spool(tmp_path)
    spool.append([record(1), record(2)])
    path = spool.path
    assert path is not None
    spool.close()
    with path.open("a", encoding="utf-8") as out:
        out.write("not json at all\n")
        out.write("[1, 2]\n")
        out.write(encode(record(3))[:40])  # a crash mid-write: no newline, cut short
    result = spool.replay(mongo_db)
    assert (result.records, result.corrupt_lines) == (2, 3)
    assert mongo_db[ARTICLES].count_documents({}) == 2
    rejected = (tmp_path / "rejected" / path.name).read_text().splitlines()
    assert rejected[0] == "not json at all"
    assert len(rejected) == 3


def test_crash_mid_replay_is_replayed_again_without_duplicates(
    tmp_path: Path, mongo_db: DB
) -> None:
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(6)])
    spool.close()
    (path,) = spool.files()
    # A replay that archived half the file and died: renamed, partly written, not deleted.
    ensure_indexes(mongo_db)
    replaying = path.with_name(path.name + ".replaying")
    path.rename(replaying)
    archive_batch(mongo_db, [record(n) for n in range(3)])
    result = spool.replay(mongo_db)
    assert result.records == 6
    assert (result.archive.inserted, result.archive.unchanged) == (3, 3)
    assert spool.files() == []
    assert mongo_db[ARTICLES].count_documents({}) == 6
    assert mongo_db[ARTICLE_VERSIONS].count_documents({}) == 0


def test_file_still_being_written_is_left_alone(tmp_path: Path, mongo_db: DB) -> None:
    writer = Spool(tmp_path)
    writer.append([record(1)])
    result = Spool(tmp_path).replay(mongo_db)
    assert (result.files, result.skipped_locked) == (0, 1)
    assert len(writer.files()) == 1
    writer.close()
    assert Spool(tmp_path).replay(mongo_db).records == 1


def test_database_down_mid_replay_keeps_the_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([record(n) for n in range(3)])
    spool.close()
    db = connect(f"mongodb://127.0.0.1:{free_port()}/?serverSelectionTimeoutMS=200", "x")
    result = ReplayResult()
    with pytest.raises(PyMongoError):
        spool.replay(db, result=result)
    db.client.close()
    (left,) = spool.files()
    assert left.name.endswith(".jsonl.replaying")
    assert result.files == 0
    assert spool.pending() == 3
