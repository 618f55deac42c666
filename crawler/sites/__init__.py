"""Site knowledge, offline: the registry of every site the crawler knows.

``SITES`` maps a source (a spider's name, the records' ``source``) to its parser, an object
with ``source``, ``site_url``, ``host``, ``timezone`` and
``parse_article(html, url) -> ParsedArticle`` (:class:`SiteParser`). Two kinds are there:
the ANTARA desks (:mod:`crawler.sites.antara_desks`, one row each, parsed by
:class:`crawler.sites.antara.AntaraSite`) and the publishers of the shipped configs
(:mod:`crawler.sites.publisher_config`, ``publishers/<name>.toml``, parsed by
:class:`crawler.sites.generic.GenericSite`). :func:`site_for_url` finds the parser for any
URL, a zero-config :class:`GenericSite` for a host nobody described.

No Scrapy, no database: parsers run in tests, in ``reparse`` and in a notebook.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from crawler.extract.layers import ParsedArticle
from crawler.sites.antara import AntaraSite
from crawler.sites.antara_desks import DESKS, Desk
from crawler.sites.generic import GenericSite
from crawler.sites.publisher_config import PublisherConfig, shipped_configs, zero_config


class SiteParser(Protocol):
    """What every site's parser offers."""

    source: str
    site_url: str
    host: str
    timezone: str

    def parse_article(self, html: str, url: str) -> ParsedArticle: ...


DESKS_BY_SOURCE: dict[str, Desk] = {desk.spider_name: desk for desk in DESKS}
DESKS_BY_HOST: dict[str, Desk] = {desk.host: desk for desk in DESKS}
#: Name -> config of every shipped publisher.
PUBLISHERS: dict[str, PublisherConfig] = shipped_configs()
PUBLISHERS_BY_HOST: dict[str, PublisherConfig] = {c.host: c for c in PUBLISHERS.values()}
_clashes = set(PUBLISHERS) & set(DESKS_BY_SOURCE)
if _clashes:  # a config must not shadow a desk's spider
    raise ValueError(f"publisher configs reuse desk names: {', '.join(sorted(_clashes))}")

SITES: dict[str, AntaraSite | GenericSite] = {
    **{desk.spider_name: AntaraSite(desk) for desk in DESKS},
    **{name: GenericSite(config) for name, config in PUBLISHERS.items()},
}


def site_for(source: str) -> AntaraSite | GenericSite:
    """The parser of records of ``source``; KeyError names the known ones."""
    try:
        return SITES[source]
    except KeyError:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(sorted(SITES))}") from None


def _variants(host: str) -> list[str]:
    """``host`` and, for ``m.``/``amp.``/``www.`` hosts, the host without the prefix; for a
    bare host, its ``www.`` form."""
    host = host.lower().rstrip(".")
    hosts = [host]
    for prefix in ("m.", "amp.", "www."):
        if host.startswith(prefix):
            hosts.append(host[len(prefix) :])
            if prefix != "www.":
                hosts.append(f"www.{host[len(prefix) :]}")
    if not host.startswith("www."):
        hosts.append(f"www.{host}")
    return hosts


def desk_for_host(host: str) -> Desk | None:
    """The desk whose live site is ``host`` (``m.``/``amp.`` variants included), or None."""
    host = host.lower().rstrip(".")
    for prefix in ("m.", "amp."):
        if host.startswith(prefix) and host[len(prefix) :] in DESKS_BY_HOST:
            return DESKS_BY_HOST[host[len(prefix) :]]
    return DESKS_BY_HOST.get(host)


def publisher_for_host(host: str) -> PublisherConfig | None:
    """The shipped config whose live site is ``host`` (``www.``/``m.``/``amp.`` variants
    included), or None."""
    for candidate in _variants(host):
        if candidate in PUBLISHERS_BY_HOST:
            return PUBLISHERS_BY_HOST[candidate]
    return None


def site_for_url(url: str) -> AntaraSite | GenericSite:
    """The parser of the page at ``url``: its desk's or shipped publisher's, else a
    zero-config :class:`GenericSite` named after the host. ConfigError (a ValueError) for a
    URL that is not http(s)."""
    host = (urlsplit(url if "://" in url else f"https://{url}").hostname or "").lower()
    desk = desk_for_host(host)
    if desk is not None:
        return SITES[desk.spider_name]
    config = publisher_for_host(host)
    if config is not None:
        return SITES[config.name]
    return GenericSite(zero_config(url))


def timezone_for(source: str | None) -> str | None:
    """The IANA zone of the pages of ``source`` (its desk's or its config's), or None for an
    unknown source: a zero-config crawl's records get their spider's zone instead (WIB,
    ``publisher_config.ZERO_CONFIG_TIMEZONE``, or ``-a timezone=``; pipelines.normalize)."""
    desk = DESKS_BY_SOURCE.get(source or "")
    if desk is not None:
        return desk.timezone
    config = PUBLISHERS.get(source or "")
    return config.timezone if config else None
