"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import BACKENDS, database

from skysep.storage import Store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store on each backend (SQLite, then PostgreSQL)."""
    with database(request.param, tmp_path) as url:
        s = Store.open(url)
        yield s
        s.close()
