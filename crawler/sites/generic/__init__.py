"""The parser for any publisher: a config (:mod:`crawler.sites.publisher_config`) instead of
a module.

:class:`GenericSite` has what every site parser of :mod:`crawler.sites` has (``source``,
``site_url``, ``host``, ``timezone``, ``parse_article``) and what the generic news spider
needs besides: :meth:`GenericSite.parse_wp_post` for the WordPress REST API and
:meth:`GenericSite.is_article_url` for listing links. Pages are read through the layers of
:mod:`crawler.sites.generic.page`; REST posts by :mod:`crawler.sites.generic.wordpress`.

Pure: no Scrapy, no network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from crawler.extract.layers import ParsedArticle
from crawler.sites.generic.fields import ConfiguredSelectors, SiteIdentity
from crawler.sites.generic.page import parse_page
from crawler.sites.generic.urls import looks_like_article
from crawler.sites.generic.wordpress import parse_wp_post
from crawler.sites.publisher_config import PublisherConfig


class GenericSite:
    """One publisher, parsed by the generic layers and its config's selectors."""

    def __init__(self, config: PublisherConfig) -> None:
        self.config = config
        #: The records' ``source``: the config's name.
        self.source = config.name
        self.site_url = config.origin
        self.host = config.host
        self.timezone = config.timezone
        self._selectors = ConfiguredSelectors(config.selectors)
        self._identity = SiteIdentity(config)
        pattern = config.discovery.article_pattern
        self._article_pattern = re.compile(pattern) if pattern else None

    def __repr__(self) -> str:
        return f"GenericSite({self.source!r})"

    def parse_article(self, html: str, url: str) -> ParsedArticle:
        """Parse one article page; ``url`` is the page's live URL. Values are cleaned here;
        ``normalize_article`` enforces the schema's invariants on top."""
        return parse_page(self.config, self._selectors, self._identity, html, url)

    def parse_wp_post(self, post: Mapping[str, Any]) -> ParsedArticle:
        """Parse one element of a ``/wp-json/wp/v2/posts?_embed=1`` response."""
        return parse_wp_post(self.config, self._identity, post)

    def is_article_url(self, url: str) -> bool:
        """Whether ``url`` is an article page: the config's ``article_pattern`` searched in
        its path, else the generic shape test (:func:`crawler.sites.generic.urls.
        looks_like_article`). The host is not checked."""
        if self._article_pattern is not None:
            return bool(self._article_pattern.search(urlsplit(url).path or "/"))
        return looks_like_article(url)
