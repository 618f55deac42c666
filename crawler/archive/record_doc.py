"""One record as the archive stores it: known fields, plain values, encodable, not too large.

Pure functions shared by the write path (:mod:`crawler.archive.store`), the page archive and
imports: what a record becomes before it is written, and why the server would refuse it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import bson
from bson.errors import InvalidDocument

from crawler.items import ARTICLE_FIELDS

Doc = dict[str, Any]
#: The server's document limit (16 MiB), less room for the fields the archive adds
#: (``first_seen_at``, ``version``, ...) and the update that carries them.
MAX_RECORD_BYTES = 16 * 1024 * 1024 - 16 * 1024
#: Errors raised by one record's content, never by the server (``InvalidDocument`` includes
#: ``DocumentTooLarge``; ``OverflowError``: an int beyond 8 bytes). They cost that record only.
RECORD_ERRORS: tuple[type[Exception], ...] = (InvalidDocument, UnicodeEncodeError, OverflowError)
#: Lone UTF-16 surrogates (``"\ud83d"`` in JSON) cannot be encoded as UTF-8, hence not as BSON.
_SURROGATE = re.compile("[\ud800-\udfff]")


def make_encodable(record: Mapping[str, Any]) -> tuple[Doc, list[str]]:
    """``record`` with every lone surrogate, in any string (list items and nested values too),
    replaced by U+FFFD; and the names of the fields that changed. A valid surrogate pair
    becomes its character."""
    fixed: Doc = {}
    changed: list[str] = []
    for name, value in record.items():
        fixed[name], was_changed = _encodable(value)
        if was_changed:
            changed.append(name)
    return fixed, changed


def _encodable(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        if not _SURROGATE.search(value):
            return value, False
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace"), True
    if isinstance(value, Mapping):
        pairs = [(_encodable(key)[0], _encodable(item)) for key, item in value.items()]
        return {key: item for key, (item, _) in pairs}, any(flag for _, (_, flag) in pairs)
    if isinstance(value, (list, tuple)):
        items = [_encodable(item) for item in value]
        return type(value)(item for item, _ in items), any(flag for _, flag in items)
    return value, False


def storage_problem(record: Mapping[str, Any]) -> str | None:
    """Why the archive would refuse ``record`` (no url, text BSON cannot encode, an int beyond
    8 bytes, too large); None when it can be stored."""
    doc = article_doc(record)
    if doc is None:
        return "no url"
    return encode_problem(doc)


def encode_problem(doc: Doc) -> str | None:
    try:
        size = len(bson.encode(doc))
    except RECORD_ERRORS as exc:
        return f"{type(exc).__name__}: {exc}"
    if size > MAX_RECORD_BYTES:
        return f"DocumentTooLarge: {size} bytes (at most {MAX_RECORD_BYTES})"
    return None


def article_doc(record: Mapping[str, Any]) -> Doc | None:
    """Only the known Article fields become keys; every value is a plain BSON value."""
    doc = {name: _plain(record.get(name)) for name in ARTICLE_FIELDS}
    if not isinstance(doc["url"], str) or not doc["url"]:
        return None
    if not isinstance(doc["content_hash"], str) or not doc["content_hash"]:
        body = doc["body"] if isinstance(doc["body"], str) else ""
        # surrogatepass: a body with a lone surrogate gets a hash, and is refused by the caller.
        doc["content_hash"] = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    return doc


def _plain(value: Any) -> Any:
    """Scalars and lists pass; anything else (a dict could smuggle ``$`` keys) becomes a str."""
    if value is None or isinstance(value, (str, bool, int, float, datetime)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return str(value)
