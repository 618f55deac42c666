"""The ANTARA site family offline: the desk table, listing page objects, local time per desk.

Every desk row is checked on its own (host, zone, region, spider); listings are read from the
reconstructed fixture pages of both templates (``tests/fixtures/antara_*/site/``, not saved
live pages) and from minimal pages made here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.project import get_project_settings

from crawler.extract.dates import parse_date
from crawler.sites import DESKS_BY_HOST, SITES, desk_for_host, site_for, timezone_for
from crawler.sites.antara_desks import DESKS, WIB, WIT, WITA, Desk
from crawler.sites.antara_listing import ListingPage

FIXTURES = Path(__file__).parent / "fixtures"

#: The 32 regional desks of issue 8, with the province each covers and its zone.
REGIONAL = {
    "aceh": ("Aceh", WIB),
    "sumut": ("Sumatera Utara", WIB),
    "sumbar": ("Sumatera Barat", WIB),
    "riau": ("Riau", WIB),
    "kepri": ("Kepulauan Riau", WIB),
    "jambi": ("Jambi", WIB),
    "bengkulu": ("Bengkulu", WIB),
    "sumsel": ("Sumatera Selatan", WIB),
    "babel": ("Kepulauan Bangka Belitung", WIB),
    "lampung": ("Lampung", WIB),
    "banten": ("Banten", WIB),
    "megapolitan": ("DKI Jakarta", WIB),
    "jabar": ("Jawa Barat", WIB),
    "jateng": ("Jawa Tengah", WIB),
    "jogja": ("Daerah Istimewa Yogyakarta", WIB),
    "jatim": ("Jawa Timur", WIB),
    "bali": ("Bali", WITA),
    "mataram": ("Nusa Tenggara Barat", WITA),
    "kupang": ("Nusa Tenggara Timur", WITA),
    "kalbar": ("Kalimantan Barat", WIB),
    "kalteng": ("Kalimantan Tengah", WIB),
    "kalsel": ("Kalimantan Selatan", WITA),
    "kaltim": ("Kalimantan Timur", WITA),
    "kaltara": ("Kalimantan Utara", WITA),
    "makassar": ("Sulawesi Selatan", WITA),
    "sulteng": ("Sulawesi Tengah", WITA),
    "sultra": ("Sulawesi Tenggara", WITA),
    "manado": ("Sulawesi Utara", WITA),
    "gorontalo": ("Gorontalo", WITA),
    "ambon": ("Maluku", WIT),
    "papua": ("Papua", WIT),
    "papuabarat": ("Papua Barat", WIT),
}
DESK_IDS = [desk.spider_name for desk in DESKS]


@pytest.fixture(scope="module")
def spider_loader() -> SpiderLoader:
    return SpiderLoader.from_settings(get_project_settings())


# --- the desk table -----------------------------------------------------------------------------


def test_the_table_holds_every_desk_the_national_site_and_the_english_service() -> None:
    names = [desk.spider_name for desk in DESKS]
    assert len(names) == len(set(names)) == len(REGIONAL) + 2 == 34
    assert set(names) == {f"antara_{name}" for name in REGIONAL} | {"antara_nasional", "antara_en"}
    assert len(DESKS_BY_HOST) == len(DESKS)


@pytest.mark.parametrize("desk", DESKS, ids=DESK_IDS)
def test_desk_row(desk: Desk, spider_loader: SpiderLoader) -> None:
    if desk.spider_name in ("antara_nasional", "antara_en"):
        region, zone = None, WIB
    else:
        assert desk.spider_name == f"antara_{desk.subdomain}"
        region, zone = REGIONAL[desk.subdomain]
        assert desk.site_name.startswith("ANTARA ")
    assert desk.host == f"{desk.subdomain}.antaranews.com"
    assert desk.origin == f"https://{desk.host}"
    assert (desk.region, desk.timezone) == (region, zone)
    assert desk.language == ("en" if desk.subdomain == "en" else "id")
    assert desk_for_host(desk.host) is desk
    assert desk_for_host(f"m.{desk.host}") is desk
    assert timezone_for(desk.spider_name) == zone
    site = site_for(desk.spider_name)
    assert (site.source, site.site_url, site.timezone) == (desk.spider_name, desk.origin, zone)
    spider = spider_loader.load(desk.spider_name)
    assert spider.name == desk.spider_name
    assert spider.live_origin == desk.origin and spider.timezone == zone
    assert spider.parser is site


def test_kalteng_row_keeps_todays_values() -> None:
    desk = DESKS_BY_HOST["kalteng.antaranews.com"]
    assert (desk.site_name, desk.region, desk.language, desk.timezone) == (
        "ANTARA Kalteng",
        "Kalimantan Tengah",
        "id",
        "Asia/Jakarta",
    )
    assert desk.feeds == ("/rss/terkini.xml",)
    assert desk.listings == ("/terkini", "/kabar-daerah", "/palangka-raya")


def test_quirks_of_the_national_and_english_rows() -> None:
    national = DESKS_BY_HOST["www.antaranews.com"]
    assert national.feeds[0] == "/rss/terkini.xml"
    assert {f"/rss/{s}.xml" for s in ("politik", "hukum", "ekonomi", "dunia")} <= set(
        national.feeds
    )
    english = DESKS_BY_HOST["en.antaranews.com"]
    assert (english.article_prefix, english.feeds, english.listings) == (
        "news",
        ("/rss/news.xml",),
        ("/latest-news",),
    )
    assert site_for("antara_en").article_kind("/news/411386/indonesia-to-expand") is None
    assert site_for("antara_en").article_kind("/berita/411386/x") == "not_article"
    assert site_for("antara_kalsel").article_kind("/berita/493470/wisata") is None
    assert site_for("antara_kalsel").article_kind("/foto/1/x") == "photo"


def test_unknown_sources_and_hosts() -> None:
    assert timezone_for("other") is None and timezone_for(None) is None
    assert desk_for_host("antaranews.com.example.org") is None
    with pytest.raises(KeyError, match="antara_kalsel"):
        site_for("antara_atlantis")


def test_scrapy_list_shows_every_desk(spider_loader: SpiderLoader) -> None:
    assert set(DESK_IDS) <= set(spider_loader.list())
    assert {source for source in SITES if source.startswith("antara_")} == set(DESK_IDS)


# --- listing pages ------------------------------------------------------------------------------


def fixture_listing(source: str, path: str, url: str, **kwargs: str) -> ListingPage:
    html = (FIXTURES / source / "site" / path).read_text(encoding="utf-8")
    return ListingPage.from_html(html, url, timezone=site_for(source).timezone, **kwargs)


def test_current_template_listing_items_and_numbered_pagination() -> None:
    page = fixture_listing("antara_kalsel", "terkini.html", "https://kalsel.antaranews.com/terkini")
    assert page.template == "new"
    items = page.items()
    assert [item.link for item in items] == [
        "https://kalsel.antaranews.com/berita/493518/jamaah-calon-haji-kloter-pertama-embarkasi-banjarmasin-diberangkatkan-ke-madinah",
        "/berita/493470/wisata-susur-sungai-di-siring-menara-pandang-ramai-saat-libur-akhir-pekan",
    ]
    assert [item.shown_date for item in items] == ["30 menit lalu", "27 April 2026 15:40"]
    # A zone-less listed time is the desk's (WITA).
    assert items[1].published.value == datetime(2026, 4, 27, 7, 40, tzinfo=UTC)
    # Numbered pagination: "1" (current), "2", "›", with no rel=next or aria-label.
    assert page.next_page() == "https://kalsel.antaranews.com/terkini/2"
    last = fixture_listing(
        "antara_kalsel", "terkini/2.html", "https://kalsel.antaranews.com/terkini/2"
    )
    assert last.next_page() is None  # "‹" is the previous page


def test_old_template_listing_with_numbered_pagination() -> None:
    page = fixture_listing("antara_ambon", "terkini.html", "https://ambon.antaranews.com/terkini")
    assert page.template == "old"
    assert [item.link for item in page.items()] == [
        "https://ambon.antaranews.com/berita/715236/harga-ikan-cakalang-di-pasar-mardika-turun-karena-hasil-tangkapan-melimpah",
        "/berita/715190/pemprov-maluku-kirim-bantuan-logistik-untuk-warga-terdampak-banjir-rob-di-seram-bagian-barat",
    ]
    assert page.next_page() == "https://ambon.antaranews.com/terkini/2"


def test_english_pagination_of_bare_links_and_the_nav() -> None:
    page = fixture_listing("antara_en", "latest-news.html", "https://en.antaranews.com/latest-news")
    assert page.next_page() == "/latest-news/2"
    assert page.items()[1].published.value == datetime(2026, 4, 27, 14, 10, tzinfo=UTC)
    home = fixture_listing("antara_en", "index.html", "https://en.antaranews.com/")
    assert "https://en.antaranews.com/business-investment" in home.nav_links()


def test_kalteng_listing_is_read_as_before() -> None:
    page = fixture_listing(
        "antara_kalteng", "terkini.html", "https://kalteng.antaranews.com/terkini"
    )
    assert page.template == "old" and len(page.items()) == 10
    assert page.next_page() == "https://kalteng.antaranews.com/terkini/2"


def test_a_redesigned_listing_falls_back_to_article_urls() -> None:
    html = (
        "<html><body><main class='river'>"
        "<div class='story'><a href='/berita/900001/satu'>Satu</a></div>"
        "<div class='story'><a href='https://kalsel.antaranews.com/berita/900002/dua'>Dua</a>"
        "</div><a href='/tag/banjir'>banjir</a></main>"
        "<div class='pager'><a href='/terkini/2' rel='next'>Berikutnya</a></div></body></html>"
    )
    page = ListingPage.from_html(html, "https://kalsel.antaranews.com/terkini", timezone=WITA)
    assert page.template is None and page.items() == []
    assert page.fallback_links() == [
        "/berita/900001/satu",
        "https://kalsel.antaranews.com/berita/900002/dua",
    ]
    assert page.next_page() == "/terkini/2"
    english = ListingPage.from_html(
        html.replace("/berita/", "/news/"),
        "https://en.antaranews.com/latest-news",
        timezone=WIB,
        article_prefix="news",
    )
    assert len(english.fallback_links()) == 2


def test_a_page_without_article_links_has_nothing_to_fall_back_on() -> None:
    html = "<html><body><p>Halaman sedang dalam pemeliharaan.</p></body></html>"
    page = ListingPage.from_html(html, "https://kalsel.antaranews.com/terkini", timezone=WITA)
    assert (page.items(), page.fallback_links(), page.next_page()) == ([], [], None)


# --- local time per desk ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "utc"),
    [
        # The suffix on the page wins, whatever the desk's zone.
        ("Selasa, 28 April 2026 06:30 WITA", WIB, "2026-04-27T22:30"),
        ("Rabu, 29 April 2026 08:00 WIT", WITA, "2026-04-28T23:00"),
        ("Senin, 27 April 2026 06:05 WIB", WIT, "2026-04-26T23:05"),
        ("April 28, 2026 06:40 GMT+700", WIT, "2026-04-27T23:40"),
        ("Monday, April 27, 2026 10:15 WIB", WITA, "2026-04-27T03:15"),
        ("Selasa, 28 April 2026 | 06:30 WITA", WIT, "2026-04-27T22:30"),
        # No suffix: the desk's zone, across midnight UTC.
        ("28 April 2026 06:30", WITA, "2026-04-27T22:30"),
        ("29 April 2026 08:00", WIT, "2026-04-28T23:00"),
        ("27 April 2026 06:05", WIB, "2026-04-26T23:05"),
        ("April 28, 2026 06:40", WIB, "2026-04-27T23:40"),
    ],
)
def test_page_times_are_local(text: str, zone: str, utc: str) -> None:
    assert parse_date(text, default_tz=zone) == datetime.fromisoformat(utc + "+00:00")


def kalsel_page(shown: str) -> str:
    path = next((FIXTURES / "antara_kalsel" / "site" / "berita" / "493518").glob("*.html"))
    html = path.read_text(encoding="utf-8")
    assert "Selasa, 28 April 2026 06:30 WITA" in html
    return html.replace("Selasa, 28 April 2026 06:30 WITA", shown)


@pytest.mark.parametrize(
    ("source", "utc"),
    [
        ("antara_kalteng", "2026-04-27T23:30"),
        ("antara_kalsel", "2026-04-27T22:30"),
        ("antara_ambon", "2026-04-27T21:30"),
    ],
)
def test_a_date_without_suffix_is_read_in_the_desks_zone(source: str, utc: str) -> None:
    url = "https://kalsel.antaranews.com/berita/493518/x"
    article = site_for(source).parse_article(kalsel_page("Selasa, 28 April 2026 06:30"), url)
    assert article.article.published_at == datetime.fromisoformat(utc + "+00:00")


def test_the_suffix_wins_over_the_desks_zone() -> None:
    url = "https://ambon.antaranews.com/berita/493518/x"
    parsed = site_for("antara_ambon").parse_article(kalsel_page("28 April 2026 06:30 WIB"), url)
    assert parsed.article.published_at == datetime(2026, 4, 27, 23, 30, tzinfo=UTC)
