"""Story linking: one ``story_id`` for the articles that carry the same story.

Called by :func:`crawler.archive.store.archive_batch`. Every written record gets ``minhash`` (its
MinHash signature, :func:`crawler.extract.similarity.signature`) and ``story_bands`` (the LSH
band keys of that signature, under a multikey index). A record inserted for the first time gets
``story_id``: the ``story_id`` of the earliest archived record that is an exact copy (same
``content_hash``) or a near-duplicate (:func:`~crawler.extract.similarity.is_same_story`) of it;
its own URL when there is none. Candidates come from ONE indexed query per batch
(``story_bands $in`` the batch's keys); earlier records of the same batch are candidates too.
A changed version keeps its ``story_id``; nothing here ever rewrites a settled one.

Two writers inserting the two articles of a story in the same instant cannot see each other and
may both pick their own URL. :func:`converge` runs after the insert, for the records this batch
inserted only: it re-reads their candidates (one more indexed query per batch) and the earliest
member (by ``first_seen_at``, then URL) decides: a later record adopts its story, and a racing
twin that founded its own story within :data:`RACE_WINDOW` and is still at version 1 joins it.
Updates are guarded on the ``story_id`` read, so both writers end on the same id whatever the
order their re-reads come in. A record older than the window is never rewritten.
Caveat: a record with no signature (a body under ~14 words) is linked by ``content_hash`` only,
and is not re-checked by :func:`converge`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.collection import Collection

from crawler.extract import similarity

Doc = dict[str, Any]
#: Fields only the writer uses; readers and exports leave them out.
INTERNAL_FIELDS = ("minhash", "story_bands")
#: The projection readers use for whole records.
READ_PROJECTION: dict[str, Any] = {"_id": 0, "minhash": 0, "story_bands": 0}
CANDIDATE_PROJECTION = {
    "_id": 0,
    "url": 1,
    "story_id": 1,
    "minhash": 1,
    "first_seen_at": 1,
    "content_hash": 1,
    "duplicate_of": 1,
    "version": 1,
    "story_bands": 1,
}
#: How soon after a record another one, inserted by a racing writer, may still join its story.
RACE_WINDOW = timedelta(minutes=10)
_IN_CHUNK = 1000


def fingerprint(doc: Mapping[str, Any]) -> Doc:
    """``minhash`` and ``story_bands`` for ``doc``'s body (none for an empty body)."""
    body = doc.get("body")
    if not isinstance(body, str) or not body.strip():
        return {"minhash": None, "story_bands": []}
    sig = [int(value) for value in similarity.signature(body)]
    return {"minhash": sig or None, "story_bands": list(similarity.band_keys(sig))}


def _find(collection: Collection[Doc], keys: Iterable[str]) -> list[Doc]:
    wanted = sorted(set(keys))
    found: dict[str, Doc] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        query = {"story_bands": {"$in": wanted[start : start + _IN_CHUNK]}}
        for doc in collection.find(query, CANDIDATE_PROJECTION):
            found[doc["url"]] = doc
    return list(found.values())


class _Candidates:
    """Candidates by band key and by ``content_hash``: a doc is compared only with those
    sharing a key with it, so a large batch costs no all-pairs comparison."""

    def __init__(self) -> None:
        self._by_key: dict[str, list[tuple[int, Doc]]] = {}

    @staticmethod
    def _keys(doc: Mapping[str, Any]) -> list[str]:
        return [*(doc.get("story_bands") or []), f"#{doc.get('content_hash')}"]

    def add(self, order: int, doc: Doc) -> None:
        for key in self._keys(doc):
            self._by_key.setdefault(key, []).append((order, doc))

    def near(self, doc: Mapping[str, Any]) -> list[tuple[int, Doc]]:
        found: dict[str, tuple[int, Doc]] = {}
        for key in self._keys(doc):
            for order, candidate in self._by_key.get(key, []):
                found.setdefault(candidate["url"], (order, candidate))
        return list(found.values())


