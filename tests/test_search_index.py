"""Word search from the index gives exactly what a brute-force scan gives.

A generated archive (accents, hyphens, punctuation, several sources and days, changed
versions, a record with too many words to index) is searched through :class:`Archive` and
compared with an independent reference: every record read back and matched in Python with
regular expressions written from the documented semantics (:mod:`crawler.archive.search_terms`),
not with the code under test.
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive import search_terms
from crawler.archive.query import Archive, fold
from crawler.archive.store import ARTICLES, archive_batch, ensure_indexes

DB = Database[dict[str, Any]]
T0 = datetime(2025, 6, 1, tzinfo=UTC)
VOCABULARY = [
    "banjir",
    "bandang",
    "warga",
    "palangka",
    "raya",
    "kafé",
    "kafetaria",
    "sungai",
    "kahayan",
    "gubernur",
    "pasar",
    "cabai",
    "harga",
    "naik",
    "turun",
    "sekolah",
    "rumah",
    "sakit",
    "jalan",
    "rusak",
    "covid-19",
    "Dayak",
    "Ngaju",
    "huma",
    "betang",
    "ÉCOLE",
    "école",
    "pemilu",
    "kpu",
    "bawaslu",
    "rakortek",
    "2025",
    "2026",
    "ikan",
    "patin",
    "karhutla",
    "asap",
    "kabut",
]
SOURCES = ("antara_kalteng", "antara_kalsel", "antara_ambon")


def make_record(rng: random.Random, n: int, **extra: Any) -> dict[str, Any]:
    def sentence(size: int) -> str:
        words = rng.choices(VOCABULARY, k=size)
        marks = rng.choices(["", "", "", ",", ".", ";", " –", "!"], k=size)
        return " ".join(word + mark for word, mark in zip(words, marks, strict=True))

    body = "\n\n".join(sentence(rng.randint(5, 25)) for _ in range(rng.randint(1, 3)))
    published = None if n % 17 == 0 else T0 + timedelta(hours=7 * n)
    return {
        "url": f"https://example.id/berita/{n}",
        "source": SOURCES[n % len(SOURCES)],
        "title": sentence(rng.randint(2, 6)),
        "body": body,
        "published_at": published,
        "tags": ["kalteng"] if n % 2 else ["banjir"],
        "authors": ["Rina"],
        "content_hash": hashlib.sha256(body.encode()).hexdigest(),
        **extra,
    }


def reference_matches(text: str, record: dict[str, Any]) -> bool:
    """The documented semantics, written independently: whole folded words, phrases as
    consecutive words with only non-word characters between them, within one field."""
    parts: list[list[str]] = []
    for position, chunk in enumerate(text.split('"')):
        for piece in [chunk] if position % 2 else chunk.split():
            found = re.findall(r"[^\W_]+", fold(piece))
            if found:
                parts.append(found)
    fields = [fold(record.get("title") or ""), fold(record.get("body") or "")]
    for part in parts:
        pattern = r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, part)) + r"(?![^\W_])"
        if not any(re.search(pattern, field) for field in fields):
            return False
    return True


@pytest.fixture
def generated(mongo_db: DB, monkeypatch: pytest.MonkeyPatch) -> tuple[Archive, random.Random]:
    monkeypatch.setattr(search_terms, "MAX_TERMS", 30)  # some records overflow the index
    rng = random.Random(20261202)
    ensure_indexes(mongo_db)
    records = [make_record(rng, n) for n in range(400)]
    for start in range(0, len(records), 100):
        archive_batch(mongo_db, records[start : start + 100], T0)
    # Changed versions: new text (and for some a new day and source) for one in ten.
    changed = [
        make_record(rng, n, source=SOURCES[(n + 1) % 3] if n % 20 == 0 else SOURCES[n % 3])
        for n in range(0, 400, 10)
    ]
    archive_batch(mongo_db, changed, T0 + timedelta(days=1))
    return Archive(mongo_db), rng


def queries(rng: random.Random, records: list[dict[str, Any]]) -> list[str]:
    """Single words, pairs, phrases cut from real text, and words that occur nowhere."""
    found: list[str] = ["kafe", "KAFÉ", "ecole", "covid-19", "19", "kafetaria", "tidakada"]
    found += [rng.choice(VOCABULARY) for _ in range(6)]
    found += [f"{rng.choice(VOCABULARY)} {rng.choice(VOCABULARY)}" for _ in range(6)]
    for record in rng.sample(records, 6):
        words = (record["body"] or "").split()
        start = rng.randrange(max(1, len(words) - 2))
        found.append('"' + " ".join(words[start : start + 3]) + '"')
    return found


def test_search_equals_a_brute_force_scan(generated: tuple[Archive, random.Random]) -> None:
    archive, rng = generated
    records = list(archive.db[ARTICLES].find({}, {"_id": 0}))
    assert any(len(search_terms.terms_of(r)) > search_terms.MAX_TERMS for r in records)
    filters: list[dict[str, Any]] = [
        {},
        {"since": "2025-06-20", "until": "2025-07-15"},
        {"source": "antara_ambon", "since": "2025-07-01"},
        {"tag": "banjir", "author": "rin"},
    ]
    checked = 0
    for text in queries(rng, records):
        for extra in filters:
            got = list(archive.search(text, **extra))
            expected = [r for r in records if reference_matches(text, r) and _passes(r, **extra)]
            assert sorted(r["url"] for r in got) == sorted(r["url"] for r in expected), (
                text,
                extra,
            )
            dates = [r["published_at"] for r in got]
            dated = [d for d in dates if d is not None]
            assert dated == sorted(dated, reverse=True) and dates[: len(dated)] == dated
            if not extra:
                assert archive.count(text=text) == len(expected)
            checked += bool(expected)
    assert checked > 40  # most questions have answers: the comparison is not vacuous
    _assert_side_documents_cover_every_version(archive.db)


def _assert_side_documents_cover_every_version(db: DB) -> None:
    """The superset rule: a changed record's side document holds the words of both versions."""
    url = "https://example.id/berita/10"
    current = db[ARTICLES].find_one({"url": url})
    old = db["article_versions"].find_one({"url": url})
    side = db[search_terms.ARTICLE_TERMS].find_one({"_id": url})
    assert current is not None and old is not None and side is not None
    if not side.get("overflow"):
        assert set(search_terms.terms_of(current)) | set(search_terms.terms_of(old)) <= set(
            side["terms"]
        )


