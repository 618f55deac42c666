"""Unit tests of the shared normalisers (crawler.extract.normalize)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.extract.decode import decode_html
from crawler.extract.normalize import (
    boilerplate_kind,
    canonical_url,
    clean_text,
    content_hash,
    distinct,
    iso_utc,
    normalize_article,
    parse_byline,
    parse_date,
    split_caption,
    split_dateline,
    split_names,
    word_count,
)
from crawler.items import Article

NOW = datetime(2026, 1, 27, 6, 10, tzinfo=UTC)  # 13:10 WIB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Senin, 25 Maret 2019 16:42 WIB", "2019-03-25T09:42:00Z"),
        ("Senin, 25 Maret 2019 16:42 WITA", "2019-03-25T08:42:00Z"),
        ("Senin, 25 Maret 2019 16:42 WIT", "2019-03-25T07:42:00Z"),
        ("25 Maret 2019 16.42", "2019-03-25T09:42:00Z"),
        ("26 Januari 2026 16:05", "2026-01-26T09:05:00Z"),
        ("1 Agustus 2025", "2025-07-31T17:00:00Z"),
        ("25/3/2019", "2019-03-24T17:00:00Z"),
        ("25/03/2019 08:00", "2019-03-25T01:00:00Z"),
        ("2026-01-26T23:30:00Z", "2026-01-26T23:30:00Z"),
        ("2026-01-27T06:30:00+07:00", "2026-01-26T23:30:00Z"),
        ("2026-01-27T06:30:00", "2026-01-26T23:30:00Z"),
        ("Tue, 27 Jan 2026 06:30:00 +0700", "2026-01-26T23:30:00Z"),
        ("Tue, 27 Jan 2026 06:30:00 GMT", "2026-01-27T06:30:00Z"),
        ("25 menit lalu", "2026-01-27T05:45:00Z"),
        ("1 jam lalu", "2026-01-27T05:10:00Z"),
        ("2 hari yang lalu", "2026-01-25T06:10:00Z"),
    ],
)
def test_parse_date(text: str, expected: str) -> None:
    parsed = parse_date(text, now=NOW)
    assert parsed is not None and parsed.tzinfo is not None
    assert iso_utc(parsed) == expected


@pytest.mark.parametrize("text", ["", None, "bukan tanggal", "31/2/2019", "99 Maret 2019"])
def test_parse_date_rejects_non_dates(text: str | None) -> None:
    assert parse_date(text, now=NOW) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://Kalteng.AntaraNews.com/berita/1/slug/?utm_source=fb&utm_medium=x#komentar",
            "https://kalteng.antaranews.com/berita/1/slug",
        ),
        (
            "https://kalteng.antaranews.com/amp/berita/1/slug",
            "https://kalteng.antaranews.com/berita/1/slug",
        ),
        (
            "https://kalteng.antaranews.com/berita/1/slug/amp",
            "https://kalteng.antaranews.com/berita/1/slug",
        ),
        (
            "https://kalteng.antaranews.com/berita/1/slug?amp=1",
            "https://kalteng.antaranews.com/berita/1/slug",
        ),
        (
            "https://m.kalteng.antaranews.com/berita/1/slug",
            "https://kalteng.antaranews.com/berita/1/slug",
        ),
        (
            "https://kalteng.antaranews.com:443/berita/1/slug?fbclid=abc&gclid=x",
            "https://kalteng.antaranews.com/berita/1/slug",
        ),
        (
            "https://kalteng.antaranews.com/terkini?page=2",
            "https://kalteng.antaranews.com/terkini?page=2",
        ),
        ("https://kalteng.antaranews.com/", "https://kalteng.antaranews.com/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_resolves_relative_links() -> None:
    assert (
        canonical_url("/berita/2/x?utm_campaign=a", base="https://kalteng.antaranews.com/terkini")
        == "https://kalteng.antaranews.com/berita/2/x"
    )


def test_clean_text_applies_nfc_entities_and_whitespace() -> None:
    decomposed = "Kafe\u0301  &amp;\u00a0Resto\u200b\n\tbaru"
    assert clean_text(decomposed) == "Kafé & Resto baru"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Pewarta: Rendhik Andika dan Muhammad Arif Hidayat",
            ["Rendhik Andika", "Muhammad Arif Hidayat"],
        ),
        ("Pewarta : A, B dan C", ["A", "B", "C"]),
        ("Editor: Ira Pratiwi", ["Ira Pratiwi"]),
        ("Pewarta :", []),
        ("", []),
        (["A dan B", "b"], ["A", "B"]),
    ],
)
def test_split_names(text: str, expected: list[str]) -> None:
    assert split_names(text) == expected


def test_parse_byline_reads_lines_that_ran_together() -> None:
    assert parse_byline("Pewarta: Nur HalimahEditor: Ira PratiwiCOPYRIGHT © ANTARA 2026") == {
        "pewarta": "Nur Halimah",
        "editor": "Ira Pratiwi",
    }
    assert parse_byline("Pewarta :\nUploader : Admin 4\nCOPYRIGHT © ANTARA 2019") == {
        "pewarta": "",
        "uploader": "Admin 4",
    }


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        (
            "Petani memanen, Senin (26/1/2026). (ANTARA/Rendhik Andika)",
            ("Petani memanen, Senin (26/1/2026).", "ANTARA/Rendhik Andika"),
        ),
        (
            "Rakortek, Senin, (25/3/2019). (Foto Antara Kalteng/Muhammad Arif Hidayat)",
            ("Rakortek, Senin, (25/3/2019).", "Antara Kalteng/Muhammad Arif Hidayat"),
        ),
        (
            "Pelari (25/1/2026). (Foto ANTARA/HO-Panitia PRHM 2026)",
            ("Pelari (25/1/2026).", "ANTARA/HO-Panitia PRHM 2026"),
        ),
        ("Warga mengungsi, Senin (26/1/2026).", ("Warga mengungsi, Senin (26/1/2026).", None)),
        ("", (None, None)),
    ],
)
def test_split_caption(caption: str, expected: tuple[str | None, str | None]) -> None:
    assert split_caption(caption) == expected


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("Palangka Raya (ANTARA) - Pemerintah", ("Palangka Raya", "Pemerintah")),
        ("Sampit (Antara Kalteng) - Pemerintah", ("Sampit", "Pemerintah")),
        ("Kalimantan Tengah (ANTARA) - Pemerintah", ("Kalimantan Tengah", "Pemerintah")),
        (
            "Pemerintah (Pemprov) menggelar - rapat",
            (None, "Pemerintah (Pemprov) menggelar - rapat"),
        ),
    ],
)
def test_split_dateline(paragraph: str, expected: tuple[str | None, str]) -> None:
    assert split_dateline(paragraph) == expected


@pytest.mark.parametrize(
    ("paragraph", "kind"),
    [
        ("Baca juga: Dinkes kejar imunisasi", "read_also"),
        ("Pewarta: A", "byline"),
        ("Uploader : Admin 4", "byline"),
        ("COPYRIGHT © ANTARA 2019", "copyright"),
        ("Copyright © ANTARA 2019", "copyright"),
        ("Dilarang keras mengambil konten, melakukan crawling ...", "legal_notice"),
        ("Komentar", "comments"),
        ("(adsbygoogle = window.adsbygoogle || []).push({});", "ad_script"),
        ("Pemerintah menggelar rapat koordinasi.", None),
    ],
)
def test_boilerplate_kind(paragraph: str, kind: str | None) -> None:
    assert boilerplate_kind(paragraph) == kind


def test_distinct_keeps_first_spelling_in_order() -> None:
    assert distinct(["banjir", " Banjir ", "BPBD", "", "banjir"]) == ["banjir", "BPBD"]


def test_decode_html_prefers_valid_utf8_over_declared_latin1() -> None:
    body = "“Kafé” di Palangka Raya".encode()
    assert decode_html(body, "iso-8859-1") == "“Kafé” di Palangka Raya"
    assert decode_html("Kafé".encode("latin-1"), "iso-8859-1") == "Kafé"


def test_normalize_article_is_idempotent_and_computes_hash() -> None:
    article = Article(
        url="http://kalteng.antaranews.com/berita/1/x/?utm_source=a",
        title="  Judul\u00a0 berita ",
        body="Sampit (ANTARA) - Paragraf satu.\n\nBaca juga: lain\n\nParagraf dua.\n\nCOPYRIGHT © ANTARA 2026",
        published_at_raw="Senin, 26 Januari 2026 16:05 WIB",
        authors=["A dan B"],
        tags=["x", "X", "$gt", "a.b"],
    )
    first = normalize_article(article)
    assert first.url == "https://kalteng.antaranews.com/berita/1/x"
    assert first.title == "Judul berita"
    assert first.body == "Paragraf satu.\n\nParagraf dua."
    assert first.dateline == "Sampit"
    assert first.authors == ["A", "B"]
    assert first.tags == ["x", "$gt", "a.b"]
    assert iso_utc(first.published_at) == "2026-01-26T09:05:00Z"
    assert first.word_count == word_count(first.body) == 4
    assert first.content_hash == content_hash(first.body)
    snapshot = dict(vars(first))
    assert vars(normalize_article(first)) == snapshot
