"""The MongoDB archive of articles: connection, indexes and batched, versioned writes.

Pure pymongo (no Scrapy), so the crawler's pipeline, CLIs and re-parsing jobs share it.

``articles`` holds the current version of every article, one document per canonical URL, with
``first_seen_at``, ``last_seen_at``, ``version`` and ``duplicate_of`` (the URL under which the
same story, by ``content_hash``, was archived first; ``None`` for the original), and
``story_id`` / ``minhash`` / ``story_bands`` (story linking, see :mod:`crawler.archive.stories`).
``article_versions`` keeps every replaced version (the whole previous document plus
``archived_at``), so a silent edit on the site never loses what the page said before.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import bson
from bson.errors import InvalidDocument
from pymongo import ASCENDING, DESCENDING, InsertOne, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError
from pymongo.uri_parser import parse_uri

from crawler.archive import stories
from crawler.items import ARTICLE_FIELDS

logger = logging.getLogger(__name__)

ARTICLES = "articles"
ARTICLE_VERSIONS = "article_versions"
DUPLICATE_KEY = 11000
#: ``$in`` lists are sent in chunks of this size so one query stays well below 16 MB.
IN_CHUNK = 1000
#: The server's document limit (16 MiB), less room for the fields the archive adds
#: (``first_seen_at``, ``version``, ...) and the update that carries them.
MAX_RECORD_BYTES = 16 * 1024 * 1024 - 16 * 1024
#: Errors raised by one record's content, never by the server (``InvalidDocument`` includes
#: ``DocumentTooLarge``; ``OverflowError``: an int beyond 8 bytes). They cost that record only.
RECORD_ERRORS: tuple[type[Exception], ...] = (InvalidDocument, UnicodeEncodeError, OverflowError)
#: Lone UTF-16 surrogates (``"\ud83d"`` in JSON) cannot be encoded as UTF-8, hence not as BSON.
_SURROGATE = re.compile("[\ud800-\udfff]")

Doc = dict[str, Any]


@dataclass
class ArchiveResult:
    """What one :func:`archive_batch` call did. ``duplicates`` counts records (inserted or
    updated) stored with a ``duplicate_of``; it overlaps ``inserted``/``updated``."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    errors: int = 0

    def add(self, other: ArchiveResult) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def connect(uri: str, database: str, timeout_ms: int = 10_000) -> Database[Doc]:
    """Open a client (datetimes come back timezone-aware UTC). Close with ``db.client.close()``.

    Timeouts given in the URI win over ``timeout_ms``.
    """
    options = {key.lower() for key in parse_uri(uri)["options"]}
    kwargs: dict[str, Any] = {}
    for name in ("serverSelectionTimeoutMS", "connectTimeoutMS"):
        if name.lower() not in options:
            kwargs[name] = timeout_ms
    client: MongoClient[Doc] = MongoClient(uri, tz_aware=True, appname="news-archive", **kwargs)
    return client[database]


def ensure_indexes(db: Database[Doc]) -> None:
    """Create the indexes the writer and readers rely on (idempotent).

    The unique ``url`` index is what makes concurrent crawlers safe: a racing insert fails
    instead of creating a second document.
    """
    articles = db[ARTICLES]
    articles.create_index("url", unique=True)
    articles.create_index("published_at")
    articles.create_index([("source", ASCENDING), ("published_at", DESCENDING)])
    articles.create_index("content_hash")
    articles.create_index("tags")
    articles.create_index("story_bands")  # multikey: candidates for story linking
    articles.create_index("story_id")
    db[ARTICLE_VERSIONS].create_index([("url", ASCENDING), ("version", ASCENDING)], unique=True)


def find_in_chunks(
    collection: Collection[Doc],
    field: str,
    values: Iterable[Any],
    projection: Mapping[str, Any] | None = None,
    *,
    query: Mapping[str, Any] | None = None,
) -> Iterator[Doc]:
    """The documents whose ``field`` is one of ``values`` (and that match ``query``): one
    ``$in`` query per :data:`IN_CHUNK` values, so a long list never makes a query too large.
    Duplicate values are asked for once."""
    wanted = list(dict.fromkeys(values))
    for start in range(0, len(wanted), IN_CHUNK):
        condition = {**(query or {}), field: {"$in": wanted[start : start + IN_CHUNK]}}
        yield from collection.find(condition, projection)


def known_urls(db: Database[Doc], urls: Iterable[str]) -> set[str]:
    """The subset of ``urls`` already archived (for incremental crawls)."""
    docs = find_in_chunks(db[ARTICLES], "url", (str(url) for url in urls), {"_id": 0, "url": 1})
    return {doc["url"] for doc in docs}


