"""Generated desk mirrors: the reconstructed fixture site of :mod:`tests.mirror`, one per desk.

Several desk spiders crawl several mirrors into one archive at once (``run --all`` in
``tests/test_run_all.py``, ``bench/bench_all_desks.py``). Each desk spider maps its mirror's
URLs onto its own live host, so the desks' records never share a URL; :class:`DeskMirror`
also adds one sentence naming the desk to every article body, so no desk's article is a
duplicate (same ``content_hash``) of another's either. Each mirror is its own port, i.e. its
own host for the crawl. :meth:`DeskMirror.add_articles` continues ``/terkini`` with generated
articles, for crawls larger than the fixture's 16 articles.
"""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urlsplit

from tests.mirror import EXPECTED_URLS, SITE_DIR, MirrorServer, Page

#: Generated articles' ids, above the fixture's.
GENERATED_IDS = 9_000_000
ITEMS_PER_PAGE = 10
#: The paths of the articles a full crawl of the fixture site archives.
EXPECTED_PATHS = sorted(urlsplit(url).path for url in EXPECTED_URLS)
_BODY_OPEN = re.compile(rb'<div[^>]*class="[^"]*post-content[^"]*"[^>]*>')


class DeskMirror(MirrorServer):
    """The fixture site as desk ``number``; a context manager like MirrorServer."""

    def __init__(self, number: int, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.number = number
        self.generated: list[str] = []

    def add_articles(self, count: int) -> None:
        """``count`` generated articles (copies of a fixture article, each with its own id
        and text) on listing pages continuing ``/terkini`` after its last page; call once."""
        assert not self.generated, "add_articles is called once per mirror"
        template_file = next((SITE_DIR / "berita" / "811932").glob("*.html"))
        template = template_file.read_text(encoding="utf-8")
        slug = f"811932/{template_file.stem}"
        ids = list(range(GENERATED_IDS, GENERATED_IDS + count))
        pages = [ids[i : i + ITEMS_PER_PAGE] for i in range(0, count, ITEMS_PER_PAGE)]
        if pages:
            last = (SITE_DIR / "terkini" / "2.html").read_text(encoding="utf-8")
            self.add_page("/terkini/2", _with_next_link(last, "/terkini/3"))
        for number, page_ids in enumerate(pages, start=3):
            for article_id in page_ids:
                path = f"/berita/{article_id}/salinan-{article_id}"
                body = template.replace(slug, f"{article_id}/salinan-{article_id}").replace(
                    "mencatat 86 kasus", f"mencatat {article_id} kasus"
                )
                self.add_page(path, body)
                self.generated.append(path)
            items = "".join(
                f'<article class="simple-post clearfix"><header><h3>'
                f'<a href="/berita/{i}/salinan-{i}">Salinan {i}</a></h3></header></article>'
                for i in page_ids
            )
            next_link = f"/terkini/{number + 1}" if number - 2 < len(pages) else None
            html = (
                f'<html><body><div class="terkini">{items}</div><nav>{{pager}}</nav></body></html>'
            )
            self.add_page(f"/terkini/{number}", _with_next_link(html, next_link))

    def respond(self, raw_path: str) -> Page:
        page = super().respond(raw_path)
        if page.status == 200 and raw_path.startswith(("/berita/", "/amp/berita/")):
            sentence = b"<p>Salinan untuk meja uji nomor %d.</p>" % self.number
            return Page(
                _after_first_paragraph(page.body, sentence),
                page.status,
                page.content_type,
                page.headers,
                rewrite=False,
            )
        return page


def _with_next_link(html: str, href: str | None) -> str:
    pager = (
        f'<ul class="pagination pagination-sm"><li><a href="{href}" aria-label="Next">'
        "&raquo;</a></li></ul>"
        if href
        else ""
    )
    if "{pager}" in html:
        return html.replace("{pager}", pager)
    return html.replace('<ul class="pagination pagination-sm">', pager + "<ul>", 1)


def _after_first_paragraph(body: bytes, sentence: bytes) -> bytes:
    """``sentence`` after the first paragraph of the article body (the dateline stays first)."""
    opening = _BODY_OPEN.search(body)
    if opening is None:
        return body
    end = body.find(b"</p>", opening.end())
    if end < 0:
        return body
    end += len(b"</p>")
    return body[:end] + sentence + body[end:]


class LatencyMirror(DeskMirror):
    """A desk mirror that answers after a fixed latency and records the most requests it was
    ever answering at once."""

    def __init__(self, latency: float) -> None:
        super().__init__(0)
        self.latency = latency
        self.in_flight = 0
        self.most_in_flight = 0
        self._flight = threading.Lock()

    def respond(self, raw_path: str) -> Page:
        with self._flight:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            return super().respond(raw_path)
        finally:
            with self._flight:
                self.in_flight -= 1

    def article_fetches(self) -> dict[str, int]:
        return {p: n for p, n in self.counts.items() if p.startswith("/berita/")}
