"""Streaming exporters: formats, CSV-safe lists, atomic output and flat memory."""

from __future__ import annotations

import csv
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive import export
from crawler.archive.export import (
    RECORD_FIELDS,
    iso_utc,
    join_list,
    split_list,
    to_jsonable,
    write_records,
)
from crawler.archive.query import Archive
from crawler.archive.store import archive_batch, ensure_indexes
from tests.test_query import T0, record, url


@pytest.fixture
def archive(mongo_db: Database[dict[str, Any]]) -> Archive:
    """An Archive on the test's fresh database (``mongo_db`` closes the client)."""
    ensure_indexes(mongo_db)
    return Archive(mongo_db)


def archived(archive: Archive) -> None:
    archive_batch(
        archive.db,
        [
            record(1, tags=["a|b", "c\\d", "kalteng"], description='Kata "kutip", koma'),
            record(2, body="Baris satu.\n\nBaris dua."),
            record(3, body="Baris satu.\n\nBaris dua."),  # a duplicate of 2
        ],
        now=datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=UTC),
    )


def test_iso_utc_and_jsonable() -> None:
    assert iso_utc(T0) == "2024-03-01T08:00:00Z"
    assert iso_utc(T0.replace(microsecond=5000)) == "2024-03-01T08:00:00.005Z"
    assert iso_utc(datetime(2024, 3, 1, 15, 0)) == "2024-03-01T15:00:00Z"  # naive is UTC
    assert to_jsonable({"_id": 1, "at": T0, "tags": ["x"], "n": None}) == {
        "at": "2024-03-01T08:00:00Z",
        "tags": ["x"],
        "n": None,
    }


@pytest.mark.parametrize(
    "items", [[], ["a"], ["a", "b"], ["a|b", "c\\"], ["x \\| y", " | ", "\\\\", ""], ["|"]]
)
def test_list_join_is_reversible(items: list[str]) -> None:
    assert split_list(join_list(items)) == items


def test_jsonl(archive: Archive, tmp_path: Path) -> None:
    archived(archive)
    out = tmp_path / "a.jsonl"
    assert archive.export(out, "jsonl") == 3
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [row["url"] for row in rows] == [url(3), url(2), url(1)]
    assert rows[0]["published_at"] == "2024-03-01T11:00:00Z"
    assert rows[0]["first_seen_at"] == "2024-05-01T08:00:00.123Z"
    assert rows[0]["duplicate_of"] == url(2)
    assert rows[2]["tags"] == ["a|b", "c\\d", "kalteng"]
    assert not list(tmp_path.glob("*.part"))


def test_csv(archive: Archive, tmp_path: Path) -> None:
    archived(archive)
    out = tmp_path / "a.csv"
    assert archive.export(out, "csv", unique=True) == 2
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == RECORD_FIELDS
    first = rows[-1]
    assert first["url"] == url(1)
    assert split_list(first["tags"]) == ["a|b", "c\\d", "kalteng"]
    assert first["description"] == 'Kata "kutip", koma'
    assert first["published_at"] == "2024-03-01T09:00:00Z"
    assert rows[0]["body"] == "Baris satu.\n\nBaris dua."
    assert first["modified_at"] == ""  # null
    assert first["duplicate_of"] == ""


def test_parquet(archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    monkeypatch.setattr(export, "PARQUET_ROW_GROUP", 2)
    archived(archive)
    out = tmp_path / "a.parquet"
    assert archive.export(out, "parquet", since="2024-03-01") == 3
    parquet = pq.ParquetFile(out)
    assert parquet.metadata.num_row_groups == 2
    table = parquet.read()
    assert table.column_names == list(RECORD_FIELDS)
    assert str(table.schema.field("published_at").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("tags").type) == "list<element: string>"
    rows = table.to_pylist()
    assert rows[0]["published_at"] == T0 + timedelta(hours=3)
    assert rows[2]["tags"] == ["a|b", "c\\d", "kalteng"]
    assert rows[0]["version"] == 1


def test_failed_export_leaves_no_file(tmp_path: Path) -> None:
    def broken() -> Iterator[dict[str, Any]]:
        yield record(1)
        raise ConnectionError("server went away")

    out = tmp_path / "a.jsonl"
    with pytest.raises(ConnectionError):
        write_records(broken(), out, "jsonl")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="format"):
        write_records([], out, "xlsx")


def test_progress_reports_every_record(tmp_path: Path) -> None:
    seen: list[int] = []
    count = write_records((record(n) for n in range(1234)), tmp_path / "a.csv", "csv", seen.append)
    assert count == sum(seen) == 1234


def generated(n: int) -> Iterator[dict[str, Any]]:
    """Records made on the fly, like a cursor hands them out (~2 KB each)."""
    template = {**record(0), "version": 1}
    text = "isi berita panjang " * 100
    for i in range(n):
        yield {**template, "url": f"{template['url']}/{i}", "body": f"{i} {text}"}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_memory_stays_flat_as_the_export_grows(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    monkeypatch.setattr(export, "PARQUET_ROW_GROUP", 500)
    peaks = []
    for n in (1_000, 4_000):
        tracemalloc.start()
        try:
            write_records(generated(n), tmp_path / f"{n}.{fmt}", fmt)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # Four times the records (~2 MB vs ~8 MB of text), the same peak: nothing accumulates.
    assert peaks[1] < peaks[0] * 1.3, peaks
