"""``python -m crawler import``: export -> import round trips on the real write path (SecantusDB,
``conftest``), bad lines, unreadable files, and reading that never holds the file."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pymongo.database import Database

from crawler.archive import importer
from crawler.archive.query import Archive
from crawler.archive.store import (
    ARTICLE_VERSIONS,
    ARTICLES,
    archive_batch,
    connect,
    ensure_indexes,
)
from crawler.cli.main import cli
from tests.test_stories import COPY_PAIR, HARD_NEGATIVE, T0, pair

DB = Database[dict[str, Any]]
K = "https://kalteng.antaranews.com/berita"
NATIONAL, DESK, COPY = (
    f"{K}/812460/banjir",
    "https://ambon.antaranews.com/berita/1/banjir",
    ("https://babel.antaranews.com/berita/2/banjir"),
)
BMKG_1, BMKG_2 = f"{K}/3/bmkg", "https://kalsel.antaranews.com/berita/4/bmkg"
SHORT, SHORT_COPY = f"{K}/5/singkat", "https://kalsel.antaranews.com/berita/6/singkat"
#: Archived in one batch (one first_seen_at): the story goes to the lower URL (TIE_FOUNDER),
#: the original of the exact copies to the first in the batch (SAME_FIRST, the higher URL).
TIE_FOUNDER, TIE_MEMBER = "https://ambon.antaranews.com/berita/7/x", f"{K}/8/x"
SAME_FIRST, SAME_SECOND = f"{K}/9/sama", "https://ambon.antaranews.com/berita/10/sama"
EDITED = f"{K}/11/diperbarui"
SHORT_BODY = "Kantor tutup hari Senin."
SAME_BODY = "Pasar murah digelar di halaman kantor wali kota mulai pukul delapan pagi. " * 3


def record(url: str, body: str, published: datetime, **extra: Any) -> dict[str, Any]:
    """An Article record as the crawl archives it."""
    return {
        "url": url,
        "source": "antara_kalteng",
        "site_name": "ANTARA Kalteng",
        "language": "id",
        "title": f"Judul {url.rsplit('/', 2)[-2]}",
        "body": body,
        "published_at": published,
        "published_at_raw": "Sabtu, 31 Januari 2026 16:30 WIB",
        "authors": ["Muhammad Arif Hidayat"],
        "editors": [],
        "tags": ["kalteng", "banjir"],
        "word_count": len(body.split()),
        **extra,
    }


def source_archive(db: DB) -> None:
    """Stories over several crawls, as the write path archives them. Later crawls archive
    newer articles, so an export (newest published first) lists them against crawl order."""
    ensure_indexes(db)
    national, desk = pair(COPY_PAIR)
    first, second = pair(HARD_NEGATIVE)
    tie_a, tie_b = pair("pos-antara_kalsel-493470-dateline")
    hour = timedelta(hours=1)

    def at(n: int) -> datetime:
        return T0 - 6 * hour + n * hour

    archive_batch(db, [record(NATIONAL, national, at(0)), record(BMKG_1, first, at(0))], T0)
    archive_batch(db, [record(SHORT, SHORT_BODY, at(0)), record(EDITED, "Versi satu.", at(0))], T0)
    archive_batch(db, [record(DESK, desk, at(1), source="antara_ambon")], T0 + hour)
    later = [record(COPY, desk, at(2)), record(BMKG_2, second, at(2))]
    archive_batch(db, [*later, record(SHORT_COPY, SHORT_BODY, at(2))], T0 + 2 * hour)
    # One batch: the founder / original published earlier, so exported after the other.
    ties = [record(TIE_MEMBER, tie_b, at(4)), record(TIE_FOUNDER, tie_a, at(3))]
    ties += [record(SAME_FIRST, SAME_BODY, at(3)), record(SAME_SECOND, SAME_BODY, at(4))]
    archive_batch(db, ties, T0 + 3 * hour)
    archive_batch(db, [record(EDITED, "Versi dua, diperbarui.", at(0))], T0 + 4 * hour)


def stored(db: DB) -> dict[str, dict[str, Any]]:
    """URL -> record as stored, less what an import sets anew (``last_seen_at``, ``version``)."""
    skip = {"_id", "last_seen_at", "version"}
    return {d["url"]: {k: v for k, v in d.items() if k not in skip} for d in db[ARTICLES].find()}


@pytest.fixture
def target(mongo_uri: str) -> Iterator[DB]:
    """A second, empty database on the test server (``mongo_db`` is the source)."""
    db = connect(mongo_uri, f"test_{uuid.uuid4().hex[:12]}")
    try:
        yield db
    finally:
        db.client.drop_database(db.name)
        db.client.close()


@pytest.fixture
def exported(mongo_db: DB, tmp_path: Path) -> Path:
    source_archive(mongo_db)
    out = tmp_path / "archive.jsonl"
    assert Archive(mongo_db).export(out, "jsonl") == 12
    return out


def run_import(
    mongo_uri: str, db: DB, *args: str, input: bytes | None = None, timeout: str = "5"
) -> Result:
    options = ["--mongo-uri", mongo_uri, "--database", db.name, "--timeout", timeout]
    return CliRunner().invoke(cli, [*options, "import", *args], input=input)


def test_round_trip_keeps_records_duplicates_and_stories(
    mongo_uri: str, mongo_db: DB, target: DB, exported: Path
) -> None:
    original = stored(mongo_db)
    assert original[DESK]["story_id"] == original[COPY]["story_id"] == NATIONAL
    assert original[COPY]["duplicate_of"] == DESK and original[SHORT_COPY]["duplicate_of"] == SHORT
    assert original[TIE_MEMBER]["story_id"] == TIE_FOUNDER
    assert original[SAME_SECOND]["duplicate_of"] == SAME_FIRST

    # One record per batch: every record is written after the ones first seen before it.
    result = run_import(mongo_uri, target, str(exported), "--batch-size", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "read 12 line(s): inserted 12, updated 0, unchanged 0, rejected 0"
    ]
    assert stored(target) == original  # fields, first_seen_at, duplicate_of, story_id, bands
    assert {d["version"] for d in target[ARTICLES].find()} == {1}  # history is not exported
    assert mongo_db[ARTICLES].find_one({"url": EDITED})["version"] == 2


def test_gzip_and_stdin_and_a_second_import_changes_nothing(
    mongo_uri: str, mongo_db: DB, target: DB, exported: Path
) -> None:
    packed = exported.with_name("archive.jsonl.gz")
    packed.write_bytes(gzip.compress(exported.read_bytes()))
    result = run_import(mongo_uri, target, str(packed))
    assert result.exit_code == 0, result.output
    assert "inserted 12, updated 0, unchanged 0, rejected 0" in result.stdout
    assert stored(target) == stored(mongo_db)
    before = stored(target)

    for data in (exported.read_bytes(), packed.read_bytes()):  # plain, then gzip by magic
        again = run_import(mongo_uri, target, "-", input=data)
        assert again.exit_code == 0, again.output
        assert "inserted 0, updated 0, unchanged 12, rejected 0" in again.stdout
    summary = importer.import_file(target, packed, batch_size=5)  # the Python API
    assert (summary.lines, summary.unchanged, summary.rejected) == (12, 12, 0)
    assert stored(target) == before
    assert target[ARTICLE_VERSIONS].count_documents({}) == 0


def test_an_edited_record_becomes_version_2(
    mongo_uri: str, target: DB, exported: Path, tmp_path: Path
) -> None:
    assert run_import(mongo_uri, target, str(exported)).exit_code == 0
    rows = [json.loads(line) for line in exported.read_text("utf-8").splitlines()]
    desk = next(row for row in rows if row["url"] == DESK)
    desk["body"] += "\n\nParagraf tambahan dari redaksi."  # its content_hash left stale
    edited = tmp_path / "edited.jsonl"
    edited.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")

    result = run_import(mongo_uri, target, str(edited))
    assert result.exit_code == 0, result.output
    assert "inserted 0, updated 1, unchanged 11, rejected 0" in result.stdout
    doc = target[ARTICLES].find_one({"url": DESK})
    assert doc is not None and doc["version"] == 2 and doc["story_id"] == NATIONAL
    assert doc["body"].endswith("redaksi.") and doc["content_hash"] != desk["content_hash"]
    old = target[ARTICLE_VERSIONS].find_one({"url": DESK})
    assert old is not None and old["version"] == 1 and not old["body"].endswith("redaksi.")


def test_bad_lines_are_counted_with_line_numbers_and_the_good_ones_imported(
    mongo_uri: str, target: DB, exported: Path, tmp_path: Path
) -> None:
    good = exported.read_bytes().splitlines(keepends=True)
    lone_surrogate = json.dumps({"url": f"{K}/90/x", "title": "\ud83d", "body": "Isi."})
    lines = [
        good[0],
        b"{not json\n",
        b"[1, 2]\n",
        good[1],
        b'{"title": "tanpa url", "body": "Isi."}\n',
        b'{"url": "' + K.encode() + b'/91/x", "published_at": "kemarin"}\n',
        lone_surrogate.encode() + b"\n",
        b'{"url": "\xff\xfe"}\n',
        b"\n",
        b"{\n",
        good[2],
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines))

    result = run_import(mongo_uri, target, str(bad))
    assert result.exit_code == 65, result.output
    assert "Traceback" not in result.output
    assert result.stdout.splitlines() == [
        "read 11 line(s): inserted 3, updated 0, unchanged 0, rejected 7",
        "  not JSON: 2 (lines 2, 10)",
        "  no url: 1 (line 5)",
        "  not UTF-8: 1 (line 8)",
        "  not a JSON object: 1 (line 3)",
        "  published_at is not an ISO 8601 datetime: 1 (line 6)",
        "  unstorable: UnicodeEncodeError: 1 (line 7)",
    ]
    assert target[ARTICLES].count_documents({}) == 3


def test_unreadable_files_and_archive(
    mongo_uri: str, target: DB, exported: Path, tmp_path: Path
) -> None:
    missing = run_import(mongo_uri, target, str(tmp_path / "nothing.jsonl"))
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    fake = tmp_path / "fake.jsonl.gz"
    fake.write_bytes(exported.read_bytes())
    not_gzip = run_import(mongo_uri, target, str(fake))
    assert not_gzip.exit_code == 2 and "not gzip" in not_gzip.stderr

    truncated = tmp_path / "cut.jsonl.gz"
    truncated.write_bytes(gzip.compress(exported.read_bytes())[:-40])
    cut = run_import(mongo_uri, target, str(truncated))
    assert cut.exit_code == 74 and "cannot read" in cut.stderr, cut.output
    assert target[ARTICLES].count_documents({}) == 0  # read whole before any write

    down = "mongodb://127.0.0.1:1/?directConnection=true"
    unreachable = run_import(down, target, str(exported), timeout="0.2")
    assert unreachable.exit_code == 3 and "archive unreachable" in unreachable.stderr


def test_first_seen_at_is_kept_for_new_urls_only(mongo_db: DB) -> None:
    ensure_indexes(mongo_db)
    then, now = T0 - timedelta(days=30), T0
    url = f"{K}/92/x"
    carried = {**record(url, "Isi satu.", then), "first_seen_at": then}
    archive_batch(mongo_db, [carried], now, keep_first_seen=True)
    archive_batch(
        mongo_db,
        [{**carried, "body": "Isi dua.", "first_seen_at": T0 - timedelta(days=90)}],
        now,
        keep_first_seen=True,
    )
    doc = mongo_db[ARTICLES].find_one({"url": url})
    assert doc is not None and doc["first_seen_at"] == then and doc["version"] == 2
    future = {**record(f"{K}/93/x", "Isi.", then), "first_seen_at": now + timedelta(days=1)}
    ignored = {**record(f"{K}/94/x", "Isi lain.", then), "first_seen_at": then}
    archive_batch(mongo_db, [future], now, keep_first_seen=True)
    archive_batch(mongo_db, [ignored], now)  # without keep_first_seen: the write's own time
    for other in (f"{K}/93/x", f"{K}/94/x"):
        assert mongo_db[ARTICLES].find_one({"url": other})["first_seen_at"] == now


class EndlessLines(io.RawIOBase):
    """A stream that never ends: reading all of it would never return."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = b'{"url": "https://example.org/a"}\n' * 8
        size = min(len(buffer), len(chunk))
        buffer[:size] = chunk[:size]
        return size


