"""Every saved article page of every site parses to its expected record, field by field.

Fixtures live in ``tests/fixtures/<source>/`` (``meta.json`` lists each page's URL and kind;
``expected/<id>.json`` is the record). A new site in ``crawler.sites.SITES`` with fixtures is
picked up here without a new test. ``python -m tests.regenerate_expected`` shows the diff a
parser change makes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.items import Article
from crawler.sites import SITES
from tests.regenerate_expected import current_record

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA_FIELDS = [name for name in Article.__dataclass_fields__ if name != "crawled_at"]


def article_pages() -> list[tuple[str, dict[str, Any]]]:
    pages = []
    for source in sorted(SITES):
        meta = json.loads((FIXTURES / source / "meta.json").read_text(encoding="utf-8"))
        pages += [(source, entry) for entry in meta["files"] if entry["kind"] == "article"]
    return pages


PAGES = article_pages()
PAGE_IDS = [f"{source}-{entry.get('id', entry['path'])}" for source, entry in PAGES]


def parse_fixture(source: str, entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    root = FIXTURES / source
    html = (root / entry["path"]).read_text(encoding="utf-8")
    expected = json.loads((root / entry["expected"]).read_text(encoding="utf-8"))
    return current_record(source, html, entry["url"]), expected


@pytest.mark.parametrize(("source", "entry"), PAGES, ids=PAGE_IDS)
@pytest.mark.parametrize("field", SCHEMA_FIELDS)
def test_field_matches_expected(source: str, entry: dict[str, Any], field: str) -> None:
    actual, expected = parse_fixture(source, entry)
    assert actual[field] == expected[field]


@pytest.mark.parametrize(("source", "entry"), PAGES, ids=PAGE_IDS)
def test_site_selectors_need_no_fallback_for_core_fields(
    source: str, entry: dict[str, Any]
) -> None:
    html = (FIXTURES / source / entry["path"]).read_text(encoding="utf-8")
    fallbacks = SITES[source].parse_article(html, entry["url"]).fallbacks
    core = {"title", "body", "published_at_raw"}
    assert not [f for f in fallbacks if f.split("/")[1] in core]


def test_every_site_has_fixture_articles() -> None:
    for source in SITES:
        meta = json.loads((FIXTURES / source / "meta.json").read_text(encoding="utf-8"))
        assert len([p for p in PAGES if p[0] == source]) == len(meta["expected_archive"]) > 0
