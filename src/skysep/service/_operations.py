"""Operations in the service (issue #6): filing and changing them, strategic-conflict notices,
live intrusion and conformance alerts; and their REST routes.

:class:`OperationsService` (one per :class:`~skysep.service.LiveService`) holds the
:class:`~skysep.operations.OperationIndex` of every party's planned and active operations,
rebuilt from storage at start-up (:meth:`OperationsService.restore`).

* **Filing and every change** (REST, in a worker thread, one at a time): the operation is
  checked against the other parties' operations; each 4D overlap becomes a notice to each
  party with only what :meth:`~skysep.operations.StrategicConflict.disclosed_to` gives it
  (its own operation and volume ids, the other party, the overlap's region, band and
  window); an overlap that is gone (a change, an end, a cancellation) becomes a
  ``withdrawn`` notice. The operation, its notices, the record's entries and a
  ``notice_of_operations`` message on the two parties' ``operations`` thread are written in
  one transaction; then the notices are pushed (``{"type": "notice"}``).
* **Each cycle** (:meth:`OperationsService.after_cycle`, in the cycle's worker thread): the
  snapshot is checked against the active volumes; intrusions (per aircraft and volume) and
  non-conformances (per aircraft and operation) are compared with the previous cycle's into
  ``new`` and ``resolved`` events, stored and recorded, then pushed by
  :meth:`OperationsService.deliver` (``{"type": "volume_alert"}``).

Operation ids are the filing party's own: the index keys them ``party:id`` so two parties'
``op1`` never meet, and a party is only ever shown its own. See ``docs/operations.md``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, cast

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from skysep import units
from skysep.errors import OperationsError, ServiceError
from skysep.hotline import parse_message
from skysep.record import Entry, make_receipt
from skysep.service._access import Party, error_responses
from skysep.service._models import AircraftState, Problem, iso, problem_value
from skysep.storage._operations import OperationsWriter
from skysep.storage._records import SYSTEM_SENDER, RecordWriter
from skysep.storage._schema import threads

if TYPE_CHECKING:
    from skysep.operations import (
        ActiveVolumes,
        Issue,
        Operation,
        OperationIndex,
        State,
        StrategicConflict,
        Volume,
    )
    from skysep.service._hub import Hub
    from skysep.service._live import Snapshot
    from skysep.service._runner import LiveService
    from skysep.storage import Store

log = logging.getLogger("skysep.service")

#: Thread kind of the hotline thread between two parties on which notices are posted.
THREAD_KIND: Final = "operations"
#: Chain entry kinds written here.
RECORD_KINDS: Final = ("operation", "notice", "volume_alert")
#: Most notices or volume alerts one GET returns.
MAX_LIST: Final = 10_000


def _key(party: str, operation_id: str) -> str:
    """The index's key of a party's operation (party ids cannot hold ':')."""
    return f"{party}:{operation_id}"


def _split(key: str) -> tuple[str, str]:
    party, _, operation_id = key.partition(":")
    return party, operation_id


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


# -- what goes over the wire --------------------------------------------------------------------


class VolumeOut(BaseModel):
    id: str
    kind: Literal["polygon", "circle"]
    lower_m: float
    upper_m: float
    lower_ft: float
    upper_ft: float
    start: str | None
    end: str | None


class OperationOut(BaseModel):
    """One of the caller's operations."""

    id: str = Field(description="The caller's id for it (unique among its operations).")
    party: str
    name: str
    state: Literal["planned", "active", "ended", "cancelled"]
    next_states: list[str] = Field(description="The states it may change to.")
    aircraft: list[str] = Field(description="The aircraft it covers (conformance).")
    volumes: list[VolumeOut]
    created_at: str | None
    updated_at: str | None
    document: dict[str, Any] = Field(description="The GeoJSON FeatureCollection as filed.")


class NoticeOut(BaseModel):
    """A strategic-conflict notice as its recipient sees it: its own operation and volume,
    the other party, and only the overlap (never the other party's operation)."""

    id: int
    conflict_id: str = Field(description="The same for both parties of the conflict.")
    event: Literal["new", "withdrawn"] = Field(
        description="'new': the overlap as it now is (it replaces an earlier notice of the "
        "same conflict); 'withdrawn': the operations no longer overlap."
    )
    time: str | None
    operation_id: str = Field(description="The recipient's own operation.")
    volume_id: str = Field(description="The recipient's own volume.")
    other_party: str
    region: dict[str, Any] = Field(description="Where both areas overlap (GeoJSON, lon/lat).")
    lower_m: float
    upper_m: float
    lower_ft: float
    upper_ft: float
    start: str | None = Field(description="The shared time window.")
    end: str | None


