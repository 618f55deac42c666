"""The ANTARA site family: one row per desk, everything that differs between them.

ANTARA runs one CMS (:mod:`crawler.sites.antara`) for its regional desks
(``<desk>.antaranews.com``), the national site (www.antaranews.com) and the English service
(en.antaranews.com). What differs is data: host, spider name, the names the records carry,
language, the local time zone the pages print, and a few paths. Adding a desk is one row here
(and, if it has quirks, one fixture page under ``tests/fixtures/<spider name>/``).

Pure data: no Scrapy, no network.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The three time zones of Indonesia, as IANA names (pages print WIB, WITA, WIT).
WIB = "Asia/Jakarta"  # UTC+7: Sumatra, Java, West and Central Kalimantan
WITA = "Asia/Makassar"  # UTC+8: Bali, Nusa Tenggara, South/East/North Kalimantan, Sulawesi
WIT = "Asia/Jayapura"  # UTC+9: Maluku, Papua

DOMAIN = "antaranews.com"


@dataclass(frozen=True)
class Desk:
    """One site of the family: its host, the spider that crawls it and what its records say."""

    #: ``<subdomain>.antaranews.com``; ``www`` for the national site, ``en`` for English.
    subdomain: str
    #: The spider's name and the records' ``source``: ``antara_<subdomain>`` for a desk.
    spider_name: str
    #: The records' ``site_name``, e.g. ``"ANTARA Kalsel"``.
    site_name: str
    #: The province's full name, e.g. ``"Kalimantan Selatan"``; None for national and English.
    region: str | None
    #: IANA zone of the times the pages print without a zone suffix.
    timezone: str
    #: ISO 639-1 code of the records' ``language``.
    language: str = "id"
    #: First path segment of article pages: ``/<prefix>/<numeric id>/<slug>``.
    article_prefix: str = "berita"
    #: Feeds read at the start of every crawl.
    feeds: tuple[str, ...] = ("/rss/terkini.xml",)
    #: Listings crawled even if the home page's nav menu stops naming them.
    listings: tuple[str, ...] = ("/terkini",)

    @property
    def host(self) -> str:
        return f"{self.subdomain}.{DOMAIN}"

    @property
    def origin(self) -> str:
        """The live site's origin, e.g. ``https://kalsel.antaranews.com``."""
        return f"https://{self.host}"


def _desk(subdomain: str, short_name: str, region: str, timezone: str) -> Desk:
    """A regional desk: spider ``antara_<subdomain>``, site name ``ANTARA <short name>``."""
    return Desk(subdomain, f"antara_{subdomain}", f"ANTARA {short_name}", region, timezone)


#: National site's section feeds, next to its ``/rss/terkini.xml``.
NATIONAL_SECTION_FEEDS = ("politik", "hukum", "ekonomi", "metro", "olahraga", "humaniora", "dunia")

DESKS: tuple[Desk, ...] = (
    # Sumatra (WIB)
    _desk("aceh", "Aceh", "Aceh", WIB),
    _desk("sumut", "Sumut", "Sumatera Utara", WIB),
    _desk("sumbar", "Sumbar", "Sumatera Barat", WIB),
    _desk("riau", "Riau", "Riau", WIB),
    _desk("kepri", "Kepri", "Kepulauan Riau", WIB),
    _desk("jambi", "Jambi", "Jambi", WIB),
    _desk("bengkulu", "Bengkulu", "Bengkulu", WIB),
    _desk("sumsel", "Sumsel", "Sumatera Selatan", WIB),
    _desk("babel", "Babel", "Kepulauan Bangka Belitung", WIB),
    _desk("lampung", "Lampung", "Lampung", WIB),
    # Java (WIB)
    _desk("banten", "Banten", "Banten", WIB),
    _desk("megapolitan", "Megapolitan", "DKI Jakarta", WIB),
    _desk("jabar", "Jabar", "Jawa Barat", WIB),
    _desk("jateng", "Jateng", "Jawa Tengah", WIB),
    _desk("jogja", "Jogja", "Daerah Istimewa Yogyakarta", WIB),
    _desk("jatim", "Jatim", "Jawa Timur", WIB),
    # Bali and Nusa Tenggara (WITA)
    _desk("bali", "Bali", "Bali", WITA),
    _desk("mataram", "Mataram", "Nusa Tenggara Barat", WITA),
    _desk("kupang", "Kupang", "Nusa Tenggara Timur", WITA),
    # Kalimantan (West and Central WIB, the rest WITA)
    _desk("kalbar", "Kalbar", "Kalimantan Barat", WIB),
    Desk(
        "kalteng",
        "antara_kalteng",
        "ANTARA Kalteng",
        "Kalimantan Tengah",
        WIB,
        listings=("/terkini", "/kabar-daerah", "/palangka-raya"),
    ),
    _desk("kalsel", "Kalsel", "Kalimantan Selatan", WITA),
    _desk("kaltim", "Kaltim", "Kalimantan Timur", WITA),
    _desk("kaltara", "Kaltara", "Kalimantan Utara", WITA),
    # Sulawesi (WITA)
    _desk("makassar", "Makassar", "Sulawesi Selatan", WITA),
    _desk("sulteng", "Sulteng", "Sulawesi Tengah", WITA),
    _desk("sultra", "Sultra", "Sulawesi Tenggara", WITA),
    _desk("manado", "Manado", "Sulawesi Utara", WITA),
    _desk("gorontalo", "Gorontalo", "Gorontalo", WITA),
    # Maluku and Papua (WIT)
    _desk("ambon", "Ambon", "Maluku", WIT),
    _desk("papua", "Papua", "Papua", WIT),
    _desk("papuabarat", "Papua Barat", "Papua Barat", WIT),
    # The national site and the English service
    Desk(
        "www",
        "antara_nasional",
        "ANTARA News",
        None,
        WIB,
        feeds=("/rss/terkini.xml", *(f"/rss/{name}.xml" for name in NATIONAL_SECTION_FEEDS)),
    ),
    Desk(
        "en",
        "antara_en",
        "ANTARA News",
        None,
        WIB,
        language="en",
        article_prefix="news",
        feeds=("/rss/news.xml",),
        listings=("/latest-news",),
    ),
)
