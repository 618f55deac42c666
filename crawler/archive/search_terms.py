"""Word search from an index that works on every server: a word-token side collection.

SecantusDB has no text index and a ``$regex`` over every body took 15-18 s at 100k records, so
the archive keeps, for every article, the set of its words in ``article_terms``::

    {_id: <url>, terms: [<word>, ...], source: <source>, published_at: <datetime | None>}

under one compound multikey index ``(terms, source, published_at)``. A search looks up the
rarest of its words there (with ``--source``/``--since``/``--until`` in the same index scan),
fetches those articles and checks the whole query on each in Python, so the answer is exactly
what a scan of every record with :meth:`TextQuery.matches` would give.

**Semantics** (:func:`words`, :class:`TextQuery`): title and body are folded (lower case,
accents removed: "Kafé" -> "kafe") and split into words, maximal runs of letters and digits.
Every word of the query must occur as a whole word in the title or in the body; a quoted
``"phrase"``, or an unquoted chunk that folds to several words (``covid-19``, ``Kafé-Huma``),
must occur as consecutive words within the title or within the body (punctuation between them
does not count). A substring of a word does not match: "kafe" does not find "kafetaria".

**Why a side collection, not a field of the article**: SecantusDB rewrites every index entry of
a document on any update, so the ~200 words of an article on ``articles`` would make the
``last_seen_at`` update of every unchanged re-crawled record ~200 index writes. Side documents
are written only when an article is new or its content changed.

**Always a superset, so never a missed match**: the writer updates the side document *before*
the article (:func:`index_records`), and only ever adds words (``$addToSet``): whatever content
an article holds, even after a crash between the two writes or a lost race, its words are in
its side document. A side document without an article (the article write failed) is skipped
by the search. Only ``source`` and ``published_at`` are overwritten with each content change;
were a writer to die between the two writes of a changed record whose date or source changed,
the stale value could hide it from a filtered search until ``python -m crawler reindex``.

An archive written before this module has no side documents: :func:`index_ready` reads a
marker in ``archive_meta`` that only a new archive (:func:`mark_new_archive`) or a finished
``reindex`` writes; without it a search falls back to a scan, with a hint.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from crawler.archive.text_match import fold

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
ARTICLE_TERMS = "article_terms"
ARCHIVE_META = "archive_meta"
TERMS_INDEX = "terms_source_published"
#: Changes whenever :func:`words` would split a text differently (then ``reindex`` is needed).
TERMS_VERSION = "words-fold-alnum-v1"
MARKER_ID = "search_terms"
#: Longer words are indexed by this prefix (a key stays small); the exact check sees them whole.
MAX_TERM_LENGTH = 64
#: Beyond this many distinct words (a dump of data, not an article) the side document keeps no
#: words but ``overflow: true``, and every search checks such records itself.
MAX_TERMS = 20_000
#: Side documents read to guess which query word is rarest.
SAMPLE_SIZE = 300
_WORD = re.compile(r"[^\W_]+")
DUPLICATE_KEY = 11000


def words(text: object) -> list[str]:
    """The folded words of ``text``, in order ("Kafé-Huma, 2026" -> kafe, huma, 2026)."""
    if not isinstance(text, str) or not text:
        return []
    return _WORD.findall(fold(text))


def index_key(word: str) -> str:
    """What the index holds for ``word``: itself, or its first :data:`MAX_TERM_LENGTH` chars."""
    return word[:MAX_TERM_LENGTH]


def terms_of(record: Mapping[str, Any]) -> list[str]:
    """The sorted index keys of a record's title and body."""
    found = {index_key(word) for name in ("title", "body") for word in words(record.get(name))}
    return sorted(found)


@dataclass(frozen=True)
class TextQuery:
    """A parsed search text: each part is a word or a phrase (several consecutive words)."""

    parts: tuple[tuple[str, ...], ...]

    @classmethod
    def parse(cls, text: str) -> TextQuery | None:
        """The query for ``text``; None when it holds no word at all (no text condition).

        Text between double quotes is a phrase; an unmatched quote opens a phrase to the end.
        """
        parts: list[tuple[str, ...]] = []
        for position, chunk in enumerate(text.split('"')):
            pieces = [chunk] if position % 2 else chunk.split()
            parts.extend(tuple(found) for piece in pieces if (found := words(piece)))
        return cls(tuple(dict.fromkeys(parts))) if parts else None

    @property
    def keys(self) -> list[str]:
        """The index keys every matching record has (one per distinct word)."""
        return sorted({index_key(word) for part in self.parts for word in part})

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record``'s title or body holds every part (see the module's semantics)."""
        fields = [words(record.get("title")), words(record.get("body"))]
        vocabularies = [set(found) for found in fields]
        for part in self.parts:
            if len(part) == 1:
                if not any(part[0] in vocabulary for vocabulary in vocabularies):
                    return False
            elif not any(_contains_run(found, part) for found in fields):
                return False
        return True


def _contains_run(sequence: Sequence[str], run: Sequence[str]) -> bool:
    """Whether ``run`` occurs as consecutive items of ``sequence``."""
    size = len(run)
    first = run[0]
    return any(
        item == first and list(sequence[start : start + size]) == list(run)
        for start, item in enumerate(sequence)
    )


# --- Writing -------------------------------------------------------------------------------


def ensure_index(db: Database[Doc]) -> None:
    """The side collection's one index (idempotent)."""
    keys = [("terms", ASCENDING), ("source", ASCENDING), ("published_at", ASCENDING)]
    db[ARTICLE_TERMS].create_index(keys, name=TERMS_INDEX)
    db[ARTICLE_TERMS].create_index("overflow", sparse=True)


