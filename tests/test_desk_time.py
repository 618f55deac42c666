"""Local time per desk outside the parser: the normalise pipeline and ``reparse``.

Both read a page time that carries no zone in the zone of the record's desk (looked up by
``source`` in the site registry), never a fixed WIB. The page used is a reconstruction
(``tests/fixtures/antara_ambon/``), not a saved live page.
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
from pipelines.normalize import NormalizePipeline

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
