"""Markup news CMSs share, read where no config says where a field is (the ``page`` layer).

Article furniture sits next to the headline: the date, the byline and the category are in the
few elements around the page's ``<h1>``, while sidebars, "related" boxes and the header's
"today" date are elsewhere. So dates and bylines are looked for in the ``<h1>``'s nearest
ancestors first, widening one level at a time, and never inside the page's chrome
(``header``/``nav``/``aside``/``footer`` outside the article, sidebars, widgets).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from crawler.extract.dates import parse_date_checked
from crawler.extract.normalize import distinct
from crawler.extract.text import clean_optional
from crawler.sites.generic.fields import image_source

#: Body elements of common CMSs and themes, most specific first: the first that holds a body
#: wins, whatever their order on the page.
BODY_CONTAINERS = tuple(
    etree.XPath(expression)
    for expression in (
        "//*[@itemprop='articleBody']",
        "//div[contains(concat(' ', normalize-space(@class), ' '), ' content-inner ')]",
        "//div[contains(@class, 'tdb_single_content')]//div[contains(@class, 'tdb-block-inner')]",
        "//div[contains(@class, 'td-post-content')]",
        "//div[contains(@class, 'txt-article')]",
        "//div[contains(@class, 'read__content')]",
        "//div[contains(@class, 'detail__body-text')]",
        "//div[contains(@class, 'isi-berita')]",
        "//div[contains(@class, 'entry-content')]",
        "//div[contains(@class, 'post-content')]",
        "//div[contains(@class, 'article-content')]",
        "//div[contains(@class, 'detail-content')]",
        "//article",
    )
)
#: How many ancestors of the ``<h1>`` are searched for its date and byline.
MAX_LEVELS = 5
_H1 = etree.XPath("//h1")
#: Not the article's: the page chrome, and lists of other articles.
_OUTSIDE = (
    "[not(ancestor-or-self::aside or ancestor-or-self::nav or ancestor-or-self::footer"
    " or ancestor-or-self::*[contains(@class, 'sidebar') or contains(@class, 'widget')"
    " or contains(@class, 'related') or contains(@class, 'terkait') or contains(@class, 'populer')"
    " or contains(@class, 'today') or contains(@class, 'hari-ini') or contains(@class, 'topdate')"
    " or contains(@class, 'top_date') or contains(@class, 'comment')])]"
)
_DATE_NODES = etree.XPath(
    ".//time"
    + _OUTSIDE
    + " | .//*[contains(@class, 'date') or contains(@class, 'tanggal') or contains(@class, 'time')"
    " or contains(@class, 'waktu') or contains(@class, 'publish')]" + _OUTSIDE
)
_BYLINE_NODES = etree.XPath(
    ".//*[@rel='author' or @itemprop='author' or contains(@class, 'author')"
    " or contains(@class, 'penulis') or contains(@class, 'byline') or contains(@class, 'reporter')]"
    + _OUTSIDE
)
_TAG_LINKS = etree.XPath(
    "//a[@rel='tag' or contains(@href, '/tag/') or contains(@href, '/tags/')"
    " or contains(@href, '/topik/')]" + _OUTSIDE + "[not(ancestor::header or ancestor::*[contains("
    "@class, 'menu') or contains(@class, 'trending') or contains(@class, 'cloud-widget')])]"
)
_BREADCRUMB_LINKS = etree.XPath(
    "(//*[contains(@class, 'breadcrumb') or @id='breadcrumbs'"
    " or @itemtype='https://schema.org/BreadcrumbList'])[1]//a"
)
_IMAGES = etree.XPath(".//img" + _OUTSIDE)
#: Images that are never the article's: logos, avatars, icons, ads.
_NOT_LEAD_IMAGE = re.compile(r"logo|avatar|gravatar|icon|emoji|sprite|banner|iklan|ads?[-_/]", re.I)
_DIGIT = re.compile(r"\d")
_LD_SCRIPTS = etree.XPath('//script[@type="application/ld+json"]/text()')


def _around_headline(root: Any) -> Iterator[Any]:
    """The ``<h1>``'s ancestors, nearest first (none if the page has no ``<h1>``)."""
    headlines = _H1(root)
    if not headlines:
        return
    for level, ancestor in enumerate(headlines[0].iterancestors()):
        if level >= MAX_LEVELS:
            return
        yield ancestor