class OperationFiled(BaseModel):
    operation: OperationOut
    notices: list[NoticeOut] = Field(description="The notices this change sent the caller.")


class StateIn(BaseModel):
    state: Literal["active", "ended", "cancelled"]


class VolumeAlertOut(BaseModel):
    """A live volume alert as its recipient sees it.

    ``intrusion``: ``aircraft`` (of ``aircraft_party``) is in a volume of an active operation
    of ``operation_party``. The operation's party gets its ``operation_id`` and ``volume_id``;
    the aircraft's party gets only the volume's area, band and window and the operation's
    party. ``conformance``: the aircraft is outside every volume of its own party's active
    operation ``operation_id`` that lists it (its own party only).
    """

    id: int
    time: str | None
    event: Literal["new", "resolved"]
    kind: Literal["intrusion", "conformance"]
    aircraft: str
    aircraft_party: str
    operation_party: str
    operation_id: str | None = Field(description="Only for the operation's own party.")
    volume_id: str | None = Field(description="Only for the operation's own party.")
    state: AircraftState | None = Field(description="The aircraft at the time (if live).")
    area: dict[str, Any] | None = Field(description="The volume's area (GeoJSON; intrusions).")
    lower_m: float | None
    upper_m: float | None
    start: str | None
    end: str | None


# -- errors -------------------------------------------------------------------------------------


class OperationRequestError(ServiceError):
    """A refused request with its problems (the service's ErrorOut)."""

    def __init__(self, message: str, status: int, problems: Sequence[Problem]) -> None:
        super().__init__(message, status)
        self.problems = list(problems)


def issue_problem(issue: Issue) -> Problem:
    """An operation file's issue as a Problem: ``index`` the feature, ``field`` inside it
    (``operation.*`` for the collection's ``operation`` member), the value, and the message
    naming the feature."""
    fld = issue.field
    if issue.index is None and issue.location == "operation":
        fld = f"operation.{fld}" if fld else "operation"
    return Problem(
        index=issue.index,
        field=fld or None,
        value=problem_value(issue.value),
        message=f"{issue.location}: {issue.message}",
    )


# -- the service side ---------------------------------------------------------------------------


@dataclass
class _Open:
    """A conflict with notices out: its operations (index keys) and each party's view."""

    keys: frozenset[str]
    views: dict[str, dict[str, Any]]


@dataclass
class Change:
    """What one change wrote: the caller's view of the operation, its notices, the pushes."""

    operation: OperationOut
    notices: list[NoticeOut]
    pushes: list[tuple[str, dict[str, Any]]]


