"""``python -m crawler restory`` on an archive written before story linking (SecantusDB)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from pymongo.database import Database

from crawler.archive import stories
from crawler.archive.query import Archive
from crawler.archive.restory import pending, restory
from crawler.archive.store import ARTICLES, archive_batch, ensure_indexes
from tests.test_cli import run
from tests.test_stories import COPY_PAIR, DESK, HARD_NEGATIVE, NATIONAL, T0, pair, record

DB = Database[dict[str, Any]]
COPY = "https://babel.antaranews.com/berita/1/banjir"
SHORT = "https://kalteng.antaranews.com/berita/2/singkat"
SHORT_COPY = "https://kalsel.antaranews.com/berita/3/singkat"
BMKG = "https://kalteng.antaranews.com/berita/bmkg"


def written_by_the_write_path(db: DB) -> dict[str, str]:
    """An archive of two stories on several desks, two lookalike warnings and a short notice
    with an exact copy, as the crawl writes it; returns URL -> story_id."""
    ensure_indexes(db)
    national, desk = pair(COPY_PAIR)
    first, second = pair(HARD_NEGATIVE)
    archive_batch(db, [record(NATIONAL, national)], T0)
    archive_batch(db, [record(f"{BMKG}/1", first), record(SHORT, "Kantor tutup hari Senin.")], T0)
    archive_batch(db, [record(DESK, desk, "antara_ambon")], T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=2)
    archive_batch(db, [record(COPY, desk, "antara_babel"), record(f"{BMKG}/2", second)], later)
    archive_batch(db, [record(SHORT_COPY, "Kantor tutup hari Senin.", "antara_kalsel")], later)
    return {d["url"]: d["story_id"] for d in db[ARTICLES].find({}, {"url": 1, "story_id": 1})}


def as_before_story_linking(db: DB) -> None:
    unset = {name: "" for name in (*stories.INTERNAL_FIELDS, "story_id")}
    db[ARTICLES].update_many({}, {"$unset": unset})


def test_restory_gives_an_old_archive_the_links_the_write_path_makes(mongo_db: DB) -> None:
    expected = written_by_the_write_path(mongo_db)
    assert expected[DESK] == expected[COPY] == NATIONAL
    assert expected[SHORT_COPY] == SHORT
    as_before_story_linking(mongo_db)
    assert pending(mongo_db) == 7

    result = run(Archive(mongo_db), "restory")
    assert result.exit_code == 0, result.output
    assert "Linking stories" in result.stderr  # the progress bar (drawn on a terminal)
    assert "records needing work: 7" in result.stdout
    assert "story ids set:        7" in result.stdout
    assert "joined another story: 3" in result.stdout  # desk copy, its exact copy, short copy
    got = {d["url"]: d["story_id"] for d in mongo_db[ARTICLES].find({}, {"url": 1, "story_id": 1})}
    assert got == expected
    doc = mongo_db[ARTICLES].find_one({"url": DESK})
    assert doc is not None and doc["signature_version"] == stories.KEY_VERSION
    assert len(doc["minhash"]) == 128 and doc["story_bands"]

    again = run(Archive(mongo_db), "restory")
    assert again.exit_code == 0
    assert "records needing work: 0" in again.stdout


def test_restory_keeps_story_ids_and_only_re_signs_an_old_signature(mongo_db: DB) -> None:
    expected = written_by_the_write_path(mongo_db)
    mongo_db[ARTICLES].update_many(
        {}, {"$set": {"signature_version": "minhash-old", "story_bands": ["p0:b00:0"]}}
    )
    result = restory(mongo_db, batch_size=2)
    assert (result.records, result.signed, result.storied) == (7, 7, 0)
    got = {d["url"]: d["story_id"] for d in mongo_db[ARTICLES].find({}, {"url": 1, "story_id": 1})}
    assert got == expected
    assert mongo_db[ARTICLES].count_documents({"story_bands": "p0:b00:0"}) == 0


def test_restory_interrupted_goes_on_where_it_stopped(mongo_db: DB) -> None:
    expected = written_by_the_write_path(mongo_db)
    as_before_story_linking(mongo_db)
    seen: list[int] = []

    def stop_after_the_first_batch(n: int) -> None:
        seen.append(n)
        raise KeyboardInterrupt

    with contextlib.suppress(KeyboardInterrupt):
        restory(mongo_db, batch_size=3, progress=stop_after_the_first_batch)
    assert seen == [3] and pending(mongo_db) == 4
    result = restory(mongo_db)
    assert result.records == 4
    got = {d["url"]: d["story_id"] for d in mongo_db[ARTICLES].find({}, {"url": 1, "story_id": 1})}
    assert got == expected


def test_a_crawl_writing_while_restory_runs_joins_the_older_story(mongo_db: DB) -> None:
    """A crawl archives a desk copy before restory has signed its older original: the copy
    founds a story of its own, and moves into the original's when restory reaches it."""
    ensure_indexes(mongo_db)
    national, desk = pair(COPY_PAIR)
    archive_batch(mongo_db, [record(NATIONAL, national)], T0)
    as_before_story_linking(mongo_db)
    archive_batch(mongo_db, [record(DESK, desk, "antara_ambon")])  # now: a running crawl
    assert mongo_db[ARTICLES].find_one({"url": DESK})["story_id"] == DESK
    restory(mongo_db)
    got = {d["url"]: d["story_id"] for d in mongo_db[ARTICLES].find({}, {"url": 1, "story_id": 1})}
    assert got == {NATIONAL: NATIONAL, DESK: NATIONAL}
