"""The parser and the item pipelines on broken pages: clear drops, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler.extract.decode import decode_html
from crawler.extract.normalize import normalize_article
from crawler.items import Article
from crawler.sites import site_for
from pipelines.normalize import NormalizePipeline
from pipelines.validate import ValidatePipeline

parse_article = site_for("antara_kalteng").parse_article

SITE = Path(__file__).parent / "fixtures" / "antara_kalteng" / "site"
PAGE = next((SITE / "berita" / "812077").glob("*.html")).read_text(encoding="utf-8")
URL = "https://kalteng.antaranews.com/berita/812077/petani-food-estate"


def run_pipelines(article: Article) -> tuple[Article | None, dict[str, int]]:
    crawler = get_crawler()
    crawler.stats.open_spider()
    item: Article | None = article
    try:
        for pipeline_class in (NormalizePipeline, ValidatePipeline):
            item = pipeline_class.from_crawler(crawler).process_item(item)
    except DropItem:
        item = None
    return item, crawler.stats.get_stats()


def test_truncated_html_still_yields_what_is_there() -> None:
    truncated = PAGE[: PAGE.index("Ia menuturkan")]
    article, _stats = run_pipelines(parse_article(truncated, URL).article)
    assert article is not None
    assert article.title and article.published_at
    assert article.body and article.body.startswith("Petani di kawasan food estate")


def test_empty_body_is_dropped_with_a_reason() -> None:
    start = PAGE.index('<div class="post-content')
    end = PAGE.index("</div>", start)
    page = PAGE[:start] + '<div class="post-content"></div>' + PAGE[end + len("</div>") :]
    parsed = parse_article(page, URL)
    assert "generic/body" not in parsed.fallbacks  # no sidebar text passed off as the body
    article, stats = run_pipelines(parsed.article)
    assert article is None
    assert stats["item_dropped_reasons_count/missing_body"] == 1


def test_page_without_any_date_is_dropped_as_missing_published_at() -> None:
    page = PAGE.replace("Senin, 26 Januari 2026 19:40 WIB", "")
    article, stats = run_pipelines(parse_article(page, URL).article)
    assert article is None
    assert stats["item_dropped_reasons_count/missing_published_at"] == 1


def test_layout_change_falls_back_to_metadata_and_generic_layers() -> None:
    page = PAGE.replace("post-content", "story-body").replace("post-title", "headline")
    parsed = parse_article(page, URL)
    assert "generic/body" in parsed.fallbacks
    assert "generic/title" in parsed.fallbacks
    article, _ = run_pipelines(parsed.article)
    assert article is not None
    assert "Ia menuturkan" in (article.body or "")
    assert (
        article.title == "Petani food estate Pulang Pisau mulai panen padi di lahan 1.200 hektare"
    )


@pytest.mark.parametrize("html", ["", "   ", "<html>", "not html at all \x00\x01", "<p>Halo</p>"])
def test_garbage_never_raises(html: str) -> None:
    parsed = parse_article(html, URL)
    article, _stats = run_pipelines(parsed.article)
    assert article is None or article.body


def test_wrong_declared_encoding_is_read_as_utf8() -> None:
    page = PAGE.replace("Suwarno", "Suwarno “Kafé”")
    text = decode_html(page.encode("utf-8"), "iso-8859-1")
    article = normalize_article(parse_article(text, URL).article)
    assert "Suwarno “Kafé”" in (article.body or "")


def test_ten_megabyte_page_parses() -> None:
    filler = "<p>" + "Paragraf pengisi yang panjang sekali. " * 50 + "</p>\n"
    start = PAGE.index("Ia menuturkan")
    page = PAGE[:start] + filler * (10_000_000 // len(filler)) + PAGE[start:]
    assert len(page) > 10_000_000
    article = normalize_article(parse_article(page, URL).article)
    assert article.title and article.body and article.word_count and article.word_count > 1_000_000


def test_tags_with_operators_stay_values() -> None:
    page = PAGE.replace(">food estate</a>", ">$gt</a>").replace(">Bulog</a>", ">a.b</a>")
    article = normalize_article(parse_article(page, URL).article)
    assert article.tags == ["$gt", "Pulang Pisau", "panen padi", "a.b"]


def test_missing_date_element_is_not_guessed_from_page_furniture() -> None:
    # Every page's header shows "today" (div.topdate): never the publication date.
    page = PAGE.replace('<span class="article-date">', '<span class="x">').replace(
        "Senin, 26 Januari 2026 19:40 WIB", ""
    )
    page = page.replace('class="x"', "")
    parsed = parse_article(page, URL)
    assert parsed.article.published_at is None
