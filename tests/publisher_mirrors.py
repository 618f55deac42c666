"""Whole reconstructed publisher sites on 127.0.0.1, for the ``news`` spider and ``probe``.

Three sites, each a :class:`tests.mirror.MirrorServer` (request counts, failures, link
rewriting onto the mirror) whose pages are made here from generated articles, never copied
from the live sites:

- :class:`WordPressMirror` (www.tabengan.com): the home page links the REST API
  (``rel="https://api.w.org/"``); ``/wp-json/`` is its index and ``/wp-json/wp/v2/posts``
  pages the posts (``per_page``, ``page``, ``after``, ``before``, ``modified_after``; local
  times without an offset are read in WIB, as WordPress reads them in the site's zone) with
  ``X-WP-Total``/``X-WP-TotalPages``, slashes escaped as WordPress escapes them; a feed, a
  sitemap and every article's HTML page too.
- :class:`SitemapMirror` (kalteng.tribunnews.com): robots.txt names a sitemap index (at a
  path no fallback guesses) that lists a news sitemap, a monthly sitemap and a sitemap of
  tag pages; robots.txt disallows one day of articles; article pages carry JSON-LD
  ``NewsArticle``.
- :class:`BareMirror` (www.borneonews.co.id): no API, no sitemap, no feed: the home page and
  ``/indeks?page=N`` list the articles, with "Selanjutnya" links; OpenGraph meta only.

``expected_urls`` is what a crawl must archive, each once (canonical URLs). Serve one by hand with
``python -m tests.publisher_mirrors --site wordpress`` (or ``sitemap``, ``bare``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
from dataclasses import replace
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import parse_qs

from crawler.extract.normalize import canonical_url
from tests.mirror import CrawlRun, MirrorServer, Page, mirror_crawl_args, run_crawl
from tests.publisher_pages import (
    WIB,
    WORDS,
    MirrorArticle,
    body_html,
    make_articles,
    rss,
    sitemap_index,
    urlset,
)

#: No fixture files: every page is generated (``add_page``) or answered by ``_file_page``.
NO_FILES = Path(__file__).parent / "fixtures" / "publisher_mirrors_have_no_files"
JSON = "application/json; charset=UTF-8"
XML = "application/xml; charset=utf-8"


class PublisherMirror(MirrorServer):
    """A generated site (see the module docstring); ``articles`` oldest first."""

    live: str
    site_name: str

    def __init__(self, articles: list[MirrorArticle], *, port: int = 0) -> None:
        super().__init__(NO_FILES, port=port, live_origin=self.live)
        self.articles = list(articles)
        self.build()

    @property
    def expected_urls(self) -> list[str]:
        return sorted(canonical_url(self.live + a.path) for a in self.articles)

    def build(self) -> None:
        """Register every page (again, after articles changed)."""
        for article in self.articles:
            self.add_page(article.path, self.article_page(article))

    def article_page(self, article: MirrorArticle) -> str:
        return self.page(article.title, f"<article><h1>{escape(article.title)}</h1></article>")

    def page(self, title: str, body: str, head: str = "") -> str:
        return (
            f'<!DOCTYPE html><html lang="id"><head><meta charset="utf-8">'
            f"<title>{escape(title)} - {self.site_name}</title>{head}</head><body>"
            f"<header><nav><a href='{self.live}/'>Beranda</a> "
            f"<a href='{self.live}/tentang-kami'>Tentang Kami</a></nav></header>"
            f"<main>{body}</main><footer>© 2026 {self.site_name}</footer></body></html>"
        )

    def meta_head(self, article: MirrorArticle, *, jsonld: bool) -> str:
        url = self.live + article.path
        image = f"{self.live}/images/{article.number}.jpg"
        head = (
            f'<link rel="canonical" href="{url}">'
            f'<meta property="og:title" content="{escape(article.title)}">'
            f'<meta property="og:image" content="{image}">'
            f'<meta property="og:description" content="{escape(article.paragraphs[0][:150])}">'
            f'<meta property="article:published_time" content="{article.local()}">'
            f'<meta name="author" content="{escape(article.author)}">'
        )
        if jsonld:
            data = {
                "@context": "https://schema.org",
                "@graph": [
                    {"@type": "WebPage", "@id": url, "name": article.title},
                    {
                        "@type": "NewsArticle",
                        "headline": article.title,
                        "datePublished": article.local(),
                        "dateModified": article.local(article.modified),
                        "author": {"@type": "Person", "name": article.author},
                        "image": {"@type": "ImageObject", "url": image},
                        "articleSection": article.category,
                        "keywords": list(article.tags),
                        "mainEntityOfPage": url,
                    },
                ],
            }
            head += f'<script type="application/ld+json">{json.dumps(data)}</script>'
        return head

    def links(self, articles: list[MirrorArticle]) -> str:
        return "".join(
            f"<div class='post'><h2><a href='{self.live}{a.path}'>{escape(a.title)}</a></h2></div>"
            for a in articles
        )

    def newest(self, count: int) -> list[MirrorArticle]:
        return sorted(self.articles, key=lambda a: a.published, reverse=True)[:count]


# --- WordPress ----------------------------------------------------------------------------------


class WordPressMirror(PublisherMirror):
    live = "https://www.tabengan.com"
    site_name = "Tabengan"

    def __init__(self, count: int = 120, *, port: int = 0) -> None:
        super().__init__(make_articles(count, "/read/{slug}/"), port=port)

    def build(self) -> None:
        super().build()
        live = self.live
        head = (
            f'<link rel="https://api.w.org/" href="{live}/wp-json/">'
            f'<link rel="alternate" type="application/rss+xml" title="Tabengan &raquo; Feed" '
            f'href="{live}/feed/"><link rel="alternate" type="application/rss+xml" '
            f'title="Tabengan &raquo; Comments Feed" href="{live}/comments/feed/">'
        )
        self.add_page("/", self.page("Beranda", self.links(self.newest(10)), head))
        self.add_page(
            "/robots.txt",
            "User-agent: *\nDisallow: /wp-admin/\nAllow: /wp-admin/admin-ajax.php\n\n"
            f"Sitemap: {live}/wp-sitemap.xml\n",
            content_type="text/plain",
        )
        self.add_page("/feed/", rss(live, self.site_name, self.newest(10)), content_type=XML)
        self.add_page(
            "/wp-sitemap.xml",
            sitemap_index([f"{live}/wp-sitemap-posts-post-1.xml"], "2026-02-01T00:00:00+07:00"),
            content_type=XML,
        )
        self.add_page("/wp-sitemap-posts-post-1.xml", urlset(live, self.articles), content_type=XML)
        index = {"name": self.site_name, "namespaces": ["oembed/1.0", "wp/v2"], "routes": {}}
        self.add_page("/wp-json/", json.dumps(index), content_type=JSON)

    def article_page(self, article: MirrorArticle) -> str:
        body = (
            f"<article><h1 class='jeg_post_title'>{escape(article.title)}</h1>"
            f"<div class='jeg_meta_author'>Penulis: <a href='/author/x'>{article.author}</a></div>"
            f"<div class='entry-content'><div class='content-inner'>{body_html(article)}</div>"
            f"</div></article>"
        )
        return self.page(article.title, body, self.meta_head(article, jsonld=True))

    def edit(self, number: int, when: datetime, title: str) -> None:
        """Article ``number`` edited at ``when``: a new title, a correction at the end of the
        body, a new ``modified`` date."""
        correction = f"Ralat: judul berita ini diperbaiki menjadi {title}."
        self.articles = [
            replace(a, title=title, modified=when, paragraphs=(*a.paragraphs, correction))
            if a.number == number
            else a
            for a in self.articles
        ]
        self.build()

    def post(self, article: MirrorArticle) -> dict[str, object]:
        """The article as ``wp/v2/posts?_embed=1`` gives it."""
        naive = "%Y-%m-%dT%H:%M:%S"
        return {
            "id": article.number,
            "date": article.published.astimezone(WIB).strftime(naive),
            "date_gmt": article.published.strftime(naive),
            "modified": article.modified.astimezone(WIB).strftime(naive),
            "modified_gmt": article.modified.strftime(naive),
            "slug": article.path.strip("/").split("/")[-1],
            "status": "publish",
            "type": "post",
            "link": self.live + article.path,
            "title": {"rendered": escape(article.title)},
            "content": {"rendered": body_html(article), "protected": False},
            "excerpt": {"rendered": f"<p>{escape(article.paragraphs[0][:120])} [&hellip;]</p>"},
            "_embedded": {
                "author": [{"id": 3, "name": article.author}],
                "wp:featuredmedia": [
                    {
                        "source_url": f"{self.live}/wp-content/uploads/{article.number}.jpg",
                        "caption": {"rendered": "<p>Suasana kota. (Foto: Tabengan)</p>"},
                    }
                ],
                "wp:term": [
                    [{"taxonomy": "category", "name": article.category}],
                    [{"taxonomy": "post_tag", "name": tag} for tag in article.tags],
                ],
            },
        }

    def _file_page(self, path: str, query: str) -> Page:
        if path.rstrip("/") != "/wp-json/wp/v2/posts":
            return super()._file_page(path, query)
        params = {name: values[0] for name, values in parse_qs(query).items()}
        posts = sorted(self.articles, key=lambda a: a.published, reverse=True)
        for name, attribute, newer in (
            ("after", "published", True),
            ("before", "published", False),
            ("modified_after", "modified", True),
        ):
            if name in params:
                limit = _wp_time(params[name])
                posts = [
                    a
                    for a in posts
                    if (getattr(a, attribute) > limit if newer else getattr(a, attribute) < limit)
                ]
        per_page = min(100, int(params.get("per_page", "10")))
        page = int(params.get("page", "1"))
        total_pages = -(-len(posts) // per_page)
        if page > max(total_pages, 1):
            error = {"code": "rest_post_invalid_page_number", "data": {"status": 400}}
            return Page(json.dumps(error).encode(), 400, JSON, rewrite=False)
        chosen = posts[(page - 1) * per_page : page * per_page]
        text = json.dumps([self.post(a) for a in chosen]).replace("/", "\\/")
        text = text.replace(self.live.replace("/", "\\/"), self.base_url.replace("/", "\\/"))
        headers = {"X-WP-Total": str(len(posts)), "X-WP-TotalPages": str(total_pages)}
        return Page(text.encode(), 200, JSON, headers=headers, rewrite=False)


def _wp_time(text: str) -> datetime:
    """A date filter as WordPress reads it: without an offset, in the site's zone."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=WIB)


