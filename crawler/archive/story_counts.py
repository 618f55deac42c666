"""Stories carried by more than one desk, kept up to date as the archive writes.

**Definition.** A story (the records sharing a ``story_id``) is *multi-desk* when its records
come from more than one ``source``, counting all its records whatever a query's filters. Its
*first publication* is the earliest ``published_at`` among its records (none if no record has
a datetime there). ``stats`` and ``report`` count the multi-desk stories first published in
their window (with no window: all of them, also those without a first publication); with a
``source``, the ones that source carries. The report lists, for each source, how many of the
counted stories it carries. Records without a ``story_id`` (an archive not yet restoried)
belong to no story. Before the archive kept counters, the figure counted stories whose records
*within the filters* came from several sources. That cannot be summed from per-day counts, so
it could not be maintained; the definition above can, and it answers "which stories of this
period did several desks carry".

``archive_story_counts`` holds one document per story that has been multi-desk at some point,
``{_id: story_id, v, sources: [...], first: datetime | None, multi: bool}``. A story that never
was has none (most stories). The buckets of :mod:`crawler.archive.counters` (per source and
UTC day of the first publication) hold ``carried`` (multi-desk stories the source carries) and
``stories`` (multi-desk stories, each counted once, in the bucket of its first source).

**Exact with several writers at once** (:func:`refresh`). Whoever changes a story's records
(the write path inserting, :func:`crawler.archive.stories.link` joining or moving stories,
``restory``) refreshes afterwards the stories it touched. It reads their documents *then* their
records, and replaces each document that differs by compare-and-set on its version ``v``. Only
a replacement that succeeds adds its difference (-old +new) to the counters; a lost one is redone
from fresh reads. Since a document is read before the records, a replacement that succeeds was
computed from records read after every change whose writer had already replaced that document.
So the last replacement reflects every change, and the counters hold the sum of the
differences: the final state.

Cost: a refresh reads every record of each story the batch changed, only stories a record
joined or that merged (a record founding its own story changes nothing). Stories are small (a
national story and its desks' copies: tens of records); a cluster of thousands of look-alikes
(a parser reading only a site's boilerplate) makes every batch that adds to it read it whole.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from crawler.archive.tally import figure_source
from crawler.archive.windowed import find_windowed

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
STORY_COUNTS = "archive_story_counts"
MEMBER_PROJECTION = {"_id": 0, "story_id": 1, "source": 1, "published_at": 1}
#: Values per ``$in`` query: SecantusDB compares every document it returns with the whole list,
#: so the cost grows with the square of its length (200 story ids took 160 ms, 4 x 50 took 70).
IN_CHUNK = 50
#: Beyond this many stories, their records are found by reading every record once (~10k a
#: second on SecantusDB) rather than by 50-id queries (~17 ms each).
MANY_STORIES = 20_000
#: Compare-and-set rounds before a writer gives up (and marks the counters for a recount).
ATTEMPTS = 8
_NONE: Any = object()


def source_order(source: Any) -> tuple[bool, str]:
    """Sources in a stable order (None last): the first is where a story is counted once."""
    return source is None, str(source)


@dataclass(frozen=True)
class StoryState:
    """What the counters need of one story: its sources and first publication."""

    sources: tuple[Any, ...] = ()
    first: datetime | None = None

    @property
    def multi(self) -> bool:
        return len(self.sources) > 1

    @classmethod
    def of(cls, sources: Iterable[Any], first: datetime | None) -> StoryState:
        return cls(tuple(sorted(set(sources), key=source_order)), first)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> StoryState:
        return cls(tuple(doc.get("sources") or ()), doc.get("first"))

    def fields(self) -> Doc:
        return {"sources": list(self.sources), "first": self.first, "multi": self.multi}


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


class Members:
    """Story id -> sources and first publication, gathered from the stories' records."""

    def __init__(self) -> None:
        # A story's source, or the set of them once there are two: most stories have one
        # source, and a recount of a million records holds them all.
        self._sources: dict[str, str | set[str | None] | None] = {}
        self._first: dict[str, datetime] = {}

    def add(self, doc: Mapping[str, Any]) -> None:
        story = doc.get("story_id")
        if not story:
            return
        story = str(story)
        source = figure_source(doc.get("source"))
        known = self._sources.get(story, _NONE)
        if known is _NONE:
            self._sources[story] = source
        elif isinstance(known, set):
            known.add(source)
        elif known != source:
            self._sources[story] = {known, source}
        published = doc.get("published_at")
        if isinstance(published, datetime):
            when = _utc(published)
            if story not in self._first or when < self._first[story]:
                self._first[story] = when

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def state(self, story: str) -> StoryState:
        known = self._sources.get(story, _NONE)
        sources = () if known is _NONE else known if isinstance(known, set) else (known,)
        return StoryState.of(sources, self._first.get(story))


