"""The read API (:class:`crawler.archive.query.Archive`) against a real server (``conftest.mongo_db``)."""

from __future__ import annotations

import hashlib
import re
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive.query import (
    Archive,
    ArchiveQueryError,
    ArchiveUnavailableError,
    fold,
    literal_pattern,
    parse_when,
)
from crawler.archive.store import archive_batch, ensure_indexes

DB = Database[dict[str, Any]]
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
BASE = "https://kalteng.antaranews.com/berita"


def record(n: int, title: str = "", body: str = "", **extra: Any) -> dict[str, Any]:
    """A well-formed Article record; ``n`` makes URL, date (n hours after T0) and body unique."""
    body = body or f"Isi berita nomor {n}."
    return {
        "url": f"{BASE}/{n}/judul-{n}",
        "source": "antara_kalteng",
        "site_name": "ANTARA Kalteng",
        "region": "Kalimantan Tengah",
        "language": "id",
        "title": title or f"Judul berita {n}",
        "description": None,
        "body": body,
        "published_at": T0 + timedelta(hours=n),
        "published_at_raw": "Jumat, 1 Maret 2024 15:00 WIB",
        "authors": ["Muhammad Arif Hidayat"],
        "editors": ["Admin"],
        "category": "Kalteng",
        "tags": ["kalteng"],
        "word_count": len(body.split()),
        "content_hash": hashlib.sha256(body.encode()).hexdigest(),
        **extra,
    }


@pytest.fixture
def archive(mongo_db: DB) -> Archive:
    """An Archive on the test's fresh database (the fixture closes the client)."""
    ensure_indexes(mongo_db)
    return Archive(mongo_db)


def urls(records: Any) -> list[str]:
    return [r["url"] for r in records]


def url(n: int) -> str:
    return f"{BASE}/{n}/judul-{n}"


def test_search_is_newest_first_and_filters(archive: Archive) -> None:
    archive_batch(
        archive.db,
        [
            record(1),
            record(2, source="antara_kalsel", tags=["banjir", "kalsel"]),
            record(3, authors=["Émile Zola"], tags=["Banjir"]),
            record(4, published_at=T0 + timedelta(days=2)),
        ],
    )
    assert urls(archive.search()) == [url(4), url(3), url(2), url(1)]
    assert urls(archive.search(limit=2)) == [url(4), url(3)]
    assert urls(archive.search(limit=0)) == []
    assert urls(archive.search(source="antara_kalsel")) == [url(2)]
    assert urls(archive.search(tag="banjir")) == [url(2)]  # tags match exactly
    assert urls(archive.search(author="emile")) == [url(3)]  # authors: substring, no accents
    assert urls(archive.search(since="2024-03-02")) == [url(4)]
    assert urls(archive.search(until="2024-03-01")) == [url(3), url(2), url(1)]
    assert urls(archive.search(until=T0 + timedelta(hours=2))) == [url(2), url(1)]
    assert urls(archive.search(since=T0 + timedelta(hours=2), until=date(2024, 3, 1))) == [
        url(3),
        url(2),
    ]
    record_ = next(archive.search(limit=1))
    assert "_id" not in record_
    assert record_["published_at"].tzinfo is not None


def test_text_matches_title_and_body_ignoring_case_and_accents(archive: Archive) -> None:
    archive_batch(
        archive.db,
        [
            record(1, title="Kafé baru di Palangka Raya"),
            record(2, body="Warga menikmati KAFE tepi sungai.\n\nParagraf kedua."),
            record(3, title="Karhutla meluas", body="Asap tebal."),
        ],
    )
    assert urls(archive.search("kafe")) == [url(2), url(1)]
    assert urls(archive.search("KAFÉ")) == [url(2), url(1)]
    assert urls(archive.search("tepi  sungai")) == [url(2)]  # any whitespace
    assert urls(archive.search("karhutla")) == [url(3)]
    assert urls(archive.search("tidak ada")) == []
    assert urls(archive.search("   ")) == [url(3), url(2), url(1)]  # blank text: no filter


def test_unique_keeps_first_archived_copies(archive: Archive) -> None:
    archive_batch(archive.db, [record(1, body="Sama."), record(2, body="Sama."), record(3)])
    assert urls(archive.search(unique=True)) == [url(3), url(1)]
    assert urls(archive.search(unique=False)) == [url(3), url(2), url(1)]


