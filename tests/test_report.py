"""The HTML report: self-contained, and its charts really render in a browser.

The browser test opens the page in headless Chromium (the system binary; Playwright's own
downloads are not used), checks every chart has a non-zero size and drawn marks, that the page
asked for nothing but itself, and saves a screenshot next to the test's temporary files.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive.query import Archive
from crawler.archive.report import collect, render, write_report
from crawler.archive.store import archive_batch, ensure_indexes
from tests.test_query import T0, record

CHROMIUM = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
CHARTS = ("chart-per-day", "chart-coverage", "chart-tags", "chart-duplicates")


@pytest.fixture
def archive(mongo_db: Database[dict[str, Any]]) -> Archive:
    """A small archive: two sources over ten days, tags, and some duplicated stories."""
    ensure_indexes(mongo_db)
    records = []
    for n in range(40):
        records.append(
            record(
                n,
                body=f"Cerita {n % 30}.",  # ten stories appear twice
                source="antara_kalteng" if n % 3 else "antara_kalsel",
                published_at=T0 + timedelta(hours=6 * n),
                tags=[f"tag{n % 7}", "kalteng"] if n % 4 else [],
                image_url=None if n % 2 else f"/img/{n}.jpg",
            )
        )
    archive_batch(mongo_db, records)
    return Archive(mongo_db)


def test_report_figures(archive: Archive) -> None:
    data = collect(archive, top_tags=5)
    assert data.total == 40
    assert data.duplicates == 10
    assert len(data.top_tags) == 5 and data.top_tags[0] == ("kalteng", 30)
    assert sum(row["count"] for row in data.per_day) == 40
    assert {row["source"] for row in data.per_day} == {"antara_kalteng", "antara_kalsel"}
    assert data.coverage["image_url"] == 0.5
    assert sum(n for _, n, _ in data.by_source) == 40


def test_report_is_self_contained(archive: Archive, tmp_path: Path) -> None:
    html = write_report(archive, tmp_path / "report.html").read_text("utf-8")
    assert not re.search(r"https?://|<script|<link|<img|<iframe|url\(|@import", html)
    for chart in CHARTS:
        assert f'id="{chart}"' in html


def test_empty_archive_still_renders(mongo_db: Database[dict[str, Any]]) -> None:
    html = render(collect(Archive(mongo_db)))
    assert html.count("no data") == 4


def test_report_renders_in_headless_chromium(archive: Archive, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    out = write_report(archive, tmp_path / "report.html")
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(out.as_uri(), wait_until="load")
            for chart in CHARTS:
                svg = page.locator(f"#{chart} svg")
                box = svg.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 40, chart
                marks = svg.locator("polyline, circle, rect.bar")
                assert marks.count() > 0, chart
                first = marks.first.bounding_box()
                assert first is not None and first["width"] > 0 and first["height"] > 0, chart
            assert page.locator("#chart-per-day polyline").count() == 2  # one line per source
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert requests == [out.as_uri()]  # the page itself, nothing else
    assert screenshot.stat().st_size > 10_000
    print(f"report screenshot: {screenshot}")
