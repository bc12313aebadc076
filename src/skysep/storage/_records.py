"""Storage of the hotline and of the verifiable record: threads, messages, acknowledgements,
escalations, the hash chain and its signed heads.

:class:`HotlineRecordStore` is a mixin of :class:`~skysep.storage.Store` (it uses its
``engine`` and ``_writing()``). Every write goes through :meth:`HotlineRecordStore.record`,
one transaction in which the rows (a message, its acknowledgement...) and the chain entries
that record them are written together, and the new head is signed: a crash leaves both or
neither. Appends are serialised: on SQLite by the store's write lock, on PostgreSQL by a
transaction-level advisory lock taken before the last entry is read (so two processes
cannot both append entry n); the chain's primary key refuses a duplicate ``seq`` anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    tuple_,
    update,
)

from skysep.errors import StorageError
from skysep.record import Entry, SignedHead, append, format_time, sign_head
from skysep.storage._schema import (
    acks,
    alerts,
    chain,
    chain_parties,
    escalations,
    heads,
    incidents,
    incidents_chained,
    messages,
    threads,
)

__all__ = [
    "SYSTEM_SENDER",
    "HotlineRecordStore",
    "RecordWriter",
    "Recorded",
    "jsonable",
    "recipients",
]

#: ``sender`` of the service's own messages (traffic alerts, escalations).
SYSTEM_SENDER: Final = "skysep"
#: Key of the PostgreSQL advisory lock that serialises chain appends ("SKYSEP" in ASCII).
CHAIN_LOCK_KEY: Final = 0x534B59534550

T = TypeVar("T")
#: Ids in one ``IN (...)`` at most (SQLite's limit on bound parameters is far above).
CHUNK: Final = 500


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None and tuples as lists (what a chain payload and a
    JSON column can hold)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _entry(row: Any) -> Entry:
    return Entry(
        seq=int(row.seq),
        time=row.time,
        kind=row.kind,
        parties=tuple(row.parties),
        payload=row.payload,
        salt=row.salt,
        payload_hash=row.payload_hash,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _head(row: Any) -> SignedHead:
    return SignedHead(int(row.seq), row.hash, row.time, row.key, row.signature)


def _stamp(now: float) -> str:
    return format_time(datetime.fromtimestamp(now, UTC))


def recipients(thread: Mapping[str, Any], sender: str) -> tuple[str, ...]:
    """Who must acknowledge a message of ``sender`` on ``thread``: the other party, or both
    parties for the service's own messages."""
    parties = (str(thread["party_a"]), str(thread["party_b"]))
    return tuple(p for p in parties if p != sender)


