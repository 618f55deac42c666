"""Hostile page content (issue 7, points 7, 8 and 10), offline: decoder, parser, normalisers,
pipelines and the spider's listing callbacks on in-memory responses.

The pages are the hostile corpus (``tests/fixtures/hostile/``, see its README); the end-to-end
crawl of the same corpus is ``tests/test_fault_hostile_pages.py``. Module-level imports are
only of names that existed before the fix, so this file also runs (and fails, showing each
fault) on the code before it; the modules the fix added are imported where they are used.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree
from pymongo.database import Database
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from crawler.archive.page_store import page_fields, page_html
from crawler.archive.query import Archive
from crawler.archive.report import collect, render
from crawler.archive.store import archive_batch, ensure_indexes
from crawler.extract.html_text import element_blocks
from crawler.extract.layers import ParsedArticle, jsonld_article
from crawler.extract.normalize import clean_text, normalize_article, parse_date
from crawler.items import Article
from crawler.sites import site_for
from pipelines.normalize import NormalizePipeline
from pipelines.validate import ValidatePipeline
from spiders.antara import AntaraKaltengSpider
from spiders.base import response_text as _text
from spiders.base import rss_date as _rss_date
from tests.hostile_corpus import HOSTILE_DIR, build, expected_json
from tests.mirror import LIVE_ORIGIN
from tests.test_query import T0, record

parse_article = site_for("antara_kalteng").parse_article

CORPUS: dict[str, dict[str, Any]] = json.loads((HOSTILE_DIR / "expected.json").read_text())
ARTICLES = sorted(name for name in CORPUS if name.startswith("article_"))
NOW = datetime(2026, 1, 27, 6, 10, tzinfo=UTC)


def charset(content_type: str) -> str | None:
    _, _, value = content_type.partition("charset=")
    return value.strip() or None


def response_for(name: str) -> TextResponse:
    """The corpus page as Scrapy would receive it from the live site."""
    entry = CORPUS[name]
    cls = XmlResponse if name.endswith(".xml") else HtmlResponse
    return cls(
        url=LIVE_ORIGIN + entry["path"],
        body=(HOSTILE_DIR / name).read_bytes(),
        headers={"Content-Type": entry["content_type"]},
    )


def run_pipelines(article: Article) -> tuple[Article | None, dict[str, Any]]:
    crawler = get_crawler()
    assert crawler.stats is not None
    crawler.stats.open_spider()
    item: Article | None = article
    try:
        for pipeline_class in (NormalizePipeline, ValidatePipeline):
            item = pipeline_class.from_crawler(crawler).process_item(item)
    except DropItem:
        item = None
    return item, crawler.stats.get_stats()


def parse_corpus_page(name: str) -> ParsedArticle:
    """Decode the page as the spider does (the declared charset is the lie) and parse it."""
    return parse_article(_text(response_for(name)), LIVE_ORIGIN + CORPUS[name]["path"])


def text_values(article: Article) -> list[str]:
    values: list[str] = []
    for value in vars(article).values():
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, list):
            values.extend(v for v in value if isinstance(v, str))
    return values


def make_spider() -> AntaraKaltengSpider:
    crawler = get_crawler(AntaraKaltengSpider)
    spider = AntaraKaltengSpider.from_crawler(crawler)
    assert isinstance(spider, AntaraKaltengSpider)
    return spider


def test_stored_corpus_is_what_the_builder_makes() -> None:
    files, expected = build()
    for name, data in files.items():
        assert (HOSTILE_DIR / name).read_bytes() == data, (
            f"run python -m tests.hostile_corpus --write ({name})"
        )
    assert (HOSTILE_DIR / "expected.json").read_bytes() == expected_json(expected)


# --- every hostile article page through decoder, parser and pipelines --------------------------


@pytest.mark.parametrize("name", ARTICLES)
def test_hostile_article_page_gives_its_expected_outcome(name: str) -> None:
    expect = CORPUS[name]["expect"]
    parsed = parse_corpus_page(name)
    article, stats = run_pipelines(parsed.article)
    for problem in getattr(parsed, "problems", []):  # counted by the spider in a crawl
        stats[problem] = stats.get(problem, 0) + 1
    for key, count in expect.get("stats", {}).items():
        assert stats.get(key) == count, (key, parsed.problems)
    if "dropped" in expect:
        assert article is None
        assert stats[f"item_dropped_reasons_count/{expect['dropped']}"] == 1
        return
    assert article is not None, stats
    values = text_values(article)
    for value in values:
        value.encode("utf-8")  # raises on a lone surrogate
        assert not any(ch in value for ch in "\x00\x01\ufffe\uffff"), value
    for unwanted in expect.get("no_chars", []):
        assert not [value for value in values if unwanted in value], unwanted
    if "title" in expect:
        assert article.title == expect["title"]
    for text in expect.get("body_contains", []):
        assert text in (article.body or "")
    if "authors" in expect:
        assert article.authors == expect["authors"]
    if "description_startswith" in expect:
        assert (article.description or "").startswith(expect["description_startswith"])


# --- point 7: dates outside the window ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Senin, 1 Januari 0001 00:00 WIB",  # OverflowError converting to UTC on main
        "1/1/0001",
        "0001-01-01T00:00:00+07:00",
        "1 Januari 10000",  # read as the year 1000 on main, stored as 999
        "Fri, 31 Dec 9999 23:59:00 +0700",
        "9999-12-31T23:59:59Z",
        "31 Desember 1989 23:00 WIB",
        "1 Maret 2026 10:00 WIB",  # a month after NOW: no news page is dated there
    ],
)
def test_dates_outside_the_window_are_absent(text: str) -> None:
    assert parse_date(text, now=NOW) is None


@pytest.mark.parametrize("text", ["Senin, 1 Januari 0001 00:00 WIB", "1 Januari 10000"])
def test_dates_outside_the_window_say_so(text: str) -> None:
    from crawler.extract.dates import OUT_OF_RANGE, DateResult, parse_date_checked

    assert parse_date_checked(text, now=NOW) == DateResult(None, OUT_OF_RANGE)


def test_window_edges_are_kept() -> None:
    from crawler.extract.dates import EARLIEST_DATE, FUTURE_TOLERANCE, parse_date_checked

    assert datetime(1990, 1, 1, tzinfo=UTC) == EARLIEST_DATE
    assert parse_date("1 Januari 1990 07:00 WIB", now=NOW) == EARLIEST_DATE
    tomorrow = NOW + timedelta(days=1)
    assert parse_date(tomorrow.isoformat(), now=NOW) == tomorrow
    assert parse_date((NOW + FUTURE_TOLERANCE + timedelta(minutes=1)).isoformat(), now=NOW) is None
    assert parse_date_checked("bukan tanggal", now=NOW).problem == "unparseable"


def test_rss_pubdate_in_year_9999_is_out_of_range() -> None:
    assert _rss_date("Fri, 31 Dec 9999 23:59:00 +0700") == (None, "out_of_range")
    assert _rss_date("Tue, 27 Jan 2026 12:45:00 +0700").value == datetime(
        2026, 1, 27, 5, 45, tzinfo=UTC
    )


def test_rss_item_with_year_9999_is_followed_and_counted() -> None:
    spider = make_spider()
    requests = list(spider.parse_rss(response_for("rss_year_9999.xml")))
    urls = {request.url for request in requests}
    assert LIVE_ORIGIN + CORPUS["article_listed_rss_9999.html"]["path"] in urls
    assert spider.crawler.stats.get_value("dates/out_of_range/rss") == 1  # type: ignore[union-attr]


def test_listing_survives_a_year_0001_item_and_a_broken_link() -> None:
    spider = make_spider()
    requests = list(spider.parse_listing(response_for("listing_year_0001.html"), page=1))
    urls = {request.url for request in requests}
    for path in CORPUS["listing_year_0001.html"]["expect"]["followed"]:
        assert LIVE_ORIGIN + path in urls, path
    # The section's own six articles are still there, after the hostile items.
    assert len([url for url in urls if "/berita/8" in url or "/berita/2" in url]) == 6
    stats = spider.crawler.stats
    assert stats is not None
    assert stats.get_value("dates/out_of_range/listing") == 1
    assert stats.get_value("antara_kalteng/listing/item_errors") == 1


def test_article_dated_year_10000_keeps_the_raw_date_and_reports_it() -> None:
    parsed = parse_corpus_page("article_year_10000.html")
    assert parsed.article.published_at is None
    assert parsed.article.published_at_raw == "Sabtu, 1 Januari 10000 15:20 WIB"
    assert parsed.problems == ["dates/out_of_range/published_at"]


def test_normalize_pipeline_clears_and_counts_implausible_datetimes() -> None:
    article = Article(
        url=f"{LIVE_ORIGIN}/berita/1/x",
        title="Judul",
        body="Isi berita.",
        published_at=datetime(9999, 12, 31, 23, 0),  # naive: WIB
        modified_at=datetime(1, 1, 1),  # OverflowError converting to UTC on main
    )
    item, stats = run_pipelines(article)
    assert item is None
    assert stats["dates/out_of_range/published_at"] == 1
    assert stats["dates/out_of_range/modified_at"] == 1
    assert stats["item_dropped_reasons_count/missing_published_at"] == 1
    assert "normalize/errors" not in stats


def test_report_skips_out_of_range_dates_already_archived(
    mongo_db: Database[dict[str, Any]],
) -> None:
    ensure_indexes(mongo_db)
    archive_batch(
        mongo_db,
        [
            record(1),
            # What "1 Januari 10000" was archived as before the fix.
            record(2, published_at=datetime(999, 12, 31, 16, 52, 48, tzinfo=UTC)),
            record(3, published_at=datetime(9999, 12, 31, 16, 0, tzinfo=UTC)),
        ],
    )
    data = collect(Archive(mongo_db))
    html = render(data)
    assert data.total == 3
    assert [row["day"] for row in data.per_day] == [(T0 + timedelta(hours=1)).date().isoformat()]
    assert data.days_left_out == 2
    assert 'id="days-left-out"' in html and "2 record(s)" in html
    assert "polyline" in html


# --- point 8: wrongly archived content ----------------------------------------------------------


def test_breadcrumb_is_no_body() -> None:
    parsed = parse_corpus_page("article_no_body.html")
    article, stats = run_pipelines(parsed.article)
    assert article is None, article.body
    assert stats["item_dropped_reasons_count/missing_body"] == 1
    assert "generic/body" not in parsed.fallbacks
    assert parsed.problems == ["parser/discarded/generic_body_navigation"]


def test_a_caption_or_headline_guessed_as_the_body_is_no_body() -> None:
    html = (HOSTILE_DIR / "article_listed_0001.html").read_text(encoding="utf-8")
    start = html.index('<div class="post-content')
    end = html.index('<footer class="post-meta">')
    parsed = parse_article(html[:start] + html[end:], LIVE_ORIGIN + "/berita/900101/x")
    # The generic extractor's guess is the lead image's caption: furniture, not the story.
    assert parsed.article.body is None
    assert "parser/discarded/generic_body_navigation" in parsed.problems


def test_a_real_body_found_by_the_generic_extractor_is_kept() -> None:
    html = (HOSTILE_DIR / "article_listed_0001.html").read_text(encoding="utf-8")
    parsed = parse_article(html.replace("post-content", "story-body"), LIVE_ORIGIN + "/x")
    assert "generic/body" in parsed.fallbacks and not parsed.problems
    assert "Lilis mengimbau warga" in (parsed.article.body or "")


def test_cp1252_declared_utf8_decodes_without_replacement_characters() -> None:
    from crawler.extract.decode import decode_html

    body = (HOSTILE_DIR / "article_cp1252_declared_utf8.html").read_bytes()
    text = decode_html(body, "utf-8")
    assert "\ufffd" not in text
    assert "Kafé “Huma Betang” di Palangka Raya ramai, pengunjung naïf soal harga" in text


def test_utf8_declared_latin1_with_a_stray_byte_is_read_as_utf8() -> None:
    from crawler.extract.decode import decode_html

    body = (HOSTILE_DIR / "article_utf8_declared_latin1.html").read_bytes()
    text = decode_html(body, "iso-8859-1")
    assert "mencatat “86” kasus demam berdarah di kafé lagi" in text
    assert "Kafé Kasus terbanyak" in text  # the stray 0xE9, read as Windows-1252
    assert "Ã" not in text and "â€" not in text


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("article_cp1252_declared_utf8.html", "utf-8"),
        ("article_utf8_declared_latin1.html", "cp1252"),
    ],
)
def test_spider_and_page_archive_decode_alike(name: str, declared: str) -> None:
    from crawler.extract.decode import decode_html

    body = (HOSTILE_DIR / name).read_bytes()
    fields = page_fields(
        source="s", status=200, body=body, headers={}, encoding=declared, fetched_at=NOW
    )
    response = response_for(name)
    assert response.encoding == declared
    assert page_html(fields) == _text(response) == decode_html(body, declared)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Palangka\x00Raya", "Palangka Raya"),
        ("Teweh\x01Tengah\x7f\x85x\x9f", "Teweh Tengah x"),
        ("\ud83d Banjir \udc00meluas", "Banjir meluas"),
        ("a\ufffeb\uffff", "ab"),
        ("&#1;kode&#0;", "kode\ufffd"),  # html.unescape maps NUL to U+FFFD by the HTML standard
    ],
)
def test_clean_text_makes_page_text_encodable(text: str, expected: str) -> None:
    cleaned = clean_text(text)
    assert cleaned == expected
    cleaned.encode("utf-8")


def test_nul_bytes_do_not_glue_words_or_split_paragraphs() -> None:
    article = normalize_article(parse_corpus_page("article_nul_bytes.html").article)
    assert article.title == "Banjir di Palangka Raya meluas"
    body = article.body or ""
    assert "di Muara Teweh, Sabtu" in body
    # \x01 is the serialiser's block marker: page text holding one must not split a paragraph.
    assert "Kasus terbanyak ditemukan di Kecamatan Teweh Tengah dan Lahei." in body.split("\n\n")[2]


# --- point 10: deep nesting ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1500, 5000, 50_000])
def test_deeply_nested_body_serialises(depth: int) -> None:
    root = etree.Element("div")
    node = root
    for _ in range(depth):
        node = etree.SubElement(node, "div")
    node.text = "isi terdalam"
    node.tail = "sesudahnya"
    assert element_blocks(root) == [["isi terdalam"], ["sesudahnya"]]


@pytest.mark.parametrize("name", ["article_deep_nesting.html", "article_very_deep_nesting.html"])
def test_deeply_nested_article_comes_out_whole(name: str) -> None:
    article = normalize_article(parse_corpus_page(name).article)
    reference = normalize_article(parse_corpus_page("article_listed_0001.html").article)
    # The same body as the page without the nesting (both are variants of 811932).
    assert article.body is not None and reference.body is not None
    assert article.body.split("\n\n")[1:] == reference.body.split("\n\n")[1:]
    assert article.authors == ["Andika Putra"] and article.editors == ["Ira Pratiwi"]
    assert article.tags == ["DBD", "Barito Utara", "kesehatan"]


def test_deeply_nested_json_ld_is_ignored_not_fatal() -> None:
    from parsel import Selector

    nested = "[" * 100_000 + "]" * 100_000
    page = f'<script type="application/ld+json">{nested}</script>'
    assert jsonld_article(Selector(text=page)) == {}
    deep_list = (
        '{"@graph": ' + "[" * 900 + '{"@type": "NewsArticle", "headline": "x"}' + "]" * 900 + "}"
    )
    page = f'<script type="application/ld+json">{deep_list}</script>'
    assert jsonld_article(Selector(text=page))["headline"] == "x"


# --- surrogates --------------------------------------------------------------------------------


def test_lone_surrogate_in_json_ld_never_leaves_the_parser() -> None:
    parsed = parse_corpus_page("article_jsonld_surrogate.html")
    assert "jsonld/description" in parsed.fallbacks
    for value in text_values(parsed.article):
        value.encode("utf-8")
    assert (parsed.article.description or "").startswith("Pemerintah Provinsi Kalimantan Tengah")


def test_lone_surrogate_in_json_ld_article_body_is_removed() -> None:
    html = (HOSTILE_DIR / "article_jsonld_surrogate.html").read_text(encoding="utf-8")
    start = html.index('<div class="wrap__article-detail-content')
    html = html[:start] + html[start:].replace("wrap__article-detail-content", "gone", 1)
    html = html.replace('"inLanguage"', '"articleBody": "Isi \\udc00 dari JSON-LD", "inLanguage"')
    parsed = parse_article(html, LIVE_ORIGIN + "/berita/900116/x")
    assert parsed.article.body == "Isi dari JSON-LD"