# --- Sitemaps + JSON-LD ---------------------------------------------------------------------------


class SitemapMirror(PublisherMirror):
    live = "https://kalteng.tribunnews.com"
    site_name = "Tribunkalteng.com"
    #: robots.txt keeps crawlers off this day's articles.
    DISALLOWED_DAY = "/2026/01/09/"

    def __init__(self, count: int = 30, *, port: int = 0) -> None:
        articles = make_articles(count, "/{date:%Y/%m/%d}/{slug}", hours_apart=7)
        super().__init__(articles, port=port)

    @property
    def disallowed(self) -> list[MirrorArticle]:
        return [a for a in self.articles if a.path.startswith(self.DISALLOWED_DAY)]

    @property
    def expected_urls(self) -> list[str]:
        allowed = [a for a in self.articles if a not in self.disallowed]
        return sorted(canonical_url(self.live + a.path) for a in allowed)

    def build(self) -> None:
        super().build()
        live = self.live
        self.add_page("/", self.page("Beranda", self.links(self.newest(8))))
        self.add_page(
            "/robots.txt",
            f"User-agent: *\nDisallow: {self.DISALLOWED_DAY}\nSitemap: {live}/sitemap/index.xml\n",
            content_type="text/plain",
        )
        children = [f"{live}/sitemap_news.xml", f"{live}/sitemap/2026-01.xml"]
        children.append(f"{live}/sitemap/tags.xml")
        index = sitemap_index(children, "2026-02-01T00:00:00+07:00")
        self.add_page("/sitemap/index.xml", index, content_type=XML)
        news = urlset(live, self.newest(20), news=True)
        self.add_page("/sitemap_news.xml", news, content_type=XML)
        self.add_page("/sitemap/2026-01.xml", urlset(live, self.articles), content_type=XML)
        tags = "".join(f"<url><loc>{live}/tag/{w}</loc></url>" for w in WORDS[:5])
        tag_set = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{tags}</urlset>'
        self.add_page("/sitemap/tags.xml", tag_set, content_type=XML)

    def article_page(self, article: MirrorArticle) -> str:
        body = (
            f"<div id='article'><h1 id='arttitle'>{escape(article.title)}</h1>"
            f"<div id='penulis'>Penulis: <a href='/penulis/x'>{article.author}</a></div>"
            f"<div class='side-article txt-article'>{body_html(article)}</div></div>"
        )
        return self.page(article.title, body, self.meta_head(article, jsonld=True))


