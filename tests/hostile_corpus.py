"""The hostile corpus: hand-made hostile variants of the reconstructed ANTARA Kalteng pages.

Each page in ``tests/fixtures/hostile/`` is built here from a fixture page of
``tests/fixtures/antara_kalteng/site/`` (reconstructions of the site's templates, not saved
pages) with one hostile change: an impossible date, a lie about the encoding, NUL bytes,
thousands of nested elements, a lone surrogate, no article body. ``expected.json`` says, per
file, where the mirror serves it, with which ``Content-Type``, and what the crawl must make of
it. The pages are stored (so a reviewer can open them); this module writes them::

    python -m tests.hostile_corpus            # exit 1 if a stored file differs from the build
    python -m tests.hostile_corpus --write    # rewrite tests/fixtures/hostile/
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from tests.mirror import LIVE_ORIGIN, SITE_DIR

HOSTILE_DIR = Path(__file__).parent / "fixtures" / "hostile"
EXPECTED_FILE = HOSTILE_DIR / "expected.json"

UTF8 = "text/html; charset=utf-8"
LISTED_ON = "27 Januari 2026 09:00"

_TEMPLATE = next((SITE_DIR / "berita" / "811932").glob("*.html"))
_TEMPLATE_SLUG = f"811932/{_TEMPLATE.stem}"
_TEMPLATE_TITLE = (
    "Kasus DBD di Barito Utara meningkat, Dinkes gencarkan pemberantasan sarang nyamuk"
)
_TEMPLATE_LEAD = "mencatat 86 kasus demam berdarah dengue"
_TEMPLATE_DATE = "Sabtu, 24 Januari 2026 15:20 WIB"
_NEW_TEMPLATE = next((SITE_DIR / "berita" / "812460").glob("*.html"))
_NEW_TEMPLATE_SLUG = f"812460/{_NEW_TEMPLATE.stem}"

ACCENTED_TITLE = "Kafé “Huma Betang” di Palangka Raya ramai, pengunjung naïf soal harga"
ACCENTED_LEAD = "mencatat “86” kasus demam berdarah di kafé"


def article_path(number: int) -> str:
    return f"/berita/9001{number:02d}/uji-hostile-{number}"


def _variant(number: int, title: str, lead: str | None = None) -> str:
    """The old-template article 811932 under a new id, title and lead (distinct bodies, so no
    page is archived as a duplicate of another)."""
    html = _TEMPLATE.read_text(encoding="utf-8")
    html = html.replace(_TEMPLATE_SLUG, article_path(number).removeprefix("/berita/"))
    html = html.replace(_TEMPLATE_TITLE, title)
    return html.replace(_TEMPLATE_LEAD, lead or f"mencatat {number} kasus uji hostile")


def _listing_item(path: str, shown_date: str, title: str) -> str:
    return (
        f'<article class="simple-post clearfix"><header><h3><a href="{path}">{title}</a></h3>'
        f'<p class="simple-share"><span><i class="fa fa-clock-o"></i> {shown_date}</span></p>'
        "</header></article>\n"
    )


def _listing(
    items: list[str],
    *,
    keep_items: bool,
    next_path: str | None,
    source: str = "kabar-daerah.html",
) -> str:
    """The fixture listing ``source`` with ``items`` on top (and its own items kept or not)
    and, if given, a "next" link to ``next_path``."""
    html = (SITE_DIR / source).read_text(encoding="utf-8")
    start = html.index('<article class="simple-post simple-big clearfix">')
    end = html.index('<nav class="text-center">')
    own = html[start:end] if keep_items else "</div>\n"
    html = html[:start] + "".join(items) + own + html[end:]
    if next_path:
        pager = (
            '<li class="active"><a href="https://kalteng.antaranews.com/kabar-daerah">1</a></li>'
        )
        assert pager in html
        html = html.replace(
            pager,
            pager + f'<li><a href="{LIVE_ORIGIN}{next_path}" aria-label="Next">&raquo;</a></li>',
        )
    return html


def build() -> tuple[dict[str, bytes], dict[str, Any]]:
    """(file name → bytes, expected.json) of the whole corpus."""
    files: dict[str, bytes] = {}
    expected: dict[str, Any] = {}

    def add(name: str, data: bytes, path: str, expect: dict[str, Any], **extra: Any) -> None:
        files[name] = data
        expected[name] = {"path": path, "content_type": extra.get("content_type", UTF8)}
        if "note" in extra:
            expected[name]["note"] = extra["note"]
        expected[name]["expect"] = expect

    listed: list[str] = []  # article paths the hostile listing names with a sane date

    # --- listings and feed ------------------------------------------------------------------
    only_on_page_2 = article_path(2)
    add(
        "listing_year_0001_page2.html",
        _listing(
            [_listing_item(only_on_page_2, LISTED_ON, "Artikel di halaman dua")],
            keep_items=False,
            next_path=None,
        ).encode(),
        "/kabar-daerah/2",
        {"followed": [only_on_page_2]},
        note="the next page of listing_year_0001.html; its only article is listed nowhere else",
    )
    add(
        "article_listed_page2.html",
        _variant(2, "Artikel yang hanya ada di halaman dua daftar").encode(),
        only_on_page_2,
        {"archived": True, "title": "Artikel yang hanya ada di halaman dua daftar"},
    )
    only_under_0001 = article_path(1)
    add(
        "article_listed_0001.html",
        _variant(1, "Artikel yang didaftar dengan tanggal tahun 0001").encode(),
        only_under_0001,
        {"archived": True, "title": "Artikel yang didaftar dengan tanggal tahun 0001"},
    )
    only_in_rss = article_path(3)
    add(
        "article_listed_rss_9999.html",
        _variant(3, "Artikel yang hanya ada di RSS bertanggal 9999").encode(),
        only_in_rss,
        {"archived": True, "title": "Artikel yang hanya ada di RSS bertanggal 9999"},
    )
    rss = (SITE_DIR / "rss" / "terkini.xml").read_text(encoding="utf-8")
    item = (
        "<item><title>Artikel RSS bertanggal 9999</title>"
        f"<link>{LIVE_ORIGIN}{only_in_rss}</link><guid>{LIVE_ORIGIN}{only_in_rss}</guid>"
        "<pubDate>Fri, 31 Dec 9999 23:59:00 +0700</pubDate>"
        "<description>Tanggal placeholder CMS</description></item>\n    "
    )
    add(
        "rss_year_9999.xml",
        rss.replace("<item>", item + "<item>", 1).encode(),
        "/rss/terkini.xml",
        {"stats": {"dates/out_of_range/rss": 1}, "followed": [only_in_rss]},
        content_type="application/rss+xml; charset=utf-8",
        note="the fixture feed plus one item whose pubDate is year 9999",
    )

    # --- article pages ----------------------------------------------------------------------
    page = _TEMPLATE.read_text(encoding="utf-8")
    mini = (
        page[: page.index("<body>") + len("<body>")]
        + page[page.index('<ol class="breadcrumb">') : page.index('<div class="share-wrapper')]
        + "</article></div></div></body></html>"
    )
    mini = mini.replace(_TEMPLATE_SLUG, article_path(10).removeprefix("/berita/"))
    add(
        "article_no_body.html",
        mini.replace(_TEMPLATE_TITLE, "Artikel tanpa isi").encode(),
        article_path(10),
        {
            "dropped": "missing_body",
            "stats": {"parser/discarded/generic_body_navigation": 1},
        },
        note="the head, the breadcrumb and the article header (title, date), nothing else: the "
        "generic extractor offers the breadcrumb ('- Beranda / - Kabar Daerah') as the body",
    )
    listed.append(article_path(10))

    cp1252 = _variant(11, ACCENTED_TITLE, ACCENTED_LEAD).replace(
        "Kepala Dinkes Barito Utara", "Kepala Dinkes Barito Utara “Kafé” – naïve"
    )
    add(
        "article_cp1252_declared_utf8.html",
        cp1252.encode("cp1252"),
        article_path(11),
        {
            "archived": True,
            "title": ACCENTED_TITLE,
            "body_contains": [ACCENTED_LEAD, "“Kafé” – naïve"],
            "no_chars": ["\ufffd"],
        },
        note="Windows-1252 bytes (8 non-ASCII characters) served as UTF-8",
    )
    listed.append(article_path(11))

    latin = _variant(12, ACCENTED_TITLE + " lagi", ACCENTED_LEAD + " lagi").encode("utf-8")
    stray = b"Kasus terbanyak ditemukan"
    latin = latin.replace(stray, b"Kaf\xe9 " + stray, 1)  # one Windows-1252 byte
    add(
        "article_utf8_declared_latin1.html",
        latin,
        article_path(12),
        {
            "archived": True,
            "title": ACCENTED_TITLE + " lagi",
            "body_contains": [ACCENTED_LEAD + " lagi", "Kafé Kasus terbanyak"],
            "no_chars": ["\ufffd", "Ã", "â€"],
        },
        content_type="text/html; charset=iso-8859-1",
        note="UTF-8 served as ISO-8859-1, with one stray Windows-1252 byte (0xE9)",
    )
    listed.append(article_path(12))

    nul = _variant(13, "Banjir di Palangka\x00Raya meluas").replace(
        "Muara Teweh, Sabtu", "Muara\x00Teweh, Sabtu"
    )
    nul = nul.replace("Kecamatan Teweh Tengah dan Lahei", "Kecamatan Teweh\x01Tengah dan\x00Lahei")
    add(
        "article_nul_bytes.html",
        nul.encode(),
        article_path(13),
        {
            "archived": True,
            "title": "Banjir di Palangka Raya meluas",
            "body_contains": ["di Muara Teweh, Sabtu", "Kecamatan Teweh Tengah dan Lahei"],
            "no_chars": ["\x00", "\x01", "MuaraTeweh", "danLahei"],
        },
        note="NUL and SOH bytes between words in the title and the body",
    )
    listed.append(article_path(13))

    for number, name, depth in ((14, "article_deep_nesting.html", 1500), (15, "article_very_deep_nesting.html", 5000)):  # fmt: skip
        html = _variant(number, f"Artikel dengan {depth} elemen bersarang")
        body_start = html.index('<div class="post-content clearfix font17">') + len(
            '<div class="post-content clearfix font17">'
        )
        body_end = html.index("<p><em>Dilarang keras", body_start)
        html = (
            html[:body_start]
            + "<div>" * depth
            + html[body_start:body_end]
            + "</div>" * depth
            + html[body_end:]
        )
        add(
            name,
            html.encode(),
            article_path(number),
            {
                "archived": True,
                "title": f"Artikel dengan {depth} elemen bersarang",
                "body_contains": ["Lilis mengimbau warga segera membawa anggota keluarga"],
                "authors": ["Andika Putra"],
            },
            note=f"the body paragraphs wrapped in {depth} nested <div> elements",
        )
        listed.append(article_path(number))

    surrogate = _NEW_TEMPLATE.read_text(encoding="utf-8")
    surrogate = surrogate.replace(_NEW_TEMPLATE_SLUG, article_path(16).removeprefix("/berita/"))
    surrogate = re.sub(r'<meta (name|property)="(og:)?description"[^>]*>\n?', "", surrogate)
    surrogate = surrogate.replace(
        '"description": "Pemerintah Provinsi', '"description": "\\ud83d Pemerintah Provinsi'
    )
    surrogate = surrogate.replace("tanggap darurat banjir hingga 10 Februari", "uji surrogate")
    surrogate = surrogate.replace("Sungai Kahayan dan Sungai Rungan", "Sungai Kahayan (uji)")
    add(
        "article_jsonld_surrogate.html",
        surrogate.encode(),
        article_path(16),
        {
            "archived": True,
            "description_startswith": "Pemerintah Provinsi Kalimantan Tengah",
            "encodable": True,
        },
        note="no meta description; the JSON-LD description starts with a lone surrogate "
        "escape (\\ud83d)",
    )
    listed.append(article_path(16))

    for number, name, shown in ((17, "article_year_10000.html", "Sabtu, 1 Januari 10000 15:20 WIB"), (18, "article_year_0001.html", "Senin, 1 Januari 0001 00:00 WIB")):  # fmt: skip
        html = _variant(number, f"Artikel bertanggal {shown}").replace(_TEMPLATE_DATE, shown)
        add(
            name,
            html.encode(),
            article_path(number),
            {
                "dropped": "missing_published_at",
                "stats": {"dates/out_of_range/published_at": 1},
            },
            note=f"the article's date is {shown!r}",
        )
        listed.append(article_path(number))

    # --- the listings that name them --------------------------------------------------------
    items = [
        _listing_item(only_under_0001, "Senin, 1 Januari 0001 00:00", "Tanggal tahun 0001"),
        _listing_item("http://[::1", LISTED_ON, "Tautan rusak"),
    ]
    add(
        "listing_year_0001.html",
        _listing(items, keep_items=True, next_path="/kabar-daerah/2").encode(),
        "/kabar-daerah",
        {
            "stats": {"dates/out_of_range/listing": 1, "antara_kalteng/listing/item_errors": 1},
            "followed": [only_under_0001, "/kabar-daerah/2"],
        },
        note="the fixture section listing plus, on top, an item dated year 0001 (its article "
        "is listed nowhere else) and an item whose link is not a URL ('http://[::1'); and a "
        "next page",
    )
    # The hostile articles are listed on a sane listing, so that each fault shows on its own.
    add(
        "listing_hostile_articles.html",
        _listing(
            [_listing_item(path, LISTED_ON, "Uji hostile") for path in listed],
            keep_items=True,
            next_path=None,
            source="palangka-raya.html",
        ).encode(),
        "/palangka-raya",
        {"followed": listed},
        note="the fixture /palangka-raya listing with the hostile article pages on top",
    )
    return files, dict(sorted(expected.items()))


def expected_json(expected: dict[str, Any]) -> bytes:
    return (json.dumps(expected, ensure_ascii=True, indent=1) + "\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite tests/fixtures/hostile/")
    args = parser.parse_args()
    files, expected = build()
    files["expected.json"] = expected_json(expected)
    stale = [
        name
        for name, data in files.items()
        if not (HOSTILE_DIR / name).exists() or (HOSTILE_DIR / name).read_bytes() != data
    ]
    if args.write:
        HOSTILE_DIR.mkdir(parents=True, exist_ok=True)
        for name in stale:
            (HOSTILE_DIR / name).write_bytes(files[name])
    for name in stale:
        print(f"{'wrote' if args.write else 'differs'}: {name}")
    return 0 if args.write or not stale else 1


if __name__ == "__main__":
    sys.exit(main())
