"""Every saved article page of ANTARA Kalteng parses to its expected record, field by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crawler.items import Article
from crawler.normalize import iso_utc, normalize_article
from crawler.sites import antara_kalteng

FIXTURES = Path(__file__).parent / "fixtures" / "antara_kalteng"
META = json.loads((FIXTURES / "meta.json").read_text(encoding="utf-8"))
ARTICLE_PAGES = [entry for entry in META["files"] if entry["kind"] == "article"]
SCHEMA_FIELDS = [name for name in Article.__dataclass_fields__ if name != "crawled_at"]


def record(article: Article) -> dict[str, Any]:
    """The article as the expected JSON writes it (datetimes as ISO 8601 UTC "Z")."""
    values = {name: getattr(article, name) for name in SCHEMA_FIELDS}
    for name in ("published_at", "modified_at"):
        values[name] = iso_utc(values[name])
    return values


def parse_fixture(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    html = (FIXTURES / entry["path"]).read_text(encoding="utf-8")
    parsed = antara_kalteng.parse_article(html, entry["url"])
    expected = json.loads((FIXTURES / entry["expected"]).read_text(encoding="utf-8"))
    return record(normalize_article(parsed.article)), expected, parsed.fallbacks


@pytest.mark.parametrize("entry", ARTICLE_PAGES, ids=[str(e["id"]) for e in ARTICLE_PAGES])
@pytest.mark.parametrize("field", SCHEMA_FIELDS)
def test_field_matches_expected(entry: dict[str, Any], field: str) -> None:
    actual, expected, _ = parse_fixture(entry)
    assert actual[field] == expected[field]


@pytest.mark.parametrize("entry", ARTICLE_PAGES, ids=[str(e["id"]) for e in ARTICLE_PAGES])
def test_site_selectors_need_no_fallback_for_core_fields(entry: dict[str, Any]) -> None:
    _, _, fallbacks = parse_fixture(entry)
    core = {"title", "body", "published_at_raw"}
    assert not [f for f in fallbacks if f.split("/")[1] in core]


def test_every_fixture_article_has_an_expected_record() -> None:
    assert len(ARTICLE_PAGES) == len(META["expected_archive"]) == 16