# --- Bare HTML ------------------------------------------------------------------------------------


class BareMirror(PublisherMirror):
    live = "https://www.borneonews.co.id"
    site_name = "Borneonews"
    per_page = 8

    def __init__(self, count: int = 20, *, port: int = 0) -> None:
        super().__init__(make_articles(count, "/berita/3120{n:02d}-{slug}"), port=port)

    def build(self) -> None:
        super().build()
        self.add_page("/robots.txt", "User-agent: *\nDisallow: /cari\n", content_type="text/plain")
        newest = self.newest(len(self.articles))
        pages = [newest[i : i + self.per_page] for i in range(0, len(newest), self.per_page)]
        for number, chunk in enumerate(pages, start=1):
            path = "/" if number == 1 else f"/indeks?page={number}"
            pager = (
                f"<div class='pagination'><a href='/indeks?page={number + 1}'>Selanjutnya »</a>"
                "</div>"
                if number < len(pages)
                else ""
            )
            body = f"<section class='terbaru'>{self.links(chunk)}</section>{pager}"
            self.add_page(path, self.page("Berita terbaru", body))

    def article_page(self, article: MirrorArticle) -> str:
        body = (
            f"<div class='detail-berita'><h1>{escape(article.title)}</h1>"
            f"<div class='tanggal'>{article.local()}</div>"
            f"<div class='penulis'>Penulis: <a href='/penulis/x'>{article.author}</a></div>"
            f"<div class='isi-berita'>{body_html(article)}</div></div>"
        )
        return self.page(article.title, body, self.meta_head(article, jsonld=False))


SITES = {"wordpress": WordPressMirror, "sitemap": SitemapMirror, "bare": BareMirror}


def crawl(mirror: MirrorServer, mongo_uri: str, database: str, spider: str = "news") -> CrawlRun:
    """A fast, finished crawl of ``mirror`` by ``spider`` (``news`` is told the live URL);
    the mirror's request counts start from zero."""
    mirror.reset_counts()
    extra = ["-a", f"url={mirror.live_origin}/"] if spider == "news" else []
    run = run_crawl(spider, *mirror_crawl_args(mirror, mongo_uri, database, *extra))
    assert run.returncode == 0, run.log[-3000:]
    assert run.stats.get("finish_reason") == "finished"
    assert "Traceback" not in run.log, run.log[-3000:]
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a generated publisher mirror.")
    parser.add_argument("--site", choices=sorted(SITES), default="wordpress")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    with SITES[args.site](port=args.port) as mirror:
        print(f"Mirror of {mirror.live} at {mirror.base_url} (Ctrl-C stops it)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
