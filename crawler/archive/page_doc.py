"""One document of the raw page archive (``pages``): what a fetch sets, and reading it back.

The fields are described in :mod:`crawler.components.page_archive`. A page is one of two
formats (``format``):

- ``"html"`` (:data:`HTML`): an article page as the live site served it; a document without
  ``format`` (stored before the field existed) is one too;
- ``"wp-post"`` (:data:`WP_POST`): one post of a WordPress REST API page
  (``/wp-json/wp/v2/posts?_embed=1``), serialised alone as UTF-8 JSON, stored under the
  article's URL: the publisher spiders read those posts instead of downloading the articles'
  pages, so this is what ``reparse`` has to rebuild them from
  (:meth:`crawler.sites.generic.GenericSite.parse_wp_post`).

Both are gzip-compressed (``compression``). Pure: no Scrapy, no database.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from crawler.extract.decode import decode_html

Doc = dict[str, Any]

KEPT_HEADERS = ("content-type", "last-modified", "etag", "content-length")
#: ``format`` of an article page.
HTML: Final = "html"
#: ``format`` of one post of the WordPress REST API.
WP_POST: Final = "wp-post"
FORMATS: Final = (HTML, WP_POST)


def page_fields(
    *,
    source: str | None,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    encoding: str | None,
    fetched_at: datetime,
    page_format: str = HTML,
    timezone: str | None = None,
) -> Doc:
    """The ``$set`` recording one fetch of a page (a non-2xx fetch keeps the stored body).

    ``timezone``: the zone the crawling spider read zone-less times in (kept for ``reparse``:
    a zero-config crawl's zone may be a spider argument); left out when None."""
    if page_format not in FORMATS:
        raise ValueError(f"page format {page_format!r} is not one of {', '.join(FORMATS)}")
    fields: Doc = {"source": source, "last_status": status, "last_fetched_at": fetched_at}
    if 200 <= status < 300:
        compressed = gzip.compress(body, compresslevel=6)
        fields.update(
            fetched_at=fetched_at,
            status=status,
            headers={k: v for k, v in headers.items() if k in KEPT_HEADERS},
            encoding=encoding,
            size=len(body),
            # Always set: a newer fetch of another format must not inherit the older one's.
            format=page_format,
            compression="gzip",
            body=compressed,
        )
        if timezone:
            fields["timezone"] = timezone
    return fields


def wp_post_fields(
    *, source: str | None, post: Mapping[str, Any], fetched_at: datetime, timezone: str | None
) -> Doc:
    """The ``$set`` keeping one REST API post (a JSON object) as a page of its own."""
    body = json.dumps(post, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return page_fields(
        source=source,
        status=200,
        body=body,
        headers={"content-type": "application/json; charset=utf-8"},
        encoding="utf-8",
        fetched_at=fetched_at,
        page_format=WP_POST,
        timezone=timezone,
    )


def page_format(doc: Mapping[str, Any]) -> str:
    """The stored page's format (:data:`HTML` when the document names none)."""
    return str(doc.get("format") or HTML)


def page_bytes(doc: Mapping[str, Any]) -> bytes:
    """The stored body, decompressed."""
    body = bytes(doc["body"])
    return gzip.decompress(body) if doc.get("compression") == "gzip" else body


def page_html(doc: Mapping[str, Any]) -> str:
    """The stored page's HTML: decompressed, and decoded as the spider decodes it
    (:func:`crawler.extract.decode.decode_html`, given the encoding the response declared)."""
    return decode_html(page_bytes(doc), doc.get("encoding"))


def page_post(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The REST API post a :data:`WP_POST` page holds; ValueError if it holds no JSON object."""
    post = json.loads(page_bytes(doc))
    if not isinstance(post, dict):
        raise ValueError(f"a {WP_POST} page holds a JSON {type(post).__name__}, not an object")
    return post
