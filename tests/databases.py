"""The databases the storage and service tests run against: SQLite and PostgreSQL, for real.

PostgreSQL comes from ``SKYSEP_TEST_POSTGRES`` (a server URL; default: the
local server on 127.0.0.1:5432 as user postgres). ``make test`` makes sure
one is running (``scripts/postgres.sh`` starts a private one from Debian's
packages when the machine has none) and sets ``SKYSEP_REQUIRE_POSTGRES=1``,
so an unreachable server fails the run instead of skipping. Each test gets
a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from skysep.storage import normalise_url

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


def server_url() -> str:
    return os.environ.get("SKYSEP_TEST_POSTGRES", DEFAULT_SERVER)


def _with_database(url: str, name: str) -> str:
    base = url.rsplit("/", 1)[0]
    return f"{base}/{name}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; its URL (``postgresql://``)."""
    admin_url = normalise_url(server_url())
    try:
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = f"PostgreSQL at {server_url()} is not reachable: {str(exc.orig).strip()}"
        if os.environ.get("SKYSEP_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason + " (make test starts one; set SKYSEP_TEST_POSTGRES to use another)")
    name = f"skysep_test_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(server_url(), name)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database of ``backend`` (sqlite: a file under tmp_path)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'skysep.sqlite3'}"
        return
    with postgres_database() as url:
        yield url
