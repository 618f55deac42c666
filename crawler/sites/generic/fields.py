"""What every generic parse needs, page or REST API: the body cleaner, the configured
selectors, and the rules that keep the site's own name out of the authors and the title.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lxml import etree

from crawler.extract.article_body import split_any_dateline, split_publisher_body
from crawler.extract.html_text import element_blocks
from crawler.extract.normalize import canonical_url, distinct, split_names
from crawler.extract.text import clean_optional, clean_text
from crawler.sites.publisher_config import PublisherConfig, domain_label, selector_xpath

#: Inside a body element: scripts, ads, share bars, related-post boxes, captions, tag lists,
#: author boxes and comment forms, by the class names WordPress themes (JNews ``jeg_*``,
#: tagDiv ``td-*``/``tdb-*``, Jetpack) and custom CMSs give them.
_NOISE_CLASSES = (
    "share",
    "social",
    "sosmed",
    "related",
    "baca-juga",
    "bacajuga",
    "advert",
    "iklan",
    "adsbygoogle",
    "google-auto-placed",
    "jeg_ad",
    "td-a-rec",
    "td-a-ad",
    "caption",
    "post-tags",
    "post_tags",
    "tagcloud",
    "tdb-tags",
    "tag-berita",
    "author-box",
    "newsletter",
    "comment",
    "sharedaddy",
    "jp-relatedposts",
)
BODY_NOISE = " | ".join(
    [
        ".//script",
        ".//style",
        ".//ins",
        ".//noscript",
        ".//iframe",
        ".//form",
        ".//figure",
        ".//figcaption",
        ".//button",
        *(f".//*[contains(@class, '{name}')]" for name in _NOISE_CLASSES),
    ]
)
#: Names that stand for the newsroom, not a person.
_NOT_PEOPLE = re.compile(
    r"^(admin|administrator|redaksi|tim redaksi|editor|web ?admin|reporter|penulis|"
    r"kontributor|wartawan|humas)$",
    re.IGNORECASE,
)
_LOOKS_LIKE_DOMAIN = re.compile(r"(^www\.|\.(com|co|id|net|org|news|info|web)\b)", re.IGNORECASE)
_PLACEHOLDER_IMAGE = re.compile(r"no-image|placeholder|blank\.(gif|png)|data:image", re.IGNORECASE)
_IMAGE_ATTRIBUTES = ("data-src", "data-lazy-src", "data-original", "src")


def _compact(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


class SiteIdentity:
    """The names the site goes by, to tell them from people and to cut them off titles."""

    def __init__(self, config: PublisherConfig) -> None:
        # The registrable label ("tabengan", "tribunnews") and the config's names; not the
        # other labels ("kalteng" of kalteng.tribunnews.com is a place, not the site).
        names = (config.site_name, config.name, domain_label(config.host))
        self.keys = {key for key in map(_compact, names) if len(key) >= 4}

    def is_site(self, name: str) -> bool:
        key = _compact(name)
        if not key:
            return True
        if _NOT_PEOPLE.match(clean_text(name)) or _LOOKS_LIKE_DOMAIN.search(name):
            return True
        return any(key == site or site in key for site in self.keys)

    def people(self, names: Any) -> list[str]:
        """``names`` (a string or a list) split into people, the site's own names left out."""
        if not names:
            return []
        return [name for name in split_names(names) if not self.is_site(name)]

    def strip_title(self, title: str | None) -> str | None:
        """``title`` without a trailing " - Site Name" / " | site.com"."""
        if not title:
            return title
        parts = re.split(r"\s+[|\u2013\u2014-]\s+", title)
        while len(parts) > 1 and self.is_site(parts[-1]):
            parts.pop()
        return clean_optional(" - ".join(parts))


def clean_body(element: Any) -> tuple[list[str], dict[str, str], str | None]:
    """Paragraphs, byline fields and dateline of a body element."""
    paragraphs, byline = split_publisher_body(element_blocks(element, BODY_NOISE))
    dateline = None
    if paragraphs:
        dateline, paragraphs[0] = split_any_dateline(paragraphs[0])
        if not paragraphs[0]:
            paragraphs.pop(0)
    return paragraphs, byline, dateline


def clean_text_paragraphs(paragraphs: list[str]) -> tuple[list[str], dict[str, str], str | None]:
    """:func:`clean_body` for text already split into paragraphs (JSON-LD ``articleBody``, a
    generic extractor's output)."""
    body, byline = split_publisher_body([[p] for p in paragraphs if p])
    dateline = None
    if body:
        dateline, body[0] = split_any_dateline(body[0])
        if not body[0]:
            body.pop(0)
    return body, byline, dateline


def byline_people(byline: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(authors, editors) text of byline fields ("Penulis"/"Reporter"/"Pewarta", "Editor")."""
    authors = byline.get("penulis") or byline.get("reporter") or byline.get("pewarta")
    return authors, byline.get("editor")


class ConfiguredSelectors:
    """A config's ``[selectors]``, compiled once, run on a page tree."""

    def __init__(self, selectors: Mapping[str, str]) -> None:
        self.xpaths = {name: etree.XPath(selector_xpath(sel)) for name, sel in selectors.items()}

    def __contains__(self, name: str) -> bool:
        return name in self.xpaths

    def results(self, name: str, root: Any) -> list[Any]:
        """Elements or strings the field's selector finds ([] when none, or no selector)."""
        xpath = self.xpaths.get(name)
        if xpath is None:
            return []
        found = xpath(root)
        return list(found) if isinstance(found, list) else [found]

    def text(self, name: str, root: Any) -> str | None:
        for result in self.results(name, root):
            value = clean_optional(_text_of(result))
            if value:
                return value
        return None

    def texts(self, name: str, root: Any) -> list[str]:
        return distinct(_text_of(result) for result in self.results(name, root))

    def image(self, name: str, root: Any, base: str) -> str | None:
        for result in self.results(name, root):
            if isinstance(result, str):
                url = clean_optional(result)
            else:
                images = [result] if result.tag == "img" else result.xpath(".//img")
                url = image_source(images[0]) if images else None
            if url:
                return canonical_url(url, base=base, force_https=False)
        return None


def _text_of(result: Any) -> str:
    if isinstance(result, str):
        return str(result)
    if hasattr(result, "itertext"):
        return " ".join(result.itertext())
    return str(result)


def image_source(image: Any) -> str | None:
    """The real image of a (lazy-loaded) ``<img>``: its first attribute that is no placeholder."""
    for attribute in _IMAGE_ATTRIBUTES:
        value = (image.get(attribute) or "").strip()
        if value and not _PLACEHOLDER_IMAGE.search(value):
            return value
    return None