def _passes(record: dict[str, Any], **extra: Any) -> bool:
    if "source" in extra and record["source"] != extra["source"]:
        return False
    if "tag" in extra and extra["tag"] not in record["tags"]:
        return False
    if "author" in extra and not any(extra["author"] in fold(a) for a in record["authors"]):
        return False
    published = record["published_at"]
    if "since" in extra and (published is None or published < _day(extra["since"])):
        return False
    until = _day(extra["until"]) + timedelta(days=1) if "until" in extra else None
    return until is None or (published is not None and published < until)


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_side_document_without_its_article_is_skipped(mongo_db: DB) -> None:
    """The words are written first: if the article write then fails, search skips them."""
    ensure_indexes(mongo_db)
    search_terms.index_records(mongo_db, [{"url": "https://example.id/x", "title": "Kahayan"}], [])
    assert list(Archive(mongo_db).search("kahayan")) == []


def test_reindex_command_builds_the_index_of_an_old_archive(mongo_db: DB) -> None:
    from tests.test_cli import run

    ensure_indexes(mongo_db)
    rng = random.Random(7)
    archive_batch(mongo_db, [make_record(rng, n) for n in range(30)], T0)
    mongo_db[search_terms.ARTICLE_TERMS].delete_many({})
    mongo_db[search_terms.ARCHIVE_META].delete_many({})
    archive = Archive(mongo_db)
    before = run(archive, "search", '"palangka raya"', "--json")
    result = run(archive, "reindex")
    assert result.exit_code == 0, result.output
    assert "records indexed: 30" in result.output
    assert "nothing to do" in run(archive, "reindex").output
    after = run(archive, "search", '"palangka raya"', "--json")
    assert after.output == before.output and after.output.count("\n") > 0
    assert mongo_db[search_terms.ARTICLE_TERMS].count_documents({}) == 30
