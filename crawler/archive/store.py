"""The MongoDB archive of articles: connection, indexes and batched, versioned writes.

Pure pymongo (no Scrapy), so the crawler's pipeline, CLIs and re-parsing jobs share it.

``articles`` holds the current version of every article, one document per canonical URL, with
``first_seen_at``, ``last_seen_at``, ``version`` and ``duplicate_of`` (the URL under which the
same story, by ``content_hash``, was archived first; ``None`` for the original), and
``story_id`` / ``minhash`` / ``story_bands`` (story linking, see :mod:`crawler.archive.stories`).
``article_versions`` keeps every replaced version (the whole previous document plus
``archived_at``), so a silent edit on the site never loses what the page said before. Each
batch also maintains the word index (``article_terms``, :mod:`crawler.archive.search_terms`) and
the counters behind stats and the report (``archive_counts``, :mod:`crawler.archive.counters`);
what a record becomes before it is written is :mod:`crawler.archive.record_doc`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, InsertOne, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError
from pymongo.uri_parser import parse_uri

from crawler.archive import counters, search_terms, stories

# Re-exported: the write path's callers import them from here.
from crawler.archive.record_doc import MAX_RECORD_BYTES as MAX_RECORD_BYTES
from crawler.archive.record_doc import RECORD_ERRORS as RECORD_ERRORS
from crawler.archive.record_doc import article_doc, encode_problem
from crawler.archive.record_doc import make_encodable as make_encodable
from crawler.archive.record_doc import storage_problem as storage_problem

logger = logging.getLogger(__name__)

ARTICLES = "articles"
ARTICLE_VERSIONS = "article_versions"
DUPLICATE_KEY = 11000
#: ``$in`` lists are sent in chunks of this size so one query stays well below 16 MB.
IN_CHUNK = 1000
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
    search_terms.ensure_index(db)
    search_terms.mark_new_archive(db, ARTICLES)
    counters.ensure(articles)


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


def archive_batch(
    db: Database[Doc],
    records: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
    *,
    keep_first_seen: bool = False,
) -> ArchiveResult:
    """Archive a batch of article records (dicts with the Article fields).

    Two reads (``url $in``, ``content_hash $in``) and at most one unordered ``bulk_write`` per
    collection. A URL repeated within the batch: the last record wins, the earlier ones count as
    unchanged. Server errors (connection, refusal) propagate: the caller keeps the batch. A
    record the server cannot take for its own content (no url, unencodable text, too large:
    see :func:`storage_problem`) or a per-record write error is logged with its reason and
    counted in ``errors``; it never costs the other records.

    ``keep_first_seen`` (imports): a URL new to the archive is stored with the record's own
    ``first_seen_at`` (an aware datetime, at most ``now``) instead of ``now``, so the records
    first seen in the source archive stay the originals and story founders. Put the batch's
    earlier-seen records first: within a batch, the first record of a content hash wins.
    """
    now = now or utc_now()
    result = ArchiveResult()
    by_url: dict[str, Doc] = {}
    first_seen: dict[str, datetime] = {}
    for record in records:
        doc = article_doc(record)
        if doc is None:
            logger.error("Not archiving a record without a url: %r", record.get("title"))
            result.errors += 1
            continue
        problem = encode_problem(doc)
        if problem is not None:
            logger.error("Not archiving %r: %s", doc["url"], problem)
            result.errors += 1
            continue
        if doc["url"] in by_url:
            result.unchanged += 1
        by_url[doc["url"]] = doc
        seen = record.get("first_seen_at") if keep_first_seen else None
        if isinstance(seen, datetime) and seen.tzinfo is not None:
            first_seen[doc["url"]] = min(seen, now)
    retry = _write(db, list(by_url.values()), now, result, first_seen)
    if retry:
        logger.info("Retrying %s record(s) another writer changed meanwhile", len(retry))
        again = _write(db, retry, now, result, first_seen)
        if again:
            logger.error("Giving up on %s record(s) still racing another writer", len(again))
            result.errors += len(again)
    return result


def _write(
    db: Database[Doc],
    docs: list[Doc],
    now: datetime,
    result: ArchiveResult,
    first_seen: Mapping[str, datetime] | None = None,
) -> list[Doc]:
    """Plan and send the writes for ``docs`` (distinct URLs); return the docs to retry.
    ``first_seen``: URL -> ``first_seen_at`` to store instead of ``now`` if the URL is new."""
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
    new_records: list[Doc] = []  # to insert: their words are indexed first
    changed_records: list[Doc] = []  # to replace a stored version: words of both indexed first
    for doc in docs:
        old = existing.get(doc["url"])
        if old is not None and old.get("content_hash") == doc["content_hash"]:
            article_ops.append(UpdateOne({"url": doc["url"]}, {"$set": {"last_seen_at": now}}))
            kinds.append(("unchanged", False))
            continue
        original = originals[doc["content_hash"]]
        duplicate_of = None if original == doc["url"] else original
        copy_of = archived.get(original) or ({"url": original} if duplicate_of else None)
        seen = (old or {}).get("first_seen_at") or (first_seen or {}).get(doc["url"]) or now
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
            new_records.append(fields)
            article_ops.append(InsertOne({**fields, "first_seen_at": seen, "version": 1}))
            kinds.append(("inserted", duplicate_of is not None))
        else:
            changed_records.append({**fields, "old_terms": search_terms.terms_of(old)})
            previous = {k: v for k, v in old.items() if k != "_id"}
            version_ops.append(InsertOne({**previous, "archived_at": now}))
            # Only if nobody changed it (its content, or its story: a move) since we read it;
            # a lost race is re-planned below.
            guard = {"url": doc["url"], "content_hash": old.get("content_hash")}
            guard["story_id"] = old.get("story_id")
            version = int(old.get("version") or 1) + 1
            article_ops.append(UpdateOne(guard, {"$set": {**fields, "version": version}}))
            kinds.append(("updated", duplicate_of is not None))
            changed.append(len(article_ops) - 1)

    # Words before articles, old versions before new ones: dying between writes loses nothing.
    search_terms.index_records(db, new_records, changed_records)
    counting = counters.begin(db[ARTICLES], docs, existing, kinds)  # before: see counters
    _bulk(db, ARTICLE_VERSIONS, version_ops)
    matched, duplicate_keys, failed = _bulk(db, ARTICLES, article_ops)
    for index, (kind, duplicate) in enumerate(kinds):
        if index in duplicate_keys or index in failed:
            continue
        setattr(result, kind, getattr(result, kind) + 1)
        result.duplicates += duplicate
    result.errors += len(failed)
    lost = duplicate_keys | failed
    linked = [doc for index, doc in to_link if index not in lost]
    stories.link(db[ARTICLES], linked, now, counting.touched)
    # A racing insert of the same URL: retry as an update of what the other writer stored.
    retry = [docs[index] for index in duplicate_keys]
    expected_matches = sum(kind != "inserted" for kind, _ in kinds)
    if matched < expected_matches and changed:
        for index in _lost_updates(db, docs, [i for i in changed if i not in failed]):
            result.updated -= 1
            result.duplicates -= kinds[index][1]
            retry.append(docs[index])
    counting.commit(lost, retry)
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
