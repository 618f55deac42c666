"""Shared pytest fixtures.

Archive tests run against a real MongoDB-compatible server, never a fake: ``MONGO_URI`` when
set, else one SecantusDB server started for the whole session in a temporary directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo.database import Database

from crawler.archive.server import find_or_start_server
from crawler.archive.store import connect


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URI of the server the archive tests use (one per session)."""
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    server = find_or_start_server(tmp_path_factory.mktemp("secantus"))
    try:
        yield server.uri
    finally:
        server.release()


@pytest.fixture
def mongo_db(mongo_uri: str) -> Iterator[Database[dict[str, Any]]]:
    """A fresh, uniquely named database, dropped after the test."""
    db = connect(mongo_uri, f"test_{uuid.uuid4().hex[:12]}")
    try:
        yield db
    finally:
        db.client.drop_database(db.name)
        db.client.close()