def _matches(doc: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
    if candidate.get("content_hash") == doc.get("content_hash"):
        return True
    mine, theirs = doc.get("minhash") or [], candidate.get("minhash") or []
    return bool(mine and theirs) and similarity.is_same_story(list(mine), list(theirs))


def _story_of(candidate: Mapping[str, Any]) -> str:
    return str(candidate.get("story_id") or candidate.get("duplicate_of") or candidate["url"])


def plan(
    collection: Collection[Doc],
    docs: list[Doc],
    existing: Mapping[str, Doc],
    same_hash: Iterable[Doc],
    now: datetime,
) -> dict[str, Doc]:
    """URL -> the story fields to store with that doc (``minhash``, ``story_bands``, and
    ``story_id``). Docs whose stored content is unchanged are not written, but planning them
    is harmless: the caller only uses the plan of the docs it writes."""
    prints = {doc["url"]: fingerprint(doc) for doc in docs}
    pool = _Candidates()
    for candidate in _find(collection, (k for p in prints.values() for k in p["story_bands"])):
        pool.add(-1, candidate)
    for candidate in same_hash:
        pool.add(-1, candidate)

    def rank(candidate: Mapping[str, Any], order: int) -> tuple[datetime, int, str]:
        return (candidate.get("first_seen_at") or now, order, candidate["url"])

    planned: dict[str, Doc] = {}
    for order, doc in enumerate(docs):
        fields = dict(prints[doc["url"]])
        me = {**doc, **fields}
        old = existing.get(doc["url"])
        if old is not None and old.get("story_id"):
            fields["story_id"] = old["story_id"]
        else:
            best: tuple[tuple[datetime, int, str], str] | None = None
            for rank_order, candidate in pool.near(me):
                if candidate["url"] == doc["url"] or not _matches(me, candidate):
                    continue
                key = (rank(candidate, rank_order), _story_of(candidate))
                if best is None or key[0] < best[0]:
                    best = key
            fields["story_id"] = best[1] if best is not None else doc["url"]
        planned[doc["url"]] = fields
        # Earlier docs of this batch are candidates for the later ones.
        pool.add(order, {**me, **fields, "first_seen_at": (old or {}).get("first_seen_at")})
    return planned


def converge(collection: Collection[Doc], inserted: list[Doc]) -> int:
    """After the insert of ``inserted`` (full docs as written), settle races with other writers.

    For each doc, its members are the stored records it matches (and itself); the earliest
    (``first_seen_at``, then URL) decides. If that is another record, the doc adopts its story.
    If it is the doc itself, a later member that founded its own story (``story_id`` is its
    URL), was first seen within :data:`RACE_WINDOW` and never changed (version 1) was a racing
    insert that could not see this doc: it joins the doc's story. Every update is guarded on
    the ``story_id`` read, so whichever writer re-reads last, both end on the same id; nothing
    older than the window is ever rewritten. Returns how many records changed story."""
    keys = [key for doc in inserted for key in doc.get("story_bands") or []]
    if not keys:
        return 0
    pool = _Candidates()
    for candidate in _find(collection, keys):
        pool.add(0, candidate)
    ops: list[UpdateOne] = []
    for doc in inserted:
        seen = doc["first_seen_at"]
        near = [c for _, c in pool.near(doc)]
        members = [c for c in near if c["url"] == doc["url"] or _matches(doc, c)]
        first = min(members, key=lambda c: (c.get("first_seen_at") or seen, c["url"]), default=doc)
        if first["url"] != doc["url"]:
            story = _story_of(first)
            if story != doc["story_id"]:
                guard = {"url": doc["url"], "story_id": doc["story_id"]}
                ops.append(UpdateOne(guard, {"$set": {"story_id": story}}))
                doc["story_id"] = story
            continue
        for member in members:
            racing = (member.get("first_seen_at") or seen) <= seen + RACE_WINDOW
            founded = member.get("story_id") == member["url"] != doc["url"]
            if racing and founded and member.get("version") == 1:
                guard = {"url": member["url"], "story_id": member["url"]}
                ops.append(UpdateOne(guard, {"$set": {"story_id": doc["story_id"]}}))
    if not ops:
        return 0
    return collection.bulk_write(ops, ordered=False).modified_count


def story_members(collection: Collection[Doc], story_id: str, but: str) -> list[Doc]:
    """The other articles of a story (``source``, ``url``, ``published_at``), oldest first."""
    projection = {"_id": 0, "source": 1, "url": 1, "published_at": 1}
    docs = collection.find({"story_id": story_id, "url": {"$ne": but}}, projection)
    return sorted(
        docs, key=lambda d: (d.get("published_at") is None, d.get("published_at"), d["url"])
    )
