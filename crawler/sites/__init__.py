"""Site knowledge, offline: the registry of every site the crawler knows.

``SITES`` maps a source (a spider's name, the records' ``source``) to its parser, an object
with ``source``, ``site_url``, ``host``, ``timezone`` and
``parse_article(html, url) -> ParsedArticle``; ``DESKS_BY_HOST`` maps a live host to its
desk row. Today every site is an ANTARA desk (:mod:`crawler.sites.antara_desks`, one row each,
parsed by :class:`crawler.sites.antara.AntaraSite`); another CMS would be another module here
and its entries in ``SITES``.

No Scrapy, no database: parsers run in tests, in ``reparse`` and in a notebook.
"""

from __future__ import annotations

from crawler.sites.antara import AntaraSite
from crawler.sites.antara_desks import DESKS, Desk

SITES: dict[str, AntaraSite] = {desk.spider_name: AntaraSite(desk) for desk in DESKS}
DESKS_BY_SOURCE: dict[str, Desk] = {desk.spider_name: desk for desk in DESKS}
DESKS_BY_HOST: dict[str, Desk] = {desk.host: desk for desk in DESKS}


def site_for(source: str) -> AntaraSite:
    """The parser of records of ``source``; KeyError names the known ones."""
    try:
        return SITES[source]
    except KeyError:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(sorted(SITES))}") from None


def desk_for_host(host: str) -> Desk | None:
    """The desk whose live site is ``host`` (``m.``/``amp.`` variants included), or None."""
    host = host.lower().rstrip(".")
    for prefix in ("m.", "amp."):
        if host.startswith(prefix) and host[len(prefix) :] in DESKS_BY_HOST:
            return DESKS_BY_HOST[host[len(prefix) :]]
    return DESKS_BY_HOST.get(host)


def timezone_for(source: str | None) -> str | None:
    """The IANA zone of the pages of ``source`` (its desk's), or None for an unknown source."""
    desk = DESKS_BY_SOURCE.get(source or "")
    return desk.timezone if desk else None