@pytest.mark.parametrize("text", ["$where", "a|b", "(x", "[k]", "\\d+", '{"$gt": "x"}'])
def test_text_is_words_never_an_operator_or_regex(archive: Archive, text: str) -> None:
    archive_batch(
        archive.db, [record(1, title=f"Ada {text} di judul"), record(2, title="Judul biasa")]
    )
    assert urls(archive.search(text)) == [url(1)]


@pytest.mark.parametrize("text", [".*", "$", "!!", "—"])
def test_text_without_a_word_is_refused(archive: Archive, text: str) -> None:
    with pytest.raises(ArchiveQueryError, match="no word to search for"):
        archive.search(text)


def test_where_is_not_javascript(archive: Archive) -> None:
    archive_batch(archive.db, [record(1), record(2, body="pakai $where: function() {}")])
    assert urls(archive.search("$where")) == [url(2)]
    assert "$where" not in str(archive.query("$where"))


def test_operator_text_in_tag_source_author_is_literal(archive: Archive) -> None:
    hostile = '{"$gt": ""}'
    archive_batch(
        archive.db,
        [record(1, tags=[hostile]), record(2, tags=["kalteng"], authors=[".*"])],
    )
    assert urls(archive.search(tag=hostile)) == [url(1)]
    assert urls(archive.search(source=hostile)) == []
    assert urls(archive.search(author=".*")) == [url(2)]
    assert urls(archive.search(author="$ne")) == []


def test_literal_pattern_matches_itself_and_nothing_looser() -> None:
    for text in ["kafe", "Kafé", ".*", "$where", "a+b", "100%", "ß", "中文", "x\\y", '{"$gt": ""}']:
        pattern = literal_pattern(text)
        assert re.search(pattern, f"xx {text} yy", re.IGNORECASE), text
    assert not re.search(literal_pattern(".*"), "anything")
    assert re.search(literal_pattern("kafe"), "KAFÉ", re.IGNORECASE)
    assert re.search(literal_pattern("kafé"), "kafe")
    assert fold("Kafé\x00 Ünïcode") == "kafe unicode"


def test_words_are_whole_words_and_phrases_consecutive(archive: Archive) -> None:
    archive_batch(
        archive.db,
        [
            record(1, title="Kafetaria baru", body="Harga cabai naik di pasar."),
            record(2, body="Covid-19 menurun; kafe buka lagi. Pasar ramai, cabai murah."),
            record(3, title="Banjir bandang", body="Warga Palangka Raya mengungsi."),
        ],
    )
    assert urls(archive.search("kafe")) == [url(2)]  # not "kafetaria": no substrings
    assert urls(archive.search("kafetaria")) == [url(1)]
    assert urls(archive.search("cabai pasar")) == [url(2), url(1)]  # words: any order
    assert urls(archive.search('"cabai naik"')) == [url(1)]  # a phrase: consecutive
    assert urls(archive.search('"pasar cabai"')) == []
    assert urls(archive.search('"ramai cabai"')) == [url(2)]  # punctuation between is ignored
    assert urls(archive.search("COVID-19")) == [url(2)]  # one chunk, two words: a phrase
    assert urls(archive.search("19 covid")) == [url(2)]
    assert urls(archive.search("banjir mengungsi")) == [url(3)]  # title and body together
    assert urls(archive.search('"bandang warga"')) == []  # a phrase stays within one field
    assert urls(archive.search('"palangka raya')) == [url(3)]  # an open quote runs to the end


def test_search_scans_until_the_word_index_is_built(archive: Archive) -> None:
    from crawler.archive import reindex, search_terms

    archive_batch(archive.db, [record(1, title="Kafé baru"), record(2, body="Sungai Kahayan.")])
    # As an archive written before the word index: no side documents, no marker.
    archive.db[search_terms.ARTICLE_TERMS].delete_many({})
    archive.db[search_terms.ARCHIVE_META].delete_many({})
    old = Archive(archive.db)
    assert old.search_index_ready() is False
    assert urls(old.search("kafe")) == [url(1)]  # the scan: same answer
    result = reindex.reindex(archive.db)
    assert (result.records, result.indexed) == (2, 2)
    assert reindex.reindex(archive.db).already is True
    new = Archive(archive.db)
    assert new.search_index_ready() is True
    assert urls(new.search("kahayan")) == [url(2)]