class OperationsService:
    """The index of filed operations, the open conflicts and the live volume alerts."""

    def __init__(self, store: Store, live: LiveService) -> None:
        from skysep.operations import OperationIndex

        self.store = store
        self.live = live
        self.index: OperationIndex = OperationIndex()
        self._lock = threading.Lock()
        self._open: dict[str, _Open] = {}
        #: Bumped when the active operations change: the cycle rebuilds its ActiveVolumes.
        self._version = 0
        self._active: tuple[int, ActiveVolumes | None, dict[tuple[str, str], Volume]] = (
            -1,
            None,
            {},
        )
        self._alerts: dict[tuple[str, ...], dict[str, Any]] = {}
        #: (party, WebSocket message) written by the cycle's thread, sent by :meth:`deliver`.
        self._outbox: list[tuple[str, dict[str, Any]]] = []

    @property
    def clock(self) -> Callable[[], float]:
        return self.live.clock

    # -- start-up --------------------------------------------------------------------------

    def restore(self) -> None:
        """Rebuild the index, the open conflicts and the open volume alerts from storage."""
        from skysep.operations import parse_operation

        with self._lock:
            count = 0
            for row in self.store.filed_operations():
                try:
                    op = parse_operation(
                        row["document"],
                        now=_utc(float(row["updated_at"])),
                        source=f"stored operation {row['id']!r} of {row['party_id']!r}",
                        operation_id=_key(row["party_id"], row["id"]),
                    )
                except OperationsError as exc:
                    log.error("stored operation unusable", extra={"error": str(exc)})
                    continue
                self.index.add(replace(op, party=row["party_id"], state=row["state"]))
                count += 1
            self._open = {}
            for n in self.store.open_notices():
                entry = self._open.setdefault(str(n["conflict_id"]), _Open(frozenset(), {}))
                entry.keys = entry.keys | {_key(n["party_id"], n["operation_id"])}
                entry.views[n["party_id"]] = _notice_fields(n)
            self._alerts = {_alert_key(r): r for r in self.store.open_volume_alerts()}
            self._version += 1
        log.info(
            "operations restored",
            extra={
                "operations": count,
                "open_conflicts": len(self._open),
                "open_volume_alerts": len(self._alerts),
            },
        )

    # -- filing and changes (REST; each in a worker thread) --------------------------------

    def _parse(
        self, party: str, document: Mapping[str, Any], now: float, operation_id: str | None
    ) -> Operation:
        from skysep.operations import InvalidOperationError, parse_operation

        member = document.get("operation")
        if isinstance(member, dict):
            claimed = member.get("party")
            if claimed is not None and claimed != party:
                raise OperationRequestError(
                    "a party files only its own operations",
                    403,
                    [
                        Problem(
                            index=None,
                            field="operation.party",
                            value=problem_value(claimed),
                            message=f"not the caller's party {party!r}",
                        )
                    ],
                )
            named = member.get("id")
            if operation_id is not None and named is not None and named != operation_id:
                raise OperationRequestError(
                    "the document names another operation",
                    422,
                    [
                        Problem(
                            index=None,
                            field="operation.id",
                            value=problem_value(named),
                            message=f"is not {operation_id!r}, the operation being changed",
                        )
                    ],
                )
        try:
            op = parse_operation(
                dict(document), now=_utc(now), source="request body", operation_id=operation_id
            )
        except InvalidOperationError as exc:
            problems = [issue_problem(i) for i in exc.issues]
            raise OperationRequestError(
                f"{len(problems)} problem(s) in the operation; nothing was stored", 422, problems
            ) from None
        return replace(op, party=party, id=op.id or f"op-{secrets.token_hex(4)}")

    def file(self, party: str, document: Mapping[str, Any]) -> Change:
        """File a new operation (state planned) for ``party``."""
        now = self.clock()
        op = self._parse(party, document, now, None)
        key = _key(party, op.id)
        with self._lock:
            if key in self.index or self.store.operation(party, op.id) is not None:
                raise ServiceError(
                    f"operation {op.id!r} is already filed; change it with "
                    f"PUT /v1/operations/{op.id}, or file it under another id",
                    409,
                )
            internal = replace(op, id=key)
            conflicts = self.index.conflicts(internal)
            stored = _stored_document(document, op.id)
            row = {
                "party_id": party,
                "id": op.id,
                "name": op.name,
                "state": "planned",
                "document": stored,
                "created_at": now,
                "updated_at": now,
            }
            change = self._commit(
                now,
                party,
                key,
                conflicts,
                lambda w: w.insert_operation(row),
                {"event": "filed", "id": op.id, "state": "planned", **_digest(stored)},
            )
            self.index.add(internal)
            return self._finish(change, party, op.id)

    def change(self, party: str, operation_id: str, document: Mapping[str, Any]) -> Change:
        """Replace a planned or active operation's volumes (its state is kept)."""
        now = self.clock()
        with self._lock:
            current = self._own(party, operation_id)
            if current["state"] not in ("planned", "active"):
                raise ServiceError(
                    f"operation {operation_id!r} is {current['state']!r}; it can no longer "
                    "change (only planned and active operations can)",
                    409,
                )
            op = self._parse(party, document, now, operation_id)
            key = _key(party, operation_id)
            internal = replace(op, id=key, state=current["state"])
            conflicts = self.index.conflicts(internal)
            stored = _stored_document(document, operation_id)
            values = {"name": op.name, "document": stored, "updated_at": now}
            change = self._commit(
                now,
                party,
                key,
                conflicts,
                lambda w: w.update_operation(party, operation_id, values),
                {"event": "changed", "id": operation_id, "state": current["state"]}
                | _digest(stored),
            )
            self.index.update(internal)
            if current["state"] == "active":
                self._version += 1
            return self._finish(change, party, operation_id)

    def set_state(self, party: str, operation_id: str, state: str) -> Change:
        """planned → active → ended, or planned/active → cancelled (409 otherwise)."""
        from skysep.operations import TransitionError
        from skysep.operations._model import check_transition

        now = self.clock()
        with self._lock:
            current = self._own(party, operation_id)
            try:
                new_state = check_transition(operation_id, cast("State", current["state"]), state)
            except TransitionError as exc:
                valid = ", ".join(exc.valid) or "none"
                raise OperationRequestError(
                    f"operation {operation_id!r} is {current['state']!r} and cannot become "
                    f"{state!r}; valid next states: {valid}",
                    409,
                    [
                        Problem(index=None, field="state", value=state, message=p)
                        for p in exc.problems
                    ],
                ) from None
            key = _key(party, operation_id)
            ending = new_state not in ("planned", "active")
            values = {"state": new_state, "updated_at": now}
            change = self._commit(
                now,
                party,
                key,
                [] if ending else None,
                lambda w: w.update_operation(party, operation_id, values),
                {"event": "state", "id": operation_id, "state": new_state},
            )
            if key in self.index:  # (absent only if its document could not be restored)
                if ending:
                    self.index.remove(key)
                else:
                    self.index.set_state(key, new_state)
            if new_state == "active" or current["state"] == "active":
                self._version += 1
            return self._finish(change, party, operation_id)

    def _own(self, party: str, operation_id: str) -> dict[str, Any]:
        row = self.store.operation(party, operation_id)
        if row is None:
            raise ServiceError(f"no operation {operation_id!r} for party {party!r}", 404)
        return row

    def _commit(
        self,
        now: float,
        party: str,
        key: str,
        conflicts: list[StrategicConflict] | None,
        write_operation: Callable[[OperationsWriter], None],
        record: dict[str, Any],
    ) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
        """Write the operation's change, the notices it causes and their record, in one
        transaction; then take the new open conflicts. ``conflicts`` None: unchanged."""
        notices: list[dict[str, Any]] = []
        current: dict[str, _Open] = {}
        previous: dict[str, _Open] = {}
        if conflicts is not None:
            for c in conflicts:
                current[c.conflict_id] = _Open(
                    frozenset({c.operation_id, c.other_operation_id}),
                    {p: _disclose(c, p) for p in (c.party, c.other_party)},
                )
            previous = {cid: o for cid, o in self._open.items() if key in o.keys}
            for cid, gone in previous.items():
                if cid not in current:
                    notices.extend(
                        {**v, "event": "withdrawn", "time": now} for v in gone.views.values()
                    )
            for cid, now_open in current.items():
                before = previous.get(cid)
                if before is None or not _same_views(before.views, now_open.views):
                    notices.extend(
                        {**v, "event": "new", "time": now} for v in now_open.views.values()
                    )
        pushes: list[tuple[str, dict[str, Any]]] = []
        messages: list[tuple[str, dict[str, Any]]] = []  # pushed after the notices
        hotline = self.live.hotline

        def write_rows(w: OperationsWriter) -> list[int]:
            write_operation(w)
            return w.insert_notices(notices)

        if hotline is None:
            ids = self.store.operations_write(write_rows)
            entries: dict[int, Entry] = {}
            posted: list[tuple[dict[str, Any], dict[str, Any]]] = []
            notice_seq: dict[tuple[int, str], int] = {}
        else:

            def write(
                w: RecordWriter,
            ) -> tuple[list[int], dict[tuple[int, str], int], list[tuple[Any, Any]]]:
                ids = write_rows(OperationsWriter(w.conn))
                w.append("operation", (party,), record)
                seqs: dict[tuple[int, str], int] = {}
                for notice_id, n in zip(ids, notices, strict=True):
                    entry = w.append("notice", (n["party_id"],), _notice_payload(n, notice_id))
                    seqs[(notice_id, n["party_id"])] = entry.seq
                written = []
                for (cid, event), pair in _by_conflict(notices).items():
                    a, b = sorted(pair)
                    thread = _operations_thread(w, a, b)
                    body = _notice_message(cid, event, pair[a], a, b)
                    message = w.add_message(
                        thread,
                        SYSTEM_SENDER,
                        body,
                        requires_ack=event == "new",
                        deadline=now + self.live.agreement.ack_deadline_s
                        if event == "new"
                        else None,
                    )
                    written.append((thread, message))
                return ids, seqs, written

            (ids, notice_seq, posted), recorded = self.store.record(now, hotline.key, write)
            entries = {e.seq: e for e in recorded.entries}
            for thread, message in posted:
                messages.extend(hotline._ws_message(thread, message, entries))
        out = []
        for notice_id, n in zip(ids, notices, strict=True):
            row = {**n, "id": notice_id}
            out.append(row)
            view = notice_view(row).model_dump(mode="json")
            seq = notice_seq.get((notice_id, n["party_id"]))
            pushes.append(
                (
                    n["party_id"],
                    {
                        "type": "notice",
                        "notice": view,
                        "receipt": self._receipt(entries.get(seq) if seq is not None else None, n),
                    },
                )
            )
        if conflicts is not None:
            for cid in previous:
                self._open.pop(cid, None)
            self._open.update(current)
        return out, pushes + messages

    def _receipt(self, entry: Entry | None, notice: Mapping[str, Any]) -> dict[str, Any] | None:
        hotline = self.live.hotline
        if entry is None or hotline is None:
            return None
        return make_receipt(hotline.key, entry, str(notice["party_id"])).to_json()

    def _finish(
        self,
        change: tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]],
        party: str,
        operation_id: str,
    ) -> Change:
        rows, pushes = change
        view = self.operation(party, operation_id)
        mine = [notice_view(r) for r in rows if r["party_id"] == party]
        return Change(view, mine, pushes)

    # -- reading (REST) --------------------------------------------------------------------

    def operation(self, party: str, operation_id: str) -> OperationOut:
        return operation_view(self._own(party, operation_id))

    def operations(self, party: str, states: Sequence[str] | None) -> list[OperationOut]:
        return [operation_view(r) for r in self.store.operations_of(party, states=states)]

    # -- the cycle -------------------------------------------------------------------------

    def _active_volumes(self) -> tuple[ActiveVolumes | None, dict[tuple[str, str], Volume]]:
        from skysep.operations import ActiveVolumes

        with self._lock:
            version, active, volumes = self._active
            if version != self._version:
                operations = self.index.active()
                active = ActiveVolumes(operations) if operations else None
                volumes = {(op.id, v.id): v for op in operations for v in op.volumes}
                self._active = (self._version, active, volumes)
        return active, volumes

    def after_cycle(self, snapshot: Snapshot) -> None:
        """Intrusions and non-conformances of the snapshot, as new and resolved events: stored
        and recorded (runs in the cycle's worker thread), queued for :meth:`deliver`."""
        active, volumes = self._active_volumes()
        now = snapshot.time
        found: dict[tuple[str, ...], dict[str, Any]] = {}
        if active is not None and len(snapshot):
            alerts = active.check(
                aircraft=snapshot.aircraft,
                party=snapshot.party,
                lat_deg=snapshot.lat_deg,
                lon_deg=snapshot.lon_deg,
                alt_m=snapshot.alt_m,
                time_s=now,
            )
            for row, v in zip(
                alerts.intrusion_aircraft.tolist(), alerts.intrusion_volume.tolist(), strict=True
            ):
                ref = alerts.volumes[v]
                _, local = _split(ref.operation_id)
                volume = volumes[(ref.operation_id, ref.volume_id)]
                event = {
                    "kind": "intrusion",
                    "aircraft": str(snapshot.aircraft[row]),
                    "aircraft_party": str(snapshot.party[row]),
                    "operation_id": local,
                    "volume_id": ref.volume_id,
                    "operation_party": ref.party,
                    "detail": {"state": snapshot.state(row), "volume": _volume_detail(volume)},
                }
                found[_alert_key(event)] = event
            for row, o in zip(
                alerts.nonconforming_aircraft.tolist(),
                alerts.nonconforming_operation.tolist(),
                strict=True,
            ):
                party, local = _split(alerts.operation_ids[o])
                event = {
                    "kind": "conformance",
                    "aircraft": str(snapshot.aircraft[row]),
                    "aircraft_party": str(snapshot.party[row]),
                    "operation_id": local,
                    "volume_id": None,
                    "operation_party": party,
                    "detail": {"state": snapshot.state(row), "volume": None},
                }
                found[_alert_key(event)] = event
        events = [
            {**e, "event": "new", "time": now} for k, e in found.items() if k not in self._alerts
        ]
        rows_by_key = snapshot.index
        for k, last in self._alerts.items():
            if k in found:
                continue
            at = rows_by_key.get(f"{last['aircraft_party']}/{last['aircraft']}")
            state = None if at is None else snapshot.state(at)
            detail = {"state": state, "volume": (last.get("detail") or {}).get("volume")}
            events.append(
                {
                    **{c: last[c] for c in _ALERT_COLUMNS},
                    "event": "resolved",
                    "time": now,
                    "detail": detail,
                }
            )
        if not events:
            return
        self._store_alerts(now, events)
        for e in events:
            if e["event"] == "new":
                self._alerts[_alert_key(e)] = e
            else:
                self._alerts.pop(_alert_key(e), None)

    def _store_alerts(self, now: float, events: list[dict[str, Any]]) -> None:
        hotline = self.live.hotline
        entries: dict[tuple[int, str], Entry] = {}
        if hotline is None:
            ids = self.store.operations_write(lambda w: w.insert_volume_alerts(events))
        else:

            def write(w: RecordWriter) -> list[int]:
                ids = OperationsWriter(w.conn).insert_volume_alerts(events)
                for alert_id, e in zip(ids, events, strict=True):
                    row = {**e, "id": alert_id}
                    for party in _alert_recipients(e):
                        payload = volume_alert_view(row, party).model_dump(mode="json")
                        entries[(alert_id, party)] = w.append("volume_alert", (party,), payload)
                return ids

            ids, _ = self.store.record(now, hotline.key, write)
        for alert_id, e in zip(ids, events, strict=True):
            e["id"] = alert_id
            for party in _alert_recipients(e):
                entry = entries.get((alert_id, party))
                self._outbox.append(
                    (
                        party,
                        {
                            "type": "volume_alert",
                            "volume_alert": volume_alert_view(e, party).model_dump(mode="json"),
                            "receipt": None
                            if entry is None or hotline is None
                            else make_receipt(hotline.key, entry, party).to_json(),
                        },
                    )
                )
        log.info("volume alerts", extra={"events": len(events)})

    def deliver(self, hub: Hub) -> None:
        """Push what the last cycle wrote (call from the event loop)."""
        outbox, self._outbox = self._outbox, []
        for party, message in outbox:
            hub.publish(party, message)


