"""The discovery methods, in order of preference, and what a publisher config lets run.

Preference: the WordPress REST API (one request per 100 articles, no page downloads), then
sitemaps (every article with its date, cheaply), then feeds (the newest articles), then
listing pages (the home page and sections, paginated; always possible, costliest).

Every method is tried, each when the one before found nothing; a config's hints
(:class:`crawler.sites.publisher_config.Discovery`) change that: ``wp_api = false`` leaves the
API out, ``wp_api = true`` uses only the API (no other method is probed); ``sitemaps``,
``feeds`` and ``listings`` add their URLs to what each method finds on its own (robots.txt's
sitemaps, the home page's feeds, the home page), so they add to the order, never reorder it.
"""

from __future__ import annotations

from typing import Final, Protocol

WP_API: Final = "wp_api"
SITEMAP: Final = "sitemap"
FEED: Final = "feed"
LISTING: Final = "listing"
ORDER: Final = (WP_API, SITEMAP, FEED, LISTING)


class DiscoveryHints(Protocol):
    """What :class:`crawler.sites.publisher_config.Discovery` holds, as far as order goes."""

    @property
    def wp_api(self) -> bool | None: ...


def planned_methods(hints: DiscoveryHints) -> tuple[str, ...]:
    """The methods to try, in order (see the module docstring)."""
    if hints.wp_api is True:
        return (WP_API,)
    if hints.wp_api is False:
        return tuple(method for method in ORDER if method != WP_API)
    return ORDER