def visible_date(root: Any, timezone: str) -> str | None:
    """The publication date next to the headline: a ``<time datetime>`` or the text of a
    date-classed element that reads as a date with a year (``"Selasa, 27 Januari 2026 14:05
    WIB"``), as the page writes it."""
    for ancestor in _around_headline(root):
        for node in _DATE_NODES(ancestor):
            for candidate in (node.get("datetime"), " ".join(node.itertext())):
                text = clean_optional(candidate)
                if text and len(text) <= 80 and parse_date_checked(text, default_tz=timezone).value:
                    return text
    return None


def lead_image(root: Any) -> str | None:
    """The first real image next to the headline (lazy-load attributes first), not a logo,
    avatar, icon or ad, nor one the markup says is small."""
    for ancestor in _around_headline(root):
        for image in _IMAGES(ancestor):
            described = " ".join(
                image.get(name) or "" for name in ("class", "alt", "src", "data-src", "id")
            )
            if _NOT_LEAD_IMAGE.search(described) or _small(image):
                continue
            source = image_source(image)
            if source:
                return source
    return None


#: A thumbnail's size in its URL: ".../cache/95x63/...", "photo-150x150.jpg".
_SIZE_IN_URL = re.compile(r"[/_-](?P<width>\d{2,4})x(?P<height>\d{2,4})[/._-]")


def _small(image: Any) -> bool:
    for name in ("width", "height"):
        value = (image.get(name) or "").strip()
        if value.isdigit() and int(value) < 100:
            return True
    size = _SIZE_IN_URL.search(image_source(image) or "")
    return size is not None and max(int(size["width"]), int(size["height"])) < 200


def byline_names(root: Any) -> list[str]:
    """The byline next to the headline: the links of the first author-classed element (or its
    text, "Oleh: A dan B"); labels are stripped later (``split_names``)."""
    for ancestor in _around_headline(root):
        for node in _BYLINE_NODES(ancestor):
            links = [" ".join(a.itertext()) for a in node.iter("a")]
            names = distinct(links) or distinct([" ".join(node.itertext())])
            # A date or a view count in an author-classed element is no name.
            names = [name for name in names if len(name) <= 60 and not _DIGIT.search(name)]
            if names:
                return names
    return []


def tag_links(root: Any) -> list[str]:
    """Texts of the article's tag links (``rel="tag"``, ``/tag/``, ``/topik/``), chrome left out."""
    texts = (" ".join(a.itertext()) for a in _TAG_LINKS(root))
    return [text for text in distinct(texts) if len(text) <= 60 and not text.startswith("#")]


def breadcrumb_category(root: Any, title: str | None) -> str | None:
    """The section the breadcrumb names after "Home": JSON-LD ``BreadcrumbList``'s second
    item, else the second link of the page's breadcrumb (not the article's own title)."""
    for script in _LD_SCRIPTS(root):
        try:
            data = json.loads(script)
        except (ValueError, RecursionError):
            continue
        nodes = data if isinstance(data, list) else [data]
        for node in nodes:
            if isinstance(node, dict) and node.get("@type") == "BreadcrumbList":
                items = node.get("itemListElement")
                if isinstance(items, list) and len(items) >= 3:  # home, section, ..., article
                    name = _crumb_name(items[1])
                    if name and name != title:
                        return name
    links = [clean_optional(" ".join(a.itertext())) for a in _BREADCRUMB_LINKS(root)]
    crumbs = [link for link in links if link]
    if len(crumbs) >= 2 and crumbs[1] != title and len(crumbs[1]) <= 60:
        return crumbs[1]
    return None


def _crumb_name(item: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    name = item.get("name")
    inner = item.get("item")
    if not isinstance(name, str) and isinstance(inner, dict):
        name = inner.get("name")
    return clean_optional(name) if isinstance(name, str) else None
