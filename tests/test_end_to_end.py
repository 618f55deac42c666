"""End to end: ``scrapy crawl antara_kalteng`` against the local mirror, into a real MongoDB.

The crawl runs as a user runs it (a subprocess from the repo root), so settings, pipelines and
the archive are exercised exactly as in production; only the host is 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.archive.server import find_or_start_server
from crawler.archive.store import connect
from tests.mirror import (
    EXPECTED_URLS,
    FAST_SETTINGS,
    FIXTURE_DIR,
    LIVE_ORIGIN,
    SITE_DIR,
    CrawlRun,
    MirrorServer,
    listing_with,
    mirror_crawl_args,
    run_crawl,
)

#: Skip and drop messages are logged at INFO; the tests read them.
LOG_INFO = ["-s", "LOG_LEVEL=INFO"]

Doc = dict[str, Any]


def article_id(url: str) -> str:
    return url.split("/")[4]


def expected_record(url: str) -> Doc:
    record: Doc = json.loads(
        (FIXTURE_DIR / "expected" / f"{article_id(url)}.json").read_text(encoding="utf-8")
    )
    return record


def as_json(value: Any) -> Any:
    """Archive values as the expected JSON writes them (datetimes as ISO ``...Z``)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def archived(mongo_uri: str, database: str) -> dict[str, Doc]:
    db = connect(mongo_uri, database)
    try:
        return {doc["url"]: doc for doc in db.articles.find({}, {"_id": 0})}
    finally:
        db.client.close()


def crawl(
    mirror: MirrorServer, mongo_uri: str, database: str, data_dir: Path, *args: str
) -> CrawlRun:
    return run_crawl(
        "antara_kalteng",
        *mirror_crawl_args(mirror, mongo_uri, database, "-s", f"DATA_DIR={data_dir}", *LOG_INFO),
        *args,
    )


def drop(mongo_uri: str, database: str) -> None:
    db = connect(mongo_uri, database)
    db.client.drop_database(database)
    db.client.close()


# --- the fixture site, crawled twice -----------------------------------------------------------


@dataclass(repr=False)
class TwoCrawls:
    first: CrawlRun
    after_first: dict[str, Doc]
    second: CrawlRun
    after_second: dict[str, Doc]
    versions_after_second: int


@pytest.fixture(scope="module")
def two_crawls(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoCrawls]:
    database = f"e2e_{uuid.uuid4().hex[:12]}"
    data_dir = tmp_path_factory.mktemp("data")
    try:
        with MirrorServer() as mirror:
            first = crawl(mirror, mongo_uri, database, data_dir)
            after_first = archived(mongo_uri, database)
            # refresh=1: download every page again (an incremental crawl would skip them all),
            # so re-archiving unchanged pages is what is tested.
            second = crawl(mirror, mongo_uri, database, data_dir, "-a", "refresh=1")
            after_second = archived(mongo_uri, database)
        db = connect(mongo_uri, database)
        versions = db.article_versions.count_documents({})
        db.client.close()
        yield TwoCrawls(first, after_first, second, after_second, versions)
    finally:
        drop(mongo_uri, database)


def test_crawl_exits_cleanly(two_crawls: TwoCrawls) -> None:
    for run in (two_crawls.first, two_crawls.second):
        assert run.returncode == 0, run.log[-3000:]
        assert run.stats.get("finish_reason") == "finished"
        assert "Traceback" not in run.log, run.log[-3000:]


def test_every_expected_article_is_archived_once(two_crawls: TwoCrawls) -> None:
    assert sorted(two_crawls.after_first) == EXPECTED_URLS
    assert two_crawls.first.stats.get("archive/inserted") == len(EXPECTED_URLS)


@pytest.mark.parametrize("url", EXPECTED_URLS, ids=article_id)
def test_archived_fields_equal_expected(two_crawls: TwoCrawls, url: str) -> None:
    doc = two_crawls.after_first[url]
    expected = expected_record(url)
    actual = {name: as_json(doc.get(name)) for name in expected}
    assert actual == expected
    assert doc["source"] == "antara_kalteng"
    assert isinstance(doc["crawled_at"], datetime)


def test_skips_are_counted(two_crawls: TwoCrawls) -> None:
    stats = two_crawls.first.stats
    assert stats.get("antara_kalteng/skipped/video") == 1
    assert stats.get("antara_kalteng/skipped/photo") == 1
    assert stats.get("antara_kalteng/skipped/http_404") == 1
    assert stats.get("item_scraped_count") == len(EXPECTED_URLS)
    assert "antara_kalteng/parse_errors" not in stats


