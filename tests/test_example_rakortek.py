"""The Rakortek article of March 2019 (shared example: the text as a reader sees it).

No saved HTML of it exists, so the test renders the reader's text into the site's old
template, exactly as the 2019 CMS wrote it (body runs separated by ``<br /><br />``, byline
lines by ``<br />``, lazy image, caption with a trailing "(Foto ...)" credit), parses that
page and checks every field against the reader's text.
"""

from __future__ import annotations

import html
from pathlib import Path

from crawler.extract.normalize import iso_utc, normalize_article
from crawler.sites import site_for

parse_article = site_for("antara_kalteng").parse_article

EXAMPLE = Path(__file__).parent / "fixtures" / "antara-kalteng-rakortek-2019.txt"
TEMPLATE_PAGE = (
    Path(__file__).parent
    / "fixtures/antara_kalteng/site/berita/296610/kotim-siapkan-15-hektare-lahan-percontohan-cetak-sawah-baru.html"
)
URL = "https://kalteng.antaranews.com/berita/300000/ini-yang-dilakukan-pemprov-untuk-capai-target-pembangunan-nasional-di-kalteng"


def reader_text() -> dict[str, object]:
    blocks = [b.strip() for b in EXAMPLE.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    title, _keywords, _title_again, caption, *rest = blocks
    body_end = next(i for i, block in enumerate(rest) if block.startswith("Pewarta"))
    return {"title": title, "caption": caption, "body": rest[:body_end], "byline": rest[body_end]}


def render_old_template(text: dict[str, object]) -> str:
    page = TEMPLATE_PAGE.read_text(encoding="utf-8")
    start = page.index('<h1 class="post-title">')
    end = page.index("</footer>", start)
    body = "<br /><br />\n".join(html.escape(p) for p in text["body"])  # type: ignore[attr-defined]
    byline = html.escape(str(text["byline"])).replace("\n", "<br />\n")
    article = f"""<h1 class="post-title">{html.escape(str(text["title"]))}</h1>
<p class="simple-share"><a href="/kalteng">Kalteng</a> / <span class="article-date"><i class="fa fa-clock-o"></i> Senin, 25 Maret 2019 16:42 WIB</span></p>
</header>
<div class="wp-caption"><figure class="image-overlay">
<img class="lazy" data-src="https://img.antaranews.com/cache/730x487/2019/03/rakortek.jpg" src="https://img.antaranews.com/cache/730x487/no-image.jpg" alt="" />
</figure><p class="wp-caption-text">{html.escape(str(text["caption"]))}</p></div>
<div class="post-content clearfix font17">
{body}<br /><br />
<p class="text-muted small mt10">{byline}</p>
</div>
<footer class="post-meta">"""
    return page[:start] + article + page[end + len("</footer>") :]


def test_rakortek_record_has_every_part_as_a_clean_field() -> None:
    text = reader_text()
    article = normalize_article(parse_article(render_old_template(text), URL).article)

    paragraphs = list(text["body"])  # type: ignore[call-overload]
    assert (
        article.title
        == "Ini yang dilakukan pemprov untuk capai target pembangunan nasional di Kalteng"
    )
    assert article.dateline == "Kalimantan Tengah"
    assert article.body is not None
    assert article.body.split("\n\n")[0] == paragraphs[0].split(" - ", 1)[1]
    assert article.body.split("\n\n")[1:] == paragraphs[1:]
    for boilerplate in ("COPYRIGHT", "Komentar", "Pewarta", "Uploader", "(ANTARA)", "Foto"):
        assert boilerplate not in article.body
    assert article.image_caption == (
        "Pelaksana Harian Sekretaris Daerah Kalteng Sapto Nugroho saat membuka rapat koordinasi "
        "teknis (Rakortek) perencanaan pembangunan daerah tingkat provinsi tahun 2019, "
        "Palangka Raya, Senin, (25/3/2019)."
    )
    assert article.image_credit == "Antara Kalteng/Muhammad Arif Hidayat"
    assert article.image_url == "https://img.antaranews.com/cache/730x487/2019/03/rakortek.jpg"
    assert article.authors == []
    assert article.editors == []
    assert article.uploader == "Admin 4"
    assert iso_utc(article.published_at) == "2019-03-25T09:42:00Z"
    assert article.published_at_raw == "Senin, 25 Maret 2019 16:42 WIB"
    assert article.word_count == len(article.body.split())
