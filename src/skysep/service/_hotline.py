"""The hotline and the verifiable record in the service: the cycle's hook, and the REST routes.

:class:`HotlineService` is called by the live cycle (:class:`~skysep.service.LiveService`),
on a thread or in the recorder process (:mod:`skysep.service._recorder`):

* after each cycle's alerts and incidents are stored, :meth:`HotlineService.record_cycle`
  appends, in transactions of at most :data:`CHUNK` alerts each with its signed head, a
  chain entry for every alert event at caution or warning, for every incident opened and
  closed, a ``traffic_alert`` message (requiring acknowledgement) on the conflict thread
  of the two parties for every new or changed alert at caution or warning between two
  parties, and an escalation for every message past its deadline;
* :meth:`HotlineService.deliver` then pushes the messages and escalations over the hub
  (``{"type": "message"}``, ``{"type": "escalation"}``), each with the recipient's receipt.

``router`` holds the REST routes (``/v1/threads...``, ``/v1/record/...``); ``create_app``
mounts it. A party sees only the threads it belongs to (any other is 404). Every write
(message, acknowledgement) is one transaction with its chain entry and a signed head.
See ``docs/hotline.md`` and ``docs/record.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from skysep.agreement import Agreement
from skysep.errors import ServiceError
from skysep.hotline import (
    REQUIRES_ACK,
    AckState,
    due_escalations,
    message_problems,
    parse_message,
    render,
)
from skysep.record import (
    Entry,
    key_fingerprint,
    make_receipt,
    public_key_hex,
    public_key_pem,
)
from skysep.service._access import Party, error_responses
from skysep.service._models import Problem, iso, problem_value
from skysep.storage._records import SYSTEM_SENDER, RecordWriter, recipients

if TYPE_CHECKING:
    from skysep.service._hub import Hub
    from skysep.service._live import CycleResult
    from skysep.storage import Store

log = logging.getLogger("skysep.service")

#: Alert levels that are recorded in the chain and open (or update) a thread.
RECORDED_LEVELS: Final = frozenset({"caution", "warning"})
#: Alert events that post a traffic alert on the thread (a resolved conflict posts none).
ALERTING_EVENTS: Final = frozenset({"new", "level"})
#: A message is escalated at most this many times (every ack_deadline_s after the deadline).
MAX_ESCALATIONS: Final = 5
#: Receipts returned by one GET /v1/record/receipts at most.
MAX_RECEIPTS: Final = 1000


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


# -- what goes over the wire ----------------------------------------------------------------------


class AckOut(BaseModel):
    party: str
    time: str | None
    reply_id: int | None = Field(description="The acknowledge or unable message.")


class EscalationOut(BaseModel):
    attempt: int
    time: str | None


class MessageOut(BaseModel):
    """A message as its reader sees it: ``text`` in the reader's language, ``body`` as sent."""

    id: int
    thread_id: int
    sender: str = Field(description="A party, or 'skysep' for the service's own messages.")
    kind: str
    text: str = Field(description="Rendered in the reader's language (free text as written).")
    body: dict[str, Any] = Field(description="The structured message (see docs/hotline.md).")
    requires_ack: bool
    deadline: str | None
    created_at: str | None
    awaiting: list[str] = Field(description="Parties that have yet to acknowledge it.")
    acks: list[AckOut]
    escalations: list[EscalationOut]
    overdue: bool = Field(description="Escalated and still awaiting an acknowledgement.")
    seq: int | None = Field(description="The chain entry that records it.")


class ThreadOut(BaseModel):
    id: int
    kind: str = Field(description="'conflict' (opened by a conflict) or 'direct'.")
    subject: str
    parties: list[str]
    aircraft: dict[str, str] | None = Field(description="Each party's aircraft (conflicts).")
    created_at: str | None
    updated_at: str | None
    flagged: bool = Field(description="A message on it was escalated and is still unanswered.")
    awaiting_me: int = Field(description="Messages awaiting the caller's acknowledgement.")


class ThreadDetail(BaseModel):
    thread: ThreadOut
    language: str = Field(description="The language the texts are rendered in.")
    messages: list[MessageOut]


