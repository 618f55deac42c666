"""End to end, one story on two desks: ``scrapy crawl antara_kalsel`` and ``antara_ambon``.

The two desks' reconstructed fixture sites (not saved live pages) are served by their own
mirrors on 127.0.0.1. On each, two article pages carry the texts of labelled pairs from
``tests/fixtures/story_pairs/pairs.json``: Kalsel the national story and Ambon the desk's copy
of it (another dateline, a reworded sentence, an added local paragraph), and one each of two
BMKG warnings from different offices (a hard negative). Each test crawls into a fresh database
of a real server, as a user runs the crawls: one after the other, in both orders, and both at
once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive.store import connect
from tests.mirror import CrawlRun, MirrorServer, desk_mirror, mirror_crawl_args, run_crawl
from tests.test_stories import COPY_PAIR, HARD_NEGATIVE, pair

pytestmark = pytest.mark.slow

KALSEL, AMBON = "antara_kalsel", "antara_ambon"
NATIONAL = "https://kalsel.antaranews.com/berita/493402/harga-karet-di-tabalong-naik-petani-mulai-kembali-menyadap"
COPY = "https://ambon.antaranews.com/berita/715102/pemkot-ambon-uji-coba-angkutan-laut-gratis-bagi-pelajar-di-teluk-ambon"
WARNING_1 = "https://kalsel.antaranews.com/berita/493470/wisata-susur-sungai-di-siring-menara-pandang-ramai-saat-libur-akhir-pekan"
WARNING_2 = "https://ambon.antaranews.com/berita/715190/pemprov-maluku-kirim-bantuan-logistik-untuk-warga-terdampak-banjir-rob-di-seram-bagian-barat"
_BODY = re.compile(r'(<div class="[^"]*post-content[^"]*">\n)(.*?)(<p><em>Dilarang)', re.S)


def with_body(mirror: MirrorServer, url: str, text: str) -> None:
    """Serve the mirror's article page for ``url`` with ``text`` as its body paragraphs."""
    path = url.split("antaranews.com", 1)[1]
    html = next((mirror.root / path.strip("/")).parent.glob(f"{path.rsplit('/', 1)[1]}.html"))
    paragraphs = "<br /><br />\n".join(p for p in text.split("\n\n") if p.strip())
    page, found = _BODY.subn(
        lambda m: m.group(1) + paragraphs + "<br /><br />\n" + m.group(3),
        html.read_text("utf-8"),
    )
    assert found == 1, url
    mirror.add_page(path, page)


@pytest.fixture(scope="module")
def mirrors() -> Iterator[dict[str, MirrorServer]]:
    national, copy = pair(COPY_PAIR)
    first, second = pair(HARD_NEGATIVE)
    servers = {KALSEL: desk_mirror(KALSEL), AMBON: desk_mirror(AMBON)}
    with_body(servers[KALSEL], NATIONAL, national)
    with_body(servers[KALSEL], WARNING_1, first)
    with_body(servers[AMBON], COPY, copy)
    with_body(servers[AMBON], WARNING_2, second)
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


class Archive:
    """One fresh database and the crawls into it."""

    def __init__(self, mongo_uri: str, mirrors: dict[str, MirrorServer], data_dir: str) -> None:
        self.uri, self.mirrors, self.data_dir = mongo_uri, mirrors, data_dir
        self.name = f"e2e_stories_{uuid.uuid4().hex[:12]}"
        self.db: Database[dict[str, Any]] = connect(mongo_uri, self.name)

    def crawl(self, source: str, *extra: str) -> CrawlRun:
        more = ("-s", f"DATA_DIR={self.data_dir}", "-s", "LOG_LEVEL=INFO", *extra)
        run = run_crawl(
            source, *mirror_crawl_args(self.mirrors[source], self.uri, self.name, *more)
        )
        assert run.returncode == 0, run.log[-3000:]
        assert "Traceback" not in run.log, run.log[-3000:]
        return run

    def stories(self) -> dict[str, str]:
        return {
            d["url"]: d["story_id"] for d in self.db.articles.find({}, {"url": 1, "story_id": 1})
        }


@pytest.fixture
def archive(mongo_uri: str, mirrors: dict[str, MirrorServer], tmp_path: Any) -> Iterator[Archive]:
    made = Archive(mongo_uri, mirrors, str(tmp_path / "data"))
    yield made
    made.db.client.drop_database(made.name)
    made.db.client.close()


def assert_only_the_pair_is_linked(stories: dict[str, str], story: str) -> None:
    assert len(stories) == 6
    assert stories[NATIONAL] == stories[COPY] == story
    others = {url: s for url, s in stories.items() if url not in (NATIONAL, COPY)}
    assert others == {url: url for url in others}  # the two warnings among them


def test_desk_copy_crawled_after_the_national_story_joins_it_and_keeps_it(
    archive: Archive, mirrors: dict[str, MirrorServer]
) -> None:
    archive.crawl(KALSEL)
    archive.crawl(AMBON)
    assert_only_the_pair_is_linked(archive.stories(), NATIONAL)
    # Re-crawl everything (no incremental skipping), the desk having edited its copy meanwhile:
    # unchanged records stay, the copy becomes version 2, no story moves.
    _national, copy = pair(COPY_PAIR)
    with_body(mirrors[AMBON], COPY, copy + "\n\nKalimat tambahan dari redaksi Ambon.")
    try:
        full = ("-s", "INCREMENTAL_ENABLED=False")
        again = [archive.crawl(AMBON, *full), archive.crawl(KALSEL, *full)]
    finally:
        with_body(mirrors[AMBON], COPY, copy)
    assert again[0].stats.get("archive/updated") == 1
    assert again[1].stats.get("archive/unchanged") == 3
    doc = archive.db.articles.find_one({"url": COPY})
    assert doc is not None and doc["version"] == 2
    assert_only_the_pair_is_linked(archive.stories(), NATIONAL)


def test_national_story_crawled_after_the_desk_copy_joins_the_copy(archive: Archive) -> None:
    archive.crawl(AMBON)
    archive.crawl(KALSEL)
    assert_only_the_pair_is_linked(archive.stories(), COPY)


def test_two_desks_crawled_at_once_end_in_one_story(archive: Archive) -> None:
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(archive.crawl, (KALSEL, AMBON)))
    stories = archive.stories()
    assert stories[NATIONAL] in (NATIONAL, COPY)
    assert_only_the_pair_is_linked(stories, stories[NATIONAL])
