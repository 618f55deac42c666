"""An article page of any publisher, field by field through the layers.

For each field the first layer with a value wins:

1. ``site``: the config's ``[selectors]`` (the publisher's own markup; not a fallback);
2. ``jsonld``: the JSON-LD ``NewsArticle``/``Article`` (Yoast's ``@graph`` included);
3. ``meta``: OpenGraph / ``article:*`` / ``<meta name>`` tags;
4. ``page``: markup every CMS shares (:mod:`crawler.sites.generic.markup`): the body
   containers of WordPress themes and news CMSs (``itemprop=articleBody``, ``.content-inner``,
   ``.td-post-content``, ``.txt-article``...), ``<h1>``, the date, byline and lead image next
   to it, the breadcrumb's section, tag links, the article's ``<figcaption>``; ``byline``: the
   body's "Penulis:"/"Editor:" lines;
5. ``generic``: trafilatura / htmldate (title, body, date only).

The body is the exception: a CMS container (layer 4) comes before JSON-LD ``articleBody``,
which is plain text without paragraphs and often cut short. Bodies from any layer go through
the same cleaning (:func:`crawler.extract.article_body.split_publisher_body`, dateline split).

Every fill from layers 2-5 is reported as ``"<layer>/<field>"`` in ``ParsedArticle.fallbacks``,
so a crawl's stats show how much of a publisher's records the generic layers make.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lxml import etree
from parsel import Selector

from crawler import stats_keys
from crawler.extract.dates import OUT_OF_RANGE, parse_date_checked
from crawler.extract.html_tree import parse_html
from crawler.extract.layers import (
    ParsedArticle,
    generic_layer,
    is_furniture,
    jsonld_article,
    jsonld_image,
    jsonld_names,
    make_encodable,
    metadata_layers,
    walk_jsonld,
    without_chrome,
)
from crawler.extract.normalize import (
    canonical_url,
    distinct,
    join_paragraphs,
    split_caption,
    split_paragraphs,
)
from crawler.extract.text import clean_optional
from crawler.items import Article
from crawler.sites.generic.fields import (
    ConfiguredSelectors,
    SiteIdentity,
    byline_people,
    clean_body,
    clean_text_paragraphs,
)
from crawler.sites.generic.markup import (
    BODY_CONTAINERS,
    breadcrumb_category,
    byline_names,
    lead_image,
    tag_links,
    visible_date,
)
from crawler.sites.publisher_config import PublisherConfig

#: A container holding fewer words than this is a teaser or a widget, not the body.
MIN_BODY_WORDS = 40
_H1 = etree.XPath("//h1")
_TITLE = etree.XPath("//title")
_ARTICLE_CAPTION = etree.XPath(
    "//article//figure//figcaption | //*[contains(@class, 'wp-caption-text')]"
)
_META_LIST = "//meta[@property='{0}' or @name='{0}']/@content"


class _Fields:
    """Fills an Article field by field, remembering which layer each value came from."""

    def __init__(self, article: Article) -> None:
        self.article = article
        self.fallbacks: list[str] = []

    def fill(self, name: str, *layers: tuple[str, Callable[[], Any]]) -> None:
        """Set field ``name`` from the first layer with a value, unless it has one already."""
        if getattr(self.article, name) not in (None, "", []):
            return
        for layer, value_of in layers:
            value = value_of()
            if value not in (None, "", []):
                setattr(self.article, name, value)
                if layer != "site":
                    self.fallbacks.append(f"{layer}/{name}")
                return


def parse_page(
    config: PublisherConfig,
    selectors: ConfiguredSelectors,
    identity: SiteIdentity,
    html: str,
    url: str,
) -> ParsedArticle:
    """Parse one article page of ``config``'s publisher; ``url`` is its live URL. Pure."""
    url = canonical_url(url)
    selector = Selector(root=parse_html(html or ""))
    root = selector.root
    ld = _resolve_references(jsonld_article(selector), selector)
    jsonld, meta = (values for _, values in metadata_layers(selector))
    if ld:
        jsonld["authors"] = jsonld_names(ld.get("author"))
        jsonld["image_url"] = jsonld["image_url"] or jsonld_image(ld.get("image"))
    article = Article(
        url=url,
        source=config.name,
        site_name=config.site_name,
        region=config.region,
        language=config.language,
    )
    fields = _Fields(article)
    problems: list[str] = []

    body, byline, dateline = _body(selectors, root, fields)
    authors_text, editors_text = byline_people(byline)

    def site(name: str) -> tuple[str, Callable[[], Any]]:
        return ("site", lambda: selectors.text(name, root))

    def meta_all(name: str) -> list[str]:
        return distinct(str(v) for v in root.xpath(_META_LIST.format(name)))

    fields.fill(
        "title",
        site("title"),
        ("jsonld", lambda: jsonld["title"]),
        ("meta", lambda: identity.strip_title(meta["title"])),
        ("page", lambda: clean_optional(" ".join(_H1(root)[0].itertext())) if _H1(root) else None),
        ("page", lambda: identity.strip_title(_first_text(_TITLE(root)))),
    )
    fields.fill(
        "description",
        site("description"),
        ("jsonld", lambda: jsonld["description"]),
        ("meta", lambda: meta["description"]),
    )
    fields.fill(
        "published_at_raw",
        site("published_at"),
        ("jsonld", lambda: jsonld["published_at_raw"]),
        ("meta", lambda: meta["published_at_raw"]),
        ("page", lambda: visible_date(root, config.timezone)),
    )
    modified_layers = (
        ("site", selectors.text("modified_at", root)),
        ("jsonld", jsonld["modified_at"]),
        ("meta", meta["modified_at"]),
    )
    modified_layer, modified_raw = next(
        ((layer, value) for layer, value in modified_layers if value), ("site", None)
    )
    if modified_raw and modified_layer != "site":
        fields.fallbacks.append(f"{modified_layer}/modified_at")
    fields.fill(
        "authors",
        ("site", lambda: identity.people(selectors.texts("authors", root))),
        ("jsonld", lambda: identity.people(jsonld["authors"])),
        ("meta", lambda: identity.people([a for a in meta_all("article:author") if "/" not in a])),
        ("byline", lambda: identity.people(authors_text)),
        ("page", lambda: identity.people(byline_names(root))),
        ("meta", lambda: identity.people(meta_all("author"))),
    )
    fields.fill(
        "editors",
        ("site", lambda: identity.people(selectors.texts("editors", root))),
        ("byline", lambda: identity.people(editors_text)),
    )
    fields.fill(
        "category",
        site("category"),
        ("jsonld", lambda: jsonld["category"] or _first_section(ld)),
        ("meta", lambda: meta["category"]),
        ("page", lambda: breadcrumb_category(root, article.title)),
    )
    fields.fill(
        "tags",
        ("site", lambda: selectors.texts("tags", root)),
        ("jsonld", lambda: jsonld["tags"]),
        ("meta", lambda: meta_all("article:tag")),
        ("page", lambda: tag_links(root)),
        ("meta", lambda: meta["tags"]),
    )
    fields.fill(
        "image_url",
        ("site", lambda: selectors.image("image_url", root, url)),
        ("jsonld", lambda: jsonld["image_url"]),
        ("meta", lambda: meta["image_url"]),
        ("page", lambda: lead_image(root)),
    )
    if article.image_url:
        article.image_url = canonical_url(article.image_url, base=url, force_https=False)
    caption_text = selectors.text("image_caption", root)
    if caption_text is None:
        caption_text = _jsonld_caption(ld) or _first_text(_ARTICLE_CAPTION(root))
        if caption_text:
            fields.fallbacks.append("page/image_caption")
    article.image_caption, article.image_credit = split_caption(caption_text)

    guessed: dict[str, Any] = {}

    def generic() -> dict[str, Any]:
        """trafilatura's and htmldate's guesses, made at most once (they cost ~20 ms)."""
        if not guessed:
            guessed.update(generic_layer(without_chrome(selector), url) or {"": None})
        return guessed

    if body is None:
        body, dateline = _generic_body(selector, jsonld, generic, fields, problems)
    article.body = join_paragraphs(body or []) or None
    article.dateline = dateline
    fields.fill("title", ("generic", lambda: generic().get("title")))
    fields.fill("published_at_raw", ("generic", lambda: generic().get("published_at_raw")))

    article.published_at = _date(article.published_at_raw, "published_at", config, problems)
    article.modified_at = _date(modified_raw, "modified_at", config, problems)
    make_encodable(article)
    return ParsedArticle(article=article, fallbacks=fields.fallbacks, problems=problems)


