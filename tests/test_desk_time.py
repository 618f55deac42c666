"""Local time per desk outside the parser: the normalise pipeline and ``reparse``.

Both read a page time that carries no zone in the zone of the record's desk (looked up by
``source`` in the site registry), never a fixed WIB. The page used is a reconstruction
(``tests/fixtures/antara_ambon/``), not a saved live page.

A zero-config source (``scrapy crawl news -a url=...``) is in no registry: its zone-less times
are read in WIB (``ZERO_CONFIG_TIMEZONE``), or in the zone ``-a timezone=`` names, by the
parser, the pipeline and ``reparse`` alike. Its page is made up here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database
from scrapy.utils.test import get_crawler

from crawler.archive.page_store import page_fields
from crawler.archive.reparse import reparse_pages
from crawler.items import Article
from crawler.sites import timezone_for
from crawler.sites.publisher_config import ZERO_CONFIG_TIMEZONE, ConfigError
from pipelines.normalize import NormalizePipeline
from spiders.news import ZeroConfigSpider

AMBON = Path(__file__).parent / "fixtures" / "antara_ambon"
CAKALANG = "https://ambon.antaranews.com/berita/715236/harga-ikan-cakalang-di-pasar-mardika-turun-karena-hasil-tangkapan-melimpah"


def normalized(**values: Any) -> Article:
    crawler = get_crawler()
    pipeline = NormalizePipeline.from_crawler(crawler)
    article = Article(url="https://example.org/berita/1/a", title="t", body="b", **values)
    result = pipeline.process_item(article)
    assert isinstance(result, Article)
    return result


@pytest.mark.parametrize(
    ("source", "utc"),
    [
        ("antara_kalteng", "2026-04-29T01:00"),  # WIB
        ("antara_kalsel", "2026-04-29T00:00"),  # WITA
        ("antara_ambon", "2026-04-28T23:00"),  # WIT: the previous UTC day
        ("antara_en", "2026-04-29T01:00"),  # WIB
    ],
)
def test_the_pipeline_reads_zone_less_times_in_the_records_desk_zone(source: str, utc: str) -> None:
    expected = datetime.fromisoformat(utc + "+00:00")
    from_raw = normalized(source=source, published_at_raw="29 April 2026 08:00")
    assert from_raw.published_at == expected
    from_naive = normalized(source=source, published_at=datetime(2026, 4, 29, 8, 0))
    assert from_naive.published_at == expected


def test_the_pipeline_keeps_the_zone_the_page_prints() -> None:
    article = normalized(source="antara_kalteng", published_at_raw="29 April 2026 08:00 WIT")
    assert article.published_at == datetime(2026, 4, 28, 23, 0, tzinfo=UTC)


def test_an_unknown_source_falls_back_to_the_setting() -> None:
    article = normalized(source="elsewhere", published_at_raw="29 April 2026 08:00")
    assert article.published_at == datetime(2026, 4, 29, 8, 0, tzinfo=UTC)


def test_reparse_reads_a_page_in_its_desks_zone(mongo_db: Database[dict[str, Any]]) -> None:
    html = next((AMBON / "site" / "berita" / "715236").glob("*.html")).read_text(encoding="utf-8")
    assert "Rabu, 29 April 2026 08:00 WIT" in html
    zone_less = html.replace("Rabu, 29 April 2026 08:00 WIT", "Rabu, 29 April 2026 08:00")
    fields = page_fields(
        source="antara_ambon",
        status=200,
        body=zone_less.encode(),
        headers={"content-type": "text/html; charset=utf-8"},
        encoding="utf-8",
        fetched_at=datetime(2026, 4, 29, tzinfo=UTC),
    )
    mongo_db.pages.insert_one({"url": CAKALANG, **fields})
    result = reparse_pages(mongo_db, source="antara_ambon")
    assert (result.pages, result.archive.inserted) == (1, 1)
    doc = mongo_db.articles.find_one({"url": CAKALANG})
    assert doc is not None
    assert (doc["source"], doc["region"]) == ("antara_ambon", "Maluku")
    assert doc["published_at"].replace(tzinfo=UTC) == datetime(2026, 4, 28, 23, 0, tzinfo=UTC)


# --- zero-config sources ------------------------------------------------------------------------

ZERO_HOME = "https://kabar.sampit.example/"
ZERO_SOURCE = "kabar_sampit_example"
ZERO_URL = f"{ZERO_HOME}berita/2026/04/29/harga-ikan-di-sampit-turun"
ZERO_PAGE = """<!DOCTYPE html><html lang="id"><head><meta charset="utf-8">
<title>Harga ikan di Sampit turun - Kabar Sampit</title>
<meta property="og:title" content="Harga ikan di Sampit turun">
<meta property="article:published_time" content="2026-04-29T08:00:00">
</head><body><h1>Harga ikan di Sampit turun</h1><article>
<p>SAMPIT – Harga ikan di pasar tradisional Sampit turun sejak awal pekan karena hasil tangkapan
nelayan di perairan Kotawaringin Timur melimpah setelah cuaca membaik.</p>
<p>Pedagang mengatakan harga ikan nila dan patin turun sekitar sepuluh ribu rupiah per kilogram,
sementara pembeli mulai ramai datang sejak pagi hari.</p>
<p>Dinas Perikanan setempat memperkirakan harga akan stabil hingga akhir bulan selama pasokan dari
nelayan dan pembudidaya tetap lancar.</p></article></body></html>"""


def news_spider(**arguments: str) -> ZeroConfigSpider:
    crawler = get_crawler(ZeroConfigSpider)
    spider = crawler._create_spider(url=ZERO_HOME, **arguments)
    assert isinstance(spider, ZeroConfigSpider)
    crawler.spider = spider
    return spider


def normalized_by(spider: ZeroConfigSpider, **values: Any) -> Article:
    pipeline = NormalizePipeline.from_crawler(spider.crawler)
    article = Article(url=ZERO_URL, title="t", body="b", source=ZERO_SOURCE, **values)
    result = pipeline.process_item(article)
    assert isinstance(result, Article)
    return result


@pytest.mark.parametrize(
    ("arguments", "utc"),
    [
        ({}, "2026-04-29T01:00"),  # WIB, the default
        ({"timezone": "Asia/Makassar"}, "2026-04-29T00:00"),  # WITA, as -a timezone= says
        ({"timezone": "Asia/Jayapura"}, "2026-04-28T23:00"),  # WIT
    ],
)
def test_a_zero_config_source_reads_zone_less_times_in_wib_or_its_timezone_argument(
    arguments: dict[str, str], utc: str
) -> None:
    expected = datetime.fromisoformat(utc + "+00:00")
    assert timezone_for(ZERO_SOURCE) is None  # no registry knows the source ...
    spider = news_spider(**arguments)
    zone = arguments.get("timezone", ZERO_CONFIG_TIMEZONE)
    assert spider.source == ZERO_SOURCE and spider.timezone == spider.site.timezone == zone
    # ... yet the parser, and the pipeline after it, read its times in the spider's zone,
    # not in NORMALIZE_DEFAULT_TIMEZONE (UTC).
    parsed = spider.site.parse_article(ZERO_PAGE, ZERO_URL).article
    assert parsed.published_at == expected
    from_raw = normalized_by(spider, published_at_raw="29 April 2026 08:00")
    assert from_raw.published_at == expected
    from_naive = normalized_by(spider, published_at=datetime(2026, 4, 29, 8, 0))
    assert from_naive.published_at == expected
    # A record of another source than the spider's keeps the registry's rule.
    other = NormalizePipeline.from_crawler(spider.crawler).process_item(
        Article(url=ZERO_URL, source="elsewhere", published_at=datetime(2026, 4, 29, 8, 0))
    )
    assert other.published_at == datetime(2026, 4, 29, 8, 0, tzinfo=UTC)


def test_a_timezone_argument_that_is_no_iana_zone_is_refused() -> None:
    with pytest.raises(ConfigError, match="'WIB' is not an IANA zone"):
        news_spider(timezone="WIB")


@pytest.mark.parametrize(
    ("zone", "utc"), [(None, "2026-04-29T01:00"), ("Asia/Jayapura", "2026-04-28T23:00")]
)
def test_reparse_reads_a_zero_config_page_in_the_zone_it_was_crawled_in(
    mongo_db: Database[dict[str, Any]], zone: str | None, utc: str
) -> None:
    fields = page_fields(
        source=ZERO_SOURCE,
        status=200,
        body=ZERO_PAGE.encode(),
        headers={"content-type": "text/html; charset=utf-8"},
        encoding="utf-8",
        fetched_at=datetime(2026, 4, 29, tzinfo=UTC),
        timezone=zone,  # what the page archive stores: the crawling spider's zone
    )
    mongo_db.pages.insert_one({"url": ZERO_URL, **fields})
    result = reparse_pages(mongo_db, source=ZERO_SOURCE)
    assert (result.pages, result.parse_errors, result.archive.inserted) == (1, 0, 1)
    doc = mongo_db.articles.find_one({"url": ZERO_URL})
    assert doc is not None and (doc["source"], doc["region"]) == (ZERO_SOURCE, None)
    assert doc["published_at"].replace(tzinfo=UTC) == datetime.fromisoformat(utc + "+00:00")
