"""Story linking on the real write path (``archive_batch`` against SecantusDB, ``conftest``)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive.query import Archive
from crawler.archive.report import collect, render
from crawler.archive.store import ARTICLES, archive_batch, ensure_indexes
from tests.test_cli import run

DB = Database[dict[str, Any]]
T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
PAIRS = Path(__file__).parent / "fixtures" / "story_pairs" / "pairs.json"
NATIONAL = "https://kalteng.antaranews.com/berita/812460/banjir"
DESK = "https://ambon.antaranews.com/berita/999001/banjir"
#: A national story and a desk's copy: another dateline, a reworded sentence, an added paragraph.
COPY_PAIR = "pos-antara_kalteng-812460-issue_example"
#: Two BMKG extreme-weather warnings from different offices, same week.
HARD_NEGATIVE = "neg-bmkg-warning-offices"


def pair(pair_id: str) -> tuple[str, str]:
    pairs = {item["id"]: item for item in json.loads(PAIRS.read_text("utf-8"))["pairs"]}
    return pairs[pair_id]["a"], pairs[pair_id]["b"]


def record(url: str, body: str, source: str = "antara_kalteng") -> dict[str, Any]:
    return {
        "url": url,
        "source": source,
        "title": f"Judul {url}",
        "body": body,
        "published_at": datetime(2026, 1, 31, 9, 30, tzinfo=UTC),
    }


def story(db: DB, url: str) -> str:
    doc = db[ARTICLES].find_one({"url": url}, {"story_id": 1})
    assert doc is not None
    return str(doc["story_id"])


@pytest.fixture
def db(mongo_db: DB) -> DB:
    ensure_indexes(mongo_db)
    return mongo_db


def test_desk_copy_archived_after_the_national_story_joins_it(db: DB) -> None:
    national, desk = pair(COPY_PAIR)
    archive_batch(db, [record(NATIONAL, national)], T0)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 + timedelta(hours=1))
    assert story(db, NATIONAL) == story(db, DESK) == NATIONAL
    doc = db[ARTICLES].find_one({"url": DESK})
    assert doc is not None
    assert doc["duplicate_of"] is None  # not an exact copy
    assert len(doc["minhash"]) == 128 and doc["story_bands"]


def test_opposite_order_links_to_the_desk_copy(db: DB) -> None:
    national, desk = pair(COPY_PAIR)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0)
    archive_batch(db, [record(NATIONAL, national)], T0 + timedelta(hours=1))
    assert story(db, NATIONAL) == story(db, DESK) == DESK


def test_pair_in_one_batch_links_to_the_lower_url(db: DB) -> None:
    national, desk = pair(COPY_PAIR)
    archive_batch(db, [record(NATIONAL, national), record(DESK, desk, "antara_ambon")], T0)
    # One batch is one instant (first_seen_at): the tie goes to the lower URL, as every writer
    # would decide it.
    assert story(db, NATIONAL) == story(db, DESK) == DESK


def test_exact_copy_joins_the_story_of_its_original(db: DB) -> None:
    national, desk = pair(COPY_PAIR)
    archive_batch(db, [record(NATIONAL, national)], T0)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 + timedelta(hours=1))
    copy = "https://babel.antaranews.com/berita/1/banjir"
    archive_batch(db, [record(copy, desk, "antara_babel")], T0 + timedelta(hours=2))
    doc = db[ARTICLES].find_one({"url": copy})
    assert doc is not None
    assert doc["duplicate_of"] == DESK
    assert doc["story_id"] == NATIONAL


def test_hard_negative_pair_stays_two_stories(db: DB) -> None:
    first, second = pair(HARD_NEGATIVE)
    a, b = "https://kalteng.antaranews.com/berita/1/bmkg", "https://kalsel.antaranews.com/b/2/bmkg"
    archive_batch(db, [record(a, first)], T0)
    archive_batch(db, [record(b, second, "antara_kalsel")], T0 + timedelta(hours=1))
    assert story(db, a) == a
    assert story(db, b) == b


def test_recrawl_and_changed_version_keep_story_id(db: DB) -> None:
    national, desk = pair(COPY_PAIR)
    archive_batch(db, [record(NATIONAL, national)], T0)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 + timedelta(hours=1))
    # Re-crawl, in the opposite order, in one batch: nothing moves.
    pages = [record(DESK, desk, "antara_ambon"), record(NATIONAL, national)]
    archive_batch(db, pages, T0 + timedelta(days=1))
    assert story(db, NATIONAL) == story(db, DESK) == NATIONAL
    # The desk rewrites its copy beyond recognition: a new version, the same story.
    before = db[ARTICLES].find_one({"url": DESK})
    assert before is not None
    changed = "Isi yang sama sekali lain, ditulis ulang oleh redaksi daerah. " * 20
    result = archive_batch(db, [record(DESK, changed, "antara_ambon")], T0 + timedelta(days=2))
    assert result.updated == 1
    after = db[ARTICLES].find_one({"url": DESK})
    assert after is not None
    assert after["version"] == 2
    assert after["story_id"] == NATIONAL
    assert after["minhash"] != before["minhash"]
    assert set(after["story_bands"]).isdisjoint(before["story_bands"])


def test_two_writers_at_once_converge_on_one_story(db: DB) -> None:
    national, desk = pair(COPY_PAIR)
    for attempt in range(5):
        db[ARTICLES].delete_many({})
        urls = [f"{NATIONAL}-{attempt}", f"{DESK}-{attempt}"]
        bodies = [national, desk]
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def write(
            index: int,
            urls: list[str] = urls,
            bodies: list[str] = bodies,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                barrier.wait()
                archive_batch(db, [record(urls[index], bodies[index])], T0)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        # Whoever wrote or re-read first, both end in one story, founded by one of them.
        assert story(db, urls[0]) == story(db, urls[1]) in urls


def test_readers_see_stories_not_signatures(db: DB) -> None:
    national, desk = pair(COPY_PAIR)
    first, second = pair(HARD_NEGATIVE)
    archive_batch(db, [record(NATIONAL, national)], T0)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 + timedelta(hours=1))
    archive_batch(db, [record("https://x/bmkg-1", first), record("https://x/bmkg-2", second)], T0)
    archive = Archive(db)
    records = list(archive.search())
    assert len(records) == 4
    assert all("minhash" not in r and "story_bands" not in r for r in records)
    unique = sorted(r["url"] for r in archive.search(unique=True))
    assert unique == sorted([NATIONAL, "https://x/bmkg-1", "https://x/bmkg-2"])
    got = archive.get(DESK)
    assert got is not None and "minhash" not in got and got["story_id"] == NATIONAL
    # One record per story of those that match: the desk's copy stands for its story on the
    # desk, though the story's first article is on another.
    assert [r["url"] for r in archive.search(unique=True, source="antara_ambon")] == [DESK]
    assert archive.count(unique=True, source="antara_ambon") == 1
    assert archive.count(unique=True) == 3


def test_earlier_writer_landing_late_takes_the_young_story_whole(db: DB) -> None:
    """A writer that read the clock first but inserts last (a slow batch, a paused crawl):
    the story a racing writer founded meanwhile, with the copy that already joined it, moves
    into the earlier record's story."""
    national, desk = pair(COPY_PAIR)
    copy = "https://babel.antaranews.com/berita/1/banjir"
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 + timedelta(seconds=5))
    archive_batch(db, [record(copy, desk, "antara_babel")], T0 + timedelta(seconds=6))
    assert story(db, DESK) == story(db, copy) == DESK
    archive_batch(db, [record(NATIONAL, national)], T0)
    assert story(db, NATIONAL) == story(db, DESK) == story(db, copy) == NATIONAL