# -- helpers ------------------------------------------------------------------------------------

_NOTICE_FIELDS: Final = (
    "conflict_id",
    "party_id",
    "other_party",
    "operation_id",
    "volume_id",
    "region",
    "lower_m",
    "upper_m",
    "start",
    "end",
)
_ALERT_COLUMNS: Final = (
    "kind",
    "aircraft",
    "aircraft_party",
    "operation_id",
    "volume_id",
    "operation_party",
)


def _disclose(conflict: StrategicConflict, party: str) -> dict[str, Any]:
    """The notice fields ``party`` may see (its operation id back to its own)."""
    n = conflict.disclosed_to(party)
    return {
        "conflict_id": n.conflict_id,
        "party_id": party,
        "other_party": n.other_party,
        "operation_id": _split(n.operation_id)[1],
        "volume_id": n.volume_id,
        "region": n.region,
        "lower_m": n.lower_m,
        "upper_m": n.upper_m,
        "start": n.start.timestamp(),
        "end": n.end.timestamp(),
    }


def _notice_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in _NOTICE_FIELDS}


def _same_views(a: Mapping[str, dict[str, Any]], b: Mapping[str, dict[str, Any]]) -> bool:
    """The same disclosure to each party (regions compared as areas)."""
    from skysep.operations._geometry import same_area

    if a.keys() != b.keys():
        return False
    for party, va in a.items():
        vb = b[party]
        for name in _NOTICE_FIELDS:
            if name != "region" and va[name] != vb[name]:
                return False
        if not same_area(va["region"], vb["region"]):
            return False
    return True


