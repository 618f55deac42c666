"""Story linking: one ``story_id`` for the articles that carry the same story.

Called by :func:`crawler.archive.store.archive_batch`. Every written record gets ``minhash`` (its
MinHash signature, :func:`crawler.extract.similarity.signature`), ``story_bands`` (the LSH band
keys of that signature in the record's period, under a multikey index) and
``signature_version`` (:data:`KEY_VERSION`).

``story_id`` is the URL of the first archived article of the story: a record that is an exact
copy (same ``content_hash``) or a near-duplicate (:func:`~crawler.extract.similarity.is_same_story`)
of an archived one joins that one's story; one that matches none founds its own. It is set when
the record is first archived; a changed version keeps it.

Insert first, then look: :func:`link` runs after the batch's insert, with ONE indexed query per
new record (``story_bands $in`` its own keys). Reading after writing is what makes two writers
safe: of two racing inserts, the one that inserted second always sees the other, so at least one
writer links them. A story founded less than :data:`RACE_WINDOW` before (by the writer's stamp)
is young and may still move, whole, into an earlier or a settled one; a settled story never
moves. Both writers of a race decide by the same rule (the earliest-founded settled story among
the members, else the earliest-founded of all, ties to the lower URL), so they end on the same id
whatever the order their reads come in.

Why one query per record, not one ``$in`` for the whole batch: SecantusDB checks ``$in`` on each
document it fetched by comparing the document's keys with the query's keys in order, so a query
over a batch's 8,400 keys returning the batch's 200 records took 65 s (measured while choosing
this, 2026-12-02); a record's own 42 (or 84) keys cost a few milliseconds, most of it one index
seek per key.

Caveat: a record whose body is too short for a signature (under ~14 words) is linked by
``content_hash`` only, from what was archived before its batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import UpdateMany, UpdateOne
from pymongo.collection import Collection

from crawler.extract import similarity

Doc = dict[str, Any]
#: Fields only the writer uses; readers and exports leave them out.
INTERNAL_FIELDS = ("minhash", "story_bands", "signature_version")
#: The projection readers use for whole records.
READ_PROJECTION: dict[str, Any] = {"_id": 0, **{name: 0 for name in INTERNAL_FIELDS}}
CANDIDATE_PROJECTION = {
    "_id": 0,
    "url": 1,
    "story_id": 1,
    "minhash": 1,
    "first_seen_at": 1,
    "content_hash": 1,
    "duplicate_of": 1,
}
#: How soon after a record another one, inserted by a racing writer, may still join its story.
RACE_WINDOW = timedelta(minutes=10)
#: Band keys carry the record's period (``published_at``, else ``first_seen_at``, in periods of
#: this many days since 1970-01-01), and a record within :data:`NEIGHBOUR_DAYS` of its period's
#: edge looks in the neighbouring period too: copies published within that many days of each
#: other are always compared, and a key is shared only by records of one period, so a series
#: of look-alike reports (the daily gold price) costs a lookup the same in the archive's tenth
#: year as in its first.
PERIOD_DAYS = 28
NEIGHBOUR_DAYS = 4
#: Stored with the keys: signatures and keys of another version are never compared.
KEY_VERSION = f"{similarity.SIGNATURE_VERSION}-p{PERIOD_DAYS}d"
#: A story whose records already carry this many indexed keys sets gets no more: a later member
#: is found through them, and a cluster of thousands of look-alikes (a parser reading only a
#: site's boilerplate) cannot make every lookup return thousands of records.
INDEXED_MEMBERS = 16
_EPOCH = datetime(1970, 1, 1)
_PERIOD = timedelta(days=PERIOD_DAYS)
_NEIGHBOUR = timedelta(days=NEIGHBOUR_DAYS)


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _periods(when: datetime) -> tuple[int, int | None]:
    """The period of ``when``, and the neighbouring one if ``when`` is near its edge."""
    period, into = divmod(_naive_utc(when) - _EPOCH, _PERIOD)
    if into < _NEIGHBOUR:
        return period, period - 1
    if into > _PERIOD - _NEIGHBOUR:
        return period, period + 1
    return period, None


def fingerprint(body: Any, when: datetime) -> Doc:
    """``minhash``, ``story_bands`` and ``signature_version`` for a body (no keys for no text),
    its keys in the period of ``when``."""
    sig = similarity.signature(body) if isinstance(body, str) else []
    period = _periods(when)[0]
    return {
        "minhash": sig or None,
        "story_bands": [f"p{period}:{key}" for key in similarity.band_keys(sig)],
        "signature_version": KEY_VERSION,
    }


def lookup_keys(doc: Mapping[str, Any]) -> list[str]:
    """The keys to look a written record's near-duplicates up by: its own, and near a period's
    edge the same band keys in the neighbouring period."""
    stored = list(doc.get("story_bands") or [])
    when = doc.get("published_at") or doc.get("first_seen_at")
    neighbour = _periods(when)[1] if stored and when is not None else None
    if neighbour is None:
        return stored
    return stored + [f"p{neighbour}:{key.split(':', 1)[1]}" for key in stored]


def first_story(doc: Mapping[str, Any], old: Mapping[str, Any] | None, copy_of: Doc | None) -> str:
    """The ``story_id`` a record is written with, before :func:`link` looks for near-duplicates:
    the one it has, else its exact copy's (``copy_of``, archived earlier), else its own URL."""
    if old is not None and old.get("story_id"):
        return str(old["story_id"])
    if copy_of is not None:
        return story_of(copy_of)
    return str(doc["url"])


