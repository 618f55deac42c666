"""The generic site: article URLs by shape, REST API posts, a page with no config, datelines and
boilerplate of other publishers, and the registry's lookup by URL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.extract.article_body import publisher_boilerplate_kind, split_any_dateline
from crawler.extract.normalize import normalize_article
from crawler.sites import SITES, site_for, site_for_url, timezone_for
from crawler.sites.antara import AntaraSite
from crawler.sites.generic import GenericSite
from crawler.sites.publisher_config import PublisherConfig, zero_config

FIXTURES = Path(__file__).parent / "fixtures"
ZERO_CONFIG_URL = (
    "https://www.kabarbarito.id/2026/01/30/"
    "jembatan-gantung-desa-lemo-putus-warga-seberangi-sungai-pakai-perahu"
)


def generic(url: str = "https://www.kabarbarito.id/") -> GenericSite:
    return GenericSite(zero_config(url))


# --- article URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/2026/01/27/banjir-rendam-jalan-tjilik-riwut-km-38",
        "/read/harga-cabai-rawit-tembus-rp90-ribu/",
        "/berita/331245-kebakaran-lahan-di-pangkalan-bun",
        "/kalteng/palangka-raya/28/01/2026/harga-beras-premium-naik/",
        "/news/123456/gubernur-buka-rakor",
        "/daerah/pemkot-gelar-operasi-pasar-murah-jelang-ramadan.html",
        "/?p=48211",
    ],
)
def test_article_urls_by_shape(path: str) -> None:
    assert generic().is_article_url(f"https://www.kabarbarito.id{path}")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/kalteng/",
        "/palangka-raya",
        "/2026/01/27/",
        "/tag/banjir-kalteng-hari-ini/",
        "/category/palangka-raya/page/2/",
        "/author/dhani-setiawan/",
        "/page/3/",
        "/feed/",
        "/wp-content/uploads/2026/01/foto-banjir-di-kalteng.jpg",
        "/wp-json/wp/v2/posts",
        "/pedoman-media-siber",
        "/kebijakan-privasi/",
        "/?s=banjir",
    ],
)
def test_not_article_urls_by_shape(path: str) -> None:
    assert not generic().is_article_url(f"https://www.kabarbarito.id{path}")


def test_a_configured_article_pattern_wins_over_the_shape() -> None:
    tabengan = site_for("tabengan")
    assert isinstance(tabengan, GenericSite)
    assert tabengan.is_article_url("https://www.tabengan.com/read/dprd-kalteng-minta-diperketat/")
    # Shaped like an article, but not this site's article path.
    assert not tabengan.is_article_url("https://www.tabengan.com/2026/01/27/dprd-kalteng-minta")
    borneonews = site_for("borneonews")
    assert isinstance(borneonews, GenericSite)
    assert borneonews.is_article_url("https://www.borneonews.co.id/berita/331245-kebakaran-lahan")
    assert not borneonews.is_article_url("https://www.borneonews.co.id/kategori/palangka-raya")


# --- the registry -------------------------------------------------------------------------------


def test_site_for_url_finds_desks_publishers_and_unknown_sites() -> None:
    assert isinstance(site_for_url("https://kalteng.antaranews.com/berita/1/x"), AntaraSite)
    for url in (
        "https://www.tabengan.com/read/x/",
        "https://tabengan.com/read/x/",
        "https://m.tabengan.com/read/x/",
    ):
        assert site_for_url(url) is SITES["tabengan"]
    assert (
        site_for_url("https://kalteng.tribunnews.com/2026/01/27/x") is SITES["kalteng_tribunnews"]
    )
    unknown = site_for_url(ZERO_CONFIG_URL)
    assert isinstance(unknown, GenericSite) and unknown.source == "kabarbarito"
    assert unknown.config.region is None and unknown.host == "www.kabarbarito.id"


def test_publishers_are_sources_with_their_zone() -> None:
    assert timezone_for("tabengan") == "Asia/Jakarta"
    assert timezone_for("antara_kalsel") == "Asia/Makassar"
    site = site_for("prokalteng")
    assert (site.source, site.site_url, site.host, site.timezone) == (
        "prokalteng",
        "https://prokalteng.jawapos.com",
        "prokalteng.jawapos.com",
        "Asia/Jakarta",
    )
    assert repr(site) == "GenericSite('prokalteng')"


# --- a page with no config ----------------------------------------------------------------------


def test_a_zero_config_page_from_json_ld_meta_and_the_generic_extractor() -> None:
    html = (FIXTURES / "zero_config" / "kabarbarito-article.html").read_text(encoding="utf-8")
    parsed = site_for_url(ZERO_CONFIG_URL).parse_article(html, ZERO_CONFIG_URL + "?utm_source=fb")
    article = normalize_article(parsed.article)
    assert article.url == ZERO_CONFIG_URL
    assert (article.source, article.site_name, article.region) == (
        "kabarbarito",
        "www.kabarbarito.id",
        None,
    )
    assert article.title == "Jembatan Gantung Desa Lemo Putus, Warga Seberangi Sungai Pakai Perahu"
    assert article.published_at == datetime(2026, 1, 30, 0, 45, tzinfo=UTC)
    assert article.published_at_raw == "2026-01-30T07:45:00+07:00"
    # The Organization in the JSON-LD authors and meta author (the site) are no people.
    assert article.authors == ["Yohanes Dwi"]
    assert article.category == "Barito Utara" and article.tags == ["jembatan", "Barito Utara"]
    assert article.image_url == "https://www.kabarbarito.id/media/2026/01/jembatan-lemo.jpg"
    assert article.dateline == "Muara Teweh"
    body = article.body or ""
    assert body.startswith("Jembatan gantung yang menghubungkan Desa Lemo")
    assert body.endswith("anggaran perubahan tahun ini.")
    assert "Baca juga" not in body and "(yd)" not in body and "Bagikan" not in body
    assert "generic/body" in parsed.fallbacks and "jsonld/title" in parsed.fallbacks


def test_configured_selectors_override_the_metadata_layers() -> None:
    html = """<html><head><meta property="og:title" content="Judul Meta | Kabar Barito">
    <script type="application/ld+json">{"@type": "NewsArticle", "headline": "Judul JSON-LD",
    "datePublished": "2026-01-30T07:45:00+07:00"}</script></head>
    <body><h2 class="judul">Judul Situs</h2><div class="isi"><p>SAMPIT - Satu.</p></div></body></html>"""
    config = PublisherConfig(
        name="kabar",
        site_name="Kabar Barito",
        home_url="https://www.kabarbarito.id/",
        selectors={"title": "h2.judul", "body": "div.isi"},
    )
    parsed = GenericSite(config).parse_article(html, "https://www.kabarbarito.id/a-b-c")
    assert parsed.article.title == "Judul Situs"
    assert parsed.article.body == "Satu." and parsed.article.dateline == "Sampit"
    assert "jsonld/title" not in parsed.fallbacks
    without = GenericSite(zero_config("https://www.kabarbarito.id/"))
    assert without.parse_article(html, "https://www.kabarbarito.id/a").article.title == (
        "Judul JSON-LD"
    )
    no_jsonld = html.replace('"headline": "Judul JSON-LD",', "")
    # og:title loses the site's name; the h2 is no h1, so meta wins.
    assert without.parse_article(no_jsonld, "https://www.kabarbarito.id/a").article.title == (
        "Judul Meta"
    )


def test_an_empty_page_parses_to_an_empty_record() -> None:
    parsed = generic().parse_article("", "https://www.kabarbarito.id/a-b-c")
    assert parsed.article.title is None and parsed.article.body is None
    assert parsed.article.source == "kabarbarito"


# --- REST API posts -----------------------------------------------------------------------------


def wp_post(**changes: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "id": 5,
        "date": "2026-01-27T09:15:00",
        "date_gmt": "2026-01-27T02:15:00",
        "modified": "2026-01-27T10:00:00",
        "modified_gmt": "2026-01-27T03:00:00",
        "link": "https://www.kabarbarito.id/2026/01/27/jalan-rusak-diperbaiki/",
        "title": {"rendered": "Jalan &#8220;Rusak&#8221; Diperbaiki &amp; Diaspal"},
        "content": {
            "rendered": "<p><strong>MUARA TEWEH &#8211;</strong> Dinas PU memperbaiki jalan.</p>"
            "<div class='sharedaddy'>Bagikan ini: Facebook</div>"
            "<p>Baca Juga: <a href='/x'>Lain</a></p><p>Pekerjaan selesai Maret. (yd)</p>"
        },
        "excerpt": {"rendered": "<p>MUARA TEWEH &#8211; Dinas PU memperbaiki jalan [&hellip;]</p>"},
        "_embedded": {
            "author": [{"id": 1, "name": "Yohanes Dwi"}],
            "wp:term": [
                [{"taxonomy": "category", "name": "Barito Utara"}],
                [{"taxonomy": "post_tag", "name": "jalan"}, {"taxonomy": "post_tag", "name": "PU"}],
            ],
            "wp:featuredmedia": [
                {
                    "source_url": "https://www.kabarbarito.id/media/jalan.jpg",
                    "caption": {"rendered": "<p>Alat berat di Jalan Negara. (FOTO: KABAR/YD)</p>"},
                }
            ],
        },
    }
    post.update(changes)
    return post


def test_a_rest_api_post() -> None:
    parsed = generic().parse_wp_post(wp_post())
    article = normalize_article(parsed.article)
    assert article.url == "https://www.kabarbarito.id/2026/01/27/jalan-rusak-diperbaiki"
    assert article.title == "Jalan \u201cRusak\u201d Diperbaiki & Diaspal"
    assert article.body == "Dinas PU memperbaiki jalan.\n\nPekerjaan selesai Maret."
    assert article.dateline == "Muara Teweh"
    assert article.description == "Dinas PU memperbaiki jalan"
    assert article.published_at == datetime(2026, 1, 27, 2, 15, tzinfo=UTC)
    assert article.published_at_raw == "2026-01-27T09:15:00"
    assert article.modified_at == datetime(2026, 1, 27, 3, 0, tzinfo=UTC)
    assert article.authors == ["Yohanes Dwi"]
    assert (article.category, article.tags) == ("Barito Utara", ["jalan", "PU"])
    assert article.image_url == "https://www.kabarbarito.id/media/jalan.jpg"
    assert (article.image_caption, article.image_credit) == (
        "Alat berat di Jalan Negara.",
        "KABAR/YD",
    )
    assert parsed.fallbacks == [] and parsed.problems == []


def test_a_post_without_gmt_dates_is_read_in_the_site_zone() -> None:
    config = PublisherConfig(
        name="kabar", site_name="Kabar", home_url="https://kabar.example.org/",
        timezone="Asia/Makassar",
    )  # fmt: skip
    post = wp_post(date_gmt=None, modified_gmt=None)
    article = GenericSite(config).parse_wp_post(post).article
    assert article.published_at == datetime(2026, 1, 27, 1, 15, tzinfo=UTC)
    assert article.modified_at == datetime(2026, 1, 27, 2, 0, tzinfo=UTC)


def test_hidden_authors_and_media_and_the_yoast_layer() -> None:
    embedded = {
        **wp_post()["_embedded"],
        "author": [{"code": "rest_user_invalid_id", "data": {"status": 404}}],
        "wp:featuredmedia": [{"code": "rest_forbidden", "data": {"status": 401}}],
    }
    yoast = {
        "og_title": "Judul Yoast",
        "og_description": "Ringkasan Yoast",
        "author": "Kabar Barito",  # the site, not a person
        "twitter_misc": {"Ditulis oleh": "Kabar Barito"},
        "og_image": [{"url": "https://www.kabarbarito.id/media/og.jpg"}],
        "article_published_time": "2026-01-27T09:15:00+07:00",
    }
    post = wp_post(
        _embedded=embedded, yoast_head_json=yoast, title={"rendered": ""}, excerpt={},
        date=None, date_gmt=None,
        content={"rendered": "<p>Isi.</p><p>Penulis: Yohanes Dwi | Editor: Rini</p>"},
    )  # fmt: skip
    parsed = generic().parse_wp_post(post)
    article = parsed.article
    assert article.title == "Judul Yoast" and article.description == "Ringkasan Yoast"
    assert article.image_url == "https://www.kabarbarito.id/media/og.jpg"
    assert article.authors == ["Yohanes Dwi"] and article.editors == ["Rini"]
    assert article.published_at == datetime(2026, 1, 27, 2, 15, tzinfo=UTC)
    assert article.category == "Barito Utara"
    assert set(parsed.fallbacks) == {
        "yoast/title",
        "yoast/description",
        "yoast/image_url",
        "byline/authors",
        "yoast/published_at_raw",
    }


def test_a_post_of_nothing_is_an_empty_record() -> None:
    article = generic().parse_wp_post({}).article
    assert article.url is None and article.title is None and article.body is None
    assert article.authors == [] and article.tags == []


# --- datelines and boilerplate of other publishers ----------------------------------------------


@pytest.mark.parametrize(
    ("paragraph", "place", "text"),
    [
        ("PALANGKA RAYA \u2013 Pemkot membuka pasar.", "Palangka Raya", "Pemkot membuka pasar."),
        ("PALANGKA RAYA, KOMPAS - Banjir surut.", "Palangka Raya", "Banjir surut."),
        ("PALANGKA RAYA/TABENGAN.COM \u2013 Harga naik.", "Palangka Raya", "Harga naik."),
        ("TRIBUNKALTENG.COM, SAMPIT - Stunting turun.", "Sampit", "Stunting turun."),
        ("BORNEONEWS, Pangkalan Bun - Api padam.", "Pangkalan Bun", "Api padam."),
        ("Palangka Raya (ANTARA) - Gubernur hadir.", "Palangka Raya", "Gubernur hadir."),
        ("Sampit (KOMPAS) - Warga antre.", "Sampit", "Warga antre."),
        ("PROKALTENG.CO \u2013 Harga beras naik.", None, "Harga beras naik."),
        (
            "Pemkot Palangka Raya - kata dia - siap.",
            None,
            "Pemkot Palangka Raya - kata dia - siap.",
        ),
        ("Harga cabai naik lagi.", None, "Harga cabai naik lagi."),
    ],
)
def test_datelines_of_every_form(paragraph: str, place: str | None, text: str) -> None:
    assert split_any_dateline(paragraph) == (place, text)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Baca Juga: Debit Sungai Barito Naik", "read_also"),
        ("Baca selengkapnya di sini", "read_also"),
        ("ADVERTISEMENT", "ad"),
        ("SCROLL TO CONTINUE WITH CONTENT", "ad"),
        ("Bagikan:", "share"),
        ("Facebook Twitter WhatsApp", "share"),
        ("Ikuti saluran WhatsApp Tribunkalteng.com untuk berita terkini", "follow"),
        ("Simak berita terbaru kami di Google News", "follow"),
        ("\u00a9 2026 Tabengan. All Rights Reserved.", "copyright"),
        ("(ant)", "initials"),
        ("(dha/ens)", "initials"),
        ("(*)", "initials"),
        ("Penulis: A | Editor: B", "byline"),
        ("Warga mengikuti senam di Bundaran Besar.", None),
        ("(ANTARA)", None),
    ],
)
def test_boilerplate_lines_of_other_publishers(line: str, kind: str | None) -> None:
    assert publisher_boilerplate_kind(line) == kind


# --- hostile input ------------------------------------------------------------------------------

MALFORMED_JSONLD = [
    '{"@type": {"x": 1}, "headline": "A"}',
    '{"@type": "NewsArticle", "headline": ["A"], "datePublished": 5}',
    '{"@type": "NewsArticle", "headline": "A", "dateModified": [], "author": {"@id": ["x"]},'
    ' "keywords": [{"a": 1}, "banjir"], "articleSection": {"x": 1}, "image": {"url": 5}}',
    '{"@graph": [{"@type": "Article", "headline": "A", "author": [{"@id": "#p"}]},'
    ' {"@id": "#p", "@type": "Person", "name": {"first": "A"}}]}',
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
]


@pytest.mark.parametrize("jsonld", MALFORMED_JSONLD)
def test_malformed_json_ld_never_breaks_a_parser(jsonld: str) -> None:
    html = f'<html><head><script type="application/ld+json">{jsonld}</script></head><body></body></html>'
    for site in (SITES["tabengan"], generic(), SITES["antara_kalteng"]):
        article = normalize_article(
            site.parse_article(html, "https://www.tabengan.com/read/a-b/").article
        )
        assert article.title in (None, "A")


@pytest.mark.parametrize(
    "post",
    [
        [],
        "post",
        None,
        {"title": ["x"], "date": 5, "link": "javascript:x", "_embedded": {"wp:term": "x"}},
        {"yoast_head_json": {"author": True, "og_image": [None], "og_title": {"x": 1}}},
        {"_embedded": {"author": [None, {"name": 5}], "wp:featuredmedia": [{"source_url": []}]}},
    ],
)
def test_malformed_posts_give_partial_records(post: Any) -> None:
    article = normalize_article(generic().parse_wp_post(post).article)
    assert article.url is None and article.title is None and article.authors == []


def test_the_page_layer_reads_what_sits_next_to_the_headline() -> None:
    html = """<html><head><meta name="keywords" content="kabar, berita, kalteng"></head><body>
    <header><span class="tanggal-hari-ini">Jumat, 30 Januari 2026</span>
      <img src="/logo.png" class="logo" width="300"></header>
    <ol class="breadcrumb"><li><a href="/">Beranda</a></li><li><a href="/kanal/sampit">Sampit</a></li></ol>
    <div class="artikel"><h1>Pasar Terapung Sampit Kembali Dibuka</h1>
      <div class="meta"><span class="author">Oleh: <a href="/p/rina">Rina Aulia</a></span>
        <span class="post-author-date">27 Januari 2026 19:25</span>
        <span class="date">Selasa, 27 Januari 2026 08:10 WIB</span></div>
      <img src="/media/thumbs/150x150/rina.jpg" alt="foto penulis">
      <img src="data:image/gif;base64,R0l" data-src="/media/2026/01/pasar-terapung.jpg">
      <div class="konten"><p>SAMPIT - Pasar terapung dibuka lagi.</p></div>
      <div class="tags"><a href="/tag/pasar-terapung">pasar terapung</a> <a href="/tag/sampit">Sampit</a></div>
    </div>
    <aside class="sidebar"><h1>Terpopuler</h1><span class="date">1 Januari 2026 07:00</span>
      <a href="/tag/banjir">banjir</a></aside></body></html>"""
    article = (
        generic()
        .parse_article(html, "https://www.kabarbarito.id/pasar-terapung-sampit-dibuka")
        .article
    )
    assert article.title == "Pasar Terapung Sampit Kembali Dibuka"
    # The first date-classed element with a date in it; the header's "today" never.
    assert article.published_at_raw == "27 Januari 2026 19:25"
    assert article.authors == ["Rina Aulia"]
    assert article.category == "Sampit"
    assert article.tags == ["pasar terapung", "Sampit"]  # the tag links, not the site keywords
    assert article.image_url == "https://www.kabarbarito.id/media/2026/01/pasar-terapung.jpg"