def _by_conflict(
    notices: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str], dict[str, Mapping[str, Any]]]:
    out: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for n in notices:
        out.setdefault((str(n["conflict_id"]), str(n["event"])), {})[str(n["party_id"])] = n
    return out


def _notice_payload(n: Mapping[str, Any], notice_id: int) -> dict[str, Any]:
    return notice_view({**n, "id": notice_id}).model_dump(mode="json")


def _notice_message(
    conflict_id: str, event: str, notice: Mapping[str, Any], party_a: str, party_b: str
) -> dict[str, Any]:
    """The ``notice_of_operations`` both parties read on their thread: the conflict id, the
    overlap's band, window and centre; neither party's operation or volume ids."""
    start, end = float(notice["start"]), float(notice["end"])
    window = f"{iso(start)} to {iso(end)}"
    if event == "withdrawn":
        summary = (
            f"Strategic conflict {conflict_id} between {party_a} and {party_b} is withdrawn: "
            "their operations no longer overlap."
        )
    else:
        from skysep.operations._geometry import representative_point

        lon, lat = representative_point(notice["region"])
        summary = (
            f"Strategic conflict {conflict_id} between {party_a} and {party_b}: their "
            f"operations overlap from {units.m_to_ft(notice['lower_m']):,.0f} to "
            f"{units.m_to_ft(notice['upper_m']):,.0f} ft AMSL, {window}, around "
            f"{lat:.4f}, {lon:.4f}. Each party has the overlap in GET /v1/notices."
        )
    body = {
        "kind": "notice_of_operations",
        "operation_id": f"conflict-{conflict_id}",
        "start": iso(start),
        "end": iso(end),
        "summary": summary,
    }
    return parse_message(body).model_dump(mode="json")