def find_in(
    collection: Collection[Doc], field: str, values: Iterable[Any], projection: Any = None
) -> Iterator[Doc]:
    """The documents whose ``field`` is one of ``values``, :data:`IN_CHUNK` values a query."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), IN_CHUNK):
        yield from collection.find({field: {"$in": wanted[start : start + IN_CHUNK]}}, projection)


def members_of(articles: Collection[Doc], stories: Iterable[str]) -> Members:
    """The current records of ``stories``, gathered: by ``story_id $in`` for a few stories,
    by one pass over every record for many (beyond :data:`MANY_STORIES` chunked queries
    cost more than reading everything once)."""
    wanted = set(stories)
    members = Members()
    if len(wanted) <= MANY_STORIES:
        docs = find_in(articles, "story_id", wanted, MEMBER_PROJECTION)
    else:
        docs = find_windowed(articles, {}, MEMBER_PROJECTION)
    for doc in docs:
        if doc.get("story_id") in wanted:
            members.add(doc)
    return members


def refresh(
    db: Database[Doc],
    articles: Collection[Doc],
    stories: Iterable[str],
    on_change: Callable[[StoryState, int], None],
) -> bool:
    """Bring the documents of ``stories`` up to date with their records (see the module
    docstring); ``on_change(state, -1 / +1)`` for each replacement made. False if some story
    kept changing under other writers for :data:`ATTEMPTS` rounds (its counters may be off)."""
    documents = db[STORY_COUNTS]
    pending = {str(story) for story in stories if story}
    for _ in range(ATTEMPTS):
        if not pending:
            return True
        held = {doc["_id"]: doc for doc in find_in(documents, "_id", pending)}
        members = members_of(articles, pending)  # after the documents: see the docstring
        lost = set()
        for story in sorted(pending):
            new = members.state(story)
            doc = held.get(story)
            old = StoryState.from_doc(doc) if doc is not None else StoryState()
            if old == new or (doc is None and not new.multi):
                continue
            if not _swap(documents, story, doc, new):
                lost.add(story)
                continue
            on_change(old, -1)
            on_change(new, +1)
        pending = lost
    if pending:
        logger.error("Story counts of %s stories still racing other writers", len(pending))
        return False
    return True


def _swap(documents: Collection[Doc], story: str, doc: Doc | None, new: StoryState) -> bool:
    """Replace ``doc`` (None: none yet) with ``new`` unless another writer replaced it first."""
    if doc is None:
        try:
            documents.insert_one({"_id": story, "v": 1, **new.fields()})
        except DuplicateKeyError:
            return False
        return True
    version = int(doc.get("v") or 0)
    update = {"$set": {**new.fields(), "v": version + 1}}
    return documents.update_one({"_id": story, "v": doc.get("v")}, update).matched_count == 1


def ensure_indexes(db: Database[Doc]) -> None:
    db[STORY_COUNTS].create_index("first")


def counted(states: Iterable[StoryState], source: str | None = None) -> tuple[int, Counter[Any]]:
    """How many of ``states`` are multi-desk (with ``source``: and carried by it), and per
    source how many of those it carries (with ``source``: only that one)."""
    total, carried = 0, Counter[Any]()
    for state in states:
        if not state.multi or (source is not None and source not in state.sources):
            continue
        total += 1
        carried.update([source] if source is not None else state.sources)
    return total, carried


def first_published_in(db: Database[Doc], condition: Mapping[str, Any]) -> Iterator[StoryState]:
    """The stories that are or were multi-desk and were first published in ``condition`` (a
    ``published_at``-like range), from their documents."""
    for doc in db[STORY_COUNTS].find({"multi": True, "first": dict(condition)}):
        yield StoryState.from_doc(doc)
