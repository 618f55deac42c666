"""Reading records in a thread ahead of the code that works on them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

Doc = dict[str, Any]


def read_ahead(records: Iterable[Doc], chunk: int = 500, depth: int = 12) -> Iterator[Doc]:
    """``records``, read by a thread up to ``depth`` chunks (three windows) ahead of the
    caller, who works on them meanwhile (an export to Parquet spent about as long converting
    as reading, one after the other). Errors reach the caller where the record would have;
    stopping early stops the thread."""
    chunks: queue.Queue[list[Doc] | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: list[Doc] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            iterator = iter(records)
            while batch := list(islice(iterator, chunk)):
                if not offer(batch):
                    return
            offer(None)
        except BaseException as exc:
            offer(exc)

    reader = threading.Thread(target=produce, name="archive-read-ahead", daemon=True)
    reader.start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()
        reader.join()
