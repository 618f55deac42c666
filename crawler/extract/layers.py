"""Generic extraction layers that every site parser falls back on.

A site parser reads its own selectors first. Whatever it leaves empty is filled, field by
field, from the page's structured metadata (JSON-LD, then OpenGraph / ``<meta>``), and only
then from a generic extractor (trafilatura for the body, htmldate for the date). Each fill is
recorded as ``"<layer>/<field>"`` so the crawl's stats show when a site's layout drifts.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from parsel import Selector

from crawler import stats_keys
from crawler.extract.html_text import remove_keeping_tail
from crawler.extract.normalize import (
    clean_optional,
    clean_text,
    distinct,
    join_paragraphs,
    split_paragraphs,
)
from crawler.extract.text import scrub_text
from crawler.items import Article

logger = logging.getLogger(__name__)

#: Fields a fallback layer may fill. ``modified_at`` and ``authors`` are left out on purpose:
#: generic guesses for them (htmldate's "last modified", ``<meta name="author">`` holding the
#: site's domain) are wrong more often than right.
FALLBACK_FIELDS = (
    "title",
    "description",
    "body",
    "published_at_raw",
    "category",
    "tags",
    "image_url",
)
_ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "WebPage"}


@dataclass
class ParsedArticle:
    """What a site parser returns: the article, which fields came from a fallback layer, and
    which values it found but discarded."""

    article: Article
    #: ``"<layer>/<field>"`` for every field a fallback filled, e.g. ``"jsonld/title"``.
    fallbacks: list[str] = field(default_factory=list)
    #: A stats key for every value the page had but the parser discarded as implausible, e.g.
    #: ``"dates/out_of_range/published_at"`` or ``"parser/discarded/generic_body_navigation"``.
    problems: list[str] = field(default_factory=list)


def walk_jsonld(data: Any) -> Iterator[dict[str, Any]]:
    """Every object of a JSON-LD document and its ``@graph``s, in document order; iterative, as
    hostile pages nest lists thousands deep."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            yield node
            stack.append(node.get("@graph"))


def jsonld_article(selector: Selector) -> dict[str, Any]:
    """The page's JSON-LD NewsArticle (or Article) object, ``{}`` when there is none or it is
    malformed (CMS templates often emit broken JSON-LD; that must not break parsing)."""
    for script in selector.xpath('//script[@type="application/ld+json"]/text()').getall():
        try:
            data = json.loads(script)
        except (ValueError, RecursionError):  # json.loads recurses once per nesting level
            logger.debug("Malformed JSON-LD ignored")
            continue
        for node in walk_jsonld(data):
            types = node.get("@type")
            # Only strings: a page's "@type" may hold anything, a dict included.
            types = {
                t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)
            }
            if (
                types & _ARTICLE_TYPES
                and isinstance(node.get("headline"), str)
                and node["headline"]
            ):
                return node
    return {}