def story_of(record: Mapping[str, Any]) -> str:
    return str(record.get("story_id") or record.get("duplicate_of") or record["url"])


def _matches(doc: Mapping[str, Any], candidate: Mapping[str, Any]) -> bool:
    if candidate.get("content_hash") == doc.get("content_hash"):
        return True
    mine, theirs = doc.get("minhash") or [], candidate.get("minhash") or []
    return bool(mine and theirs) and similarity.is_same_story(list(mine), list(theirs))


def _move(story: str, to: str, founded: datetime) -> UpdateMany:
    """Move a young story (founded at ``founded``, within the window) into another, whole."""
    young = {"story_id": story, "first_seen_at": {"$gte": founded}}
    return UpdateMany(young, {"$set": {"story_id": to}})


def _founders(collection: Collection[Doc], found: list[Doc], stories: set[str]) -> dict[str, Any]:
    """Story id -> its founder's ``first_seen_at`` (None if the founder has moved to another
    story meanwhile, or is gone)."""
    by_url = {c["url"]: c for c in found}
    missing = [story for story in stories if story not in by_url]
    if missing:
        projection = {"_id": 0, "url": 1, "story_id": 1, "duplicate_of": 1, "first_seen_at": 1}
        by_url.update({c["url"]: c for c in collection.find({"url": {"$in": missing}}, projection)})
    return {
        story: by_url[story].get("first_seen_at")
        if story in by_url and story_of(by_url[story]) == story
        else None
        for story in stories
    }


def _within_race(founded: datetime | None, now: datetime) -> bool:
    return founded is not None and now - RACE_WINDOW <= founded <= now + RACE_WINDOW


def link(
    collection: Collection[Doc],
    written: list[Doc],
    now: datetime,
    touched: set[str] | None = None,
) -> int:
    """Link each of ``written`` (records whose ``story_id`` this batch just set: new ones, and
    old ones that had none) to the story it belongs to.

    A record's members are the archived records it matches, and the record. A story founded
    within :data:`RACE_WINDOW` of ``now`` (the writer's stamp, so two racing writers judge
    alike) is young and may still move; any other is settled. The members' stories merge into
    the earliest-founded settled one, or, with none settled, into the earliest-founded of all:
    young stories move there whole (with records that joined them), and the record itself joins
    it. One indexed query per record; a record's updates are applied before the next record's
    query, so the records of one batch see each other settled. A record with no ``story_id``
    yet (restory) gets one. Returns how many records were updated.

    ``touched`` collects the stories whose records changed: the one a record was written into
    when it is not the record's own, and every story of a merge (for
    :mod:`crawler.archive.story_counts`)."""
    changed = 0
    for doc in written:
        if touched is not None and doc.get("story_id") not in (None, doc["url"]):
            touched.add(str(doc["story_id"]))
        keys = lookup_keys(doc)
        if not keys:
            continue
        found = list(collection.find({"story_bands": {"$in": keys}}, CANDIDATE_PROJECTION))
        me = next((c for c in found if c["url"] == doc["url"]), None)
        if me is None:  # replaced meanwhile by another writer, who links it
            continue
        members = [me, *(c for c in found if c is not me and _matches(doc, c))]
        stories = {story_of(c) for c in members}
        founded = _founders(collection, found, stories) if len(stories) > 1 else {}
        young = {story for story, at in founded.items() if _within_race(at, now)}
        settled = stories - young
        target = min(settled or stories, key=lambda story: (founded.get(story) or now, story))
        ops: list[UpdateOne | UpdateMany] = [
            _move(story, target, founded[story]) for story in sorted(young - {target})
        ]
        mine = story_of(me)
        if (mine != target or not me.get("story_id")) and mine not in young:
            guard = {"url": me["url"], "story_id": me.get("story_id")}
            ops.append(UpdateOne(guard, {"$set": {"story_id": target}}))
        joined = [c for c in members[1:] if story_of(c) in young | {target}]
        if len(joined) >= INDEXED_MEMBERS:
            ops.append(UpdateOne({"url": me["url"]}, {"$set": {"story_bands": []}}))
        if ops:
            changed += collection.bulk_write(ops, ordered=False).modified_count
            if touched is not None:
                touched.update(stories | {target})
    return changed


def first_of_each_story(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """The URLs of the first archived record (``first_seen_at``, then URL) of each story among
    ``records`` (each with ``url``, ``story_id``, ``duplicate_of``, ``first_seen_at``): one
    record per story, also when a filter left a story's first article out (a desk's copy then
    stands for it)."""
    first: dict[str, tuple[datetime, str]] = {}
    lowest = datetime.min.replace(tzinfo=UTC)
    for doc in records:
        key = (doc.get("first_seen_at") or lowest, str(doc["url"]))
        story = story_of(doc)
        if story not in first or key < first[story]:
            first[story] = key
    return {url for _, url in first.values()}


def story_members(collection: Collection[Doc], story_id: str, but: str) -> list[Doc]:
    """The other articles of a story (``source``, ``url``, ``published_at``), oldest first."""
    projection = {"_id": 0, "source": 1, "url": 1, "published_at": 1}
    docs = collection.find({"story_id": story_id, "url": {"$ne": but}}, projection)
    return sorted(
        docs, key=lambda d: (d.get("published_at") is None, d.get("published_at"), d["url"])
    )
