"""Start-up chains the stored alerts that a crash left out of the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from test_storage import incident_row

from skysep.agreement import preset
from skysep.record import verify_entries
from skysep.service import create_app
from skysep.service._hotline import CycleWork, HotlineService
from skysep.storage import Store

T0 = 1_800_000_000.0


def alert(k: int, level: str) -> dict[str, Any]:
    return {
        "time": T0 + k,
        "event": "new",
        "level": level,
        "previous_level": None,
        "party_a": "north",
        "aircraft_a": f"N{k}",
        "party_b": "south",
        "aircraft_b": f"S{k}",
        "t_in_s": 50.0,
        "t_out_s": 90.0,
        "t_cpa_s": 70.0,
        "h_cpa_m": 100.0,
        "v_cpa_m": 0.0,
        "h_now_m": 30_000.0,
        "v_now_m": 0.0,
        "horizontal_m": 9_260.0,
        "vertical_m": 304.8,
        "detail": {"first_alert": T0 + k},
        "report_received_at": T0 + k,
    }


def start(store: Store, key: Ed25519PrivateKey) -> None:
    app = create_app(store, preset("icao-5nm"), clock=lambda: T0 + 100, run_cycles=False, key=key)
    with TestClient(app):  # start-up and shut-down
        pass


def test_unchained_alerts_are_chained_at_start_up_once(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s.sqlite3"))
    for party in ("north", "south"):
        store.add_party(party, party.title(), "en", T0)
    key = Ed25519PrivateKey.generate()
    start(store, key)
    assert store.chain_entries() == []
    # Stored by a cycle, not chained: the process died in between.
    ids, _ = store.store_cycle(
        [alert(1, "caution"), alert(2, "advisory"), alert(3, "warning")], [], []
    )
    start(store, key)
    entries = store.chain_entries()
    assert [(e.kind, e.payload["id"]) for e in entries] == [("alert", ids[0]), ("alert", ids[2])]
    assert entries[0].payload["aircraft_a"] == "N1"
    heads = store.signed_heads()
    assert heads[-1].seq == entries[-1].seq
    assert verify_entries(entries, public_key=key.public_key(), heads=heads).ok
    start(store, key)  # nothing more to chain
    assert len(store.chain_entries()) == 2
    store.close()


def test_a_replacement_recorder_chains_each_alert_once_and_still_posts_its_traffic_alert(
    tmp_path: Path,
) -> None:
    """A recorder that died is replaced: the new one recovers the stored alerts not yet
    chained, including those of the cycle whose work it is about to get. That work then
    chains none of them again, and posts their traffic alerts on the hotline."""
    store = Store.open(str(tmp_path / "r.sqlite3"))
    for party in ("north", "south"):
        store.add_party(party, party.title(), "en", T0)
    key = Ed25519PrivateKey.generate()
    rules = preset("icao-5nm")

    def stored(k: int) -> CycleWork:
        event = alert(k, "warning")
        (alert_id,), _ = store.store_cycle([event], [], [])
        return CycleWork(T0 + k, [{**event, "id": alert_id}], [], [])

    first = HotlineService(store, rules, key, lambda: T0 + 1)
    first.recover()
    done = stored(1)
    first.record_cycle(done)
    lost = stored(2)  # its work died with the first recorder
    coming = stored(3)  # stored; its work goes to the replacement
    replacement = HotlineService(store, rules, key, lambda: T0 + 3)
    assert replacement.recover() == 2
    replacement.record_cycle(coming)

    entries = store.chain_entries()
    chained = [e.payload["id"] for e in entries if e.kind == "alert"]
    assert chained == [work.events[0]["id"] for work in (done, lost, coming)]
    assert verify_entries(entries, public_key=key.public_key(), heads=store.signed_heads()).ok
    for work, posted in ((lost, 0), (coming, 1)):
        event = work.events[0]
        thread = store.conflict_thread_of(
            "north", event["aircraft_a"], "south", event["aircraft_b"]
        )
        messages = [] if thread is None else store.thread_messages(int(thread["id"]))
        assert len(messages) == posted, event["aircraft_a"]
    store.close()


def test_incidents_a_crash_left_unchained_are_chained_at_start_up_once(tmp_path: Path) -> None:
    """Incidents stored by cycles whose record work a crash lost: one still open, one
    opened and closed, one chained open and closed since. Start-up chains each state the
    chain lacks, once; the incident that never had an entry can be exported."""
    from skysep.record.export import export_incident

    store = Store.open(str(tmp_path / "i.sqlite3"))
    for party in ("north", "south"):
        store.add_party(party, party.title(), "en", T0)
    key = Ed25519PrivateKey.generate()
    start(store, key)
    opened = incident_row("N0", "S0")
    _, (chained_open,) = store.store_cycle([], [opened], [])
    first = HotlineService(store, preset("icao-5nm"), key, lambda: T0 + 1)
    first.record_cycle(CycleWork(T0 + 1, [], [{**opened, "id": chained_open}], []))
    # The process dies after storing these cycles, before chaining them.
    unchained = [incident_row("N1", "S1"), incident_row("N2", "S2")]
    _, (still_open, ended) = store.store_cycle([], unchained, [])
    closing = {"status": "closed", "end": T0 + 30.0, "duration_s": 30.0}
    store.store_cycle([], [], [(ended, closing), (chained_open, closing)])

    start(store, key)
    entries = store.chain_entries()
    assert [(e.kind, e.payload["id"], e.payload["status"]) for e in entries] == [
        ("incident", chained_open, "open"),
        ("incident", chained_open, "closed"),
        ("incident", still_open, "open"),
        ("incident", ended, "closed"),
    ]
    assert entries[-1].payload["end"] == T0 + 30.0
    assert verify_entries(entries, public_key=key.public_key(), heads=store.signed_heads()).ok
    start(store, key)  # nothing more to chain
    assert len(store.chain_entries()) == 4
    assert export_incident(store, ended, tmp_path / "ended.zip", key).ok
    store.close()