def jsonld_names(value: Any) -> list[str]:
    """The names of the people among ``value`` (JSON-LD ``author``: a name, a Person object,
    or a list of them; Organizations and names that are not text are left out)."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        if isinstance(item, dict) and item.get("@type", "Person") == "Person":
            name = item.get("name", "")
            if isinstance(name, str):
                names.append(name)
        elif isinstance(item, str):
            names.append(item)
    return distinct(names)


def jsonld_image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url")
    return clean_optional(value) if isinstance(value, str) else None


def _keywords(value: Any) -> list[str]:
    if isinstance(value, str):
        return distinct(value.split(","))
    if isinstance(value, list):
        return distinct(v for v in value if isinstance(v, str))
    return []


def metadata_layers(selector: Selector) -> list[tuple[str, dict[str, Any]]]:
    """Candidate values per field from JSON-LD, then OpenGraph / meta tags, in that order."""
    ld = jsonld_article(selector)

    def text(key: str) -> str | None:
        value = ld.get(key)
        return clean_optional(value) if isinstance(value, str) else None

    def meta(*names: str) -> str | None:
        for name in names:
            value = selector.xpath(f'//meta[@property="{name}" or @name="{name}"]/@content').get()
            if value and value.strip():
                return clean_text(value)
        return None

    jsonld_values: dict[str, Any] = {
        "title": text("headline"),
        "description": text("description"),
        "body": join_paragraphs(split_paragraphs(ld.get("articleBody")))
        if isinstance(ld.get("articleBody"), str)
        else None,
        "published_at_raw": text("datePublished"),
        "modified_at": text("dateModified"),
        "authors": jsonld_names(ld.get("author")),
        "category": text("articleSection"),
        "tags": _keywords(ld.get("keywords")),
        "image_url": jsonld_image(ld.get("image")),
    }
    meta_values: dict[str, Any] = {
        "title": meta("og:title", "twitter:title", "title"),
        "description": meta("og:description", "description", "twitter:description"),
        "published_at_raw": meta("article:published_time", "pubdate", "publishdate"),
        "modified_at": meta("article:modified_time", "og:updated_time"),
        "category": meta("article:section"),
        "tags": _keywords(meta("keywords", "news_keywords")),
        "image_url": meta("og:image", "twitter:image"),
    }
    return [("jsonld", jsonld_values), ("meta", meta_values)]


def generic_layer(html: str, url: str) -> dict[str, Any]:
    """Body, title and date from trafilatura / htmldate; only called when fields are missing."""
    import trafilatura  # imported lazily: heavy, and unused on pages the site parser handles
    from htmldate import find_date

    values: dict[str, Any] = {}
    try:
        document = trafilatura.bare_extraction(
            html, url=url, include_comments=False, with_metadata=True, favor_precision=True
        )
    except Exception:  # trafilatura raises assorted errors on broken markup
        logger.warning("trafilatura failed on %s", url, exc_info=True)
        document = None
    if document is not None:
        data = document.as_dict() if hasattr(document, "as_dict") else dict(document)
        text = data.get("text") or ""
        values["body"] = "\n\n".join(split_paragraphs(text.replace("\n", "\n\n"))) or None
        values["title"] = clean_optional(data.get("title"))
        values["description"] = clean_optional(data.get("description"))
        values["tags"] = _keywords(data.get("tags") or data.get("categories"))
        values["image_url"] = clean_optional(data.get("image"))
    try:
        # Structured signals only (meta, <time>, JSON-LD): free-text search finds teaser dates.
        values["published_at_raw"] = find_date(
            html, original_date=True, extensive_search=False, outputformat="%Y-%m-%d"
        )
    except Exception:
        logger.debug("htmldate failed on %s", url, exc_info=True)
    return values


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def fill_missing(
    article: Article,
    layers: list[tuple[str, dict[str, Any]]],
    fallbacks: list[str],
    fields: tuple[str, ...] = FALLBACK_FIELDS,
) -> None:
    """Fill each empty field of ``article`` from the first layer that has a value for it."""
    for name in fields:
        if not _is_empty(getattr(article, name)):
            continue
        for layer, values in layers:
            value = values.get(name)
            if not _is_empty(value):
                setattr(article, name, value)
                fallbacks.append(f"{layer}/{name}")
                break


#: Page furniture that is never the article, whatever the template: a generic extractor
#: reading it takes the header's "today" date for the publication date, or the sidebar's
#: teasers for the body.
CHROME_XPATH = (
    "//header[not(ancestor::article)] | //footer[not(ancestor::article)] | //nav | //aside"
    " | //*[contains(@class, 'topdate') or contains(@class, 'related')"
    " or contains(@class, 'sidebar') or contains(@class, 'comment')]"
)


def without_chrome(selector: Selector, chrome_xpath: str = CHROME_XPATH) -> str:
    """The page's HTML with its furniture removed, for the generic extractor."""
    root = copy.deepcopy(selector.root)
    for node in root.xpath(chrome_xpath):
        remove_keeping_tail(node)
    return str(etree.tostring(root, encoding="unicode", method="html"))