def test_lines_are_read_one_at_a_time_and_a_huge_one_is_skipped_unheld() -> None:
    stream = io.BufferedReader(EndlessLines())
    first = list(islice(importer.numbered_lines(stream), 3))
    assert first == [(n, b'{"url": "https://example.org/a"}\n') for n in (1, 2, 3)]

    huge = io.BytesIO(b"x" * 10_000 + b"\n" + b"{}\n")
    assert list(importer.numbered_lines(huge, max_bytes=100)) == [(1, None), (2, b"{}\n")]


def test_ordering_sorts_in_spilled_runs_with_flat_memory(tmp_path: Path) -> None:
    """3,000 lines (~1.4 MB) in runs of 16 KB merged three at a time, oldest first_seen_at
    first: memory stays far below the file's size."""
    body = "Isi berita yang cukup panjang untuk satu baris. " * 8
    path = tmp_path / "many.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(3000):
            seen = T0 - timedelta(minutes=(n * 7919) % 3000)  # a shuffled order
            row = {"url": f"{K}/{n}/x", "body": body, "first_seen_at": seen.isoformat()}
            handle.write(json.dumps(row) + "\n")
    summary = importer.ImportSummary()
    tracemalloc.start()
    try:
        with (
            importer.opened(path) as source,
            importer.ordered(
                source, summary, temp_dir=tmp_path, run_bytes=16_384, fan_in=3
            ) as good,
        ):
            runs = len(list(next(tmp_path.glob("crawler-import-*")).iterdir()))
            previous, count = datetime.min.replace(tzinfo=UTC), 0
            for record in good.records():
                assert record["first_seen_at"] > previous
                previous, count = record["first_seen_at"], count + 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert good.count == summary.records == count == 3000 and 1 < runs <= 3
    assert peak < path.stat().st_size / 4, peak
    assert not list(tmp_path.glob("crawler-import-*"))  # the temporary runs are gone


def test_summary_lists_the_first_line_numbers_of_each_reason() -> None:
    summary = importer.ImportSummary(lines=9, inserted=2, refused=1)
    for number in (1, 2, 3, 4, 5, 6):
        summary.reject(number, "not JSON")
    summary.reject(9, "no url")
    assert summary.rejected == 8
    assert summary.report() == [
        "read 9 line(s): inserted 2, updated 0, unchanged 0, rejected 8",
        "  not JSON: 6 (lines 1, 2, 3, 4, 5, ...)",
        "  no url: 1 (line 9)",
        "  refused by the archive while writing: 1 (see the log)",
    ]
    assert importer.parse_datetime("2024-03-01T08:00:00Z") == datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert importer.parse_datetime("2024-03-01T15:00:00+07:00") == datetime(
        2024, 3, 1, 8, tzinfo=UTC
    )
    assert importer.parse_datetime("2024-03-01T08:00:00") == datetime(2024, 3, 1, 8, tzinfo=UTC)
