"""Generated articles for the publisher mirrors, and the pages made from them.

Every article is generated (:func:`make_articles`: a title, four paragraphs of Indonesian
words, an author, dates), never copied from a live site; :func:`body_html`, :func:`rss`,
:func:`urlset` and :func:`sitemap_index` render them as a CMS would. :mod:`tests.publisher_mirrors`
serves them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")
FIRST_PUBLISHED = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
#: The words generated text is made of.
WORDS = (
    "pemerintah", "provinsi", "kalimantan", "tengah", "warga", "sungai", "kahayan", "banjir",
    "jalan", "jembatan", "pasar", "harga", "beras", "cabai", "petani", "sawit", "kebun",
    "dinas", "kesehatan", "sekolah", "guru", "siswa", "desa", "kabupaten", "kota", "bupati",
    "wali", "program", "bantuan", "sosial", "anggaran", "pembangunan", "rumah", "sakit",
    "pelabuhan", "bandara", "listrik", "air", "bersih", "hutan", "kebakaran", "lahan",
    "gambut", "polisi", "jaksa", "sidang", "pengadilan", "festival", "budaya", "dayak", "isen",
    "mulang", "tambun", "bungai", "olahraga", "sepak", "bola", "atlet",
)  # fmt: skip


@dataclass(frozen=True)
class MirrorArticle:
    """One generated article: its live path, dates (UTC) and text."""

    number: int
    path: str
    title: str
    published: datetime
    modified: datetime
    author: str
    category: str
    tags: tuple[str, ...]
    paragraphs: tuple[str, ...]

    def local(self, value: datetime | None = None) -> str:
        return (value or self.published).astimezone(WIB).isoformat(timespec="seconds")


def make_articles(count: int, path_for: str, hours_apart: int = 5) -> list[MirrorArticle]:
    """``count`` articles, oldest first; ``path_for`` is formatted with ``n``, ``slug`` and
    the local ``date`` (a datetime)."""
    articles = []
    for n in range(1, count + 1):
        rng = random.Random(n)
        words = [rng.choice(WORDS) for _ in range(6)]
        title = f"Berita {n}: " + " ".join(words).capitalize()
        slug = f"berita-{n}-" + "-".join(words[:4])
        published = FIRST_PUBLISHED + timedelta(hours=hours_apart * (n - 1))
        paragraphs = tuple(
            " ".join(rng.choice(WORDS) for _ in range(28)).capitalize() + f" (nomor {n}-{p})."
            for p in range(4)
        )
        articles.append(
            MirrorArticle(
                number=n,
                path=path_for.format(n=n, slug=slug, date=published.astimezone(WIB)),
                title=title,
                published=published,
                modified=published + timedelta(minutes=30),
                author=rng.choice(["Ahmad Rifai", "Sri Wahyuni", "Dedy Saputra", "Maria Ulfa"]),
                category=rng.choice(["Palangka Raya", "Kalteng", "Ekonomi"]),
                tags=(words[0], words[1]),
                paragraphs=paragraphs,
            )
        )
    return articles


def body_html(article: MirrorArticle) -> str:
    """The article's body as a CMS renders it: dateline, paragraphs, a "Baca Juga" line."""
    first, *rest = article.paragraphs
    return (
        f"<p><strong>PALANGKA RAYA –</strong> {escape(first)}</p>"
        f"<p><strong>Baca Juga:</strong> <a href='/'>Berita lain hari ini</a></p>"
        + "".join(f"<p>{escape(text)}</p>" for text in rest)
    )


def rss(live: str, name: str, articles: list[MirrorArticle]) -> str:
    items = "".join(
        f"<item><title>{escape(a.title)}</title><link>{live}{a.path}</link>"
        f"<pubDate>{a.published.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        for a in articles
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{name}'
        f"</title><link>{live}/</link>{items}</channel></rss>"
    )


def urlset(live: str, articles: list[MirrorArticle], *, news: bool = False) -> str:
    namespace = ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' if news else ""
    rows = []
    for a in articles:
        extra = (
            f"<news:news><news:publication><news:name>x</news:name><news:language>id"
            f"</news:language></news:publication><news:publication_date>{a.local()}"
            f"</news:publication_date><news:title>{escape(a.title)}</news:title></news:news>"
            if news
            else f"<lastmod>{a.local(a.modified)}</lastmod>"
        )
        rows.append(f"<url><loc>{live}{a.path}</loc>{extra}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset '
        f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"{namespace}>{"".join(rows)}</urlset>'
    )


def sitemap_index(urls: list[str], lastmod: str) -> str:
    rows = "".join(f"<sitemap><loc>{u}</loc><lastmod>{lastmod}</lastmod></sitemap>" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'
    )
