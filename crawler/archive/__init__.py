"""The MongoDB archive, no Scrapy: the crawler's pipeline, the CLI, notebooks and jobs use it.

``store`` (versioned batched writes, indexes), ``location`` (which server; a shared handle),
``server`` / ``server_lease`` (the embedded SecantusDB server and its leases), ``redaction``
(credentials never recorded), ``spool`` (records waiting for the database), ``page_store``
(raw pages), ``reparse``, and the read side: ``query`` (:class:`Archive`), ``query_filter``,
``text_match``, ``export``, ``report``.

``from crawler.archive import Archive`` is the notebook entry point.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy, so importing the write side (store, spool) does not load the read side.
    if name == "Archive":
        from crawler.archive.query import Archive

        return Archive
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
