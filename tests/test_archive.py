"""The archive writer's rules, against a real server (see ``conftest.mongo_db``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from pymongo.collection import Collection
from pymongo.database import Database

from crawler.archive.store import (
    ARTICLE_VERSIONS,
    ARTICLES,
    ArchiveResult,
    archive_batch,
    ensure_indexes,
    known_urls,
)

DB = Database[dict[str, Any]]
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def record(url: str, body: str = "Isi berita.", **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "source": "antara_kalteng",
        "title": f"Judul {url}",
        "body": body,
        "published_at": datetime(2024, 4, 30, 9, 30, tzinfo=UTC),
        "authors": ["Muhammad Arif"],
        "tags": ["kalteng"],
        "word_count": len(body.split()),
        "content_hash": hashlib.sha256(body.encode()).hexdigest(),
        **extra,
    }


def article(db: DB, url: str) -> dict[str, Any]:
    doc = db[ARTICLES].find_one({"url": url}, {"_id": 0})
    assert doc is not None
    return doc


def test_first_crawl_inserts_version_1(mongo_db: DB) -> None:
    result = archive_batch(mongo_db, [record("https://a/1"), record("https://a/2", "Lain.")], T0)
    assert result == ArchiveResult(inserted=2)
    doc = article(mongo_db, "https://a/1")
    assert doc["first_seen_at"] == doc["last_seen_at"] == T0
    assert doc["version"] == 1
    assert doc["duplicate_of"] is None
    assert doc["published_at"] == datetime(2024, 4, 30, 9, 30, tzinfo=UTC)
    assert doc["published_at"].utcoffset() == timedelta(0)


def test_unchanged_recrawl_only_moves_last_seen_at(mongo_db: DB) -> None:
    archive_batch(mongo_db, [record("https://a/1")], T0)
    before = article(mongo_db, "https://a/1")
    later = T0 + timedelta(days=1)
    recrawl = record("https://a/1", title="Judul berbeda tapi isi sama")
    assert archive_batch(mongo_db, [recrawl], later) == ArchiveResult(unchanged=1)
    after = article(mongo_db, "https://a/1")
    assert after.pop("last_seen_at") == later
    before.pop("last_seen_at")
    assert after == before
    assert mongo_db[ARTICLE_VERSIONS].count_documents({}) == 0


def test_changed_content_gets_new_version_and_keeps_old(mongo_db: DB) -> None:
    archive_batch(mongo_db, [record("https://a/1", "Versi pertama.")], T0)
    later = T0 + timedelta(hours=5)
    result = archive_batch(mongo_db, [record("https://a/1", "Versi kedua, diralat.")], later)
    assert result == ArchiveResult(updated=1)
    doc = article(mongo_db, "https://a/1")
    assert (doc["version"], doc["body"]) == (2, "Versi kedua, diralat.")
    assert (doc["first_seen_at"], doc["last_seen_at"]) == (T0, later)
    old = mongo_db[ARTICLE_VERSIONS].find_one({"url": "https://a/1"}, {"_id": 0})
    assert old is not None
    assert (old["version"], old["body"], old["archived_at"]) == (1, "Versi pertama.", later)
    assert old["last_seen_at"] == T0

    archive_batch(mongo_db, [record("https://a/1", "Versi ketiga.")], later + timedelta(hours=1))
    assert article(mongo_db, "https://a/1")["version"] == 3
    versions = mongo_db[ARTICLE_VERSIONS].find({"url": "https://a/1"}).sort("version")
    assert [v["version"] for v in versions] == [1, 2]


def test_same_story_under_another_url_is_a_duplicate(mongo_db: DB) -> None:
    archive_batch(mongo_db, [record("https://a/original", "Cerita yang sama.")], T0)
    later = T0 + timedelta(minutes=1)
    result = archive_batch(mongo_db, [record("https://a/copy", "Cerita yang sama.")], later)
    assert result == ArchiveResult(inserted=1, duplicates=1)
    assert article(mongo_db, "https://a/copy")["duplicate_of"] == "https://a/original"
    assert article(mongo_db, "https://a/original")["duplicate_of"] is None


def test_same_hash_twice_in_one_batch_first_wins(mongo_db: DB) -> None:
    batch = [record("https://a/first", "Kembar."), record("https://a/second", "Kembar.")]
    assert archive_batch(mongo_db, batch, T0) == ArchiveResult(inserted=2, duplicates=1)
    assert article(mongo_db, "https://a/first")["duplicate_of"] is None
    assert article(mongo_db, "https://a/second")["duplicate_of"] == "https://a/first"


def test_repeated_url_in_batch_last_record_wins(mongo_db: DB) -> None:
    batch = [record("https://a/1", "Lama."), record("https://a/1", "Baru.")]
    assert archive_batch(mongo_db, batch, T0) == ArchiveResult(inserted=1, unchanged=1)
    assert article(mongo_db, "https://a/1")["body"] == "Baru."


def test_indexes(mongo_db: DB) -> None:
    ensure_indexes(mongo_db)
    ensure_indexes(mongo_db)  # idempotent
    info = mongo_db[ARTICLES].index_information()
    assert info["url_1"].get("unique") is True
    keys = {tuple(spec["key"]) for spec in info.values()}
    assert {(("published_at", 1),), (("source", 1), ("published_at", -1))} <= keys
    assert {(("content_hash", 1),), (("tags", 1),)} <= keys
    versions = mongo_db[ARTICLE_VERSIONS].index_information()
    assert versions["url_1_version_1"].get("unique") is True


def test_dollar_and_dot_values_stay_values(mongo_db: DB) -> None:
    tags = ["$gt", "a.b", "$where", "x.$y"]
    hostile = record("https://a/$x.y", "Harga $5.00 naik.", tags=tags, title="$set")
    hostile["$where"] = "sleep(1000)"  # unknown field: never becomes a key
    hostile["category"] = {"$ne": None}  # a dict value is stored as text, not as keys
    ensure_indexes(mongo_db)
    assert archive_batch(mongo_db, [hostile], T0) == ArchiveResult(inserted=1)
    doc = article(mongo_db, "https://a/$x.y")
    assert doc["tags"] == tags
    assert doc["title"] == "$set"
    assert doc["category"] == "{'$ne': None}"
    assert "$where" not in doc
    assert mongo_db[ARTICLES].find_one({"tags": "$where"}) is not None
    # Re-archiving with a changed body goes through the update path: values still values.
    changed = record("https://a/$x.y", "Harga $6.00.", tags=tags)
    assert archive_batch(mongo_db, [changed], T0) == ArchiveResult(updated=1)
    assert article(mongo_db, "https://a/$x.y")["tags"] == tags


def test_racing_insert_is_retried_as_update(mongo_db: DB) -> None:
    """Another crawler inserted the URL between our read and our write."""
    ensure_indexes(mongo_db)
    mine = record("https://a/race", "Versi saya.")
    theirs = {**record("https://a/race", "Versi mereka."), "version": 1}
    theirs |= {"first_seen_at": T0, "last_seen_at": T0, "duplicate_of": None}

    original_find = Collection.find
    calls = {"n": 0}

    def find_then_race(self: Any, *args: Any, **kwargs: Any) -> Any:
        cursor = original_find(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:  # after our two reads, the other writer inserts
            mongo_db[ARTICLES].insert_one(dict(theirs))
        return cursor

    with mock.patch.object(Collection, "find", find_then_race):
        result = archive_batch(mongo_db, [mine], T0 + timedelta(minutes=1))
    assert result == ArchiveResult(updated=1)
    doc = article(mongo_db, "https://a/race")
    assert (doc["body"], doc["version"]) == ("Versi saya.", 2)
    assert mongo_db[ARTICLE_VERSIONS].find_one({"url": "https://a/race", "version": 1})


def test_racing_update_is_replanned(mongo_db: DB) -> None:
    """Another crawler changed the article between our read and our guarded update."""
    ensure_indexes(mongo_db)
    archive_batch(mongo_db, [record("https://a/race", "Versi satu.")], T0)
    theirs = record("https://a/race", "Versi mereka.")
    original_find = Collection.find
    calls = {"n": 0}

    def find_then_race(self: Any, *args: Any, **kwargs: Any) -> Any:
        cursor = original_find(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            change = {"body": theirs["body"], "content_hash": theirs["content_hash"], "version": 2}
            mongo_db[ARTICLES].update_one({"url": "https://a/race"}, {"$set": change})
        return cursor

    with mock.patch.object(Collection, "find", find_then_race):
        result = archive_batch(mongo_db, [record("https://a/race", "Versi saya.")], T0)
    assert result == ArchiveResult(updated=1)
    doc = article(mongo_db, "https://a/race")
    assert (doc["body"], doc["version"]) == ("Versi saya.", 3)
    kept = mongo_db[ARTICLE_VERSIONS].find({"url": "https://a/race"}).sort("version")
    assert [(v["version"], v["body"]) for v in kept] == [(1, "Versi satu."), (2, "Versi mereka.")]


def test_record_without_url_is_an_error(mongo_db: DB) -> None:
    assert archive_batch(mongo_db, [{"title": "tanpa url"}], T0) == ArchiveResult(errors=1)


def test_missing_content_hash_is_computed_from_body(mongo_db: DB) -> None:
    archive_batch(mongo_db, [record("https://a/1", "Isi.", content_hash=None)], T0)
    assert article(mongo_db, "https://a/1")["content_hash"] == hashlib.sha256(b"Isi.").hexdigest()


def test_known_urls(mongo_db: DB) -> None:
    archive_batch(mongo_db, [record("https://a/1"), record("https://a/2", "Dua.")], T0)
    assert known_urls(mongo_db, ["https://a/1", "https://a/3"]) == {"https://a/1"}
    assert known_urls(mongo_db, []) == set()
