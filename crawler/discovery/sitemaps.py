"""Sitemaps: the ones robots.txt names, sitemap indexes, and (news) sitemaps' URLs and dates.

robots.txt ``Sitemap:`` lines are read by protego (Scrapy's own robots.txt parser); a site
whose robots.txt names none is tried at :data:`FALLBACK_PATHS`. A sitemap index lists more
sitemaps (with ``lastmod``); a urlset lists pages with ``lastmod`` and, in a Google News
sitemap, ``news:news/news:publication_date``.

The XML is read with lxml's ``iterparse`` under the same hardening as Scrapy's
``scrapy.utils.sitemap.Sitemap`` (recover from broken markup, no entity resolution, no
comments or processing instructions, elements freed as they are read). That class itself is
not used: it keeps only a child element's own text, which loses the nested
``news:publication_date``, and importing it imports Scrapy, which this floor must not
(``tests/test_layout.py``). ``tests/test_discovery_sitemaps.py`` checks both read the same
URLs and ``lastmod`` values.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Literal
from urllib.parse import urljoin

import lxml.etree
from protego import Protego

from crawler.discovery.entries import DiscoveryError, Entry
from crawler.extract.dates import parse_date_checked

#: Where a sitemap usually is when robots.txt names none, in the order tried.
FALLBACK_PATHS = ("/sitemap.xml", "/sitemap_index.xml", "/news-sitemap.xml")
#: A gzip-compressed sitemap (``sitemap.xml.gz``) is inflated up to this size; the protocol
#: caps a sitemap at 50 MB uncompressed.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


def sitemaps_from_robots(robots_txt: bytes | str, url: str) -> list[str]:
    """The absolute sitemap URLs a robots.txt names (``url`` is the robots.txt's own)."""
    text = robots_txt.decode("utf-8", "replace") if isinstance(robots_txt, bytes) else robots_txt
    return [urljoin(url, href.strip()) for href in Protego.parse(text).sitemaps if href.strip()]


@dataclass
class Sitemap:
    """One sitemap file: an index (``sitemaps``, each with its ``lastmod`` as ``modified``)
    or a urlset (``pages``)."""

    kind: Literal["sitemapindex", "urlset"]
    sitemaps: list[Entry] = field(default_factory=list)
    pages: list[Entry] = field(default_factory=list)
    #: ``<url>``/``<sitemap>`` elements without a usable ``<loc>``.
    malformed: int = 0


def read_sitemap(body: bytes, url: str, *, timezone: str = "UTC") -> Sitemap:
    """Read one sitemap (gzip-compressed or not); :class:`DiscoveryError` when it is none.

    Dates without a zone are read in ``timezone``.
    """
    xml = _inflate(body)
    try:
        events = lxml.etree.iterparse(
            BytesIO(xml),
            events=("start", "end"),
            recover=True,
            resolve_entities=False,
            remove_comments=True,
            remove_pis=True,
            remove_blank_text=True,
            collect_ids=False,
            no_network=True,
        )
        _, root = next(events)
    except (lxml.etree.XMLSyntaxError, StopIteration) as exc:
        raise DiscoveryError("sitemap_xml", f"{url} is not XML ({exc})") from None
    kind = _local_name(root)
    if kind not in {"sitemapindex", "urlset"}:
        raise DiscoveryError("sitemap_xml", f"{url} is no sitemap (root element <{kind}>)")
    sitemap = Sitemap(kind)  # type: ignore[arg-type]  # checked just above
    try:
        for event, element in events:
            if event != "end" or _local_name(element) not in {"url", "sitemap"}:
                continue
            entry = _entry(element, url, timezone)
            _free(element)
            if entry is None:
                sitemap.malformed += 1
            elif kind == "sitemapindex":
                sitemap.sitemaps.append(entry)
            else:
                sitemap.pages.append(entry)
    except lxml.etree.XMLSyntaxError as exc:
        if not (sitemap.sitemaps or sitemap.pages):
            raise DiscoveryError("sitemap_xml", f"{url} is broken XML ({exc})") from None
        # A truncated sitemap: what was read before the break is still good.
        sitemap.malformed += 1
    return sitemap


def _entry(element: lxml.etree._Element, base: str, timezone: str) -> Entry | None:
    texts: dict[str, str] = {}
    for child in element.iter():
        name = _local_name(child)
        if name in {"loc", "lastmod", "publication_date"} and name not in texts:
            texts[name] = (child.text or "").strip()
    loc = texts.get("loc")
    if not loc:
        return None
    return Entry(
        urljoin(base, loc),
        published=_date(texts.get("publication_date"), timezone),
        modified=_date(texts.get("lastmod"), timezone),
    )


def _date(text: str | None, timezone: str) -> datetime | None:
    return parse_date_checked(text, default_tz=timezone).value if text else None


def _free(element: lxml.etree._Element) -> None:
    """Drop a read element and its read siblings: a 50 MB sitemap stays small in memory."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def _local_name(element: lxml.etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _inflate(body: bytes) -> bytes:
    if not body.startswith(_GZIP_MAGIC):
        return body
    try:
        with gzip.GzipFile(fileobj=BytesIO(body)) as stream:
            xml = stream.read(MAX_SITEMAP_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DiscoveryError(
            "sitemap_gzip", f"a compressed sitemap that cannot be read ({exc})"
        ) from None
    if len(xml) > MAX_SITEMAP_BYTES:
        raise DiscoveryError("sitemap_size", f"sitemap over {MAX_SITEMAP_BYTES} bytes inflated")
    return xml
