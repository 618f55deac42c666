"""Every fixture article page of every site parses to its expected record, field by field.

Fixtures live in ``tests/fixtures/<source>/`` (``meta.json`` lists each page's URL and kind;
``expected/<id>.json`` is the record); the pages are reconstructions of the sites' templates,
not saved live pages. Every source in ``crawler.sites.SITES`` with a fixture directory is
picked up here without a new test; a desk without quirks needs none (its row is checked by
``tests/test_sites_antara.py``), but the fixtures of the family's quirks must be there:
kalteng (both templates), a WITA desk on the current template (kalsel), a WIT desk on the old
template (ambon), the national site and the English service. ``python -m
tests.regenerate_expected`` shows the diff a parser change makes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.items import Article
from crawler.sites import SITES
from tests.regenerate_expected import current_record, fixture_sources

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA_FIELDS = [name for name in Article.__dataclass_fields__ if name != "crawled_at"]
#: Fixtures that must exist: each carries quirks no other one does.
REQUIRED_FIXTURES = (
    "antara_kalteng",
    "antara_kalsel",
    "antara_ambon",
    "antara_nasional",
    "antara_en",
)
SOURCES = fixture_sources()


def article_pages() -> list[tuple[str, dict[str, Any]]]:
    pages = []
    for source in SOURCES:
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


def test_the_quirk_fixtures_are_there() -> None:
    assert set(REQUIRED_FIXTURES) <= set(SOURCES)


@pytest.mark.parametrize("source", SOURCES)
def test_every_fixture_site_has_its_articles(source: str) -> None:
    meta = json.loads((FIXTURES / source / "meta.json").read_text(encoding="utf-8"))
    assert len([p for p in PAGES if p[0] == source]) == len(meta["expected_archive"]) > 0
    assert meta.get("source", source) == source


@pytest.mark.parametrize("source", SOURCES)
def test_fixture_pages_say_they_are_reconstructions(source: str) -> None:
    meta = json.loads((FIXTURES / source / "meta.json").read_text(encoding="utf-8"))
    assert "reconstruction" in meta["note"]
    pages = [entry for entry in meta["files"] if entry["kind"] != "readme"]
    assert pages and all(entry["reconstructed"] for entry in pages if "site/" in entry["path"])
    readme = FIXTURES / source / "README.md"
    assert "reconstruction" in readme.read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("source", SOURCES)
def test_meta_lists_exactly_the_fixture_files(source: str) -> None:
    root = FIXTURES / source
    meta = json.loads((root / "meta.json").read_text(encoding="utf-8"))
    listed = {entry["path"] for entry in meta["files"]}
    present = {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.name != "meta.json"
    }
    assert listed == present