def test_get_accepts_url_variants_and_history_is_oldest_first(archive: Archive) -> None:
    archive_batch(archive.db, [record(1, body="Versi satu.")], T0)
    archive_batch(archive.db, [record(1, body="Versi dua.")], T0 + timedelta(days=1))
    archive_batch(archive.db, [record(1, body="Versi tiga.")], T0 + timedelta(days=2))
    variant = "http://m.kalteng.antaranews.com/berita/1/judul-1/?utm_source=x#top"
    doc = archive.get(variant)
    assert doc is not None and doc["body"] == "Versi tiga." and doc["version"] == 3
    history = archive.history(variant)
    assert [v["version"] for v in history] == [1, 2, 3]
    assert [v["body"] for v in history] == ["Versi satu.", "Versi dua.", "Versi tiga."]
    assert "archived_at" in history[0] and "archived_at" not in history[-1]
    assert archive.get(f"{BASE}/404/none") is None
    assert archive.history(f"{BASE}/404/none") == []


def test_stats_counts_groups_coverage_and_duplicates(archive: Archive) -> None:
    archive_batch(
        archive.db,
        [
            record(1, body="Sama.", tags=["a", "b"]),
            record(2, body="Sama.", tags=["a"], source="antara_kalsel"),
            record(3, tags=[], category=None, published_at=T0 + timedelta(days=1)),
        ],
    )
    stats = archive.stats(by="source")
    assert (stats.total, stats.duplicates) == (3, 1)
    assert stats.duplicate_share == pytest.approx(1 / 3)
    assert stats.groups == [("antara_kalteng", 2), ("antara_kalsel", 1)]
    assert stats.coverage["url"] == 1.0
    assert stats.coverage["tags"] == pytest.approx(2 / 3)
    assert stats.coverage["category"] == pytest.approx(2 / 3)
    assert stats.coverage["description"] == 0.0
    assert archive.stats(by="tag").groups == [("a", 2), ("b", 1)]
    assert archive.stats(by="day").groups == [("2024-03-01", 2), ("2024-03-02", 1)]
    assert archive.stats(by="author").groups == [("Muhammad Arif Hidayat", 3)]
    assert archive.stats(by="category").groups == [("Kalteng", 2), (None, 1)]
    assert archive.stats(since="2024-03-02").total == 1
    with pytest.raises(ValueError):
        archive.stats(by="colour")


def test_stats_of_an_empty_archive(archive: Archive) -> None:
    stats = archive.stats()
    assert (stats.total, stats.duplicates, stats.duplicate_share, stats.groups) == (0, 0, 0.0, [])


def test_to_dataframe(archive: Archive) -> None:
    pd = pytest.importorskip("pandas")
    archive_batch(archive.db, [record(1), record(2)])
    frame = archive.to_dataframe(source="antara_kalteng")
    assert list(frame["url"]) == [url(2), url(1)]
    assert str(frame["published_at"].dt.tz) == "UTC"
    assert frame.loc[0, "tags"] == ["kalteng"]
    assert isinstance(frame, pd.DataFrame)
    assert len(archive.to_dataframe(text="nothing like this")) == 0


def test_to_dataframe_without_pandas_says_how_to_fix(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(RuntimeError, match="pip install pandas"):
        archive.to_dataframe()


def test_parse_when() -> None:
    assert parse_when("2024-03-01") == (T0.replace(hour=0), True)
    assert parse_when("2024-03-01", end=True) == (T0.replace(hour=0) + timedelta(days=1), False)
    assert parse_when("2024-03-01T08:00:00Z") == (T0, True)
    assert parse_when("2024-03-01T15:00:00+07:00") == (T0, True)
    assert parse_when(datetime(2024, 3, 1, 8)) == (T0, True)  # naive is UTC
    with pytest.raises(ValueError):
        parse_when("last tuesday")


def test_connect_uses_env_and_closes(mongo_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONGO_URI", mongo_uri)
    monkeypatch.setenv("MONGO_DATABASE", "test_query_env")
    with Archive.connect() as archive:
        assert archive.db.name == "test_query_env"
        assert archive.server is None
        assert list(archive.search()) == []


def test_connect_to_an_unreachable_server_raises() -> None:
    with pytest.raises(ArchiveUnavailableError):
        Archive.connect("mongodb://127.0.0.1:1/?directConnection=true", "x", timeout_ms=200)


def test_connect_starts_and_releases_the_embedded_server(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONGO_URI", raising=False)
    with Archive.connect(data_dir=tmp_path, database="news_archive") as archive:
        assert archive.server is not None and archive.server.owner
        assert (tmp_path / "secantusd.json").exists()
        assert archive.stats().total == 0
    assert not (tmp_path / "secantusd.json").exists()  # this process started it: stopped