def _body(
    selectors: ConfiguredSelectors, root: Any, fields: _Fields
) -> tuple[list[str] | None, dict[str, str], str | None]:
    """The body from the configured element, else from the first CMS container that holds
    one; (None, {}, None) if neither does."""
    configured = [r for r in selectors.results("body", root) if not isinstance(r, str)]
    if configured:
        paragraphs, byline, dateline = clean_body(configured[0])
        if paragraphs:
            return paragraphs, byline, dateline
    for container in BODY_CONTAINERS:
        for element in container(root):
            paragraphs, byline, dateline = clean_body(element)
            if sum(len(p.split()) for p in paragraphs) >= MIN_BODY_WORDS:
                fields.fallbacks.append("page/body")
                return paragraphs, byline, dateline
    return None, {}, None


def _generic_body(
    selector: Selector,
    jsonld: dict[str, Any],
    generic: Callable[[], dict[str, Any]],
    fields: _Fields,
    problems: list[str],
) -> tuple[list[str] | None, str | None]:
    """The body from JSON-LD ``articleBody``, else trafilatura's guess (unless it is the
    page's furniture)."""
    if jsonld.get("body"):
        paragraphs, _, dateline = clean_text_paragraphs(split_paragraphs(jsonld["body"]))
        if paragraphs:
            fields.fallbacks.append("jsonld/body")
            return paragraphs, dateline
    guessed = generic().get("body")
    if guessed:
        paragraphs, _, dateline = clean_text_paragraphs(split_paragraphs(guessed))
        if paragraphs and not is_furniture(paragraphs, selector):
            fields.fallbacks.append("generic/body")
            return paragraphs, dateline
        problems.append(stats_keys.parser_discarded("generic_body_navigation"))
    return None, None


