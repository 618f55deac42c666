"""Keep credentials out of what the crawler records and logs: URIs, secret settings, webhooks.

Pure functions, no Scrapy, the one place that decides what a secret looks like:

- :func:`redact_uri`: ``mongodb://user:s3cret@db/x`` becomes ``mongodb://user:***@db/x``; query
  parameters that carry secrets (``password=``, ``token=``, ``authMechanismProperties=``, ...)
  are masked too.
- :func:`redact_webhook`: a webhook URL keeps only its scheme and host. The path of a Slack
  incoming webhook *is* its credential.
- :func:`redact_setting`: a setting whose name says it is a secret (``*PASSWORD*``,
  ``*TOKEN*``, ``*SECRET*``, ``*_KEY``, ...) is masked whole; ``*WEBHOOK*`` settings and
  ``ALERT_COMMAND`` (which may hold a webhook URL) lose their URLs' paths; in any other value,
  the passwords of URLs are masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode

MASK = "***"

_SECRET_NAME = re.compile(
    r"PASSW(?:OR)?D|(?:^|_)PWD(?:$|_)|SECRET|TOKEN|CREDENTIAL|(?:^|_)(?:API_?)?KEY(?:S)?(?:$|_)"
    r"|SIGNATURE|(?:^|_)SIG(?:$|_)|AUTHMECHANISMPROPERTIES",
    re.IGNORECASE,
)
#: Settings whose URLs are secret as a whole (path and query), not only their passwords.
_WHOLE_URL_SECRET = re.compile(r"WEBHOOK|(?:^|_)COMMAND$", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def looks_secret(name: str) -> bool:
    """True if a setting or parameter called ``name`` holds a secret by its name alone."""
    return bool(_SECRET_NAME.search(name))


def redact_uri(uri: str) -> str:
    """``uri`` with the password of its user info and any secret query values masked.

    Not a validator: a string that is no URI comes back unchanged.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    # The user info ends at the last "@" before the query: a password may (wrongly, but it
    # happens) hold an unescaped "/" or "@".
    query_at = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, query_at)
    if at >= 0:
        userinfo, hostpart = rest[:at], rest[at + 1 :]
        user, colon, _ = userinfo.partition(":")
        if colon:
            rest = f"{user}:{MASK}@{hostpart}"
        elif scheme.lower() in {"http", "https"} and "/" not in userinfo:
            rest = f"{MASK}@{hostpart}"  # a bare token as user name (https://TOKEN@host)
    head, qmark, query = rest.partition("?")
    if qmark:
        query, hash_, fragment = query.partition("#")
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(looks_secret(name) for name, _ in pairs):
            masked = [(name, MASK if looks_secret(name) else value) for name, value in pairs]
            query = urlencode(masked, safe="*:/,", quote_via=quote)
        rest = f"{head}?{query}{hash_}{fragment}"
    return f"{scheme}://{rest}"


def redact_webhook(url: str) -> str:
    """Scheme and host of ``url`` only (user info dropped), with ``/***`` for anything after."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK if url else url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    host = rest[:end].rpartition("@")[2]
    return f"{scheme}://{host}" + ("/" + MASK if rest[end:].strip("/") else "")


def redact_text(text: str, *, whole_urls: bool = False) -> str:
    """Every URL in ``text`` redacted (:func:`redact_uri`; :func:`redact_webhook` when
    ``whole_urls``), e.g. an exception message or a shell command."""
    redact = redact_webhook if whole_urls else redact_uri
    return _URL_IN_TEXT.sub(lambda match: redact(match.group(0)), text)


def redact_setting(name: str, value: str) -> str:
    """``value`` of setting ``name`` as it may be recorded or logged."""
    if not value:
        return value
    if looks_secret(name):
        return MASK
    if _WHOLE_URL_SECRET.search(name):
        return redact_text(value, whole_urls=True)
    return redact_text(value)


def redact_settings(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{name: redacted value}`` of setting overrides (later pairs win, as on a command line)."""
    return {name: redact_setting(name, value) for name, value in pairs}


def is_secret_setting(name: str, value: str) -> bool:
    """True if ``value`` must not appear where others can read it (a command line)."""
    return redact_setting(name, value) != value