def _operations_thread(w: RecordWriter, party_a: str, party_b: str) -> dict[str, Any]:
    """The two parties' ``operations`` thread (``party_a`` < ``party_b``), opened if absent."""
    found = w.conn.execute(
        threads.select()
        .where(
            threads.c.kind == THREAD_KIND,
            threads.c.party_a == party_a,
            threads.c.party_b == party_b,
        )
        .order_by(threads.c.id)
    ).first()
    if found is not None:
        return dict(found._mapping)
    return w._insert_thread(
        THREAD_KIND, f"Operations: {party_a} / {party_b}", party_a, party_b, None, None
    )


def _stored_document(document: Mapping[str, Any], operation_id: str) -> dict[str, Any]:
    """The document as filed, with the operation's id written in (so it parses back)."""
    stored = dict(document)
    member = stored.get("operation")
    stored["operation"] = {**(member if isinstance(member, dict) else {}), "id": operation_id}
    return stored


def _digest(document: Mapping[str, Any]) -> dict[str, Any]:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {"document_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def _volume_detail(volume: Volume) -> dict[str, Any]:
    return {
        "area": volume.geojson(),
        "lower_m": volume.lower_m,
        "upper_m": volume.upper_m,
        "start": volume.start_s,
        "end": volume.end_s,
    }


def _alert_key(e: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple("" if e[c] is None else str(e[c]) for c in _ALERT_COLUMNS)


def _alert_recipients(e: Mapping[str, Any]) -> tuple[str, ...]:
    if e["kind"] == "conformance" or e["aircraft_party"] == e["operation_party"]:
        return (str(e["aircraft_party"]),)
    return (str(e["operation_party"]), str(e["aircraft_party"]))


# -- views ----------------------------------------------------------------------------------------


def notice_view(row: Mapping[str, Any]) -> NoticeOut:
    return NoticeOut(
        id=int(row["id"]),
        conflict_id=row["conflict_id"],
        event=row["event"],
        time=iso(row["time"]),
        operation_id=row["operation_id"],
        volume_id=row["volume_id"],
        other_party=row["other_party"],
        region=row["region"],
        lower_m=row["lower_m"],
        upper_m=row["upper_m"],
        lower_ft=float(units.m_to_ft(row["lower_m"])),
        upper_ft=float(units.m_to_ft(row["upper_m"])),
        start=iso(row["start"]),
        end=iso(row["end"]),
    )


def volume_alert_view(row: Mapping[str, Any], party: str) -> VolumeAlertOut:
    """A volume alert as ``party`` sees it (see :class:`VolumeAlertOut`)."""
    detail = row.get("detail") or {}
    state = detail.get("state")
    volume = detail.get("volume") or {}
    owner = party == row["operation_party"]
    return VolumeAlertOut(
        id=int(row["id"]),
        time=iso(row["time"]),
        event=row["event"],
        kind=row["kind"],
        aircraft=row["aircraft"],
        aircraft_party=row["aircraft_party"],
        operation_party=row["operation_party"],
        operation_id=row["operation_id"] if owner else None,
        volume_id=row["volume_id"] if owner else None,
        state=None if state is None else AircraftState.from_state(state),
        area=volume.get("area"),
        lower_m=volume.get("lower_m"),
        upper_m=volume.get("upper_m"),
        start=iso(volume.get("start")),
        end=iso(volume.get("end")),
    )


def operation_view(row: Mapping[str, Any]) -> OperationOut:
    from skysep.operations import TRANSITIONS, parse_operation

    document = dict(row["document"])
    op = parse_operation(document, now=_utc(float(row["updated_at"])), operation_id=row["id"])
    return OperationOut(
        id=row["id"],
        party=row["party_id"],
        name=row["name"],
        state=row["state"],
        next_states=list(TRANSITIONS[row["state"]]),
        aircraft=list(op.aircraft),
        volumes=[
            VolumeOut(
                id=v.id,
                kind=v.kind,
                lower_m=v.lower_m,
                upper_m=v.upper_m,
                lower_ft=float(units.m_to_ft(v.lower_m)),
                upper_ft=float(units.m_to_ft(v.upper_m)),
                start=iso(v.start_s),
                end=iso(v.end_s),
            )
            for v in op.volumes
        ],
        created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]),
        document=document,
    )