def _resolve_references(ld: dict[str, Any], selector: Selector) -> dict[str, Any]:
    """``ld`` with its ``author`` and ``image`` references (``{"@id": ...}``, as Yoast's
    ``@graph`` writes them) replaced by the objects they name."""
    if not ld:
        return ld
    index: dict[str, dict[str, Any]] = {}
    for script in selector.xpath('//script[@type="application/ld+json"]/text()').getall():
        try:
            data = json.loads(script)
        except (ValueError, RecursionError):
            continue
        for node in walk_jsonld(data):
            if isinstance(node.get("@id"), str):
                index.setdefault(node["@id"], node)

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if isinstance(value, dict) and set(value) == {"@id"}:
            return index.get(str(value["@id"]), value)
        return value

    return {**ld, "author": resolve(ld.get("author")), "image": resolve(ld.get("image"))}


def _first_text(nodes: list[Any]) -> str | None:
    return clean_optional(" ".join(nodes[0].itertext())) if nodes else None


def _first_section(ld: dict[str, Any]) -> str | None:
    section = ld.get("articleSection")
    if isinstance(section, list) and section and isinstance(section[0], str):
        return clean_optional(section[0])
    return None


def _jsonld_caption(ld: dict[str, Any]) -> str | None:
    image = ld.get("image")
    if isinstance(image, list):
        image = image[0] if image else None
    caption = image.get("caption") if isinstance(image, dict) else None
    return clean_optional(caption) if isinstance(caption, str) else None


def _date(raw: str | None, name: str, config: PublisherConfig, problems: list[str]) -> Any:
    result = parse_date_checked(raw, default_tz=config.timezone)
    if result.problem == OUT_OF_RANGE:
        problems.append(stats_keys.date_out_of_range(name))
    return result.value
