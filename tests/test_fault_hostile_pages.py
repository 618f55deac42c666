"""The hostile corpus crawled for real (issue 7, points 7, 8 and 10): one mirror serves the
fixture site with every hostile page of ``tests/fixtures/hostile/`` added (the section listing
and the feed replaced by their hostile variants), one ``scrapy crawl`` archives it into
SecantusDB, and each page's expected outcome (``expected.json``) is checked on the archive,
the crawl's stats and the mirror's request counts.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crawler.archive.store import connect
from tests.hostile_corpus import HOSTILE_DIR
from tests.mirror import (
    EXPECTED_URLS,
    LIVE_ORIGIN,
    CrawlRun,
    MirrorServer,
    mirror_crawl_args,
    run_crawl,
)

CORPUS: dict[str, dict[str, Any]] = json.loads((HOSTILE_DIR / "expected.json").read_text())
Doc = dict[str, Any]

#: One crawl (~10 s) for the whole module.
pytestmark = pytest.mark.slow


@dataclass(repr=False)
class HostileCrawl:
    run: CrawlRun
    docs: dict[str, Doc]
    counts: dict[str, int]


@pytest.fixture(scope="module")
def hostile_crawl(
    mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileCrawl]:
    database = f"e2e_hostile_{uuid.uuid4().hex[:12]}"
    data_dir: Path = tmp_path_factory.mktemp("data")
    try:
        with MirrorServer() as mirror:
            for name, entry in CORPUS.items():
                body = (HOSTILE_DIR / name).read_bytes()
                mirror.add_page(entry["path"], body, content_type=entry["content_type"])
            run = run_crawl(
                "antara_kalteng",
                *mirror_crawl_args(
                    mirror,
                    mongo_uri,
                    database,
                    "-s",
                    f"DATA_DIR={data_dir}",
                    "-s",
                    "LOG_LEVEL=INFO",
                ),
            )
            counts = mirror.counts
        db = connect(mongo_uri, database)
        docs = {doc["url"]: doc for doc in db.articles.find({}, {"_id": 0})}
        db.client.close()
        yield HostileCrawl(run, docs, counts)
    finally:
        db = connect(mongo_uri, database)
        db.client.drop_database(database)
        db.client.close()


def text_values(doc: Doc) -> list[str]:
    values: list[str] = []
    for value in doc.values():
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, list):
            values.extend(v for v in value if isinstance(v, str))
    return values


def test_crawl_finishes_without_losing_a_page_to_an_exception(hostile_crawl: HostileCrawl) -> None:
    run = hostile_crawl.run
    assert run.returncode == 0, run.log[-3000:]
    assert run.stats.get("finish_reason") == "finished"
    errors = {k: v for k, v in run.stats.items() if k.startswith("spider_exceptions/")}
    assert not errors
    assert "antara_kalteng/parse_errors" not in run.stats


def test_every_fixture_article_is_still_archived(hostile_crawl: HostileCrawl) -> None:
    assert sorted(set(EXPECTED_URLS) - set(hostile_crawl.docs)) == []


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_hostile_page_outcome(hostile_crawl: HostileCrawl, name: str) -> None:
    run, docs = hostile_crawl.run, hostile_crawl.docs
    entry = CORPUS[name]
    expect = entry["expect"]
    url = LIVE_ORIGIN + entry["path"]
    for path in expect.get("followed", []):
        assert hostile_crawl.counts.get(path), f"{path} never requested"
    if "dropped" in expect:
        assert url not in docs, f"archived: body={docs[url].get('body')!r}"
        assert f"Dropped {url}: {expect['dropped']}" in run.log
        return
    if not expect.get("archived"):
        return
    assert url in docs, "not archived"
    doc = docs[url]
    values = text_values(doc)
    for value in values:
        value.encode("utf-8")
        assert not any(ch in value for ch in "\x00\x01\ufffe\uffff"), value
    for unwanted in expect.get("no_chars", []):
        assert not [v for v in values if unwanted in v], unwanted
    if "title" in expect:
        assert doc["title"] == expect["title"]
    for text in expect.get("body_contains", []):
        assert text in doc["body"]
    if "authors" in expect:
        assert doc["authors"] == expect["authors"]
    if "description_startswith" in expect:
        assert doc["description"].startswith(expect["description_startswith"])


def test_discarded_values_and_drops_are_counted(hostile_crawl: HostileCrawl) -> None:
    wanted: Counter[str] = Counter()
    for entry in CORPUS.values():
        wanted.update(entry["expect"].get("stats", {}))
        if "dropped" in entry["expect"]:
            wanted[f"item_dropped_reasons_count/{entry['expect']['dropped']}"] += 1
    stats = hostile_crawl.run.stats
    assert {key: stats.get(key) for key in sorted(wanted)} == dict(sorted(wanted.items()))
