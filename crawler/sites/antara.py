"""The ANTARA CMS: what every ANTARA desk's pages have in common, known once.

ANTARA's regional desks (``<desk>.antaranews.com``), the national site and the English service
run one CMS; each is a row of :data:`crawler.sites.antara_desks.DESKS`, and
:class:`AntaraSite` is the parser for one row. Two templates are live at once: the old "mag"
template (``article.post-wrapper``, lazy images with ``data-src``), still on some desks, and the
current one (``div.wrap__article-detail``, JSON-LD and OpenGraph). Each template is one parser
class with one method per field; :meth:`AntaraSite.parse_article` picks the class whose root
element is on the page and falls back to the generic layers in :mod:`crawler.extract.layers`
for any field its selectors miss. Listing pages are :mod:`crawler.sites.antara_listing`.

Bylines ("Pewarta:"/"Editor:", "Reporter:" on the English service, "Penerjemah:" for a
translated wire story) and captions ("... (ANTARA/Name)") follow the shared normalisers of
:mod:`crawler.extract.normalize`. Page times are local: the zone the page prints (WIB, WITA,
WIT, GMT+700) wins; a time without one is read in the desk's zone.

The sites state that crawling or automated indexing without ANTARA's written permission is
forbidden: whoever runs this against the live sites needs that permission.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from lxml import etree
from parsel import Selector

from crawler.extract.article_body import split_body
from crawler.extract.dates import OUT_OF_RANGE, parse_date_checked
from crawler.extract.html_text import element_blocks
from crawler.extract.html_tree import parse_html
from crawler.extract.layers import ParsedArticle, apply_fallbacks, jsonld_article, make_encodable
from crawler.extract.normalize import (
    canonical_url,
    distinct,
    join_paragraphs,
    split_caption,
    split_dateline,
    split_names,
)
from crawler.extract.text import clean_optional
from crawler.items import Article
from crawler.sites.antara_desks import Desk

# --- URLs ----------------------------------------------------------------------------------

HOME_PATH = "/"
#: One path segment that is not an article kind or a utility page, e.g. ``/kabar-daerah``.
SECTION_PATH = re.compile(
    r"^/(?!(?:berita|news|tag|search|rss|amp|video|foto|infografis|infografik)$)[a-z0-9-]+$"
)
#: First path segment of pages that look like listings' items but carry no article text.
NOT_ARTICLES = {
    "video": "video",
    "foto": "photo",
    "infografis": "infographic",
    "infografik": "infographic",
}

# --- Article pages -------------------------------------------------------------------------

# Placeholders the lazy loader swaps out; never the article's image.
_PLACEHOLDER_IMAGE = re.compile(r"no-image|placeholder|blank\.(gif|png)|data:image", re.IGNORECASE)


def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression)


def _text_of(nodes: list[Any]) -> str | None:
    """Cleaned text of the first matched element, or None."""
    return clean_optional(" ".join(nodes[0].itertext())) if nodes else None


class OldTemplate:
    """The "mag" template used from the 2010s until the 2026 migration.

    Selectors are compiled once per class (lxml XPath is several times faster than parsel's
    per-call evaluation) and scoped under the article element where the markup allows.
    """

    root: ClassVar[etree.XPath] = _xpath("//article[contains(@class, 'post-wrapper')]")
    _title: ClassVar[etree.XPath] = _xpath("//h1[contains(@class, 'post-title')]")
    _date: ClassVar[etree.XPath] = _xpath(
        "//header[contains(@class, 'post-header')]//span[contains(@class, 'article-date')]"
    )
    _breadcrumb: ClassVar[etree.XPath] = _xpath("//ol[contains(@class, 'breadcrumb')]/li")
    _image: ClassVar[etree.XPath] = _xpath("//div[contains(@class, 'wp-caption')]//img")
    _caption: ClassVar[etree.XPath] = _xpath("//*[contains(@class, 'wp-caption-text')]")
    _content: ClassVar[etree.XPath] = _xpath("//div[contains(@class, 'post-content')]")
    _tags: ClassVar[etree.XPath] = _xpath("//ul[contains(@class, 'tags-widget')]//a")
    _description: ClassVar[etree.XPath] = _xpath('//meta[@name="description"]/@content')
    #: Inside the body: ads, scripts, pull-quotes that repeat the text, "Baca juga" links, tags.
    _body_noise: ClassVar[str] = (
        ".//script | .//style | .//ins | .//noscript | .//iframe"
        " | .//div[contains(@class, 'quote_old')] | .//span[contains(@class, 'baca-juga')]"
        " | .//ul[contains(@class, 'blog-tags') or contains(@class, 'tags-widget')]"
        " | .//div[contains(@class, 'wp-caption')] | .//figure"
    )

    def __init__(self, selector: Selector, url: str) -> None:
        self.selector = selector
        self.document = selector.root
        self.url = url
        self._content_nodes = self._content(self.document)

    def unlocated(self) -> set[str]:
        """Core fields whose element is not on the page at all (layout drift, not emptiness)."""
        elements = {"title": self._title, "body": self._content, "published_at_raw": self._date}
        return {name for name, xpath in elements.items() if not xpath(self.document)}

    def title(self) -> str | None:
        return _text_of(self._title(self.document))

    def description(self) -> str | None:
        values = self._description(self.document)
        return clean_optional(str(values[0])) if values else None

    def published_at_raw(self) -> str | None:
        return _text_of(self._date(self.document))

    def modified_at_raw(self) -> str | None:
        return None

    def category(self) -> str | None:
        crumbs = self._breadcrumb(self.document)
        return _text_of(crumbs[1:2])

    def tags(self) -> list[str]:
        return distinct(" ".join(link.itertext()) for link in self._tags(self.document))

    def image_url(self) -> str | None:
        for image in self._image(self.document):
            for attribute in ("data-src", "data-original", "data-lazy-src", "src"):
                value = (image.get(attribute) or "").strip()
                if value and not _PLACEHOLDER_IMAGE.search(value):
                    return canonical_url(value, base=self.url, force_https=False)
        return None

    def caption_text(self) -> str | None:
        return _text_of(self._caption(self.document))

    def body_blocks(self) -> list[list[str]]:
        if not self._content_nodes:
            return []
        return element_blocks(self._content_nodes[0], self._body_noise)


class NewTemplate(OldTemplate):
    """The 2026 template: Bootstrap 4 markup, JSON-LD NewsArticle, tags inside the body div.

    The date is the first span of the info line (a reading-time span may follow it); the
    byline (``.text-muted.mt-2.small``) sits inside the body div, its parts often as
    unseparated inline spans, which :func:`crawler.extract.normalize.parse_byline` splits.
    """

    root = _xpath("//div[contains(@class, 'wrap__article-detail')]")
    _title = _xpath("//div[contains(@class, 'wrap__article-detail-title')]//h1")
    _date = _xpath("//div[contains(@class, 'wrap__article-detail-info')]//span")
    _breadcrumb = _xpath("//ul[contains(@class, 'breadcrumbs')]/li")
    _image = _xpath("//div[contains(@class, 'wrap__article-detail-image')]//img")
    _caption = _xpath("//div[contains(@class, 'wrap__article-detail-image')]//figcaption")
    _content = _xpath("//div[contains(@class, 'wrap__article-detail-content')]")
    _tags = _xpath("//ul[contains(@class, 'blog-tags')]//a")

    def modified_at_raw(self) -> str | None:
        # The new template shows no modification time; only its JSON-LD carries it.
        value = jsonld_article(self.selector).get("dateModified")
        return clean_optional(value) if isinstance(value, str) else None


class NoTemplate(OldTemplate):
    """Neither template matched (a redesign, an error page): every field comes from the
    generic layers, and the fallback stats say so loudly."""

    root = _title = _date = _breadcrumb = _image = _caption = _content = _tags = _xpath("/..")


TEMPLATES: tuple[type[OldTemplate], ...] = (NewTemplate, OldTemplate)


class AntaraSite:
    """One desk of the family: its URL rules and ``parse_article``, from its row."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        #: The records' ``source``: the spider's name.
        self.source = desk.spider_name
        self.site_url = desk.origin
        self.host = desk.host
        self.timezone = desk.timezone
        #: Article pages: ``/<prefix>/<numeric id>/<slug>`` (``/berita/...``, ``/news/...``).
        self.article_path = re.compile(rf"^/{re.escape(desk.article_prefix)}/\d+(?:/[^/]+)?$")

    def __repr__(self) -> str:
        return f"AntaraSite({self.source!r})"

    def parse_article(self, html: str, url: str) -> ParsedArticle:
        """Parse one article page of this desk; ``url`` is the page's live URL.

        Pure: no network, no Scrapy. Values are cleaned here; ``normalize_article`` (run by
        the normalisation pipeline) enforces the schema's invariants on top. A date outside
        the plausible window is left out (``published_at`` None, the raw text kept) and
        reported in ``problems``.
        """
        url = canonical_url(url)
        selector = Selector(root=parse_html(html or ""))
        template_class: type[OldTemplate] = next(
            (t for t in TEMPLATES if t.root(selector.root)), NoTemplate
        )
        page = template_class(selector, url)

        paragraphs, byline = split_body(page.body_blocks())
        dateline = None
        if paragraphs:
            dateline, paragraphs[0] = split_dateline(paragraphs[0])
        caption, credit = split_caption(page.caption_text())

        desk = self.desk
        article = Article(
            url=url,
            source=self.source,
            site_name=desk.site_name,
            region=desk.region,
            language=desk.language,
            title=page.title(),
            description=page.description(),
            body=join_paragraphs(p for p in paragraphs if p) or None,
            dateline=dateline,
            published_at_raw=page.published_at_raw(),
            authors=split_names(
                byline.get("pewarta") or byline.get("penulis") or byline.get("reporter")
            ),
            editors=split_names(byline.get("editor")),
            uploader=clean_optional(byline.get("uploader")),
            category=page.category(),
            tags=page.tags(),
            image_url=page.image_url(),
            image_caption=caption,
            image_credit=credit,
        )
        problems: list[str] = []
        article.modified_at = self._date(page.modified_at_raw(), "modified_at", problems)

        fallbacks = apply_fallbacks(
            article, selector, url, unlocated=page.unlocated(), problems=problems
        )
        if template_class is NoTemplate:
            fallbacks.append("none/template")
        article.published_at = self._date(article.published_at_raw, "published_at", problems)
        make_encodable(article)
        return ParsedArticle(article=article, fallbacks=fallbacks, problems=problems)

    def _date(self, raw: str | None, name: str, problems: list[str]) -> datetime | None:
        """The page's date ``raw`` in UTC (the desk's zone unless the text names one); None,
        and a problem, if it is out of range."""
        result = parse_date_checked(raw, default_tz=self.timezone)
        if result.problem == OUT_OF_RANGE:
            problems.append(f"dates/out_of_range/{name}")
        return result.value

    # --- navigation rules the spider asks about ------------------------------------------

    def article_kind(self, path: str) -> str | None:
        """None for an article page's path, else why it is not one (a skip reason:
        ``video``, ``photo``, ``infographic``, ``not_article``)."""
        first_segment = path.strip("/").split("/")[0]
        if first_segment in NOT_ARTICLES:
            return NOT_ARTICLES[first_segment]
        return None if self.article_path.match(path) else "not_article"

    def is_section(self, path: str) -> bool:
        """A section listing's path (``/kabar-daerah``), as the nav menu links them."""
        return bool(SECTION_PATH.match(path))