def utc_now() -> datetime:
    """Now, truncated to milliseconds: BSON dates keep no more, so values compare equal
    after a round trip."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


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
    doc = _article_doc(record)
    if doc is None:
        return "no url"
    return _encode_problem(doc)


def _encode_problem(doc: Doc) -> str | None:
    try:
        size = len(bson.encode(doc))
    except RECORD_ERRORS as exc:
        return f"{type(exc).__name__}: {exc}"
    if size > MAX_RECORD_BYTES:
        return f"DocumentTooLarge: {size} bytes (at most {MAX_RECORD_BYTES})"
    return None


def archive_batch(
    db: Database[Doc], records: Sequence[Mapping[str, Any]], now: datetime | None = None
) -> ArchiveResult:
    """Archive a batch of article records (dicts with the Article fields).

    Two reads (``url $in``, ``content_hash $in``) and at most one unordered ``bulk_write`` per
    collection. A URL repeated within the batch: the last record wins, the earlier ones count as
    unchanged. Server errors (connection, refusal) propagate: the caller keeps the batch. A
    record the server cannot take for its own content (no url, unencodable text, too large:
    see :func:`storage_problem`) or a per-record write error is logged with its reason and
    counted in ``errors``; it never costs the other records.
    """
    now = now or utc_now()
    result = ArchiveResult()
    by_url: dict[str, Doc] = {}
    for record in records:
        doc = _article_doc(record)
        if doc is None:
            logger.error("Not archiving a record without a url: %r", record.get("title"))
            result.errors += 1
            continue
        problem = _encode_problem(doc)
        if problem is not None:
            logger.error("Not archiving %r: %s", doc["url"], problem)
            result.errors += 1
            continue
        if doc["url"] in by_url:
            result.unchanged += 1
        by_url[doc["url"]] = doc
    retry = _write(db, list(by_url.values()), now, result)
    if retry:
        logger.info("Retrying %s record(s) another writer changed meanwhile", len(retry))
        again = _write(db, retry, now, result)
        if again:
            logger.error("Giving up on %s record(s) still racing another writer", len(again))
            result.errors += len(again)
    return result


def _article_doc(record: Mapping[str, Any]) -> Doc | None:
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


def _write(db: Database[Doc], docs: list[Doc], now: datetime, result: ArchiveResult) -> list[Doc]:
    """Plan and send the writes for ``docs`` (distinct URLs); return the docs to retry."""
    if not docs:
        return []
    urls = [doc["url"] for doc in docs]
    existing = {d["url"]: d for d in find_in_chunks(db[ARTICLES], "url", urls)}
    hashes = sorted({doc["content_hash"] for doc in docs})
    projection = {"_id": 0, "url": 1, "content_hash": 1, "first_seen_at": 1, "duplicate_of": 1}
    same_hash = list(
        find_in_chunks(db[ARTICLES], "content_hash", hashes, projection | {"story_id": 1})
    )
    originals = _originals(docs, existing, same_hash, now)
    archived = {d["url"]: d for d in same_hash}
    to_link: list[tuple[int, Doc]] = []  # (article op index, doc as written): story_id set now

    article_ops: list[InsertOne[Doc] | UpdateOne] = []
    kinds: list[tuple[str, bool]] = []  # per article op: result counter, stored as duplicate
    version_ops: list[InsertOne[Doc]] = []
    changed: list[int] = []  # indexes into docs (and article_ops)
    for doc in docs:
        old = existing.get(doc["url"])
        if old is not None and old.get("content_hash") == doc["content_hash"]:
            article_ops.append(UpdateOne({"url": doc["url"]}, {"$set": {"last_seen_at": now}}))
            kinds.append(("unchanged", False))
            continue
        original = originals[doc["content_hash"]]
        duplicate_of = None if original == doc["url"] else original
        copy_of = archived.get(original) or ({"url": original} if duplicate_of else None)
        seen = (old or {}).get("first_seen_at") or now
        fields = {
            **doc,
            **stories.fingerprint(doc.get("body"), doc.get("published_at") or seen),
            "story_id": stories.first_story(doc, old, copy_of),
            "duplicate_of": duplicate_of,
            "last_seen_at": now,
        }
        if old is None or not old.get("story_id"):
            to_link.append((len(article_ops), {**fields, "first_seen_at": seen}))
        if old is None:
            article_ops.append(InsertOne({**fields, "first_seen_at": now, "version": 1}))
            kinds.append(("inserted", duplicate_of is not None))
        else:
            previous = {k: v for k, v in old.items() if k != "_id"}
            version_ops.append(InsertOne({**previous, "archived_at": now}))
            # Only if nobody changed it since we read it; a lost race is re-planned below.
            guard = {"url": doc["url"], "content_hash": old.get("content_hash")}
            version = int(old.get("version") or 1) + 1
            article_ops.append(UpdateOne(guard, {"$set": {**fields, "version": version}}))
            kinds.append(("updated", duplicate_of is not None))
            changed.append(len(article_ops) - 1)

    # Old versions first: if we die between the two writes, nothing is lost.
    _bulk(db, ARTICLE_VERSIONS, version_ops)
    matched, duplicate_keys, failed = _bulk(db, ARTICLES, article_ops)
    for index, (kind, duplicate) in enumerate(kinds):
        if index in duplicate_keys or index in failed:
            continue
        setattr(result, kind, getattr(result, kind) + 1)
        result.duplicates += duplicate
    result.errors += len(failed)
    lost = duplicate_keys | failed
    stories.link(db[ARTICLES], [doc for index, doc in to_link if index not in lost], now)
    # A racing insert of the same URL: retry as an update of what the other writer stored.
    retry = [docs[index] for index in duplicate_keys]
    expected_matches = sum(kind != "inserted" for kind, _ in kinds)
    if matched < expected_matches and changed:
        for index in _lost_updates(db, docs, [i for i in changed if i not in failed]):
            result.updated -= 1
            result.duplicates -= kinds[index][1]
            retry.append(docs[index])
    return retry


def _originals(
    docs: list[Doc], existing: dict[str, Doc], same_hash: list[Doc], now: datetime
) -> dict[str, str]:
    """content_hash -> URL archived first (earliest ``first_seen_at``; in the batch, first wins)."""
    best: dict[str, tuple[datetime, int, str]] = {}

    def offer(content_hash: str, seen: datetime | None, order: int, url: str) -> None:
        key = (seen or now, order, url)
        if content_hash not in best or key < best[content_hash]:
            best[content_hash] = key

    for doc in same_hash:
        canonical = doc.get("duplicate_of") or doc["url"]
        offer(doc["content_hash"], doc.get("first_seen_at"), -1, canonical)
    for order, doc in enumerate(docs):
        first_seen = existing.get(doc["url"], {}).get("first_seen_at")
        offer(doc["content_hash"], first_seen, order, doc["url"])
    return {content_hash: key[2] for content_hash, key in best.items()}


def _bulk(db: Database[Doc], name: str, ops: Sequence[Any]) -> tuple[int, set[int], set[int]]:
    """One unordered bulk write: (matched count, indexes hitting a duplicate key, other failures).

    On ``article_versions`` a duplicate key means another writer already kept that version,
    which is harmless.
    """
    if not ops:
        return 0, set(), set()
    try:
        return db[name].bulk_write(list(ops), ordered=False).matched_count, set(), set()
    except BulkWriteError as exc:
        return _bulk_errors(name, exc, offset=0)
    except RECORD_ERRORS as exc:
        # Records are checked before they get here, so this is a stored document (a version)
        # that cannot be re-encoded: write one op at a time so it costs only itself.
        logger.warning("Bulk write to %s refused (%s); writing one at a time", name, exc)
        return _one_by_one(db, name, ops)


def _bulk_errors(name: str, exc: BulkWriteError, offset: int) -> tuple[int, set[int], set[int]]:
    duplicates: set[int] = set()
    failed: set[int] = set()
    for error in exc.details.get("writeErrors", []):
        if error.get("code") == DUPLICATE_KEY:
            duplicates.add(offset + error["index"])
        else:
            logger.error("Archive write to %s failed: %s", name, error.get("errmsg"))
            failed.add(offset + error["index"])
    return int(exc.details.get("nMatched", 0)), duplicates, failed


def _one_by_one(db: Database[Doc], name: str, ops: Sequence[Any]) -> tuple[int, set[int], set[int]]:
    matched, duplicates, failed = 0, set[int](), set[int]()
    for index, op in enumerate(ops):
        try:
            matched += db[name].bulk_write([op], ordered=False).matched_count
        except BulkWriteError as exc:
            more, dup, bad = _bulk_errors(name, exc, offset=index)
            matched, duplicates, failed = matched + more, duplicates | dup, failed | bad
        except RECORD_ERRORS as exc:
            logger.error("Archive write to %s refused one document: %s", name, exc)
            failed.add(index)
    return matched, duplicates, failed


def _lost_updates(db: Database[Doc], docs: list[Doc], changed: list[int]) -> list[int]:
    """Changed records whose guarded update matched nothing (another writer got there first)."""
    urls = [docs[index]["url"] for index in changed]
    stored = {d["url"]: d.get("content_hash") for d in find_in_chunks(db[ARTICLES], "url", urls)}
    return [i for i in changed if stored.get(docs[i]["url"]) != docs[i]["content_hash"]]