class ThreadIn(BaseModel):
    party: str = Field(description="The other party.", min_length=1, max_length=64)
    subject: str = Field(min_length=1, max_length=200)


class MessageIn(BaseModel):
    message: dict[str, Any] = Field(
        description="A structured message: {'kind': ..., ...} (see docs/hotline.md)."
    )
    requires_ack: bool | None = Field(
        None, description="Default: the kind's default (free text: no)."
    )


class ReceiptItem(BaseModel):
    entry: dict[str, Any] = Field(description="The chain entry, in full (it concerns you).")
    receipt: dict[str, Any] = Field(description="The server's signed receipt for it.")


class ReceiptsOut(BaseModel):
    key: str = Field(description="The signing key's fingerprint.")
    head: dict[str, Any] | None = Field(description="The latest signed head.")
    items: list[ReceiptItem]


class KeyOut(BaseModel):
    algorithm: str
    fingerprint: str = Field(description="SHA-256 of the raw public key (hex).")
    public_key_hex: str
    public_key_pem: str


# -- the service side -----------------------------------------------------------------------------


class _InvalidError(ServiceError):
    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message, 422)
        self.problems = problems


#: Alerts (or escalations) per transaction of a cycle's record work: small enough that the
#: next cycle, which waits for nothing, never finds this work in its way for long.
CHUNK: Final = 25


@dataclass(frozen=True)
class CycleWork:
    """What the record needs of one cycle: plain values (it may go to another process)."""

    time: float
    #: The cycle's alert events, as stored (with their ids).
    events: list[dict[str, Any]]
    #: Incidents the cycle opened, as stored (with their ids).
    opened: list[dict[str, Any]]
    #: Ids of the incidents the cycle closed.
    closed: list[int]

    @classmethod
    def of(cls, result: CycleResult) -> CycleWork:
        """A stored cycle's work; the incidents as they are now (the detector goes on
        updating its own rows of them)."""
        return cls(
            result.time,
            list(result.events),
            [dict(row) for row in result.opened],
            [i for i, values in result.changed if values.get("status") == "closed"],
        )


