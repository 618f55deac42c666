"""End to end, two desks: ``scrapy crawl antara_kalsel`` and ``scrapy crawl antara_ambon``.

Each desk's reconstructed fixture site (``tests/fixtures/<desk>/site/``, not saved live pages)
is served by its own mirror on 127.0.0.1, i.e. its own host; both crawls run at once as
subprocesses, as a user runs them, into one archive. Kalsel is a WITA desk on the current
template, Ambon a WIT desk on the old one: every expected article must be archived once, with
its desk's source, region and local time, and every monitor must pass.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.archive.store import connect
from crawler.sites import DESKS_BY_SOURCE
from tests.mirror import CrawlRun, desk_mirror, mirror_crawl_args, run_crawl

FIXTURES = Path(__file__).parent / "fixtures"
DESKS = ("antara_kalsel", "antara_ambon")
Doc = dict[str, Any]

pytestmark = pytest.mark.slow


def meta(source: str) -> Doc:
    data: Doc = json.loads((FIXTURES / source / "meta.json").read_text(encoding="utf-8"))
    return data


def expected_record(source: str, url: str) -> Doc:
    record: Doc = json.loads(
        (FIXTURES / source / "expected" / f"{url.split('/')[4]}.json").read_text(encoding="utf-8")
    )
    return record


def as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


@dataclass(repr=False)
class TwoDesks:
    runs: dict[str, CrawlRun]
    docs: dict[str, Doc]
    again: CrawlRun


@pytest.fixture(scope="module")
def two_desks(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoDesks]:
    database = f"e2e_desks_{uuid.uuid4().hex[:12]}"
    data_dir = tmp_path_factory.mktemp("data")
    mirrors = {source: desk_mirror(source) for source in DESKS}
    try:
        for mirror in mirrors.values():
            mirror.start()

        def crawl(source: str) -> CrawlRun:
            extra = ("-s", f"DATA_DIR={data_dir}", "-s", "LOG_LEVEL=INFO")
            return run_crawl(
                source, *mirror_crawl_args(mirrors[source], mongo_uri, database, *extra)
            )

        with ThreadPoolExecutor(len(DESKS)) as pool:
            runs = dict(zip(DESKS, pool.map(crawl, DESKS), strict=True))
        db = connect(mongo_uri, database)
        docs = {doc["url"]: doc for doc in db.articles.find({}, {"_id": 0})}
        # A second, incremental run of one desk: everything is archived already.
        again = crawl(DESKS[0])
        db.client.drop_database(database)
        db.client.close()
        yield TwoDesks(runs, docs, again)
    finally:
        for mirror in mirrors.values():
            mirror.stop()


@pytest.mark.parametrize("source", DESKS)
def test_each_desk_crawl_finishes_with_every_monitor_passing(
    two_desks: TwoDesks, source: str
) -> None:
    run = two_desks.runs[source]
    assert run.returncode == 0, run.log[-3000:]
    assert run.stats.get("finish_reason") == "finished"
    assert "Traceback" not in run.log, run.log[-3000:]
    failed = {k: v for k, v in run.stats.items() if k.endswith("/failed") and v}
    assert run.stats.get("monitors/failed") == 0, failed
    assert run.stats.get("monitors/listing_links/failed") == 0
    assert not [key for key in run.stats if key.startswith(f"{source}/listing/")]


def test_every_expected_article_is_archived_once_under_its_desk(two_desks: TwoDesks) -> None:
    expected = {url: source for source in DESKS for url in meta(source)["expected_archive"]}
    assert sorted(two_desks.docs) == sorted(expected)
    for url, source in expected.items():
        doc = two_desks.docs[url]
        desk = DESKS_BY_SOURCE[source]
        assert (doc["source"], doc["region"], doc["site_name"]) == (
            source,
            desk.region,
            desk.site_name,
        )
    for source in DESKS:
        assert two_desks.runs[source].stats.get("archive/inserted") == 3
        # The page archive keeps every article page, under the live URL.
        assert two_desks.runs[source].stats.get("pages/stored") == 3


def test_a_second_run_skips_what_the_desk_archived(two_desks: TwoDesks) -> None:
    again = two_desks.again
    assert again.returncode == 0, again.log[-3000:]
    assert again.stats.get("incremental/skipped_known") == 3
    assert "archive/inserted" not in again.stats
    assert again.stats.get("monitors/failed") == 0


@pytest.mark.parametrize(
    ("source", "url"),
    [(source, url) for source in DESKS for url in meta(source)["expected_archive"]],
    ids=lambda value: value.split("/")[4] if "/" in value else value,
)
def test_archived_records_equal_the_expected_ones_in_local_time(
    two_desks: TwoDesks, source: str, url: str
) -> None:
    doc = two_desks.docs[url]
    expected = expected_record(source, url)
    assert {name: as_json(doc.get(name)) for name in expected} == expected
