"""A post of the WordPress REST API (``/wp-json/wp/v2/posts?_embed=1``) as an Article.

One element of the response is read as the page would be: ``title.rendered`` and
``excerpt.rendered`` (HTML), ``content.rendered`` (HTML, cleaned as a page's body element:
share bars, related posts, "Baca Juga", bylines, datelines), ``date_gmt``/``modified_gmt``
(UTC, no suffix) or ``date``/``modified`` (the site's zone), ``link``, and from ``_embedded``:
``author[].name``, ``wp:term`` (taxonomy ``category`` -> category, ``post_tag`` -> tags) and
``wp:featuredmedia[0]`` (``source_url``, ``caption.rendered``). ``yoast_head_json`` (Yoast SEO),
when present, is a metadata layer under the post's own fields: its fills are reported as
``yoast/<field>``; authors found only in the body's byline as ``byline/authors``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from crawler import stats_keys
from crawler.extract.article_body import split_any_dateline
from crawler.extract.dates import OUT_OF_RANGE, parse_date_checked
from crawler.extract.html_tree import parse_html
from crawler.extract.layers import ParsedArticle, make_encodable
from crawler.extract.normalize import canonical_url, distinct, join_paragraphs, split_caption
from crawler.extract.text import clean_optional
from crawler.items import Article
from crawler.sites.generic.fields import SiteIdentity, byline_people, clean_body
from crawler.sites.publisher_config import PublisherConfig

_HAS_ZONE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
# WordPress's automatic excerpt ends "[&hellip;]"; themes add "Read more" / "Selengkapnya".
_EXCERPT_TAILS = ("[…]", "[...]", "…", "Read more", "Selengkapnya", "Baca selengkapnya")


def _fragment(html: Any) -> Any:
    """The ``<div>`` holding an HTML fragment of the API (``content.rendered``...)."""
    text = html if isinstance(html, str) else ""
    return parse_html(f"<html><body><div>{text}</div></body></html>").find(".//body/div")


def _rendered(post: Mapping[str, Any], key: str) -> str | None:
    value = post.get(key)
    if isinstance(value, Mapping):
        value = value.get("rendered")
    if not isinstance(value, str) or not value.strip():
        return None
    return clean_optional(" ".join(_fragment(value).itertext()))


def _excerpt(post: Mapping[str, Any]) -> str | None:
    """The excerpt without WordPress's "[…]" tail, and without the body's dateline."""
    text = _rendered(post, "excerpt")
    if text:
        text = split_any_dateline(text)[1]
    for tail in _EXCERPT_TAILS:
        if text and text.endswith(tail):
            text = text[: -len(tail)].rstrip(" .")
    return clean_optional(text)


def _embedded(post: Mapping[str, Any], key: str) -> list[Any]:
    embedded = post.get("_embedded")
    value = embedded.get(key) if isinstance(embedded, Mapping) else None
    return value if isinstance(value, list) else []


def _terms(post: Mapping[str, Any], taxonomy: str) -> list[str]:
    names = []
    for group in _embedded(post, "wp:term"):
        for term in group if isinstance(group, list) else []:
            if isinstance(term, Mapping) and term.get("taxonomy") == taxonomy:
                names.append(_text(term.get("name")) or "")
    return distinct(names)


def _featured(post: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(image URL, caption text) of the featured image; an error object (the media is
    private) yields none."""
    media = _embedded(post, "wp:featuredmedia")
    first = media[0] if media and isinstance(media[0], Mapping) else {}
    url = first.get("source_url")
    return (
        clean_optional(url) if isinstance(url, str) else None,
        _rendered(first, "caption"),
    )


def _text(value: Any) -> str | None:
    """``value`` if it is a non-empty string (API fields hold anything on a broken site)."""
    return clean_optional(value) if isinstance(value, str) else None


def _yoast(post: Mapping[str, Any]) -> dict[str, Any]:
    """Candidate values (strings, or None) from ``yoast_head_json``."""
    yoast = post.get("yoast_head_json")
    if not isinstance(yoast, Mapping):
        return {}
    images = yoast.get("og_image")
    first_image = images[0] if isinstance(images, list) and images else None
    misc = yoast.get("twitter_misc")
    written_by = None
    if isinstance(misc, Mapping):
        written_by = next(
            (v for k, v in misc.items() if str(k).lower() in ("ditulis oleh", "written by")), None
        )
    return {
        "title": _text(yoast.get("og_title")) or _text(yoast.get("title")),
        "description": _text(yoast.get("og_description")) or _text(yoast.get("description")),
        "published_at": _text(yoast.get("article_published_time")),
        "modified_at": _text(yoast.get("article_modified_time")),
        "authors": _text(yoast.get("author")) or _text(written_by),
        "image_url": _text(first_image.get("url")) if isinstance(first_image, Mapping) else None,
    }


