"""Names from hosts: what a site without a config is called.

Pure and offline: the public suffix list is tldextract's bundled snapshot, never fetched.
"""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import urlsplit

#: What a source name looks like (spider names, the records' ``source``).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
#: Host prefixes that name a variant of the same site, not another one.
_VARIANT_PREFIXES = ("www.", "m.", "amp.", "mobile.")


@functools.cache
def _extractor() -> Any:
    import tldextract  # imported lazily: loading the suffix list takes ~50 ms

    # No suffix_list_urls: the bundled snapshot, never the network; no cache directory either.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def domain_label(host: str) -> str:
    """The registrable label of ``host``: ``kalteng.tribunnews.com`` -> ``tribunnews``,
    ``www.borneonews.co.id`` -> ``borneonews`` (the host itself for an IP or ``localhost``)."""
    return str(_extractor()(host.lower()).domain or host.lower())


def source_name(host: str) -> str:
    """The zero-config name of a site: ``kalteng.tribunnews.com`` -> ``kalteng_tribunnews``,
    ``www.tabengan.com`` -> ``tabengan``, ``borneonews.co.id`` -> ``borneonews``.

    ``www.``/``m.``/``amp.`` and the public suffix are dropped, the other labels joined with
    ``_``; characters outside ``[a-z0-9]`` become ``_``, and a name that would start with a
    digit gets the prefix ``site_``.
    """
    host = host.strip().lower().rstrip(".")
    if "://" in host:
        host = urlsplit(host).hostname or ""
    host = host.rsplit("@", 1)[-1].split(":", 1)[0] if not host.startswith("[") else host
    for prefix in _VARIANT_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    parts = _extractor()(host)
    labels = [label for label in (*parts.subdomain.split("."), parts.domain) if label]
    name = re.sub(r"[^a-z0-9]+", "_", "_".join(labels) or host).strip("_")
    if not name:
        return "site"
    return name if NAME_PATTERN.fullmatch(name) else f"site_{name}"