# -- routes ---------------------------------------------------------------------------------------


def _service(request: Request) -> OperationsService:
    service: OperationsService = request.app.state.live.operations
    return service


Operations = Annotated[OperationsService, Depends(_service)]


_ERRORS: Final = {
    401: "No token, or an unknown or revoked one.",
    403: "An admin token (operations need a party's token), or a document naming another party.",
    404: "No such operation for this party: another party's is never shown.",
    409: "The operation exists already, or cannot make this change (the valid next "
    "states are listed).",
    422: "Invalid document or parameters: each problem names the feature (index), the "
    "field and the value.",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return error_responses(_ERRORS, *statuses)


router = APIRouter(tags=["operations"])

Document = Annotated[
    dict[str, Any],
    Body(
        description="A GeoJSON FeatureCollection, one Feature per volume (docs/operations.md).",
        examples=[
            {
                "type": "FeatureCollection",
                "operation": {"id": "survey-1", "name": "Survey", "aircraft": ["N1"]},
                "features": [
                    {
                        "type": "Feature",
                        "id": "box",
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [[[5, 43], [5.1, 43], [5.1, 43.1], [5, 43.1], [5, 43]]],
                        },
                        "properties": {
                            "lower_ft": 0,
                            "upper_ft": 3000,
                            "start": "2030-06-12T08:00:00Z",
                            "end": "2030-06-12T12:00:00Z",
                        },
                    }
                ],
            }
        ],
    ),
]