def post_url(post: Mapping[str, Any]) -> str | None:
    """The canonical URL of the post's article (``link``, else ``guid``), or None when it has
    no http(s) one: the records' ``url``, and the key the page archive keeps the post under."""
    if not isinstance(post, Mapping):
        return None
    link = _text(post.get("link")) or _rendered(post, "guid") or ""
    return canonical_url(link) if urlsplit(link).scheme in ("http", "https") else None


def parse_wp_post(
    config: PublisherConfig, identity: SiteIdentity, post: Mapping[str, Any]
) -> ParsedArticle:
    """The Article of one REST API post of ``config``'s publisher. Pure; a post that is no
    JSON object, or fields of the wrong type, give an empty or partial record, never an error."""
    if not isinstance(post, Mapping):
        post = {}
    fallbacks: list[str] = []
    problems: list[str] = []
    yoast = _yoast(post)
    url = post_url(post)

    paragraphs: list[str] = []
    byline: dict[str, str] = {}
    dateline: str | None = None
    content = post.get("content")
    if isinstance(content, Mapping) and isinstance(content.get("rendered"), str):
        paragraphs, byline, dateline = clean_body(_fragment(content["rendered"]))
    authors_text, editors_text = byline_people(byline)
    image_url, caption_text = _featured(post)

    def pick(name: str, own: Any, *, layer: str = "yoast", fallback: Any = None) -> Any:
        if own not in (None, "", []):
            return own
        if fallback not in (None, "", []):
            fallbacks.append(f"{layer}/{name}")
            return fallback
        return own

    authors = [
        getattr(a, "get", lambda _: None)("name") for a in _embedded(post, "author")
    ]  # an author the API hides is an error object without "name"
    people = identity.people([a for a in authors if isinstance(a, str)])
    people = pick("authors", people, fallback=identity.people(yoast.get("authors")))
    people = pick("authors", people, layer="byline", fallback=identity.people(authors_text))

    raw = _text(post.get("date"))
    published = _utc(post.get("date_gmt")) or _local(raw, config, "published_at", problems)
    if published is None and yoast.get("published_at"):
        raw = raw or yoast["published_at"]
        published = _local(yoast["published_at"], config, "published_at", problems)
        fallbacks.append("yoast/published_at_raw")
    modified_raw = _text(post.get("modified"))
    modified = _utc(post.get("modified_gmt")) or _local(
        modified_raw or yoast.get("modified_at"), config, "modified_at", problems
    )
    caption, credit = split_caption(caption_text)
    article = Article(
        url=url,
        source=config.name,
        site_name=config.site_name,
        region=config.region,
        language=config.language,
        title=pick("title", _rendered(post, "title"), fallback=yoast.get("title")),
        description=pick("description", _excerpt(post), fallback=yoast.get("description")),
        body=join_paragraphs(paragraphs) or None,
        dateline=dateline,
        published_at=published,
        published_at_raw=clean_optional(raw),
        modified_at=modified,
        authors=people,
        editors=identity.people(editors_text),
        category=next(iter(_terms(post, "category")), None),
        tags=_terms(post, "post_tag"),
        image_url=pick("image_url", image_url, fallback=yoast.get("image_url")),
        image_caption=caption,
        image_credit=credit,
    )
    if article.image_url and url:
        article.image_url = canonical_url(article.image_url, base=url, force_https=False)
    make_encodable(article)
    return ParsedArticle(article=article, fallbacks=fallbacks, problems=problems)


def _utc(value: Any) -> datetime | None:
    """A ``*_gmt`` value ("2026-01-27T02:15:00", UTC without a suffix)."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if not _HAS_ZONE.search(value):
        value += "+00:00"
    return parse_date_checked(value, default_tz="UTC").value


def _local(value: Any, config: PublisherConfig, name: str, problems: list[str]) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    result = parse_date_checked(value, default_tz=config.timezone)
    if result.problem == OUT_OF_RANGE:
        problems.append(stats_keys.date_out_of_range(name))
    return result.value
