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
from sqlalchemy import Connection, Engine, and_, case, func, or_, select, text, update

from skysep.errors import StorageError
from skysep.record import Entry, SignedHead, append, format_time, sign_head
from skysep.storage._schema import (
    acks,
    chain,
    chain_parties,
    escalations,
    heads,
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
    """

    def __init__(self, conn: Connection, last: Entry | None, now: float) -> None:
        self.conn = conn
        self.now = now
        self.entries: list[Entry] = []
        self._last = last
        stamp = _stamp(now)
        if last is not None and stamp < last.time:  # the clock stepped back
            stamp = last.time
        self._time = stamp

    @property
    def next_seq(self) -> int:
        """The seq the next appended entry will have."""
        return 0 if self._last is None else self._last.seq + 1

    def append(self, kind: str, parties: Iterable[str], payload: Mapping[str, Any]) -> Entry:
        """Append one chain entry (and index the parties it concerns)."""
        entry = append(self._last, self._time, kind, parties, jsonable(payload))
        self.conn.execute(
            chain.insert().values(
                seq=entry.seq,
                time=entry.time,
                kind=entry.kind,
                parties=list(entry.parties),
                payload=entry.payload,
                salt=entry.salt,
                payload_hash=entry.payload_hash,
                prev_hash=entry.prev_hash,
                hash=entry.hash,
            )
        )
        if entry.parties:
            self.conn.execute(
                chain_parties.insert(), [{"party": p, "seq": entry.seq} for p in entry.parties]
            )
        self._last = entry
        self.entries.append(entry)
        return entry

    # -- threads ---------------------------------------------------------------------------

    def conflict_thread(
        self, party_a: str, aircraft_a: str, party_b: str, aircraft_b: str, subject: str
    ) -> dict[str, Any]:
        """The thread of a conflict between two parties' aircraft, created if absent.

        Parties are put in order (``party_a`` < ``party_b``), each with its aircraft.
        """
        if party_a == party_b:
            raise StorageError(f"a thread needs two parties, got {party_a!r} twice")
        if party_b < party_a:
            party_a, aircraft_a, party_b, aircraft_b = party_b, aircraft_b, party_a, aircraft_a
        found = self.conn.execute(
            select(threads)
            .where(
                threads.c.kind == "conflict",
                threads.c.party_a == party_a,
                threads.c.aircraft_a == aircraft_a,
                threads.c.party_b == party_b,
                threads.c.aircraft_b == aircraft_b,
            )
            .order_by(threads.c.id)
        ).first()
        if found is not None:
            return dict(found._mapping)
        return self._insert_thread("conflict", subject, party_a, party_b, aircraft_a, aircraft_b)

    def direct_thread(self, party_a: str, party_b: str, subject: str) -> dict[str, Any]:
        """A new thread opened by a party with another."""
        if party_a == party_b:
            raise StorageError(f"a thread needs two parties, got {party_a!r} twice")
        low, high = sorted((party_a, party_b))
        return self._insert_thread("direct", subject, low, high, None, None)

    def _insert_thread(
        self,
        kind: str,
        subject: str,
        party_a: str,
        party_b: str,
        aircraft_a: str | None,
        aircraft_b: str | None,
    ) -> dict[str, Any]:
        values = {
            "kind": kind,
            "subject": subject,
            "party_a": party_a,
            "party_b": party_b,
            "aircraft_a": aircraft_a,
            "aircraft_b": aircraft_b,
            "created_at": self.now,
            "updated_at": self.now,
        }
        key = self.conn.execute(threads.insert().values(**values)).inserted_primary_key
        assert key is not None
        return {"id": int(key[0]), **values}

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
        values = {
            "thread_id": int(thread["id"]),
            "sender": sender,
            "kind": str(body["kind"]),
            "body": jsonable(body),
            "requires_ack": requires_ack,
            "deadline": deadline,
            "created_at": self.now,
            "seq": seq,
        }
        key = self.conn.execute(messages.insert().values(**values)).inserted_primary_key
        assert key is not None
        row = {"id": int(key[0]), **values}
        self.conn.execute(
            update(threads).where(threads.c.id == int(thread["id"])).values(updated_at=self.now)
        )
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
        return row

    def add_ack(self, message_id: int, party: str, reply_id: int) -> bool:
        """Record that ``party`` answered ``message_id`` with message ``reply_id``; False when
        it had already answered it (the first answer counts)."""
        found = self.conn.execute(
            select(acks.c.message_id).where(acks.c.message_id == message_id, acks.c.party == party)
        ).first()
        if found is not None:
            return False
        self.conn.execute(
            acks.insert().values(
                message_id=message_id, party=party, time=self.now, reply_id=reply_id
            )
        )
        return True

    def add_escalation(self, message_id: int, attempt: int, escalation_id: int) -> None:
        self.conn.execute(
            escalations.insert().values(
                message_id=message_id, attempt=attempt, time=self.now, escalation_id=escalation_id
            )
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
            head = None
            if writer.entries:
                head = sign_head(key, writer.entries[-1], signed_at=writer.entries[-1].time)
                conn.execute(heads.insert().values(**_head_row(head)))
        return value, Recorded(writer.entries, head)

    # -- reading the record ----------------------------------------------------------------

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
            ids = [r["id"] for r in rows]
            answered = conn.execute(
                select(acks).where(acks.c.message_id.in_(ids)).order_by(acks.c.time)
            ).all()
            escalated = conn.execute(
                select(escalations)
                .where(escalations.c.message_id.in_(ids))
                .order_by(escalations.c.attempt)
            ).all()
        by_id = {r["id"]: r for r in rows}
        for r in rows:
            r["acks"], r["escalations"] = [], []
        for a in answered:
            by_id[a.message_id]["acks"].append(
                {"party": a.party, "time": a.time, "reply_id": a.reply_id}
            )
        for e in escalated:
            by_id[e.message_id]["escalations"].append(
                {"attempt": e.attempt, "time": e.time, "escalation_id": e.escalation_id}
            )
        return rows

    def unanswered(self) -> list[dict[str, Any]]:
        """Messages that require acknowledgement and lack one from a recipient (the other
        party; both parties for the service's own), each with its thread's parties, the
        parties that answered (``answered_by``) and its escalation times."""
        answers = (
            select(func.count())
            .select_from(acks)
            .where(acks.c.message_id == messages.c.id)
            .scalar_subquery()
        )
        needed = case((messages.c.sender == SYSTEM_SENDER, 2), else_=1)
        query = (
            select(messages, threads.c.party_a, threads.c.party_b)
            .join(threads, threads.c.id == messages.c.thread_id)
            .where(and_(messages.c.requires_ack.is_(True), answers < needed))
            .order_by(messages.c.id)
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query).all()]
            ids = [r["id"] for r in rows]
            answered = conn.execute(select(acks).where(acks.c.message_id.in_(ids))).all()
            escalated = conn.execute(
                select(escalations).where(escalations.c.message_id.in_(ids))
            ).all()
        by_id = {r["id"]: r for r in rows}
        for r in rows:
            r["answered_by"], r["escalated_at"] = [], []
        for a in answered:
            by_id[a.message_id]["answered_by"].append(a.party)
        for e in escalated:
            by_id[e.message_id]["escalated_at"].append(float(e.time))
        return rows


def _head_row(head: SignedHead) -> dict[str, Any]:
    return {
        "seq": head.seq,
        "hash": head.hash,
        "time": head.time,
        "signature": head.signature,
        "key": head.key,
    }