class HotlineService:
    """Threads, messages, acknowledgements, escalations and the record, for one app."""

    def __init__(
        self,
        store: Store,
        agreement: Agreement,
        key: Ed25519PrivateKey,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.agreement = agreement
        self.key = key
        self.clock = clock
        self.fingerprint = key_fingerprint(key)
        #: (party, WebSocket message) written by the cycle's thread, sent by :meth:`deliver`.
        self._outbox: list[tuple[str, dict[str, Any]]] = []
        #: Each known party's language (see :meth:`_language`).
        self._languages: dict[str, str] = {}
        #: Messages below this id are settled for good (see ``Store.first_open_message``):
        #: the due-selection looks from here on, not through the whole history.
        self._open_from = 0

    # -- the cycle -------------------------------------------------------------------------

    def recover(self) -> int:
        """Chain the stored alerts and incidents a crash left unchained (start-up); how
        many entries that made.

        Alerts are appended as they were stored, in order, after everything the
        chain already holds; then each incident whose state the chain lacks
        (its opening, or its end), as it is now. The traffic-alert messages
        the alerts would have posted are not sent late: the conflicts are over
        or alerted again live.
        """
        alerts = self._chain_in_chunks(
            self.store.unchained_alerts(sorted(RECORDED_LEVELS)), RecordWriter.append_alerts
        )
        if alerts:
            log.warning("alerts chained at start-up", extra={"count": alerts})
        incidents = self._chain_in_chunks(
            self.store.unchained_incidents(), RecordWriter.append_incidents
        )
        if incidents:
            log.warning("incidents chained at start-up", extra={"count": incidents})
        return alerts + incidents

    def _chain_in_chunks(
        self,
        rows: list[dict[str, Any]],
        append: Callable[[RecordWriter, Sequence[Mapping[str, Any]]], list[Entry]],
    ) -> int:
        """Chain ``rows`` with ``append``, :data:`CHUNK` to a transaction; entries made."""
        made = 0
        for k in range(0, len(rows), CHUNK):

            def write(w: RecordWriter, chunk: list[dict[str, Any]] = rows[k : k + CHUNK]) -> int:
                return len(append(w, chunk))

            made += self.store.record(self.clock(), self.key, write)[0]
        return made

    def record_cycle(self, work: CycleWork, pause: Callable[[], object] = lambda: None) -> None:
        """A cycle's record and hotline work; its pushes wait for :meth:`deliver`.

        The work is written in transactions of at most :data:`CHUNK` alerts or
        escalations, each with its signed head, so that a busy cycle never
        holds the database's writer for long (SQLite has one: reports wait
        behind it). ``pause`` is called before each: a service that does this
        work on a thread of its own process waits there while a detection
        cycle runs (the two would share one interpreter)."""
        now = work.time
        events = [e for e in work.events if e["level"] in RECORDED_LEVELS]
        due = self._due(now)
        if not events and not work.opened and not work.closed and not due:
            return
        closed_rows = self.store.incidents_by_id(work.closed)
        chunks = max(1, -(-len(events) // CHUNK), -(-len(due) // CHUNK))
        for k in range(chunks):
            first = k == 0
            pause()
            self._record(
                now,
                events[k * CHUNK : (k + 1) * CHUNK],
                work.opened if first else [],
                closed_rows if first else [],
                due[k * CHUNK : (k + 1) * CHUNK],
            )
        if due:
            log.info("messages escalated", extra={"count": len(due)})

    def take_outbox(self) -> list[tuple[str, dict[str, Any]]]:
        """The pushes written since the last call (party, WebSocket message), in order."""
        outbox, self._outbox = self._outbox, []
        return outbox

    def _record(
        self,
        now: float,
        events: list[dict[str, Any]],
        opened: list[dict[str, Any]],
        closed_rows: list[dict[str, Any]],
        due: list[tuple[dict[str, Any], int, float]],
    ) -> None:
        """One transaction of :meth:`record_cycle`'s work, and the pushes it makes."""

        def write(w: RecordWriter) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
            posted: list[tuple[dict[str, Any], dict[str, Any], str]] = []
            # A recorder that replaced a dead one has chained some of them at its start
            # (recover): those are not chained twice, their traffic alerts are posted.
            w.append_alerts(events)
            w.append_incidents([*opened, *closed_rows])
            alerting = [
                e for e in events if e["event"] in ALERTING_EVENTS and e["party_a"] != e["party_b"]
            ]
            w.reserve_ids("messages", len(alerting) + len(due))
            conflicts = w.conflict_threads(
                [
                    (
                        e["party_a"],
                        e["aircraft_a"],
                        e["party_b"],
                        e["aircraft_b"],
                        f"Conflict {e['aircraft_a']} ({e['party_a']}) / "
                        f"{e['aircraft_b']} ({e['party_b']})",
                    )
                    for e in alerting
                ]
            )
            for event, thread in zip(alerting, conflicts, strict=True):
                row = w.add_message(
                    thread,
                    SYSTEM_SENDER,
                    _traffic_alert(event),
                    requires_ack=True,
                    deadline=now + self.agreement.ack_deadline_s,
                )
                posted.append((thread, row, "message"))
            for pending, attempt, overdue_s in due:
                thread = {
                    "id": pending["thread_id"],
                    "party_a": pending["party_a"],
                    "party_b": pending["party_b"],
                }
                body = {
                    "kind": "escalation",
                    "refers_to": str(pending["id"]),
                    "attempt": attempt,
                    "overdue_s": overdue_s,
                }
                parse_message(body)
                row = w.add_message(
                    thread,
                    SYSTEM_SENDER,
                    body,
                    requires_ack=False,
                    deadline=None,
                    record_kind="escalation",
                )
                w.add_escalation(int(pending["id"]), attempt, int(row["id"]))
                posted.append((thread, row, "escalation"))
            return posted

        posted, recorded = self.store.record(now, self.key, write)
        entries = {e.seq: e for e in recorded.entries}
        originals = (
            self.store.messages_with_answers([int(p["id"]) for p, _, _ in due]) if due else {}
        )
        for thread, row, kind in posted:
            if kind == "message":
                self._queue_message(thread, row, entries)
            else:
                self._queue_escalation(thread, row, entries, originals)

    def _due(self, now: float) -> list[tuple[dict[str, Any], int, float]]:
        """The messages to escalate now, each with its attempt and seconds overdue: the
        database selects those that may be due, :func:`due_escalations` decides."""
        self._open_from = self.store.first_open_message(
            self._open_from, max_escalations=MAX_ESCALATIONS
        )
        candidates = self.store.escalation_candidates(
            now,
            deadline_s=self.agreement.ack_deadline_s,
            interval_s=self.agreement.ack_deadline_s,
            max_escalations=MAX_ESCALATIONS,
            from_id=self._open_from,
        )
        pending = {int(r["id"]): r for r in candidates}
        states = [
            AckState(
                str(i),
                _utc(float(r["created_at"])),
                True,
                tuple(_utc(t) for t in sorted(r["escalated_at"])),
            )
            for i, r in pending.items()
        ]
        due = due_escalations(
            states,
            set(),
            _utc(now),
            deadline_s=self.agreement.ack_deadline_s,
            max_escalations=MAX_ESCALATIONS,
        )
        return [(pending[int(d.message_id)], d.attempt, round(d.overdue_s, 3)) for d in due]

    def deliver(self, hub: Hub, outbox: Sequence[tuple[str, dict[str, Any]]] | None = None) -> None:
        """Push what the last cycle wrote, or ``outbox`` (what a recorder process wrote);
        call from the event loop."""
        for party, message in self.take_outbox() if outbox is None else outbox:
            hub.publish(party, message)

    def _language(self, party: str) -> str:
        """The party's language ('en' for an unknown party), cached: a party's language is
        set when it is created and never changes (an unknown party is asked again)."""
        language = self._languages.get(party)
        if language is None:
            record = self.store.party(party)
            if record is None:
                return "en"
            language = self._languages[party] = record.language
        return language

    def _receipt(self, entry: Entry | None, party: str) -> dict[str, Any] | None:
        if entry is None or not entry.concerns(party):
            return None
        return make_receipt(self.key, entry, party).to_json()

    def _ws_message(
        self, thread: Mapping[str, Any], row: dict[str, Any], entries: Mapping[int, Entry]
    ) -> list[tuple[str, dict[str, Any]]]:
        full = {**row, "acks": [], "escalations": []}
        out = []
        for party in (str(thread["party_a"]), str(thread["party_b"])):
            view = message_view(full, thread, self._language(party))
            out.append(
                (
                    party,
                    {
                        "type": "message",
                        "thread_id": int(thread["id"]),
                        "message": view.model_dump(mode="json"),
                        "receipt": self._receipt(entries.get(int(row["seq"])), party),
                    },
                )
            )
        return out

    def _queue_message(
        self, thread: Mapping[str, Any], row: dict[str, Any], entries: Mapping[int, Entry]
    ) -> None:
        self._outbox.extend(self._ws_message(thread, row, entries))

    def _queue_escalation(
        self,
        thread: Mapping[str, Any],
        row: dict[str, Any],
        entries: Mapping[int, Entry],
        originals: Mapping[int, Mapping[str, Any]],
    ) -> None:
        """The escalation message to both parties; the original (``originals``: by id, with
        acks and escalations) re-sent to those who owe an answer, as
        ``{"type": "escalation"}``."""
        original = originals[int(row["body"]["refers_to"])]
        owing = set(awaiting(original, thread))
        for party, message in self._ws_message(thread, row, entries):
            if party in owing:
                message = {
                    "type": "escalation",
                    "thread_id": int(thread["id"]),
                    "attempt": int(row["body"]["attempt"]),
                    "overdue_s": float(row["body"]["overdue_s"]),
                    "message": message_view(original, thread, self._language(party)).model_dump(
                        mode="json"
                    ),
                    "escalation": message["message"],
                    "receipt": message["receipt"],
                }
            self._outbox.append((party, message))

    # -- REST (each runs in a worker thread) -----------------------------------------------

    def own_thread(self, thread_id: int, party: str) -> dict[str, Any]:
        thread = self.store.thread(thread_id)
        if thread is None or party not in (thread["party_a"], thread["party_b"]):
            raise ServiceError(f"no thread {thread_id} for party {party!r}", 404)
        return thread

    def threads(self, party: str, limit: int) -> list[ThreadOut]:
        rows = self.store.threads_for(party, limit=limit)
        pending = [
            {
                **m,
                "acks": [{"party": p} for p in m["answered_by"]],
                "escalations": m["escalated_at"],
            }
            for m in self.store.unanswered([int(t["id"]) for t in rows])
        ]
        return [
            thread_view(t, party, [m for m in pending if m["thread_id"] == t["id"]]) for t in rows
        ]

    def read(self, thread_id: int, party: str) -> ThreadDetail:
        thread = self.own_thread(thread_id, party)
        language = self._language(party)
        rows = self.store.thread_messages(thread_id)
        views = [message_view(m, thread, language) for m in rows]
        return ThreadDetail(
            thread=thread_view(thread, party, rows), language=language, messages=views
        )

    def open_thread(self, party: str, body: ThreadIn) -> ThreadOut:
        if body.party == party:
            raise _InvalidError(
                "a thread is between two parties",
                [
                    Problem(
                        index=None,
                        field="party",
                        value=body.party,
                        message="the caller's own party",
                    )
                ],
            )
        if self.store.party(body.party) is None:
            raise ServiceError(f"no party {body.party!r}", 404)
        thread, _ = self.store.record(
            self.clock(), self.key, lambda w: w.direct_thread(party, body.party, body.subject)
        )
        return thread_view(thread, party, [])

    def send(
        self, thread_id: int, party: str, body: MessageIn
    ) -> tuple[MessageOut, list[tuple[str, dict[str, Any]]]]:
        """Validate and store a message (and the acknowledgement it carries), recorded in the
        chain in the same transaction; returns the sender's view and what to push."""
        thread = self.own_thread(thread_id, party)
        problems = message_problems(body.message)
        if problems:
            raise _InvalidError(
                f"{len(problems)} problem(s) in the message; nothing was stored",
                [
                    Problem(
                        index=None,
                        field=f"message.{f}" if f != "message" else f,
                        value=problem_value(v),
                        message=m,
                    )
                    for f, v, m in problems
                ],
            )
        message = parse_message(body.message)
        kind = message.kind
        if kind == "escalation":
            raise _InvalidError(
                "escalations are written by the service",
                [
                    Problem(
                        index=None,
                        field="message.kind",
                        value=kind,
                        message="written by the service only",
                    )
                ],
            )
        refers: dict[str, Any] | None = None
        if kind in ("acknowledge", "unable"):
            refers = self._answerable(thread, party, str(body.message["refers_to"]))
        requires_ack = kind in REQUIRES_ACK if body.requires_ack is None else body.requires_ack
        if refers is not None and requires_ack:
            raise _InvalidError(
                "an answer cannot itself require acknowledgement",
                [
                    Problem(
                        index=None,
                        field="requires_ack",
                        value=True,
                        message="not for acknowledge/unable",
                    )
                ],
            )
        now = self.clock()

        def write(w: RecordWriter) -> dict[str, Any]:
            row = w.add_message(
                thread,
                party,
                message.model_dump(mode="json", exclude_none=True),
                requires_ack=requires_ack,
                deadline=now + self.agreement.ack_deadline_s if requires_ack else None,
                record_kind="message" if refers is None else "ack",
            )
            if refers is not None and not w.add_ack(int(refers["id"]), party, int(row["id"])):
                raise ServiceError(f"message {refers['id']} was already answered by {party!r}", 409)
            return row

        row, recorded = self.store.record(now, self.key, write)
        entries = {e.seq: e for e in recorded.entries}
        pushes = self._ws_message(thread, row, entries)
        view = message_view({**row, "acks": [], "escalations": []}, thread, self._language(party))
        return view, pushes

    def _answerable(self, thread: Mapping[str, Any], party: str, refers_to: str) -> dict[str, Any]:
        target = self.store.message(int(refers_to)) if refers_to.isdigit() else None
        problem = None
        if target is None or target["thread_id"] != thread["id"]:
            problem = f"no message {refers_to} on thread {thread['id']}"
        elif not target["requires_ack"]:
            problem = f"message {refers_to} does not require acknowledgement"
        elif party not in recipients(thread, target["sender"]):
            problem = f"message {refers_to} is the caller's own"
        if problem is not None:
            raise _InvalidError(
                problem,
                [Problem(index=None, field="message.refers_to", value=refers_to, message=problem)],
            )
        assert target is not None
        return target

    def receipts(self, party: str, after_seq: int, limit: int) -> ReceiptsOut:
        entries = self.store.entries_concerning(party, after_seq=after_seq, limit=limit)
        head = self.store.latest_head()
        return ReceiptsOut(
            key=self.fingerprint,
            head=None if head is None else head.to_json(),
            items=[
                ReceiptItem(entry=e.to_json(), receipt=make_receipt(self.key, e, party).to_json())
                for e in entries
            ],
        )


def _traffic_alert(event: Mapping[str, Any]) -> dict[str, Any]:
    def non_negative(name: str) -> float:
        value = event.get(name)
        return 0.0 if value is None else max(0.0, float(value))

    body = {
        "kind": "traffic_alert",
        "aircraft_a": event["aircraft_a"],
        "party_a": event["party_a"],
        "aircraft_b": event["aircraft_b"],
        "party_b": event["party_b"],
        "level": event["level"],
        "t_in_s": non_negative("t_in_s"),
        "t_cpa_s": non_negative("t_cpa_s"),
        "h_cpa_m": non_negative("h_cpa_m"),
        "v_cpa_m": non_negative("v_cpa_m"),
    }
    return parse_message(body).model_dump(mode="json")


def awaiting(message: Mapping[str, Any], thread: Mapping[str, Any]) -> list[str]:
    """The parties that owe ``message`` an acknowledgement (none if it requires none)."""
    if not message["requires_ack"]:
        return []
    answered = {a["party"] for a in message.get("acks", ())}
    return [p for p in recipients(thread, message["sender"]) if p not in answered]


def message_view(
    message: Mapping[str, Any], thread: Mapping[str, Any], language: str
) -> MessageOut:
    owed = awaiting(message, thread)
    escalated = message.get("escalations", [])
    return MessageOut(
        id=int(message["id"]),
        thread_id=int(message["thread_id"]),
        sender=message["sender"],
        kind=message["kind"],
        text=render(message["body"], language),
        body=dict(message["body"]),
        requires_ack=bool(message["requires_ack"]),
        deadline=iso(message["deadline"]),
        created_at=iso(message["created_at"]),
        awaiting=owed,
        acks=[
            AckOut(party=a["party"], time=iso(a["time"]), reply_id=a["reply_id"])
            for a in message.get("acks", [])
        ],
        escalations=[EscalationOut(attempt=e["attempt"], time=iso(e["time"])) for e in escalated],
        overdue=bool(owed and escalated),
        seq=message.get("seq"),
    )


def thread_view(
    thread: Mapping[str, Any], party: str, pending: Iterable[Mapping[str, Any]]
) -> ThreadOut:
    """``pending``: the thread's messages awaiting an acknowledgement (others may be given
    too), each with its ``acks`` and ``escalations``."""
    flagged, mine = False, 0
    for m in pending:
        owing = awaiting(m, thread)
        flagged = flagged or bool(owing and m.get("escalations"))
        mine += party in owing
    aircraft = None
    if thread["aircraft_a"] is not None and thread["aircraft_b"] is not None:
        aircraft = {
            thread["party_a"]: thread["aircraft_a"],
            thread["party_b"]: thread["aircraft_b"],
        }
    return ThreadOut(
        id=int(thread["id"]),
        kind=thread["kind"],
        subject=thread["subject"],
        parties=[thread["party_a"], thread["party_b"]],
        aircraft=aircraft,
        created_at=iso(thread["created_at"]),
        updated_at=iso(thread["updated_at"]),
        flagged=flagged,
        awaiting_me=mine,
    )


# -- routes -------------------------------------------------------------------------------------


def _hotline(request: Request) -> HotlineService:
    service: HotlineService = request.app.state.hotline
    return service


Hotline = Annotated[HotlineService, Depends(_hotline)]


_ERRORS: Final = {
    401: "No token, or an unknown or revoked one.",
    403: "An admin token: the hotline needs a party's token.",
    404: "No such thread (or message) for this party: another party's is never shown.",
    409: "The message was already acknowledged by the caller.",
    422: "Invalid body or parameters: every offending field is named with its value.",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return error_responses(_ERRORS, *statuses)


router = APIRouter(tags=["hotline"])


@router.get("/v1/threads", response_model=list[ThreadOut], responses=_errors(401, 403, 422))
async def list_threads(
    party: Party,
    hotline: Hotline,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ThreadOut]:
    """The caller's threads, most recently active first."""
    return await run_in_threadpool(hotline.threads, party, limit)


@router.post(
    "/v1/threads",
    response_model=ThreadOut,
    status_code=201,
    responses=_errors(401, 403, 404, 422),
)
async def open_thread(body: ThreadIn, party: Party, hotline: Hotline) -> ThreadOut:
    """Open a thread with another party (conflict threads are opened by the service)."""
    return await run_in_threadpool(hotline.open_thread, party, body)


@router.get(
    "/v1/threads/{thread_id}",
    response_model=ThreadDetail,
    responses=_errors(401, 403, 404, 422),
)
async def read_thread(thread_id: int, party: Party, hotline: Hotline) -> ThreadDetail:
    """A thread of the caller's with its messages, rendered in the caller's language."""
    return await run_in_threadpool(hotline.read, thread_id, party)


async def _send(
    request: Request, hotline: HotlineService, thread_id: int, party: str, body: MessageIn
) -> MessageOut:
    view, pushes = await run_in_threadpool(hotline.send, thread_id, party, body)
    hub = request.app.state.live.hub
    for recipient, message in pushes:
        hub.publish(recipient, message)
    return view


@router.post(
    "/v1/threads/{thread_id}/messages",
    response_model=MessageOut,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
async def send_message(
    thread_id: int, body: MessageIn, party: Party, hotline: Hotline, request: Request
) -> MessageOut:
    """Send a message (free text or structured) on a thread; stored and recorded in the chain
    before the reply, then pushed to both parties' WebSockets. An ``acknowledge`` or
    ``unable`` answers the message it ``refers_to``."""
    return await _send(request, hotline, thread_id, party, body)


@router.post(
    "/v1/threads/{thread_id}/messages/{message_id}/ack",
    response_model=MessageOut,
    status_code=201,
    responses=_errors(401, 403, 404, 409, 422),
)
async def acknowledge(
    thread_id: int, message_id: int, party: Party, hotline: Hotline, request: Request
) -> MessageOut:
    """Acknowledge a message (the same as sending ``{"kind": "acknowledge", "refers_to"}``)."""
    body = MessageIn(
        message={"kind": "acknowledge", "refers_to": str(message_id)}, requires_ack=None
    )
    return await _send(request, hotline, thread_id, party, body)


@router.get(
    "/v1/record/receipts",
    response_model=ReceiptsOut,
    tags=["record"],
    responses=_errors(401, 403, 422),
)
async def receipts(
    party: Party,
    hotline: Hotline,
    after_seq: Annotated[int, Query(ge=-1, description="Only entries after this seq.")] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_RECEIPTS)] = 100,
) -> ReceiptsOut:
    """The chain entries that concern the caller, each with the server's signed receipt
    (``skysep.receipt/1``: its head is the entry itself), and the latest signed head."""
    return await run_in_threadpool(hotline.receipts, party, after_seq, limit)


@router.get(
    "/v1/record/key",
    response_model=KeyOut,
    tags=["record"],
    responses=_errors(401, 403, 422),
)
async def record_key(_party: Party, hotline: Hotline) -> KeyOut:
    """The server's Ed25519 public key, which signs heads, receipts and evidence bundles."""
    return KeyOut(
        algorithm="Ed25519",
        fingerprint=hotline.fingerprint,
        public_key_hex=public_key_hex(hotline.key),
        public_key_pem=public_key_pem(hotline.key),
    )


__all__ = ["HotlineService", "router"]
