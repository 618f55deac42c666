"""JavaScript rendering: a listing whose links exist only after its script runs.

The crawl runs in real headless Chromium (scrapy-playwright), as ``-a render_js=1`` runs it
in production; the page is served from 127.0.0.1. Without rendering the same crawl must find
nothing, which proves the articles came from the rendered DOM.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crawler.archive.store import connect
from tests.mirror import SITE_DIR, CrawlRun, MirrorServer, run_crawl

CHROMIUM = Path(os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium"))
JS_SITE = Path(__file__).parent / "fixtures" / "js_listing"
LIVE = "https://kalteng.antaranews.com"
ARTICLE_IDS = ("812460", "812101", "811932")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set "
    "PLAYWRIGHT_CHROMIUM_EXECUTABLE)",
)


def article_paths() -> dict[str, Path]:
    """URL path → fixture file of the articles the JS listing links to."""
    files = [next((SITE_DIR / "berita" / i).glob("*.html")) for i in ARTICLE_IDS]
    return {f"/berita/{file.parent.name}/{file.stem}": file for file in files}


def crawl_js_listing(
    mongo_uri: str, tmp_path: Path, *, render_js: bool
) -> tuple[CrawlRun, list[str], dict[str, int]]:
    database = f"e2e_js_{uuid.uuid4().hex[:12]}"
    with MirrorServer(JS_SITE) as mirror:
        for path, file in article_paths().items():
            mirror.add_page(path, file.read_bytes())
        run = run_crawl(
            "antara_kalteng",
            "-a",
            f"base_url={mirror.base_url}",
            "-a",
            f"render_js={int(render_js)}",
            "-s",
            f"MONGO_URI={mongo_uri}",
            "-s",
            f"MONGO_DATABASE={database}",
            "-s",
            f"DATA_DIR={tmp_path}",
            "-s",
            "AUTOTHROTTLE_ENABLED=False",
            "-s",
            "DOWNLOAD_DELAY=0",
            timeout=300,
        )
        counts = mirror.counts
    db = connect(mongo_uri, database)
    try:
        urls = sorted(doc["url"] for doc in db.articles.find({}, {"url": 1}))
    finally:
        db.client.drop_database(database)
        db.client.close()
    return run, urls, counts


@pytest.fixture(scope="module")
def rendered(
    mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CrawlRun, list[str], dict[str, int]]]:
    yield crawl_js_listing(mongo_uri, tmp_path_factory.mktemp("data"), render_js=True)


def test_render_js_finds_links_added_by_javascript(rendered: Any) -> None:
    run, urls, counts = rendered
    assert run.returncode == 0, run.log[-3000:]
    assert urls == sorted(LIVE + path for path in article_paths())
    assert run.stats.get("playwright/page_count", 0) >= 1, run.log[-3000:]
    # Articles are fetched without the browser, each once.
    assert all(counts[path] == 1 for path in article_paths())


def test_without_render_js_the_links_are_not_found(mongo_uri: str, tmp_path: Path) -> None:
    run, urls, counts = crawl_js_listing(mongo_uri, tmp_path, render_js=False)
    assert run.returncode == 0, run.log[-3000:]
    assert urls == []
    assert counts.get("/terkini") == 1
    assert not any(path in counts for path in article_paths())
    assert "playwright/page_count" not in run.stats
