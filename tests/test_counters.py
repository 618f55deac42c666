"""The counters the archive keeps as it writes (``crawler.archive.counters``), against a real
server: after any sequence of writes they give exactly what a scan of the records gives."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive import counters, counts_read
from crawler.archive.counters import COUNTS, key_value, value_key
from crawler.archive.query import STATS_GROUPS, Archive, Tally
from crawler.archive.recount import recount
from crawler.archive.report import collect
from crawler.archive.restory import restory
from crawler.archive.store import ARTICLES, archive_batch, ensure_indexes
from crawler.archive.story_counts import STORY_COUNTS
from tests.test_cli import run
from tests.test_query import record
from tests.test_stories import COPY_PAIR, pair

DB = Database[dict[str, Any]]
T0 = datetime(2024, 1, 30, 22, 0, tzinfo=UTC)  # near a month's end: windows cross months
ODD = [".", "$", "", "a.b$c", "%2E", "100%", "Kafé 日本", "$where", "nul\x00byte", "-", "_"]
#: Windows a stats call may ask for: whole days, months, open ends, times inside a day.
WINDOWS: list[tuple[Any, Any]] = [
    (None, None),
    ("2024-01-31", None),
    (None, "2024-02-01"),
    ("2024-01-29", "2024-02-02"),
    ("2024-02-01", "2024-02-29"),
    ("2024-01-01", "2024-03-31"),
    ("2024-01-31T23:30:00Z", None),
    (None, "2024-02-01T05:00:00+07:00"),
    ("2024-01-31T12:00:00Z", "2024-02-01T02:00:00Z"),
    ("2024-01-31T01:00:00Z", "2024-01-31T20:00:00Z"),
    ("2024-02-01T00:00:00Z", "2024-02-02T00:00:00Z"),
    ("2030-01-01", None),
]


def figures(tally: Tally) -> dict[str, Any]:
    """Everything a Tally holds, in a form two tallies compare by."""
    return {
        "total": tally.total,
        "duplicates": tally.duplicates,
        "filled": dict(tally.filled),
        "groups": {by: dict(counts) for by, counts in tally.groups.items()},
        "daily_by_source": dict(tally.daily_by_source),
        "duplicates_by_source": dict(tally.duplicates_by_source),
        "multi_desk": tally.multi_desk,
        "multi_desk_by_source": dict(tally.multi_desk_by_source),
    }


def assert_counters_exact(archive: Archive, sources: tuple[str | None, ...] = (None,)) -> None:
    """Counters (which must be in use) equal a scan for every window and source."""
    for source in sources:
        for since, until in WINDOWS:
            window = counts_read.Window.of(since, until)
            kept = counts_read.counted(archive.db, window, source)
            assert kept is not None, "counters not in use"
            scanned = archive.tally(since, until, source, scan=True)
            assert figures(kept) == figures(scanned), (since, until, source)


@pytest.fixture
def archive(mongo_db: DB) -> Archive:
    ensure_indexes(mongo_db)  # into an empty archive: the counters are valid from the start
    return Archive(mongo_db)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def odd_records() -> list[dict[str, Any]]:
    """Odd names as tags, authors, categories; no date; a naive date; duplicates."""
    records = [
        record(
            n,
            published_at=at(3 * n),
            source="antara_kalteng" if n % 3 else "antara_kalsel",
            category=ODD[n % len(ODD)],
            tags=[ODD[n % len(ODD)], ODD[(n + 3) % len(ODD)], "kalteng"],
            authors=[ODD[(n + 5) % len(ODD)]] if n % 4 else [],
            description="" if n % 2 else "Ringkasan",
        )
        for n in range(24)
    ]
    records.append(record(100, published_at=None, category=None, source="antara_ambon"))
    records.append(record(101, published_at=datetime(2024, 1, 31, 23, 30)))  # naive: UTC
    records.append(record(102, body=records[0]["body"], source="antara_ambon"))  # duplicate
    records.append(record(103, tags=["x", "x", 7], authors=[None, "x"], category=12))
    return records


def test_value_keys_round_trip() -> None:
    for value in [*ODD, None, "a%25b", "%", "..", "$$"]:
        key = value_key(value)
        assert "." not in key and not key.startswith("$") and key and "\x00" not in key
        assert key_value(key) == value


def test_counters_equal_a_scan_after_inserts_versions_and_recrawls(archive: Archive) -> None:
    db = archive.db
    first = odd_records()
    archive_batch(db, first, at(100))
    assert_counters_exact(archive, (None, "antara_kalteng", "antara_ambon"))

    changed = []
    for doc in first[:12]:
        n = int(doc["url"].split("/")[-2])
        changed.append(
            {
                **doc,
                "body": f"Versi baru {n}.",
                "content_hash": None,  # recomputed from the new body
                "category": ODD[(n + 1) % len(ODD)] if n % 2 else None,
                "tags": [] if n % 3 == 0 else ["baru", ODD[n % len(ODD)]],
                "authors": ["Penulis Baru"] if n % 2 else [],
                "description": "Kini ada" if n % 2 else None,
                "image_url": "https://img/x.jpg" if n % 5 == 0 else None,
                "published_at": at(3 * n + 30) if n % 4 == 0 else None if n == 5 else at(3 * n),
                "source": "antara_kalsel" if n == 7 else doc["source"],
            }
        )
    result = archive_batch(db, changed + first[12:], at(101))  # versions and re-crawls
    assert result.updated == 12 and result.unchanged == len(first) - 12
    assert_counters_exact(archive, (None, "antara_kalsel"))

    stats = archive.stats(by="tag")
    assert dict(stats.groups)["nul\x00byte"] >= 1 and dict(stats.groups)[""] >= 1
    assert archive.stats(by="category").groups == archive_stats_scanned(archive, "category")


def archive_stats_scanned(archive: Archive, by: str) -> list[tuple[str | None, int]]:
    return archive.tally(scan=True).ordered(by)


def test_stats_by_every_group_equals_the_scan(archive: Archive) -> None:
    archive_batch(archive.db, odd_records(), at(100))
    for by in STATS_GROUPS:
        for since, until in WINDOWS[:6]:
            for source in (None, "antara_kalteng"):
                got = archive.stats(by=by, since=since, until=until, source=source)
                scan = archive.tally(since, until, source, scan=True)
                assert got.groups == scan.ordered(by)
                assert (got.total, got.duplicates) == (scan.total, scan.duplicates)
                assert got.coverage == scan.coverage()
                assert got.multi_desk_stories == scan.multi_desk


def stories_archive(db: DB) -> None:
    """Stories on several desks: a national story and a desk's near copy, exact copies on a
    third desk a day later, and a story that stays on one desk."""
    national, desk = pair(COPY_PAIR)
    archive_batch(db, [record(201, body=national, published_at=at(1))], at(2))
    archive_batch(db, [record(202, body=desk, source="antara_ambon", published_at=at(4))], at(5))
    copies = [
        record(203, body=desk, source="antara_babel", published_at=at(30)),
        record(204, body="Satu desk saja.", published_at=at(31)),
        record(205, body="Satu desk saja.", source="antara_kalteng", published_at=at(32)),
        record(206, body="Dua desk pendek.", source="antara_kalsel", published_at=None),
        record(207, body="Dua desk pendek.", source="antara_bali", published_at=at(60)),
    ]
    archive_batch(db, copies, at(40))
    assert db[ARTICLES].count_documents({"story_id": record(201)["url"]}) == 3


def test_multi_desk_stories_are_counted_in_their_first_publication(archive: Archive) -> None:
    stories_archive(archive.db)
    assert_counters_exact(archive, (None, "antara_ambon", "antara_babel", "antara_kalteng"))
    everything = archive.stats()
    assert everything.multi_desk_stories == 2
    # Published on Jan 30 first: counted there, though its third desk's copy is of Feb 1.
    assert archive.stats(since="2024-02-01").multi_desk_stories == 1  # the short pair
    assert archive.stats(until="2024-01-31").multi_desk_stories == 1
    assert archive.stats(source="antara_babel").multi_desk_stories == 1
    data = collect(archive)
    assert data.multi_desk_stories == 2
    assert data.multi_desk_by_source == [
        ("antara_ambon", 1),
        ("antara_babel", 1),
        ("antara_bali", 1),
        ("antara_kalsel", 1),
        ("antara_kalteng", 1),  # its two copies of the one-desk story count for nothing
    ]
    since = collect(archive, since="2024-02-01")
    assert since.multi_desk_by_source == [("antara_bali", 1), ("antara_kalsel", 1)]


def test_report_figures_from_counters_equal_the_scan(archive: Archive) -> None:
    archive_batch(archive.db, odd_records(), at(100))
    stories_archive(archive.db)
    from_counters = asdict(collect(archive, since="2024-01-31", top_tags=50))
    archive.db[COUNTS].delete_one({"_id": counters.MARKER_ID})  # now collect scans
    from_scan = asdict(collect(archive, since="2024-01-31", top_tags=50))
    for data in (from_counters, from_scan):
        data.pop("generated_at")
    assert from_counters == from_scan


#: Three stories, each as two desks wrote it.
RACED = (COPY_PAIR, "pos-antara_kalsel-493470-dateline", "pos-antara_ambon-715102-dateline")


def test_two_writers_at_once_stay_exact(archive: Archive) -> None:
    errors: list[BaseException] = []
    for attempt, pair_id in enumerate(RACED):
        national, desk = pair(pair_id)
        barrier = threading.Barrier(2)
        shared = [100 + 10 * attempt + i for i in range(3)]  # one writer inserts, one updates
        batches = [
            [record(10 * attempt + 1, body=national, published_at=at(attempt))]
            + [record(n, body=f"Versi A {n}.", tags=["a"], published_at=at(n % 7)) for n in shared],
            [record(10 * attempt + 2, body=desk, source="antara_ambon", published_at=at(9))]
            + [record(n, body=f"Versi B {n}.", tags=["b", "$"], published_at=at(n % 5 + 40))
               for n in shared],
        ]  # fmt: skip

        def write(
            batch: list[dict[str, Any]],
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                barrier.wait()
                archive_batch(archive.db, batch, at(50))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(batch,)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
    assert archive.stats().multi_desk_stories == 3
    assert_counters_exact(archive, (None, "antara_ambon"))


def bucket_docs(db: DB) -> list[dict[str, Any]]:
    """The counters, with the zero counts a write path may leave behind left out."""

    def nonzero(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        kept = {key: nonzero(item) for key, item in sorted(value.items())}
        return {key: item for key, item in kept.items() if item not in (0, {})}

    docs = [nonzero(doc) for doc in db[COUNTS].find({"g": {"$ne": None}})]
    return sorted((doc for doc in docs if set(doc) - {"_id", "g", "p", "t", "s"}), key=str)


def multi_desk_documents(db: DB) -> list[tuple[str, list[Any], Any]]:
    found = db[STORY_COUNTS].find({"multi": True})
    return sorted((doc["_id"], doc["sources"], doc["first"]) for doc in found)


def test_recount_rebuilds_the_same_counters_and_is_idempotent(archive: Archive) -> None:
    archive_batch(archive.db, odd_records(), at(100))
    stories_archive(archive.db)
    kept = bucket_docs(archive.db)
    multi = multi_desk_documents(archive.db)
    first = recount(archive.db, chunk=7)
    assert first.valid and first.records == 35
    assert first.multi_desk_stories == 3  # with odd_records' duplicate on another desk
    assert bucket_docs(archive.db) == kept
    assert multi_desk_documents(archive.db) == multi
    second = recount(archive.db)
    assert (second.records, second.buckets) == (first.records, first.buckets)
    assert bucket_docs(archive.db) == kept
    assert_counters_exact(archive)


def test_an_archive_without_the_marker_falls_back_to_a_scan(
    mongo_db: DB, caplog: pytest.LogCaptureFixture
) -> None:
    archive_batch(mongo_db, odd_records(), at(100))  # written before ensure_indexes: no marker
    ensure_indexes(mongo_db)  # not empty any more: still no marker
    archive = Archive(mongo_db)
    with caplog.at_level(logging.WARNING):
        stats = archive.stats(by="tag")
    assert "python -m crawler recount" in caplog.text
    assert counts_read.counted(mongo_db, counts_read.Window(), None) is None
    assert stats.groups == archive.tally(scan=True).ordered("tag")
    result = run(archive, "recount")
    assert result.exit_code == 0 and "records counted:     28" in result.stdout
    assert_counters_exact(archive)
    caplog.clear()
    run_stats = run(archive, "stats", "--by", "author")
    assert run_stats.exit_code == 0 and "recount" not in run_stats.stderr


def test_a_write_that_died_before_its_counters_makes_readers_scan(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive_batch(archive.db, odd_records()[:5], at(100))

    def crash(*args: Any) -> None:
        raise ConnectionError("server gone between the article write and the counters")

    commit: Callable[..., None] = counters.BatchCounts.commit
    monkeypatch.setattr(counters.BatchCounts, "commit", crash)
    with pytest.raises(ConnectionError):
        archive_batch(archive.db, odd_records()[5:10], at(101))
    monkeypatch.setattr(counters.BatchCounts, "commit", commit)
    # A write still in progress for all a reader can tell: the counters are used ...
    assert counts_read.counted(archive.db, counts_read.Window(), None) is not None
    # ... until it is older than any write takes.
    monkeypatch.setattr(counters, "PENDING_STALE", timedelta(0))
    assert counts_read.counted(archive.db, counts_read.Window(), None) is None
    assert archive.stats().total == 10  # from the scan
    assert recount(archive.db).valid
    assert_counters_exact(archive)


def test_restory_keeps_story_counts(archive: Archive) -> None:
    stories_archive(archive.db)
    # As an archive from before story linking: no story ids, no signatures.
    unset = {"story_id": "", "minhash": "", "story_bands": "", "signature_version": ""}
    archive.db[ARTICLES].update_many({}, {"$unset": unset})
    assert recount(archive.db).multi_desk_stories == 0
    restory(archive.db)
    assert archive.stats().multi_desk_stories == 2
    assert_counters_exact(archive, (None, "antara_babel"))


def test_windows_split_into_whole_days_and_scanned_edges() -> None:
    day = datetime(2024, 1, 31, tzinfo=UTC)
    whole, edges = counts_read.Window.of("2024-01-31", "2024-02-29").split()
    assert (whole, edges) == ((day, datetime(2024, 3, 1, tzinfo=UTC)), [])
    assert counts_read.bucket_ranges(*whole) == [
        ("d", {"t": {"$gte": day, "$lt": datetime(2024, 2, 1, tzinfo=UTC)}}),
        ("m", {"t": {"$gte": datetime(2024, 2, 1, tzinfo=UTC), "$lt": whole[1]}}),
    ]
    noon = day.replace(hour=12)
    # No whole day inside: scanned as one.
    window = counts_read.Window.of(noon, "2024-02-01T06:00:00Z")
    assert window.split() == (None, [window])
    whole, edges = counts_read.Window.of(noon, "2024-02-02T06:00:00Z").split()
    assert whole == (day + timedelta(days=1), day + timedelta(days=2))
    assert edges == [
        counts_read.Window(noon, day + timedelta(days=1)),
        counts_read.Window(day + timedelta(days=2), day + timedelta(days=2, hours=6), True),
    ]
    assert counts_read.bucket_ranges(None, None) == [("a", {})]
    assert counts_read.Window.of(None, "9999-12-31").split()[1][0].hi_inclusive