def test_second_crawl_adds_and_changes_nothing(two_crawls: TwoCrawls) -> None:
    assert sorted(two_crawls.after_second) == EXPECTED_URLS
    assert {doc["version"] for doc in two_crawls.after_second.values()} == {1}
    assert two_crawls.versions_after_second == 0
    assert two_crawls.second.stats.get("archive/unchanged") == len(EXPECTED_URLS)
    assert "archive/inserted" not in two_crawls.second.stats
    assert "archive/updated" not in two_crawls.second.stats
    for url, doc in two_crawls.after_second.items():
        assert doc["content_hash"] == two_crawls.after_first[url]["content_hash"]


# --- bad inputs -------------------------------------------------------------------------------

TEMPLATE_PATH = next((SITE_DIR / "berita" / "811932").glob("*.html"))
TEMPLATE_SLUG = f"811932/{TEMPLATE_PATH.stem}"
TEMPLATE_TITLE = "Kasus DBD di Barito Utara meningkat, Dinkes gencarkan pemberantasan sarang nyamuk"
TEMPLATE_LEAD = "mencatat 86 kasus demam berdarah dengue"

ACCENTED_TITLE = "Kafé “Huma Betang” di Palangka Raya ramai, pengunjung naïf soal harga"
TAGS = ["$harga", "Rp1.000", "a.b.$set"]


def variant(number: int, title: str, *, lead: str | None = None) -> tuple[str, str]:
    """(path, html) of a copy of a real article page under a new id and title."""
    slug = f"9000{number:02d}/uji-{number}"
    html = TEMPLATE_PATH.read_text(encoding="utf-8")
    html = html.replace(TEMPLATE_SLUG, slug).replace(TEMPLATE_TITLE, title)
    # Distinct bodies, so no page is archived as a duplicate of another.
    html = html.replace(TEMPLATE_LEAD, lead or f"mencatat {number} kasus uji")
    return f"/berita/{slug}", html


def bad_pages() -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """name → (path, body, extra response headers) of every page the bad-input crawl adds."""
    pages: dict[str, tuple[str, bytes, dict[str, str]]] = {}
    path, html = variant(1, ACCENTED_TITLE, lead="mencatat “86” kasus demam berdarah di kafé")
    pages["wrong_encoding"] = (
        path,
        html.encode("utf-8"),
        {"Content-Type": "text/html; charset=iso-8859-1"},
    )
    path, html = variant(2, "Artikel dengan tag aneh")
    html = (
        html.replace('title="DBD">DBD<', f'title="{TAGS[0]}">{TAGS[0]}<')
        .replace('title="Barito Utara">Barito Utara<', f'title="{TAGS[1]}">{TAGS[1]}<')
        .replace('title="kesehatan">kesehatan<', f'title="{TAGS[2]}">{TAGS[2]}<')
    )
    pages["tags"] = (path, html.encode("utf-8"), {})
    path, html = variant(3, "Artikel terpotong di tengah")
    pages["truncated"] = (path, html[: html.index("Rumah Sakit Umum Daerah")].encode(), {})
    path, _ = variant(4, "Artikel kosong")
    pages["empty"] = (path, b"", {})
    path, html = variant(5, "Artikel tanpa tanggal")
    html = re.sub(r'<span class="article-date">.*?</span>', "", html)
    pages["no_date"] = (path, html.encode("utf-8"), {})
    path, html = variant(6, "Artikel raksasa")
    padding = "<p>" + "isi " * 2_700_000 + "</p>"  # ~10 MB, above DOWNLOAD_MAXSIZE (8 MB)
    pages["huge"] = (path, html.replace("</body>", padding + "</body>").encode(), {})
    path, html = variant(7, "Artikel yang selalu gagal")
    pages["always_500"] = (path, html.encode("utf-8"), {})
    path, html = variant(8, "Artikel yang gagal dua kali")
    pages["flaky_500"] = (path, html.encode("utf-8"), {})
    return pages


@dataclass(repr=False)
class BadCrawl:
    run: CrawlRun
    docs: dict[str, Doc]
    pages: dict[str, tuple[str, bytes, dict[str, str]]]
    counts: dict[str, int]

    def live_url(self, name: str) -> str:
        return LIVE_ORIGIN + self.pages[name][0]


@pytest.fixture(scope="module")
def bad_crawl(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadCrawl]:
    database = f"e2e_bad_{uuid.uuid4().hex[:12]}"
    pages = bad_pages()
    try:
        with MirrorServer() as mirror:
            for path, body, headers in pages.values():
                extra = dict(headers)
                content_type = extra.pop("Content-Type", "text/html; charset=utf-8")
                mirror.add_page(path, body, content_type=content_type, headers=extra)
            mirror.add_page(
                "/kabar-daerah",
                listing_with(
                    "kabar-daerah.html",
                    [p for p, _, _ in pages.values()],
                    "27 Januari 2026 09:00",
                    "uji",
                ),
            )
            mirror.fail(pages["always_500"][0], times=100)
            mirror.fail(pages["flaky_500"][0], times=2)
            run = crawl(mirror, mongo_uri, database, tmp_path_factory.mktemp("data"))
            counts = mirror.counts
        yield BadCrawl(run, archived(mongo_uri, database), pages, counts)
    finally:
        drop(mongo_uri, database)


