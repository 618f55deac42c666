"""One module per news site; ``SITES`` maps a spider's name (the records' ``source``) to it.

A site module defines ``SOURCE``, ``SITE_URL`` and ``parse_article(html, url) -> ParsedArticle``.
"""

from __future__ import annotations

from types import ModuleType

from crawler.sites import antara_kalteng

SITES: dict[str, ModuleType] = {antara_kalteng.SOURCE: antara_kalteng}


def site_for(source: str) -> ModuleType:
    """The site module that parses records of ``source``; KeyError names the known ones."""
    try:
        return SITES[source]
    except KeyError:
        raise KeyError(f"unknown source {source!r}; known: {', '.join(sorted(SITES))}") from None