class RecordWriter:
    """The rows and chain entries of one write transaction (see :meth:`HotlineRecordStore.record`).

    Chain entries are appended in call order; each gets the transaction's time (never
    earlier than the previous entry's).

    Rows of the chain, ``chain_parties``, messages and escalations are buffered and written
    with one ``executemany`` per table when the transaction ends (:meth:`flush`, called by
    :meth:`HotlineRecordStore.record` before the head is signed): the hashes are computed
    in order as entries are appended, only the INSERTs wait. Message and thread ids are
    allocated by the writer (on SQLite the next rowid, under the write lock; on PostgreSQL
    from the column's sequence), so an entry's payload holds its message's id before the
    row is written. :attr:`conn` flushes first: statements of the caller's own see every
    row written so far.
    """

    def __init__(self, conn: Connection, last: Entry | None, now: float) -> None:
        self._conn = conn
        self._postgres = conn.dialect.name == "postgresql"
        self.now = now
        self.entries: list[Entry] = []
        self._last = last
        stamp = _stamp(now)
        if last is not None and stamp < last.time:  # the clock stepped back
            stamp = last.time
        self._time = stamp
        self._chain_rows: list[dict[str, Any]] = []
        self._party_rows: list[dict[str, Any]] = []
        self._message_rows: list[dict[str, Any]] = []
        self._escalation_rows: list[dict[str, Any]] = []
        #: Threads whose ``updated_at`` becomes ``now`` (written by :meth:`flush`).
        self._touched: dict[int, None] = {}
        #: Per table: ids reserved (PostgreSQL), or the next id to give (SQLite).
        self._reserved: dict[str, list[int]] = {"messages": [], "threads": []}
        self._next_id: dict[str, int] = {}
        #: The id of the last alert the chain holds, with this transaction's (read when
        #: :meth:`append_alerts` is first called).
        self._last_alert: int | None = None

    @property
    def conn(self) -> Connection:
        """The transaction's connection, with every buffered row written first."""
        self.flush()
        return self._conn

    @property
    def next_seq(self) -> int:
        """The seq the next appended entry will have."""
        return 0 if self._last is None else self._last.seq + 1

    def append(self, kind: str, parties: Iterable[str], payload: Mapping[str, Any]) -> Entry:
        """Append one chain entry (and index the parties it concerns)."""
        entry = append(self._last, self._time, kind, parties, jsonable(payload))
        self._chain_rows.append(
            {
                "seq": entry.seq,
                "time": entry.time,
                "kind": entry.kind,
                "parties": list(entry.parties),
                "payload": entry.payload,
                "salt": entry.salt,
                "payload_hash": entry.payload_hash,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
        )
        self._party_rows.extend({"party": p, "seq": entry.seq} for p in entry.parties)
        self._last = entry
        self.entries.append(entry)
        return entry

    def append_alerts(self, rows: Sequence[Mapping[str, Any]]) -> list[Entry]:
        """Append an ``alert`` entry for each stored alert event (with its ``id``) that the
        chain does not hold yet, in order; the entries appended.

        Alerts are chained in the order they were stored, so the chain holds
        exactly those up to the id of its last ``alert`` entry: start-up's
        recovery and a cycle handed over afterwards never chain one twice.
        """
        if not rows:
            return []
        if self._last_alert is None:
            self._last_alert = _last_chained_alert(self._conn)
        appended: list[Entry] = []
        for row in rows:
            alert_id = int(row["id"])
            if alert_id > self._last_alert:
                appended.append(self.append("alert", (row["party_a"], row["party_b"]), row))
                self._last_alert = alert_id
        return appended

    def append_incidents(self, rows: Sequence[Mapping[str, Any]]) -> list[Entry]:
        """Append an ``incident`` entry for each row (with its ``id`` and ``status``) whose
        state the chain does not hold yet, in order; the entries appended.

        An incident's states are chained once each and in order, ``open`` then
        ``closed`` (``incidents_chained``, written in this transaction): a row
        in a state the chain already holds, or an ``open`` row of an incident
        chained ``closed``, appends nothing. So start-up's recovery and a cycle
        handed over afterwards never chain an incident twice.
        """
        ids = sorted({int(row["id"]) for row in rows})
        held: dict[int, str] = {}
        for k in range(0, len(ids), CHUNK):
            query = select(incidents_chained).where(
                incidents_chained.c.incident_id.in_(ids[k : k + CHUNK])
            )
            held.update((int(r.incident_id), str(r.status)) for r in self._conn.execute(query))
        appended: list[Entry] = []
        # (incident, state) pairs: new to the chain, or moving from open to closed.
        first: list[dict[str, Any]] = []
        later: list[dict[str, Any]] = []
        for row in rows:
            incident_id, status = int(row["id"]), str(row["status"])
            before = held.get(incident_id)
            if before == status or before == "closed":
                continue
            (first if before is None else later).append({"b_id": incident_id, "status": status})
            held[incident_id] = status
            appended.append(self.append("incident", (row["party_a"], row["party_b"]), row))
        state: BindParameter[str] = bindparam("status")
        if first:
            self._conn.execute(
                incidents_chained.insert().values(incident_id=bindparam("b_id"), status=state),
                first,
            )
        if later:
            self._conn.execute(
                update(incidents_chained)
                .where(incidents_chained.c.incident_id == bindparam("b_id"))
                .values(status=state),
                later,
            )
        return appended

    def flush(self) -> None:
        """Write the buffered rows (chain, chain_parties, messages, escalations, threads'
        ``updated_at``), one ``executemany`` per table, in an order the foreign keys accept."""
        conn = self._conn
        for table, rows in (
            (chain, self._chain_rows),
            (chain_parties, self._party_rows),
            (messages, self._message_rows),
            (escalations, self._escalation_rows),
        ):
            if rows:
                conn.execute(table.insert(), rows)
                rows.clear()
        if self._touched:
            ids = list(self._touched)
            self._touched.clear()
            for chunk in _chunks(ids):
                conn.execute(
                    update(threads).where(threads.c.id.in_(chunk)).values(updated_at=self.now)
                )

    # -- ids -------------------------------------------------------------------------------

    def reserve_ids(self, table: str, count: int) -> None:
        """Take ``count`` ids for ``table`` ('messages' or 'threads') in one query
        (PostgreSQL: from its sequence; SQLite needs none): for a batch about to be written."""
        if table not in self._reserved:
            raise StorageError(f"no ids to reserve for table {table!r}")
        if not self._postgres or count <= 0:
            return
        sequence = f"pg_get_serial_sequence('{table}', 'id')"
        rows = self._conn.execute(
            text(f"SELECT nextval({sequence}) FROM generate_series(1, :n)"), {"n": count}
        ).all()
        self._reserved[table].extend(sorted(int(r[0]) for r in rows))

    def _new_id(self, table: str) -> int:
        reserved = self._reserved[table]
        if reserved:
            return reserved.pop(0)
        if self._postgres:
            self.reserve_ids(table, 1)
            return reserved.pop(0)
        if table not in self._next_id:  # the rowid SQLite would give (no AUTOINCREMENT)
            column = messages.c.id if table == "messages" else threads.c.id
            last = self._conn.execute(select(func.max(column))).scalar()
            self._next_id[table] = 1 if last is None else int(last) + 1
        given = self._next_id[table]
        self._next_id[table] = given + 1
        return given

    # -- threads ---------------------------------------------------------------------------

    def conflict_thread(
        self, party_a: str, aircraft_a: str, party_b: str, aircraft_b: str, subject: str
    ) -> dict[str, Any]:
        """The thread of a conflict between two parties' aircraft, created if absent.

        Parties are put in order (``party_a`` < ``party_b``), each with its aircraft.
        """
        [thread] = self.conflict_threads([(party_a, aircraft_a, party_b, aircraft_b, subject)])
        return thread

    def conflict_threads(
        self, wanted: Sequence[tuple[str, str, str, str, str]]
    ) -> list[dict[str, Any]]:
        """:meth:`conflict_thread` for many ``(party_a, aircraft_a, party_b, aircraft_b,
        subject)`` at once: one query for those that exist, one ``executemany`` for the new
        ones (created in the order first wanted). One thread per item, in order."""
        keys: list[tuple[str, str, str, str]] = []
        for party_a, aircraft_a, party_b, aircraft_b, _ in wanted:
            if party_a == party_b:
                raise StorageError(f"a thread needs two parties, got {party_a!r} twice")
            if party_b < party_a:
                party_a, aircraft_a, party_b, aircraft_b = party_b, aircraft_b, party_a, aircraft_a
            keys.append((party_a, aircraft_a, party_b, aircraft_b))
        if not keys:
            return []
        self.flush()  # rows read back as they stand in the transaction
        found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        distinct = list(dict.fromkeys(keys))
        columns = (threads.c.party_a, threads.c.aircraft_a, threads.c.party_b, threads.c.aircraft_b)
        for chunk in _chunks(distinct, 200):
            rows = self._conn.execute(
                select(threads)
                .where(threads.c.kind == "conflict", tuple_(*columns).in_(chunk))
                .order_by(threads.c.id)
            ).all()
            for row in rows:
                key = (row.party_a, row.aircraft_a, row.party_b, row.aircraft_b)
                found.setdefault(key, dict(row._mapping))
        subjects: dict[tuple[str, str, str, str], str] = {}
        for key, item in zip(keys, wanted, strict=True):
            subjects.setdefault(key, item[4])
        missing = [k for k in distinct if k not in found]
        self.reserve_ids("threads", len(missing))
        new_rows = [
            self._thread_values("conflict", subjects[k], k[0], k[2], k[1], k[3]) for k in missing
        ]
        if new_rows:
            self._conn.execute(threads.insert(), new_rows)
        found.update(zip(missing, new_rows, strict=True))
        return [found[k] for k in keys]

    def direct_thread(self, party_a: str, party_b: str, subject: str) -> dict[str, Any]:
        """A new thread opened by a party with another."""
        if party_a == party_b:
            raise StorageError(f"a thread needs two parties, got {party_a!r} twice")
        low, high = sorted((party_a, party_b))
        return self._insert_thread("direct", subject, low, high, None, None)

    def _thread_values(
        self,
        kind: str,
        subject: str,
        party_a: str,
        party_b: str,
        aircraft_a: str | None,
        aircraft_b: str | None,
    ) -> dict[str, Any]:
        return {
            "id": self._new_id("threads"),
            "kind": kind,
            "subject": subject,
            "party_a": party_a,
            "party_b": party_b,
            "aircraft_a": aircraft_a,
            "aircraft_b": aircraft_b,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _insert_thread(
        self,
        kind: str,
        subject: str,
        party_a: str,
        party_b: str,
        aircraft_a: str | None,
        aircraft_b: str | None,
    ) -> dict[str, Any]:
        values = self._thread_values(kind, subject, party_a, party_b, aircraft_a, aircraft_b)
        self._conn.execute(threads.insert().values(**values))
        return values

    # -- messages --------------------------------------------------------------------------

    def add_message(
        self,
        thread: Mapping[str, Any],
        sender: str,
        body: Mapping[str, Any],
        *,
        requires_ack: bool,
        deadline: float | None,
        record_kind: str = "message",
    ) -> dict[str, Any]:
        """Write a message on a thread and the chain entry (``record_kind``) that records it.

        The entry's parties are the thread's two parties; its payload is the message as
        stored (id, thread, sender, kind, body, requires_ack, deadline, time).
        """
        seq = self.next_seq
        row = {
            "id": self._new_id("messages"),
            "thread_id": int(thread["id"]),
            "sender": sender,
            "kind": str(body["kind"]),
            "body": jsonable(body),
            "requires_ack": requires_ack,
            "deadline": deadline,
            "created_at": self.now,
            "seq": seq,
        }
        self._message_rows.append(row)
        self._touched[row["thread_id"]] = None
        self.append(
            record_kind,
            (str(thread["party_a"]), str(thread["party_b"])),
            {
                "id": row["id"],
                "thread_id": row["thread_id"],
                "sender": sender,
                "kind": row["kind"],
                "body": row["body"],
                "requires_ack": requires_ack,
                "deadline": deadline,
                "time": self.now,
            },
        )
        return dict(row)

    def add_ack(self, message_id: int, party: str, reply_id: int) -> bool:
        """Record that ``party`` answered ``message_id`` with message ``reply_id``; False when
        it had already answered it (the first answer counts)."""
        conn = self.conn  # the reply written first (the ack refers to it)
        found = conn.execute(
            select(acks.c.message_id).where(acks.c.message_id == message_id, acks.c.party == party)
        ).first()
        if found is not None:
            return False
        conn.execute(
            acks.insert().values(
                message_id=message_id, party=party, time=self.now, reply_id=reply_id
            )
        )
        return True

    def add_escalation(self, message_id: int, attempt: int, escalation_id: int) -> None:
        self._escalation_rows.append(
            {
                "message_id": message_id,
                "attempt": attempt,
                "time": self.now,
                "escalation_id": escalation_id,
            }
        )


@dataclass(frozen=True)
class Recorded:
    """What one :meth:`HotlineRecordStore.record` call wrote to the chain."""

    entries: list[Entry]
    #: The head signed over the last entry (None when nothing was appended).
    head: SignedHead | None


class HotlineRecordStore:
    """Threads, messages, acknowledgements, escalations and the record (a mixin of Store)."""

    engine: Engine
    dialect: str

    def _writing(self) -> AbstractContextManager[Connection]:  # pragma: no cover - Store's
        raise NotImplementedError

    # -- writing ---------------------------------------------------------------------------

    def record(
        self,
        now: float,
        key: Ed25519PrivateKey,
        write: Callable[[RecordWriter], T],
    ) -> tuple[T, Recorded]:
        """Run ``write`` in one transaction with the chain locked, then sign the new head.

        ``write`` gets a :class:`RecordWriter`; its return value is returned with what was
        appended. When ``write`` appended entries, a head over the last one is signed with
        ``key`` and stored in the same transaction.
        """
        with self._writing() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
            last = conn.execute(select(chain).order_by(chain.c.seq.desc()).limit(1)).first()
            writer = RecordWriter(conn, None if last is None else _entry(last), now)
            value = write(writer)
            writer.flush()
            head = None
            if writer.entries:
                head = sign_head(key, writer.entries[-1], signed_at=writer.entries[-1].time)
                conn.execute(heads.insert().values(**_head_row(head)))
        return value, Recorded(writer.entries, head)

    # -- reading the record ----------------------------------------------------------------

    def unchained_alerts(self, levels: Sequence[str]) -> list[dict[str, Any]]:
        """Stored alert events of these levels after the last one the chain holds.

        The cycle chains its alerts just after storing them: a crash in between
        leaves stored alerts without an entry, which start-up appends.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(alerts)
                .where(alerts.c.id > _last_chained_alert(conn), alerts.c.level.in_(list(levels)))
                .order_by(alerts.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def unchained_incidents(self) -> list[dict[str, Any]]:
        """Stored incidents whose state the chain does not hold: never chained, or closed
        but chained open (a crash between storing a cycle and chaining it); by id."""
        held = incidents_chained.c.status
        query = (
            select(incidents)
            .outerjoin(incidents_chained, incidents_chained.c.incident_id == incidents.c.id)
            .where(or_(held.is_(None), and_(held == "open", incidents.c.status == "closed")))
            .order_by(incidents.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def chain_last(self) -> Entry | None:
        """The last entry of the chain (None when it is empty)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(chain).order_by(chain.c.seq.desc()).limit(1)).first()
        return None if row is None else _entry(row)

    def chain_entries(self, first_seq: int = 0, last_seq: int | None = None) -> list[Entry]:
        """Entries ``first_seq..last_seq`` (to the end by default), in order."""
        query = select(chain).where(chain.c.seq >= first_seq)
        if last_seq is not None:
            query = query.where(chain.c.seq <= last_seq)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query.order_by(chain.c.seq)).all()]

    def chain_entries_since(self, time: float, kinds: Sequence[str]) -> Iterator[Entry]:
        """Entries of ``kinds`` recorded at ``time`` or later, in order."""
        query = (
            select(chain)
            .where(chain.c.time >= _stamp(time), chain.c.kind.in_(list(kinds)))
            .order_by(chain.c.seq)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return (_entry(r) for r in rows)

    def entries_concerning(
        self, party: str, *, after_seq: int = -1, limit: int = 1000
    ) -> list[Entry]:
        """Entries that concern ``party`` with ``seq > after_seq``, oldest first."""
        query = (
            select(chain)
            .join(chain_parties, chain_parties.c.seq == chain.c.seq)
            .where(chain_parties.c.party == party, chain.c.seq > after_seq)
            .order_by(chain.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query).all()]

    def signed_heads(self, first_seq: int = 0, last_seq: int | None = None) -> list[SignedHead]:
        """Signed heads over entries ``first_seq..last_seq``, in order."""
        query = select(heads).where(heads.c.seq >= first_seq)
        if last_seq is not None:
            query = query.where(heads.c.seq <= last_seq)
        with self.engine.connect() as conn:
            return [_head(r) for r in conn.execute(query.order_by(heads.c.seq)).all()]

    def head_at_or_after(self, seq: int) -> SignedHead | None:
        """The first signed head over entry ``seq`` or a later one."""
        query = select(heads).where(heads.c.seq >= seq).order_by(heads.c.seq).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _head(row)

    def latest_head(self) -> SignedHead | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(heads).order_by(heads.c.seq.desc()).limit(1)).first()
        return None if row is None else _head(row)

    # -- reading the hotline ---------------------------------------------------------------

    def thread(self, thread_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(threads).where(threads.c.id == thread_id)).first()
        return None if row is None else dict(row._mapping)

    def threads_for(self, party: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The threads ``party`` belongs to, most recently updated first."""
        query = (
            select(threads)
            .where(or_(threads.c.party_a == party, threads.c.party_b == party))
            .order_by(threads.c.updated_at.desc(), threads.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query).all()]

    def conflict_thread_of(
        self, party_a: str, aircraft_a: str, party_b: str, aircraft_b: str
    ) -> dict[str, Any] | None:
        """The conflict thread of two parties' aircraft (either order), if any."""
        if party_b < party_a:
            party_a, aircraft_a, party_b, aircraft_b = party_b, aircraft_b, party_a, aircraft_a
        query = select(threads).where(
            threads.c.kind == "conflict",
            threads.c.party_a == party_a,
            threads.c.aircraft_a == aircraft_a,
            threads.c.party_b == party_b,
            threads.c.aircraft_b == aircraft_b,
        )
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(threads.c.id)).first()
        return None if row is None else dict(row._mapping)

    def message(self, message_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(messages).where(messages.c.id == message_id)).first()
        return None if row is None else dict(row._mapping)

    def thread_messages(
        self, thread_id: int, *, since: float | None = None, until: float | None = None
    ) -> list[dict[str, Any]]:
        """A thread's messages, oldest first, each with its ``acks`` ([{party, time,
        reply_id}]) and ``escalations`` ([{attempt, time, escalation_id}])."""
        query = select(messages).where(messages.c.thread_id == thread_id)
        if since is not None:
            query = query.where(messages.c.created_at >= since)
        if until is not None:
            query = query.where(messages.c.created_at <= until)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.order_by(messages.c.id)).all()]
            return _with_answers(conn, rows)

    def messages_with_answers(self, message_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Messages by id, each with its ``acks`` and ``escalations`` (as
        :meth:`thread_messages` gives them); ids not found are left out."""
        ids = list(dict.fromkeys(message_ids))
        rows: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                query = select(messages).where(messages.c.id.in_(chunk))
                rows += [dict(r._mapping) for r in conn.execute(query)]
            return {r["id"]: r for r in _with_answers(conn, rows)}

    def unanswered(self, thread_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Messages that require acknowledgement and lack one from a recipient (the other
        party; both parties for the service's own), each with its thread's parties, the
        parties that answered (``answered_by``) and its escalation times; only those of
        ``thread_ids`` when given."""
        if thread_ids is None:
            return self._pending(_unanswered())
        if not thread_ids:
            return []
        return self._pending(_unanswered(messages.c.thread_id.in_(list(thread_ids))))

    def escalation_candidates(
        self,
        now: float,
        *,
        deadline_s: float,
        interval_s: float,
        max_escalations: int,
        from_id: int = 0,
        slack_s: float = 1e-3,
    ) -> list[dict[str, Any]]:
        """The unanswered messages (as :meth:`unanswered`) with ``id >= from_id`` that may be
        due for escalation at ``now``: sent at least ``deadline_s`` before, escalated fewer
        than ``max_escalations`` times, the last time at least ``interval_s`` before (or
        never).

        Selected in SQL, ``slack_s`` wide (a superset): the exact decision is
        :func:`skysep.hotline.due_escalations`'s, on these rows. ``from_id``: see
        :meth:`first_open_message`.
        """
        last = (
            select(func.max(escalations.c.time))
            .where(escalations.c.message_id == messages.c.id)
            .scalar_subquery()
        )
        query = _unanswered(
            messages.c.id >= from_id,
            messages.c.created_at <= now - deadline_s + slack_s,
            _escalated() < max_escalations,
            or_(last.is_(None), last <= now - interval_s + slack_s),
        )
        return self._pending(query)

    def first_open_message(self, from_id: int, *, max_escalations: int) -> int:
        """The smallest message id ``>= from_id`` that may still be escalated (it requires
        an acknowledgement, lacks one, and was escalated fewer than ``max_escalations``
        times), or one past the last message when there is none.

        Every message below the id returned is settled for good (acknowledgements and
        escalations are only ever added, and a message is written with an id above every
        committed one: appends are serialised), so the caller may look only from there on.
        """
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(messages.c.id))).scalar()
            if last is None or last < from_id:
                return from_id
            found = conn.execute(
                select(messages.c.id)
                .where(
                    messages.c.id >= from_id,
                    messages.c.id <= last,
                    messages.c.requires_ack.is_(True),
                    _answers() < _needed(),
                    _escalated() < max_escalations,
                )
                .order_by(messages.c.id)
                .limit(1)
            ).scalar()
        return int(last) + 1 if found is None else int(found)

    def _pending(self, query: Select[Any]) -> list[dict[str, Any]]:
        """The messages of ``query``, each with the parties that answered it
        (``answered_by``) and its escalation times (``escalated_at``)."""
        with self.engine.connect() as conn:
            rows = _with_answers(conn, [dict(r._mapping) for r in conn.execute(query).all()])
        for r in rows:
            r["answered_by"] = [a["party"] for a in r.pop("acks")]
            r["escalated_at"] = [float(e["time"]) for e in r.pop("escalations")]
        return rows


