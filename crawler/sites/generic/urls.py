"""Which URLs of an unknown publisher are article pages, by their shape alone.

News CMSs put one of two things in an article's path: a long hyphenated slug
(``/read/harga-cabai-rawit-tembus-rp90-ribu/``) and/or a date or a numeric id
(``/2026/01/27/...``, ``/berita/312345-...``, ``/read/123456/...``). Listings, archives and
utility pages have neither, or sit under a path of their own (``/tag/``, ``/category/``,
``/page/2/``, ``/feed/``, ``/wp-content/``). The test looks at the path only: the caller
checks that the host is the publisher's (a mirror has another one).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

#: First (or any) path segments of pages that are not articles.
NOT_ARTICLE_SEGMENTS = frozenset(
    [
        "tag", "tags", "topik", "topic", "label", "category", "categories", "kategori", "rubrik",
        "author", "authors", "penulis", "page", "feed", "rss", "wp-content", "wp-admin",
        "wp-includes", "wp-json", "search", "cari", "pencarian", "indeks", "index", "login",
        "register", "amp-stories", "web-stories", "comments", "trackback", "attachment",
        "sitemap", "cdn-cgi", "xmlrpc.php",
    ]
)  # fmt: skip
#: Slugs of the pages every news site has besides its articles.
UTILITY_SLUGS = frozenset(
    [
        "tentang-kami", "kontak-kami", "hubungi-kami", "pedoman-media-siber", "kebijakan-privasi",
        "privacy-policy", "about-us", "contact-us", "susunan-redaksi", "info-iklan",
        "syarat-dan-ketentuan", "terms-of-service", "disclaimer", "redaksi", "karir",
    ]
)  # fmt: skip
_FILE = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|pdf|xml|css|js|json|zip|mp4|mp3|ico|txt)$", re.IGNORECASE
)
#: A slug of at least three words ("harga-cabai-naik"), the words letters or digits.
_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+){2,}(?:\.html?)?$", re.IGNORECASE)
#: A numeric id (5 digits or more), alone or leading a slug: "312345", "312345-harga-cabai".
_ID = re.compile(r"^\d{5,}(?:[-_][a-z0-9-]+)?(?:\.html?)?$", re.IGNORECASE)
_YEAR = re.compile(r"^(19|20)\d{2}$")
_DATE_SEGMENT = re.compile(r"^(\d{8}|\d{4}-\d{2}-\d{2})$")


def looks_like_article(url: str) -> bool:
    """Whether ``url``'s path has an article's shape (module docstring)."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        # WordPress without pretty permalinks: /?p=123
        return bool(parts.query and parse_qs(parts.query).get("p", [""])[0].isdigit())
    last = segments[-1].lower()
    if _FILE.search(last) and not last.endswith((".html", ".htm")):
        return False
    if any(segment.lower() in NOT_ARTICLE_SEGMENTS for segment in segments):
        return False
    if last in UTILITY_SLUGS or (len(segments) == 1 and segments[0].lower() in UTILITY_SLUGS):
        return False
    has_slug = any(_SLUG.match(segment) for segment in segments)
    has_id = any(_ID.match(segment) for segment in segments)
    has_date = any(_YEAR.match(s) for s in segments[:-1]) or any(
        _DATE_SEGMENT.match(s) for s in segments
    )
    if has_id:
        return True
    # A date archive (/2026/01/27/) has a date but no slug; a section (/kalteng/) has neither.
    return has_slug and (has_date or len(segments) <= 4)