def test_a_settled_story_is_never_moved(db: DB) -> None:
    """Past the race window a story is settled: a record stamped earlier that lands later (a
    clock far behind, a batch written long after it was stamped) joins it instead of taking
    it over."""
    national, desk = pair(COPY_PAIR)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 - timedelta(days=1))
    archive_batch(db, [record(NATIONAL, national)], T0 - timedelta(days=2))
    assert story(db, DESK) == story(db, NATIONAL) == DESK


@pytest.fixture
def desks(db: DB) -> Archive:
    """A national story and a desk's copy of it, and two BMKG warnings (two stories)."""
    national, desk = pair(COPY_PAIR)
    first, second = pair(HARD_NEGATIVE)
    archive_batch(db, [record(NATIONAL, national)], T0)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 + timedelta(hours=1))
    archive_batch(db, [record(f"{BMKG}/1", first), record(f"{BMKG}/2", second)], T0)
    return Archive(db)


BMKG = "https://kalteng.antaranews.com/berita/bmkg"


def test_cli_unique_show_stats_export_see_stories(desks: Archive, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in run(desks, "search", "--json").stdout.splitlines()]
    assert len(rows) == 4
    assert all("minhash" not in row and "story_bands" not in row for row in rows)
    unique = run(desks, "search", "--json", "--unique").stdout.splitlines()
    assert sorted(json.loads(line)["url"] for line in unique) == [
        NATIONAL,
        f"{BMKG}/1",
        f"{BMKG}/2",
    ]

    shown = run(desks, "show", DESK)
    assert shown.exit_code == 0
    assert "minhash" not in shown.stdout and "story_bands" not in shown.stdout
    assert "Same story elsewhere (1):" in shown.stdout
    assert f"antara_kalteng       2026-01-31 09:30  {NATIONAL}" in shown.stdout
    payload = json.loads(run(desks, "show", "--json", NATIONAL).stdout)
    assert payload["record"]["story_id"] == NATIONAL and "minhash" not in payload["record"]
    assert [other["url"] for other in payload["story"]] == [DESK]
    assert payload["story"][0]["source"] == "antara_ambon"
    assert "Same story elsewhere (0):" in run(desks, "show", f"{BMKG}/1").stdout

    stats = json.loads(run(desks, "stats", "--json").stdout)
    assert stats["multi_desk_stories"] == 1
    assert "stories on several desks: 1" in run(desks, "stats").stdout

    out = tmp_path / "unique.jsonl"
    assert run(desks, "export", "--unique", "-o", str(out)).exit_code == 0
    exported = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len(exported) == 3
    assert all(row["story_id"] == row["url"] and "minhash" not in row for row in exported)
    frame = desks.to_dataframe(unique=True)
    assert sorted(frame["url"]) == [NATIONAL, f"{BMKG}/1", f"{BMKG}/2"]
    assert "minhash" not in frame.columns


def test_report_charts_stories_on_several_desks(desks: Archive) -> None:
    data = collect(desks)
    assert data.multi_desk_stories == 1
    assert data.multi_desk_by_source == [("antara_ambon", 1), ("antara_kalteng", 1)]
    html = render(data)
    assert 'id="chart-stories"' in html and "stories on several desks" in html
