"""An incident's evidence bundle, from the service's database (``skysep evidence export``).

Unlike the rest of :mod:`skysep.record` this module reads storage: it gathers the
incident, both aircraft's track segments, the related chain entries, heads and receipts,
and hands them to :func:`~skysep.record.write_bundle`. What goes in:

* the run of chain entries from the first one related to the incident to the first
  signed head at or after the last related one (entries in between that do not concern
  exactly the incident's parties are redacted);
* related entries: the incident's own ``incident`` entries (opened, closed), the
  ``alert`` entries of the same two aircraft from :data:`BEFORE_S` before the start to
  :data:`AFTER_S` after the end, and the ``message``, ``ack`` and ``escalation`` entries
  of the pair's conflict thread from :data:`BEFORE_S` before the start to
  :data:`MESSAGES_AFTER_S` after the end;
* the receipts of both parties for the revealed entries that concern them (signed now,
  each with the entry as its head, as the service hands them out);
* the tracks recorded with the incident (``incident_tracks``), or, before they are
  recorded (a minute after the end), both aircraft's stored reports over the same window.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skysep.errors import RecordError
from skysep.record._bundle import write_bundle
from skysep.record._chain import Entry, VerificationResult, format_time
from skysep.record._signing import make_receipt

if TYPE_CHECKING:
    from skysep.storage import Store

__all__ = ["AFTER_S", "BEFORE_S", "MESSAGES_AFTER_S", "export_incident"]

#: Alerts, messages and tracks from this long before the incident's start ...
BEFORE_S: Final = 120.0
#: ... alerts and tracks to this long after its end ...
AFTER_S: Final = 60.0
#: ... and the thread's messages to this long after its end (answers come later than alerts).
MESSAGES_AFTER_S: Final = 1800.0


def _stamp(epoch_s: float) -> str:
    return format_time(datetime.fromtimestamp(epoch_s, UTC))


def _same_pair(payload: Any, row: dict[str, Any]) -> bool:
    if not isinstance(payload, dict):
        return False
    sides = {(payload.get("party_a"), payload.get("aircraft_a")),
             (payload.get("party_b"), payload.get("aircraft_b"))}  # fmt: skip
    return sides == {(row["party_a"], row["aircraft_a"]), (row["party_b"], row["aircraft_b"])}


def _track_rows(store: Store, row: dict[str, Any], t0: float, t1: float) -> list[dict[str, Any]]:
    points = store.incident_tracks(int(row["id"]))
    if not points:
        points = [
            r._asdict()
            for side in ("a", "b")
            for r in store.reports_between(row[f"party_{side}"], row[f"aircraft_{side}"], t0, t1)
        ]
    return [
        {
            "time": float(p["time"]),
            "aircraft": p["aircraft"],
            "party": p["party_id"],
            "lat": p["lat_deg"],
            "lon": p["lon_deg"],
            "alt_m": p["alt_m"],
            "gs_mps": p["gs_mps"],
            "track_deg": p["track_deg"],
            "vs_mps": p["vs_mps"],
        }
        for p in points
    ]


def export_incident(
    store: Store, incident_id: int, path: str | Path, key: Ed25519PrivateKey
) -> VerificationResult:
    """Write incident ``incident_id``'s evidence bundle to ``path``; the verification result.

    ``key`` must be the server's key (the one that signed the chain's heads): the bundle
    is verified before it is moved into place, and a head signed with another key fails.
    """
    row = store.incident(incident_id)
    if row is None:
        raise RecordError(f"no incident {incident_id} in {store.url}")
    start = float(row["start"])
    end = float(row["end"]) if row["end"] is not None else float(row["time_of_min"])
    t0, t1, t_messages = start - BEFORE_S, end + AFTER_S, end + MESSAGES_AFTER_S
    parties = {str(row["party_a"]), str(row["party_b"])}
    related: list[int] = []
    for entry in store.chain_entries_since(t0, ("alert", "incident")):
        payload = entry.payload
        if entry.kind == "incident":
            if isinstance(payload, dict) and str(payload.get("id")) == str(incident_id):
                related.append(entry.seq)
        elif entry.time <= _stamp(t1) and _same_pair(payload, row):
            related.append(entry.seq)
    thread = store.conflict_thread_of(
        row["party_a"], row["aircraft_a"], row["party_b"], row["aircraft_b"]
    )
    if thread is not None:
        messages = store.thread_messages(int(thread["id"]), since=t0, until=t_messages)
        related.extend(int(m["seq"]) for m in messages if m["seq"] is not None)
    if not related:
        raise RecordError(
            f"incident {incident_id} has no entry in the record (recorded before the record "
            "was kept?)"
        )
    first, last = min(related), max(related)
    head = store.head_at_or_after(last)
    if head is None:
        raise RecordError(f"no signed head covers entry {last} yet; try again after a cycle")
    entries = store.chain_entries(first, head.seq)
    heads = store.signed_heads(first, head.seq)

    def reveal(entry: Entry) -> bool:
        return set(entry.parties) == parties

    receipts = [
        make_receipt(key, e, p)
        for e in entries
        if reveal(e)
        for p in sorted(parties)
        if e.concerns(p)
    ]
    return write_bundle(
        path,
        incident_id=str(incident_id),
        entries=entries,
        heads=heads,
        receipts=receipts,
        tracks=_track_rows(store, row, t0, t1),
        key=key,
        reveal=reveal,
    )