def _with_answers(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (messages), each given its ``acks`` ([{party, time, reply_id}], in time
    order) and ``escalations`` ([{attempt, time, escalation_id}], in attempt order)."""
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        r["acks"], r["escalations"] = [], []
    for chunk in _chunks(list(by_id)):
        for a in conn.execute(
            select(acks).where(acks.c.message_id.in_(chunk)).order_by(acks.c.time)
        ):
            by_id[a.message_id]["acks"].append(
                {"party": a.party, "time": a.time, "reply_id": a.reply_id}
            )
        for e in conn.execute(
            select(escalations)
            .where(escalations.c.message_id.in_(chunk))
            .order_by(escalations.c.attempt)
        ):
            by_id[e.message_id]["escalations"].append(
                {"attempt": e.attempt, "time": e.time, "escalation_id": e.escalation_id}
            )
    return rows


def _last_chained_alert(conn: Connection) -> int:
    """The id of the last alert event the chain holds (-1: none)."""
    last = conn.execute(
        select(chain.c.payload).where(chain.c.kind == "alert").order_by(chain.c.seq.desc()).limit(1)
    ).first()
    return -1 if last is None else int(last.payload["id"])


def _answers() -> ScalarSelect[int]:
    """A message's answers (acknowledge or unable), one per party."""
    return (
        select(func.count())
        .select_from(acks)
        .where(acks.c.message_id == messages.c.id)
        .scalar_subquery()
    )


def _needed() -> ColumnElement[int]:
    """The answers a message needs: both parties' for the service's own, else the other's."""
    return case((messages.c.sender == SYSTEM_SENDER, 2), else_=1)


def _escalated() -> ScalarSelect[int]:
    """A message's escalations so far."""
    return (
        select(func.count())
        .select_from(escalations)
        .where(escalations.c.message_id == messages.c.id)
        .scalar_subquery()
    )


def _unanswered(*conditions: ColumnElement[bool]) -> Select[Any]:
    """Messages that require acknowledgement and lack one from a recipient, with their
    thread's parties, in id order (and ``conditions``)."""
    return (
        select(messages, threads.c.party_a, threads.c.party_b)
        .join(threads, threads.c.id == messages.c.thread_id)
        .where(and_(messages.c.requires_ack.is_(True), _answers() < _needed(), *conditions))
        .order_by(messages.c.id)
    )


def _head_row(head: SignedHead) -> dict[str, Any]:
    return {
        "seq": head.seq,
        "hash": head.hash,
        "time": head.time,
        "signature": head.signature,
        "key": head.key,
    }