def apply_fallbacks(
    article: Article,
    selector: Selector,
    url: str,
    *,
    unlocated: set[str],
    chrome_xpath: str = CHROME_XPATH,
    problems: list[str] | None = None,
) -> list[str]:
    """Run the metadata layers, then the generic extractor for core fields still empty.

    The generic extractor guesses, so it only fills fields in ``unlocated``: those whose
    site selector found no element at all (the layout changed). An element that is there but
    empty is the page's truth (an empty article body must be dropped, not replaced by the
    sidebar text trafilatura would pick). Nor is a guessed body that is page furniture
    (:func:`is_furniture`) taken; that is reported in ``problems``.
    """
    fallbacks: list[str] = []
    if any(_is_empty(getattr(article, name)) for name in FALLBACK_FIELDS):
        fill_missing(article, metadata_layers(selector), fallbacks)
    guessable = tuple(
        name
        for name in ("title", "body", "published_at_raw")
        if name in unlocated and _is_empty(getattr(article, name))
    )
    if guessable:
        html = without_chrome(selector, chrome_xpath)
        generic = generic_layer(html, url)
        body = generic.get("body")
        if "body" in guessable and body and is_furniture(split_paragraphs(body), selector):
            generic["body"] = None
            if problems is not None:
                problems.append(stats_keys.parser_discarded("generic_body_navigation"))
        fill_missing(article, [("generic", generic)], fallbacks, guessable)
    return fallbacks


# --- Bodies that are not articles ------------------------------------------------------------

#: Elements whose text is page furniture wherever it stands: links (menus, breadcrumbs, tag
#: lists), list items (the breadcrumb's current page is one without a link), headings and
#: captions.
FURNITURE_XPATH = etree.XPath(
    "//a | //li | //h1 | //h2 | //h3 | //h4 | //h5 | //h6 | //title | //figcaption | //caption"
    " | //*[contains(@class, 'caption')] | //button | //label | //option"
)
#: A guessed body whose words are at least this share furniture text is no body. The idea is
#: the link density of boilerplate detectors (boilerpipe, jusText): running text is seldom a
#: link, navigation nearly always is.
MAX_FURNITURE_SHARE = 0.5
# Generic extractors write list items as "- item".
_LIST_MARKER = re.compile(r"^\s*[-*•·]\s+")


def _key(text: str) -> str:
    return clean_text(_LIST_MARKER.sub("", text)).casefold()


def is_furniture(paragraphs: list[str], selector: Selector) -> bool:
    """Whether ``paragraphs`` (a guessed body) are mostly the page's furniture: each counted
    paragraph is, word for word, the text of a link, list item, heading or caption on the
    page (e.g. the breadcrumb "- Beranda / - Kabar Daerah", or the lead image's caption)."""
    keys = [_key(p) for p in paragraphs]
    total = sum(len(key.split()) for key in keys)
    if not total:
        return True
    furniture = {_key(" ".join(node.itertext())) for node in FURNITURE_XPATH(selector.root)}
    furniture_words = sum(len(key.split()) for key in keys if key in furniture)
    return furniture_words / total >= MAX_FURNITURE_SHARE


# --- Encodable output ------------------------------------------------------------------------


def make_encodable(article: Article) -> None:
    """Scrub every text value of ``article`` (:func:`crawler.extract.text.scrub_text`), so nothing a
    page holds (a lone surrogate from a JSON-LD escape, a NUL) leaves the parser unencodable."""
    for name, value in vars(article).items():
        if isinstance(value, str):
            setattr(article, name, scrub_text(value))
        elif isinstance(value, list):
            setattr(article, name, [scrub_text(v) if isinstance(v, str) else v for v in value])