def _push(request: Request, pushes: Iterable[tuple[str, dict[str, Any]]]) -> None:
    hub: Hub = request.app.state.live.hub
    for party, message in pushes:
        hub.publish(party, message)


@router.post(
    "/v1/operations",
    response_model=OperationFiled,
    status_code=201,
    responses=_errors(401, 403, 409, 422),
)
async def file_operation(
    document: Document, party: Party, service: Operations, request: Request
) -> OperationFiled:
    """File an operation (state ``planned``). Its id is ``operation.id`` in the document (a
    new one is made when absent), unique among the caller's operations. Every overlap with
    another party's planned or active operation becomes a notice to both parties; the reply
    holds the caller's."""
    change = await run_in_threadpool(service.file, party, document)
    _push(request, change.pushes)
    return OperationFiled(operation=change.operation, notices=change.notices)


@router.get("/v1/operations", response_model=list[OperationOut], responses=_errors(401, 403, 422))
async def list_operations(
    party: Party,
    service: Operations,
    state: Annotated[
        list[Literal["planned", "active", "ended", "cancelled"]] | None,
        Query(description="Only operations in these states."),
    ] = None,
) -> list[OperationOut]:
    """The caller's operations, oldest first."""
    return await run_in_threadpool(service.operations, party, state)


@router.get(
    "/v1/operations/{operation_id}",
    response_model=OperationOut,
    responses=_errors(401, 403, 404, 422),
)
async def read_operation(operation_id: str, party: Party, service: Operations) -> OperationOut:
    """One of the caller's operations, with the document as filed."""
    return await run_in_threadpool(service.operation, party, operation_id)


@router.put(
    "/v1/operations/{operation_id}",
    response_model=OperationFiled,
    responses=_errors(401, 403, 404, 409, 422),
)
async def change_operation(
    operation_id: str, document: Document, party: Party, service: Operations, request: Request
) -> OperationFiled:
    """Replace a planned or active operation's volumes (and name, aircraft); its state is
    kept. It is checked again: new or changed overlaps are notified, those that are gone
    withdrawn."""
    change = await run_in_threadpool(service.change, party, operation_id, document)
    _push(request, change.pushes)
    return OperationFiled(operation=change.operation, notices=change.notices)


@router.post(
    "/v1/operations/{operation_id}/state",
    response_model=OperationFiled,
    responses=_errors(401, 403, 404, 409, 422),
)
async def change_state(
    operation_id: str, body: StateIn, party: Party, service: Operations, request: Request
) -> OperationFiled:
    """planned → active → ended, or planned/active → cancelled. An ended or cancelled
    operation's overlaps are withdrawn; an active one's volumes are watched live."""
    change = await run_in_threadpool(service.set_state, party, operation_id, body.state)
    _push(request, change.pushes)
    return OperationFiled(operation=change.operation, notices=change.notices)


@router.get("/v1/notices", response_model=list[NoticeOut], responses=_errors(401, 403, 422))
async def list_notices(
    party: Party,
    service: Operations,
    after_id: Annotated[int | None, Query(ge=0, description="Only ids above this.")] = None,
    operation_id: Annotated[str | None, Query(description="One of the caller's.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> list[NoticeOut]:
    """Strategic-conflict notices sent to the caller, oldest first."""
    rows = await run_in_threadpool(
        lambda: service.store.notices_for(
            party, after_id=after_id, operation_id=operation_id, limit=limit
        )
    )
    return [notice_view(r) for r in rows]


@router.get(
    "/v1/volume-alerts", response_model=list[VolumeAlertOut], responses=_errors(401, 403, 422)
)
async def list_volume_alerts(
    party: Party,
    service: Operations,
    after_id: Annotated[int | None, Query(ge=0, description="Only ids above this.")] = None,
    kind: Literal["intrusion", "conformance"] | None = None,
    event: Literal["new", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> list[VolumeAlertOut]:
    """Live volume alerts about the caller's aircraft or the caller's active volumes, oldest
    first, each as the caller may see it."""
    rows = await run_in_threadpool(
        lambda: service.store.volume_alerts_for(
            party, after_id=after_id, kind=kind, event_name=event, limit=limit
        )
    )
    return [volume_alert_view(r, party) for r in rows]


__all__ = ["OperationsService", "router"]