def mark_new_archive(db: Database[Doc], articles: str) -> None:
    """Mark the search index complete when the archive has no article yet (it will be kept)."""
    if db[articles].find_one({}, {"_id": 1}) is None:
        mark_ready(db)


def mark_ready(db: Database[Doc]) -> None:
    """Record that every article has its side document (a new archive, or a finished reindex)."""
    update = {"$set": {"version": TERMS_VERSION}, "$unset": {"building": ""}}
    db[ARCHIVE_META].update_one({"_id": MARKER_ID}, update, upsert=True)


def index_ready(db: Database[Doc]) -> bool:
    """Whether searches may rely on ``article_terms`` (see the module docstring)."""
    marker = db[ARCHIVE_META].find_one({"_id": MARKER_ID})
    return marker is not None and marker.get("version") == TERMS_VERSION


def _side_fields(record: Mapping[str, Any]) -> tuple[list[str], Doc]:
    terms = terms_of(record)
    fields: Doc = {"source": record.get("source"), "published_at": record.get("published_at")}
    if len(terms) > MAX_TERMS:
        return [], {**fields, "overflow": True}
    return terms, fields


def index_records(
    db: Database[Doc], new: Iterable[Mapping[str, Any]], changed: Iterable[Mapping[str, Any]]
) -> None:
    """Add the words of records about to be written, before they are (the superset rule).

    ``new``: records about to be inserted (one ``insert`` each; a side document left by an
    earlier failed write turns it into an update). ``changed``: records about to replace a
    stored version, each given with ``old_terms``, the keys of the version it replaces, which
    are added too: the side document then covers whichever of the two the article ends up with.
    Server errors propagate, so the article is not written without its words.
    """
    updates: list[UpdateOne] = []
    inserts: list[tuple[InsertOne[Doc], UpdateOne]] = []
    for record in new:
        terms, fields = _side_fields(record)
        as_update = _add_terms(record["url"], terms, fields)
        inserts.append((InsertOne({"_id": record["url"], "terms": terms, **fields}), as_update))
    for record in changed:
        terms, fields = _side_fields(record)
        merged = sorted(set(terms) | set(record.get("old_terms") or ()))
        updates.append(_add_terms(record["url"], [] if fields.get("overflow") else merged, fields))
    if inserts:
        try:
            db[ARTICLE_TERMS].bulk_write([insert for insert, _ in inserts], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != DUPLICATE_KEY:
                    raise
                updates.append(inserts[error["index"]][1])
    if updates:
        db[ARTICLE_TERMS].bulk_write(updates, ordered=False)


def _add_terms(url: str, terms: list[str], fields: Doc) -> UpdateOne:
    update: Doc = {"$set": fields}
    if terms:
        update["$addToSet"] = {"terms": {"$each": terms}}
    return UpdateOne({"_id": url}, update, upsert=True)


# --- Searching -----------------------------------------------------------------------------


def rarest_key(db: Database[Doc], keys: Sequence[str]) -> str:
    """The key of ``keys`` in the fewest sampled side documents (ties: the longest key).

    Only the speed of a search depends on this guess, never its answer.
    """
    if len(keys) == 1:
        return keys[0]
    wanted = set(keys)
    seen: Counter[str] = Counter()
    sample = db[ARTICLE_TERMS].find({}, {"terms": 1}).limit(SAMPLE_SIZE)
    for doc in sample:
        seen.update(wanted.intersection(doc.get("terms") or ()))
    return min(keys, key=lambda key: (seen[key], -len(key), key))


def candidates(
    db: Database[Doc],
    query: TextQuery,
    source: str | None = None,
    published: Mapping[str, datetime] | None = None,
) -> list[tuple[str, datetime | None]]:
    """(url, published_at) of every article that may match, newest first, from the index.

    A superset of the matches (the side documents hold every word an article ever had);
    records with too many words to index are always included.
    """
    condition: Doc = {"terms": rarest_key(db, query.keys)}
    if source is not None:
        condition["source"] = source
    if published:
        condition["published_at"] = dict(published)
    projection = {"_id": 1, "published_at": 1}
    side = db[ARTICLE_TERMS]
    found: dict[str, datetime | None] = {}
    for doc in [*side.find(condition, projection), *side.find({"overflow": True}, projection)]:
        found[doc["_id"]] = doc.get("published_at")
    return sorted(found.items(), key=_newest_first)


def _newest_first(item: tuple[str, datetime | None]) -> tuple[bool, float, str]:
    url, published = item
    # Records without a date come last, as MongoDB's descending sort puts null last.
    return published is None, -(published.timestamp() if published else 0.0), url


def fetch_in_order(
    fetch: Callable[[list[str]], Iterable[Doc]], urls: Iterable[str], chunk: int = 200
) -> Iterator[Doc]:
    """The records ``fetch`` returns for ``urls``, in the order of ``urls``, ``chunk`` at a time."""
    batch: list[str] = []
    for url in urls:
        batch.append(url)
        if len(batch) == chunk:
            yield from _ordered(fetch, batch)
            batch = []
    if batch:
        yield from _ordered(fetch, batch)


def _ordered(fetch: Callable[[list[str]], Iterable[Doc]], urls: list[str]) -> Iterator[Doc]:
    by_url = {doc["url"]: doc for doc in fetch(urls)}
    for url in urls:
        if url in by_url:
            yield by_url[url]
