"""One storage interface over SQLite (embedded, the default) and PostgreSQL.

Every write is one transaction that is committed before the method returns:
when :meth:`Store.insert_reports` returns, the reports survive a crash of
the process (SQLite runs in WAL mode with ``synchronous=FULL``; PostgreSQL
commits synchronously). The schema is created and upgraded by Alembic
(:meth:`Store.migrate`), never by ``create_all``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    and_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from skysep.errors import StorageError
from skysep.storage._operations import OperationsStore
from skysep.storage._records import HotlineRecordStore
from skysep.storage._schema import (
    alerts,
    incident_tracks,
    incidents,
    parties,
    reports,
    tokens,
)

log = logging.getLogger("skysep.storage")

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

#: Prefix of every bearer token SkySep issues (recognisable in logs and secret scanners).
TOKEN_PREFIX: Final = "sks_"
ROLES: Final[tuple[str, ...]] = ("party", "admin")
DEFAULT_URL: Final = "sqlite:///skysep.sqlite3"


class Report(NamedTuple):
    """One accepted position report (SI), as stored (fields in the ``reports`` columns' order).

    A named tuple: built by the ten thousand each second, and handed to the
    database driver as it is.
    """

    party_id: str
    aircraft: str
    time: float
    received_at: float
    lat_deg: float
    lon_deg: float
    alt_m: float
    gs_mps: float | None = None
    track_deg: float | None = None
    vs_mps: float | None = None


#: INSERT of a batch of reports at the driver, skipping (aircraft, time) already stored.
_INSERT_REPORTS: Final = {
    "sqlite": "INSERT OR IGNORE INTO reports ({columns}) VALUES ({marks})",
    "postgresql": "INSERT INTO reports ({columns}) VALUES ({marks}) "
    "ON CONFLICT (party_id, aircraft, time) DO NOTHING",
}


@dataclass(frozen=True)
class Principal:
    """Who a bearer token speaks for: a party, or the admin (``party_id`` None)."""

    token_id: int
    party_id: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class PartyRecord:
    id: str
    name: str
    language: str
    created_at: float


@dataclass(frozen=True)
class TokenRecord:
    id: int
    party_id: str | None
    role: str
    created_at: float
    revoked_at: float | None


class _FairLock:
    """A lock granted in the order it was asked for.

    SQLite has one writer: the detection cycle, the reports' group commits
    and the record's transactions take turns, and none may be starved by the
    others (``threading.Lock`` promises no order).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._cond.wait()

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


class _WriterFileLock:
    """SQLite's one writer, across processes: an exclusive ``flock`` on ``<database>-lock``.

    The server and its ingest worker both write. Without this, the one that
    finds the database locked polls with growing sleeps (SQLite's busy
    handler, up to 100 ms a try) while the other may take the lock again and
    again; with it, the waiter sleeps in the kernel and is woken when the lock
    is let go. Where ``fcntl`` is missing (Windows), the busy handler alone
    serialises writers.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        if fcntl is None:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if fcntl is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Checkpointer:
    """A thread that checkpoints a SQLite database's write-ahead log every ``interval_s``
    (PASSIVE: it copies what no reader still needs and never blocks a writer)."""

    def __init__(self, engine: Engine, interval_s: float) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="skysep-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                with self._engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except SQLAlchemyError as exc:  # the next one tries again
                log.warning("checkpoint failed", extra={"error": _reason(exc)})

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30.0)


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored; the token itself never is."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_url(url: str) -> str:
    """A SQLAlchemy URL from what a user types: a path, ``sqlite:///...`` or ``postgresql://...``.

    ``postgresql://`` and ``postgres://`` select the psycopg (3) driver.
    """
    text = url.strip()
    if "://" not in text:
        return f"sqlite:///{text}"
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return text


def redact(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


class Store(HotlineRecordStore, OperationsStore):
    """The service's storage: parties, tokens, reports, alerts, incidents.

    Open one with :meth:`Store.open` (which migrates the schema to the
    latest revision unless told not to). Safe to share between threads.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = redact(engine.url)
        self.dialect = engine.dialect.name
        # SQLite has one writer at a time; serialising writes here avoids busy retries:
        # in order between this process's threads, then between processes.
        self._write_lock = _FairLock() if self.dialect == "sqlite" else None
        database = engine.url.database if self.dialect == "sqlite" else None
        self._file_lock = _WriterFileLock(f"{database}-lock") if database else None
        #: SQLite: whether a commit may checkpoint the write-ahead log itself (see
        #: :meth:`checkpoint_in_background`).
        self._autocheckpoint = True
        self._checkpointer: _Checkpointer | None = None

    def _on_sqlite_connect(self, dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if not self._autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    def checkpoint_in_background(self, interval_s: float = 1.0, *, run: bool = True) -> None:
        """SQLite: no commit of this store checkpoints the write-ahead log any more (by
        default the commit that grows it past 1,000 pages copies it into the database and
        waits for the disk, for every writer queued behind it); with ``run``, a thread of
        this store checkpoints every ``interval_s`` instead, beside the writers. A process
        that writes to the same file as a checkpointing one passes ``run=False``.
        No effect on PostgreSQL.
        """
        if self.dialect != "sqlite" or not self._autocheckpoint:
            return
        self._autocheckpoint = False
        self.engine.dispose()  # connections made from now on are set up without it
        if run:
            self._checkpointer = _Checkpointer(self.engine, interval_s)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str = DEFAULT_URL, *, migrate: bool = True) -> Store:
        """Connect to ``url`` (see :func:`normalise_url`) and, by default, migrate it."""
        full = normalise_url(url)
        try:
            parsed = make_url(full)
        except ArgumentError:
            raise StorageError(
                f"{url!r} is not a database URL; give a file path, sqlite:///PATH "
                "or postgresql://USER@HOST:PORT/DB"
            ) from None
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise StorageError(
                f"{redact(parsed)}: database {backend!r} is not supported, "
                "must be one of sqlite, postgresql"
            )
        kwargs: dict[str, Any] = {}
        if backend == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                raise StorageError(
                    f"{redact(parsed)}: an in-memory SQLite database is not durable; give a file"
                )
            parent = Path(database).expanduser().resolve().parent
            if not parent.is_dir():
                raise StorageError(f"{redact(parsed)}: folder {str(parent)!r} does not exist")
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["pool_size"] = 8
            kwargs["pool_pre_ping"] = True
        engine = create_engine(parsed, **kwargs)
        store = cls(engine)
        if backend == "sqlite":
            event.listen(engine, "connect", store._on_sqlite_connect)
        try:
            with engine.connect() as conn:
                conn.execute(select(1))
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StorageError(f"{redact(parsed)}: cannot connect: {_reason(exc)}") from None
        if migrate:
            store.migrate()
        return store

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic (creating it on an empty database)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        location = resources.files("skysep.storage").joinpath("migrations")
        config.set_main_option("script_location", str(location))
        try:
            with self._writing() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
        except SQLAlchemyError as exc:
            raise StorageError(f"{self.url}: cannot migrate the schema: {_reason(exc)}") from None

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        self.engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction, committed on exit (serialised on SQLite)."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        file_lock = self._file_lock or contextlib.nullcontext()
        with self._write_lock, file_lock, self.engine.begin() as conn:
            yield conn

    # -- parties and tokens ----------------------------------------------------------------

    def add_party(self, party_id: str, name: str, language: str, now: float) -> str:
        """Create a party and return its first bearer token (shown once, stored hashed)."""
        try:
            with self._writing() as conn:
                conn.execute(
                    parties.insert().values(
                        id=party_id, name=name, language=language, created_at=now
                    )
                )
                _, token = self._insert_token(conn, party_id, "party", now)
        except IntegrityError:
            raise StorageError(f"party {party_id!r} already exists") from None
        return token

    def parties(self) -> list[PartyRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(parties).order_by(parties.c.id)).all()
        return [PartyRecord(r.id, r.name, r.language, r.created_at) for r in rows]

    def party(self, party_id: str) -> PartyRecord | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(parties).where(parties.c.id == party_id)).first()
        return None if r is None else PartyRecord(r.id, r.name, r.language, r.created_at)

    def issue_token(
        self, party_id: str | None, now: float, *, revoke_others: bool = False
    ) -> tuple[int, str]:
        """A new token for a party (or an admin token when ``party_id`` is None).

        ``revoke_others`` rotates: every other live token of the same party
        (or every other admin token) is revoked in the same transaction.
        """
        role = "admin" if party_id is None else "party"
        with self._writing() as conn:
            if party_id is not None:
                found = conn.execute(select(parties.c.id).where(parties.c.id == party_id)).first()
                if found is None:
                    raise StorageError(f"no party {party_id!r}")
            if revoke_others:
                owner = (
                    tokens.c.party_id.is_(None)
                    if party_id is None
                    else tokens.c.party_id == party_id
                )
                conn.execute(
                    update(tokens)
                    .where(owner, tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
            return self._insert_token(conn, party_id, role, now)

    @staticmethod
    def _insert_token(
        conn: Connection, party_id: str | None, role: str, now: float
    ) -> tuple[int, str]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        result = conn.execute(
            tokens.insert().values(
                token_sha256=hash_token(token), party_id=party_id, role=role, created_at=now
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0]), token

    def revoke_token(self, token_id: int, now: float) -> bool:
        """Revoke one token; False when there is no live token with that id."""
        with self._writing() as conn:
            result = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return result.rowcount > 0

    def revoke_party(self, party_id: str, now: float) -> int:
        """Revoke every live token of a party; returns how many."""
        with self._writing() as conn:
            result = conn.execute(
                update(tokens)
                .where(tokens.c.party_id == party_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    def tokens(self, party_id: str | None = None) -> list[TokenRecord]:
        query = select(tokens).order_by(tokens.c.id)
        if party_id is not None:
            query = query.where(tokens.c.party_id == party_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [TokenRecord(r.id, r.party_id, r.role, r.created_at, r.revoked_at) for r in rows]

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a live token, or None (unknown or revoked)."""
        with self.engine.connect() as conn:
            r = conn.execute(
                select(tokens.c.id, tokens.c.party_id, tokens.c.role).where(
                    tokens.c.token_sha256 == hash_token(token), tokens.c.revoked_at.is_(None)
                )
            ).first()
        return None if r is None else Principal(int(r.id), r.party_id, r.role)

    # -- reports ---------------------------------------------------------------------------

    def insert_reports(self, rows: Sequence[Report]) -> int:
        """Append reports in one committed transaction (all or none); returns how many were new.

        A report of an aircraft at a time already stored (a client's retry)
        is skipped: the first one received is kept.
        """
        return self.insert_report_batches([rows])[0]

    def insert_report_batches(self, batches: Sequence[Sequence[Report]]) -> list[int]:
        """Several clients' batches in one committed transaction (one fsync for all of them);
        how many reports of each were new. All are stored, or none: a failure is a
        :class:`StorageError` naming the database and the reason."""
        insert = (
            self._copy_report_batches
            if self.dialect == "postgresql"
            else self._insert_report_batches
        )
        try:
            return insert(batches)
        # The driver's own errors too: the PostgreSQL path writes through its cursor.
        except (SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as exc:
            raise StorageError(
                f"{self.url}: none of the {len(batches)} report batch(es) was stored: "
                f"{_reason(exc)}"
            ) from None

    def _insert_report_batches(self, batches: Sequence[Sequence[Report]]) -> list[int]:
        """SQLite: one executemany per batch at the driver (sqlite3's is in C): the statement
        is fixed, the rows are plain tuples."""
        sql = _INSERT_REPORTS[self.dialect].format(
            columns=", ".join(Report._fields), marks=", ".join(["?"] * len(Report._fields))
        )
        new: list[int] = []
        with self._writing() as conn:
            for rows in batches:
                if not rows:
                    new.append(0)
                    continue
                result = conn.exec_driver_sql(sql, list(rows))
                new.append(int(result.rowcount))
        return new

    def _copy_report_batches(self, batches: Sequence[Sequence[Report]]) -> list[int]:
        """PostgreSQL: each batch is copied (``COPY ... FROM STDIN``, one stream instead of a
        statement per row) into a temporary table, then moved into ``reports`` with the
        retries left out; a statement per batch, not per report."""
        columns = ", ".join(Report._fields)
        new: list[int] = []
        with self._writing() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS reports_incoming ON COMMIT DELETE ROWS "
                f"AS SELECT {columns} FROM reports WITH NO DATA"
            )
            for rows in batches:
                if not rows:
                    new.append(0)
                    continue
                with cursor.copy(f"COPY reports_incoming ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(
                    f"INSERT INTO reports ({columns}) SELECT {columns} FROM reports_incoming "
                    "ON CONFLICT (party_id, aircraft, time) DO NOTHING"
                )
                new.append(int(cursor.rowcount))
                cursor.execute("TRUNCATE reports_incoming")
        return new

    def latest_reports(self, since: float) -> list[Report]:
        """The latest report of every aircraft whose latest report is at ``since`` or later."""
        latest = (
            select(
                reports.c.party_id,
                reports.c.aircraft,
                func.max(reports.c.time).label("time"),
            )
            .where(reports.c.time >= since)
            .group_by(reports.c.party_id, reports.c.aircraft)
            .subquery()
        )
        query = (
            select(reports)
            .join(
                latest,
                and_(
                    reports.c.party_id == latest.c.party_id,
                    reports.c.aircraft == latest.c.aircraft,
                    reports.c.time == latest.c.time,
                ),
            )
            .order_by(reports.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        # Two reports of one aircraft at the same time: the later-received one wins.
        by_key = {(r.party_id, r.aircraft): _report(r) for r in rows}
        return list(by_key.values())

    def reports_between(self, party_id: str, aircraft: str, t0: float, t1: float) -> list[Report]:
        """One aircraft's reports with ``t0 <= time <= t1``, in time order."""
        query = (
            select(reports)
            .where(
                reports.c.party_id == party_id,
                reports.c.aircraft == aircraft,
                reports.c.time >= t0,
                reports.c.time <= t1,
            )
            .order_by(reports.c.time, reports.c.id)
        )
        with self.engine.connect() as conn:
            return [_report(r) for r in conn.execute(query).all()]

    def count_reports(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(reports)).scalar_one())

    # -- alerts ----------------------------------------------------------------------------

    def store_cycle(
        self,
        events: Sequence[Mapping[str, Any]],
        opened: Sequence[Mapping[str, Any]],
        changed: Sequence[tuple[int, Mapping[str, Any]]],
    ) -> tuple[list[int], list[int]]:
        """A detection cycle's alert events, new incidents and incident changes, in one
        committed transaction (one fsync); the ids of the events and of the incidents."""
        if not events and not opened and not changed:
            return [], []
        try:
            with self._writing() as conn:
                alert_ids = _insert_returning_ids(conn, alerts, events)
                incident_ids = _insert_returning_ids(conn, incidents, opened)
                _update_incidents(conn, changed)
        except SQLAlchemyError as exc:
            raise StorageError(
                f"{self.url}: the cycle's alerts and incidents were not stored "
                f"(nothing of them was): {_reason(exc)}"
            ) from exc
        return alert_ids, incident_ids

    def alerts_for(
        self,
        party_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        level: str | None = None,
        event_name: str | None = None,
        aircraft: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Alert events that involve one of the party's aircraft, oldest first."""
        query = select(alerts).where(
            or_(alerts.c.party_a == party_id, alerts.c.party_b == party_id)
        )
        if since is not None:
            query = query.where(alerts.c.time >= since)
        if until is not None:
            query = query.where(alerts.c.time <= until)
        if level is not None:
            query = query.where(alerts.c.level == level)
        if event_name is not None:
            query = query.where(alerts.c.event == event_name)
        if aircraft is not None:
            query = query.where(
                or_(
                    and_(alerts.c.party_a == party_id, alerts.c.aircraft_a == aircraft),
                    and_(alerts.c.party_b == party_id, alerts.c.aircraft_b == aircraft),
                )
            )
        if after_id is not None:
            query = query.where(alerts.c.id > after_id)
        query = query.order_by(alerts.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def active_alerts(self) -> list[dict[str, Any]]:
        """The latest event of every pair whose latest event is not ``resolved``."""
        latest = (
            select(func.max(alerts.c.id).label("id"))
            .group_by(alerts.c.party_a, alerts.c.aircraft_a, alerts.c.party_b, alerts.c.aircraft_b)
            .subquery()
        )
        query = (
            select(alerts)
            .join(latest, alerts.c.id == latest.c.id)
            .where(alerts.c.event != "resolved")
            .order_by(alerts.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    # -- incidents -------------------------------------------------------------------------

    def record_incident_tracks(
        self, incident_id: int, rows: Sequence[Report], status: str = "recorded"
    ) -> None:
        """Copy the track segments into the incident and set its status, in one transaction."""
        with self._writing() as conn:
            if rows:
                conn.execute(
                    incident_tracks.insert(),
                    [
                        {
                            "incident_id": incident_id,
                            "party_id": r.party_id,
                            "aircraft": r.aircraft,
                            "time": r.time,
                            "lat_deg": r.lat_deg,
                            "lon_deg": r.lon_deg,
                            "alt_m": r.alt_m,
                            "gs_mps": r.gs_mps,
                            "track_deg": r.track_deg,
                            "vs_mps": r.vs_mps,
                        }
                        for r in rows
                    ],
                )
            conn.execute(
                update(incidents).where(incidents.c.id == incident_id).values(status=status)
            )

    def incidents_with_status(self, *statuses: str) -> list[dict[str, Any]]:
        query = select(incidents).where(incidents.c.status.in_(statuses)).order_by(incidents.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def incidents_for(
        self,
        party_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Incidents that involve one of the party's aircraft, by start time."""
        query = select(incidents).where(
            or_(incidents.c.party_a == party_id, incidents.c.party_b == party_id)
        )
        if since is not None:
            query = query.where(incidents.c.start >= since)
        if until is not None:
            query = query.where(incidents.c.start <= until)
        query = query.order_by(incidents.c.start, incidents.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def incident(self, incident_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
        return None if r is None else dict(r._mapping)

    def incidents_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The incidents with these ids (one query), in the order of ``ids``; unknown ids
        are left out."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(select(incidents).where(incidents.c.id.in_(list(ids)))).all()
        by_id = {int(r.id): dict(r._mapping) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def incident_tracks(self, incident_id: int) -> list[dict[str, Any]]:
        query = (
            select(incident_tracks)
            .where(incident_tracks.c.incident_id == incident_id)
            .order_by(incident_tracks.c.aircraft, incident_tracks.c.time, incident_tracks.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]


def _report(r: Any) -> Report:
    return Report(
        party_id=r.party_id,
        aircraft=r.aircraft,
        time=r.time,
        received_at=r.received_at,
        lat_deg=r.lat_deg,
        lon_deg=r.lon_deg,
        alt_m=r.alt_m,
        gs_mps=r.gs_mps,
        track_deg=r.track_deg,
        vs_mps=r.vs_mps,
    )


def _reason(exc: Exception) -> str:
    """The first line of what the database said."""
    if isinstance(exc, OperationalError) and exc.orig is not None:
        return str(exc.orig).strip().splitlines()[0]
    return str(exc).strip().splitlines()[0]


def _insert_returning_ids(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> list[int]:
    """Insert rows (one statement for all); their ids, in order."""
    if not rows:
        return []
    statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
    result = conn.execute(statement, [dict(row) for row in rows])
    return [int(i) for i in result.scalars().all()]


def _update_incidents(conn: Connection, changes: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
    """Incidents' changed values: changes that set the same columns share one statement,
    executed for all of them at once (a busy cycle changes hundreds of incidents)."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for incident_id, values in changes:
        by_columns.setdefault(tuple(sorted(values)), []).append(
            {"_id": incident_id, **{f"_v_{k}": v for k, v in values.items()}}
        )
    for columns, params in by_columns.items():
        statement = (
            update(incidents)
            .where(incidents.c.id == bindparam("_id"))
            .values({c: bindparam(f"_v_{c}") for c in columns})
        )
        conn.execute(statement, params)