def test_bad_inputs_do_not_break_the_crawl(bad_crawl: BadCrawl) -> None:
    assert bad_crawl.run.returncode == 0, bad_crawl.run.log[-3000:]
    assert bad_crawl.run.stats.get("finish_reason") == "finished"


def test_valid_pages_are_archived_and_invalid_ones_are_not(bad_crawl: BadCrawl) -> None:
    valid = ["wrong_encoding", "tags", "truncated", "flaky_500"]
    # The page without a date has its own test below.
    urls = set(bad_crawl.docs) - {bad_crawl.live_url("no_date")}
    assert sorted(urls) == sorted(EXPECTED_URLS + [bad_crawl.live_url(name) for name in valid])


def test_empty_page_is_dropped_with_a_reason(bad_crawl: BadCrawl) -> None:
    stats = bad_crawl.run.stats
    assert stats.get("item_dropped_reasons_count/missing_title") == 1
    assert f"Dropped {bad_crawl.live_url('empty')}: missing_title" in bad_crawl.run.log


def test_article_without_date_is_dropped_with_a_reason(bad_crawl: BadCrawl) -> None:
    """Only the article's date was removed; the page chrome's "today" date must not stand in."""
    url = bad_crawl.live_url("no_date")
    doc = bad_crawl.docs.get(url)
    assert doc is None, f"archived, published_at_raw={doc['published_at_raw']!r}"
    assert bad_crawl.run.stats.get("item_dropped_reasons_count/missing_published_at") == 1
    assert f"Dropped {bad_crawl.live_url('no_date')}: missing_published_at" in bad_crawl.run.log


def test_wrong_declared_encoding_is_read_as_utf8(bad_crawl: BadCrawl) -> None:
    doc = bad_crawl.docs[bad_crawl.live_url("wrong_encoding")]
    assert doc["title"] == ACCENTED_TITLE
    assert "mencatat “86” kasus demam berdarah di kafé" in doc["body"]


def test_tags_with_dollar_and_dot_are_stored_as_is(bad_crawl: BadCrawl) -> None:
    assert bad_crawl.docs[bad_crawl.live_url("tags")]["tags"] == TAGS


def test_truncated_page_keeps_what_arrived(bad_crawl: BadCrawl) -> None:
    doc = bad_crawl.docs[bad_crawl.live_url("truncated")]
    assert doc["title"] == "Artikel terpotong di tengah"
    assert "membagikan bubuk larvasida" in doc["body"]
    assert "Rumah Sakit" not in doc["body"]


def test_server_errors_are_retried_then_counted(bad_crawl: BadCrawl) -> None:
    # RETRY_TIMES = 3: one request and three retries, then the page is given up.
    assert bad_crawl.counts[bad_crawl.pages["always_500"][0]] == 4
    assert bad_crawl.run.stats.get("antara_kalteng/skipped/http_500") == 1
    assert bad_crawl.counts[bad_crawl.pages["flaky_500"][0]] == 3
    assert bad_crawl.run.stats.get("retry/count", 0) >= 5


def test_oversized_page_is_dropped_by_scrapy(bad_crawl: BadCrawl) -> None:
    assert "larger than download max size" in bad_crawl.run.log
    assert bad_crawl.live_url("huge") not in bad_crawl.docs
    assert bad_crawl.run.stats.get("antara_kalteng/download_errors/DownloadCancelledError") == 1


def test_known_skips_still_counted(bad_crawl: BadCrawl) -> None:
    assert bad_crawl.run.stats.get("antara_kalteng/skipped/http_404") == 1


# --- the embedded server ----------------------------------------------------------------------


def test_crawl_without_mongo_uri_persists_in_the_embedded_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with MirrorServer() as mirror:
        run = run_crawl(
            "antara_kalteng",
            "-a",
            f"base_url={mirror.base_url}",
            "-s",
            "MONGO_DATABASE=e2e_embedded",
            *FAST_SETTINGS,
            *LOG_INFO,
            env={"MONGO_URI": None, "DATA_DIR": str(data_dir)},
        )
    assert run.returncode == 0, run.log[-3000:]
    assert (data_dir / "db").is_dir()
    # The crawl stopped the server it started; the data must survive a fresh start.
    server = find_or_start_server(data_dir)
    try:
        db = connect(server.uri, "e2e_embedded")
        urls = sorted(doc["url"] for doc in db.articles.find({}, {"url": 1}))
        db.client.close()
    finally:
        server.release()
    assert urls == EXPECTED_URLS
