"""Storage, on SQLite and on PostgreSQL through the same code."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from databases import BACKENDS, database

from skysep.errors import StorageError
from skysep.storage import TOKEN_PREFIX, Report, Store, hash_token, normalise_url
from skysep.storage._records import RecordWriter
from skysep.storage._schema import metadata

T0 = 1_800_000_000.0


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(request.param, tmp_path) as u:
        yield u


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store.open(url)
    yield s
    s.close()


def report(aircraft: str, t: float, party: str = "north", **kw: float) -> Report:
    values = {"lat_deg": 45.0, "lon_deg": 5.0, "alt_m": 10_000.0, "gs_mps": 200.0}
    values.update(kw)
    return Report(party, aircraft, t, t + 0.5, **values)  # type: ignore[arg-type]


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("skysep.storage").joinpath("migrations"))
    )
    assert store.schema_revision() == ScriptDirectory.from_config(config).get_current_head()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrating_twice_is_harmless_and_keeps_data(url: str) -> None:
    first = Store.open(url)
    first.add_party("north", "North", "en", T0)
    first.close()
    second = Store.open(url)
    assert [p.id for p in second.parties()] == ["north"]
    second.close()


def test_a_party_token_is_stored_only_as_its_hash(store: Store) -> None:
    token = store.add_party("north", "North", "fr", T0)
    assert token.startswith(TOKEN_PREFIX)
    assert len(token) > 40
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT token_sha256 FROM tokens").all()
    assert rows == [(hash_token(token),)]
    who = store.authenticate(token)
    assert who is not None
    assert who.party_id == "north"
    assert who.role == "party"
    assert store.authenticate(token + "x") is None
    assert store.party("north") is not None
    assert store.party("north").language == "fr"


def test_revoke_and_rotate(store: Store) -> None:
    first = store.add_party("north", "North", "en", T0)
    second_id, second = store.issue_token("north", T0 + 1)
    assert store.authenticate(first) is not None
    assert store.authenticate(second) is not None
    assert store.revoke_token(second_id, T0 + 2)
    assert store.authenticate(second) is None
    assert not store.revoke_token(second_id, T0 + 3)  # already revoked
    _, third = store.issue_token("north", T0 + 4, revoke_others=True)
    assert store.authenticate(first) is None
    assert store.authenticate(third) is not None
    assert store.revoke_party("north", T0 + 5) == 1
    assert store.authenticate(third) is None


def test_admin_tokens_have_no_party(store: Store) -> None:
    _, token = store.issue_token(None, T0)
    who = store.authenticate(token)
    assert who is not None
    assert who.is_admin
    assert who.party_id is None


def test_a_party_cannot_be_added_twice_nor_a_token_issued_for_no_party(store: Store) -> None:
    store.add_party("north", "North", "en", T0)
    with pytest.raises(StorageError, match="party 'north' already exists"):
        store.add_party("north", "Other", "en", T0)
    with pytest.raises(StorageError, match="no party 'west'"):
        store.issue_token("west", T0)


def test_reports_round_trip_and_latest_per_aircraft(store: Store) -> None:
    rows = [
        report("N1", T0),
        report("N1", T0 + 1, lat_deg=45.1),
        report("N2", T0 - 100),
        report("N1", T0 + 1, party="south", lat_deg=-1.0),  # same callsign, other party
    ]
    store.insert_reports(rows)
    assert store.count_reports() == 4
    latest = {(r.party_id, r.aircraft): r for r in store.latest_reports(T0 - 10)}
    assert set(latest) == {("north", "N1"), ("south", "N1")}
    assert latest[("north", "N1")].lat_deg == 45.1
    assert latest[("south", "N1")].lat_deg == -1.0
    segment = store.reports_between("north", "N1", T0, T0 + 1)
    assert [r.time for r in segment] == [T0, T0 + 1]
    assert segment[0] == rows[0]


def test_batches_of_a_group_commit_count_their_own_new_reports(store: Store) -> None:
    """One transaction for several batches; each batch's count of new reports; a report
    already stored (a retry), or twice in a batch, is kept once; None fields stay None."""
    first = [report("N1", T0), report("N2", T0, gs_mps=None)]  # type: ignore[arg-type]
    assert store.insert_report_batches([first]) == [2]
    retry_and_new = [report("N1", T0), report("N3", T0), report("N3", T0)]
    other_party = [report("N1", T0, party="south")]
    assert store.insert_report_batches([retry_and_new, [], other_party]) == [1, 0, 1]
    assert store.count_reports() == 4
    [n2] = store.reports_between("north", "N2", T0, T0)
    assert n2.gs_mps is None
    assert n2 == first[1]
    assert store.insert_report_batches([]) == []


def test_a_group_that_cannot_be_stored_is_a_storage_error_and_stores_nothing(
    store: Store,
) -> None:
    """On both databases (PostgreSQL copies through the driver's own cursor): the error
    names the database and what it said, and the good batch of the group is not stored."""
    bad = report("N2", T0, lat_deg=[45.0])  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="none of the 2 report batch") as info:
        store.insert_report_batches([[report("N1", T0)], [bad]])
    assert str(info.value).startswith(f"{store.url}: ")
    assert store.count_reports() == 0


def alert(event: str, level: str, t: float, b: str = "S1") -> dict[str, object]:
    return {
        "time": t,
        "event": event,
        "level": level,
        "previous_level": None,
        "party_a": "north",
        "aircraft_a": "N1",
        "party_b": "south",
        "aircraft_b": b,
        "t_in_s": 30.0,
        "t_out_s": 60.0,
        "t_cpa_s": 45.0,
        "h_cpa_m": 10.0,
        "v_cpa_m": 0.0,
        "h_now_m": 9000.0,
        "v_now_m": 0.0,
        "horizontal_m": 9260.0,
        "vertical_m": 304.8,
        "detail": {"first_alert": t},
        "report_received_at": t,
    }


def test_alerts_filters_and_active_pairs(store: Store) -> None:
    ids, _ = store.store_cycle(
        [
            alert("new", "caution", T0),
            alert("level", "warning", T0 + 1),
            alert("new", "advisory", T0 + 2, b="S2"),
            alert("resolved", "advisory", T0 + 3, b="S2"),
        ],
        [],
        [],
    )
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    assert [a["id"] for a in store.alerts_for("south")] == ids
    assert store.alerts_for("west") == []
    assert [a["level"] for a in store.alerts_for("north", level="warning")] == ["warning"]
    assert [a["id"] for a in store.alerts_for("north", since=T0 + 1.5)] == ids[2:]
    assert [a["id"] for a in store.alerts_for("north", after_id=ids[1])] == ids[2:]
    assert [a["id"] for a in store.alerts_for("south", aircraft="S2")] == ids[2:]
    assert store.alerts_for("north", aircraft="S2") == []  # S2 is not north's
    active = store.active_alerts()
    assert [(a["aircraft_b"], a["level"]) for a in active] == [("S1", "warning")]
    assert active[0]["detail"] == {"first_alert": T0 + 1}


def test_a_cycle_is_stored_in_one_transaction(store: Store) -> None:
    """Events, new incidents and changes of earlier incidents: all, with their ids, or none."""
    _, [earlier] = store.store_cycle([], [incident_row("N1", "S1")], [])
    events = [alert("new", "caution", T0 + 1), alert("level", "warning", T0 + 1)]
    changes = [
        (earlier, {"status": "closed", "end": T0 + 1, "duration_s": 1.0}),
        (earlier, {"min_h_m": 500.0}),
    ]
    alert_ids, incident_ids = store.store_cycle(events, [incident_row("N2", "S2")], changes)
    assert [a["id"] for a in store.alerts_for("north")] == alert_ids
    assert [r["aircraft_a"] for r in store.incidents_for("north")] == ["N1", "N2"]
    assert store.incident(incident_ids[0])["aircraft_b"] == "S2"  # type: ignore[index]
    closed = store.incident(earlier)
    assert closed is not None
    assert (closed["status"], closed["end"], closed["min_h_m"]) == ("closed", T0 + 1, 500.0)
    # A failing statement rolls the whole cycle back: nothing of it is stored.
    bad_event = {**alert("new", "caution", T0 + 2), "level": None}
    with pytest.raises(StorageError):
        store.store_cycle([bad_event], [incident_row("N3", "S3")], [])
    assert len(store.alerts_for("north")) == 2
    assert len(store.incidents_for("north")) == 2
    assert store.store_cycle([], [], []) == ([], [])


def incident_row(a: str, b: str) -> dict[str, Any]:
    return {
        "status": "open",
        "party_a": "north",
        "aircraft_a": a,
        "party_b": "south",
        "aircraft_b": b,
        "start": T0,
        "end": None,
        "duration_s": None,
        "min_h_m": 900.0,
        "min_v_m": 0.0,
        "time_of_min": T0,
        "lat_deg": 45.0,
        "lon_deg": 5.0,
        "alt_m": 10_000.0,
        "first_alert": None,
        "lead_time_s": None,
        "level_at_start": "warning",
        "horizontal_m": 1000.0,
        "vertical_m": 300.0,
    }


def test_incident_lifecycle_with_track_segment(store: Store) -> None:
    row = {**incident_row("N1", "S1"), "first_alert": T0 - 40, "lead_time_s": 40.0}
    _, [incident_id] = store.store_cycle([], [row], [])
    assert [r["id"] for r in store.incidents_with_status("open")] == [incident_id]
    store.store_cycle(
        [], [], [(incident_id, {"status": "closed", "end": T0 + 5, "duration_s": 5.0})]
    )
    segment = [report("N1", T0), report("S1", T0, party="south")]
    store.record_incident_tracks(incident_id, segment)
    stored = store.incident(incident_id)
    assert stored is not None
    assert stored["status"] == "recorded"
    assert stored["end"] == T0 + 5
    points = store.incident_tracks(incident_id)
    assert [(p["party_id"], p["aircraft"]) for p in points] == [("north", "N1"), ("south", "S1")]
    assert [r["id"] for r in store.incidents_for("south")] == [incident_id]
    assert store.incidents_for("west") == []
    assert store.incident(incident_id + 1000) is None


def test_writes_survive_reopening(url: str) -> None:
    first = Store.open(url)
    first.insert_reports([report("N1", T0 + k) for k in range(50)])
    first.close()
    second = Store.open(url)
    assert second.count_reports() == 50
    second.close()


def test_sqlite_is_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    s = Store.open(str(tmp_path / "x.sqlite3"))
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    s.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://", "in-memory SQLite database is not durable"),
        ("sqlite:///:memory:", "in-memory SQLite database is not durable"),
        ("mysql://root@127.0.0.1/test", "database 'mysql' is not supported"),
        ("sqlite:////no/such/folder/x.db", "folder '/no/such/folder' does not exist"),
        ("postgresql://nobody:secret@127.0.0.1:1/none", "cannot connect"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message) as info:
        Store.open(url)
    assert "secret" not in str(info.value)


def test_urls_users_type_are_normalised() -> None:
    assert normalise_url("skysep.db") == "sqlite:///skysep.db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:////abs/x.db") == "sqlite:////abs/x.db"


def test_a_repeated_report_is_stored_once(store: Store) -> None:
    rows = [report("N1", T0), report("N1", T0 + 1)]
    assert store.insert_reports(rows) == 2
    assert store.insert_reports([report("N1", T0 + 1, lat_deg=1.0), report("N1", T0 + 2)]) == 1
    assert store.count_reports() == 3
    assert store.reports_between("north", "N1", T0 + 1, T0 + 1)[0].lat_deg == 45.0


def test_sqlite_writers_of_all_processes_queue_on_one_file_lock(tmp_path: Path) -> None:
    """The server and its ingest worker write the same SQLite file: a write waits (in the
    kernel, not polling) while another process holds ``<database>-lock``."""
    import fcntl
    import os
    import threading

    path = tmp_path / "locked.sqlite3"
    store = Store.open(str(path))
    other = os.open(f"{path}-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)  # another process's writer holds the lock
    done = threading.Event()
    writer = threading.Thread(
        target=lambda: (store.insert_reports([report("N1", T0)]), done.set()), daemon=True
    )
    writer.start()
    assert not done.wait(0.5), "the write went ahead of the lock's holder"
    assert store.count_reports() == 0
    fcntl.flock(other, fcntl.LOCK_UN)
    assert done.wait(10.0)
    assert store.count_reports() == 1
    os.close(other)
    store.close()


def _close(store: Store, incident_id: int) -> dict[str, Any]:
    values = {"status": "closed", "end": T0 + 30.0, "duration_s": 30.0}
    store.store_cycle([], [], [(incident_id, values)])
    row = store.incident(incident_id)
    assert row is not None
    return row


def test_an_incidents_states_are_chained_once_each_and_in_order(store: Store) -> None:
    """``open`` then ``closed``: a state the chain holds, or ``open`` after ``closed``,
    appends nothing; ``unchained_incidents`` lists what the chain lacks."""
    key = Ed25519PrivateKey.generate()
    _, (one, two, three) = store.store_cycle(
        [], [incident_row("A1", "B1"), incident_row("A2", "B2"), incident_row("A3", "B3")], []
    )
    opened = {i: store.incident(i) for i in (one, two, three)}

    def chain(rows: list[dict[str, Any] | None]) -> list[tuple[int, str]]:
        def write(w: RecordWriter) -> list[tuple[int, str]]:
            entries = w.append_incidents([r for r in rows if r is not None])
            return [(int(e.payload["id"]), str(e.payload["status"])) for e in entries]

        return store.record(T0, key, write)[0]

    assert [r["id"] for r in store.unchained_incidents()] == [one, two, three]
    assert chain([opened[one], opened[two]]) == [(one, "open"), (two, "open")]
    assert [r["id"] for r in store.unchained_incidents()] == [three]
    assert chain([opened[one]]) == []  # held already
    closed_one = _close(store, one)
    closed_three = _close(store, three)
    # Closed but chained open (one), closed and never chained (three).
    assert [(r["id"], r["status"]) for r in store.unchained_incidents()] == [
        (one, "closed"),
        (three, "closed"),
    ]
    assert chain([closed_one, closed_three]) == [(one, "closed"), (three, "closed")]
    assert chain([opened[one], opened[three], closed_one]) == []  # never back, never twice
    assert store.unchained_incidents() == []
    kinds = [(e.kind, e.payload["id"], e.payload["status"]) for e in store.chain_entries()]
    assert kinds == [
        ("incident", one, "open"),
        ("incident", two, "open"),
        ("incident", one, "closed"),
        ("incident", three, "closed"),
    ]


def test_migration_0005_takes_each_incidents_chained_state_from_the_chain(url: str) -> None:
    """A database from before 0005: the incidents' chained states come from the chain's
    entries (the last one of each); an incident the chain lacks is left for start-up."""
    store = Store.open(url, migrate=False)
    store.migrate("0004")
    _, (one, two, three) = store.store_cycle(
        [], [incident_row("A1", "B1"), incident_row("A2", "B2"), incident_row("A3", "B3")], []
    )
    closed_one = _close(store, one)
    rows = [store.incident(one), store.incident(two)]
    rows[0] = {**rows[0], "status": "open"} if rows[0] is not None else None

    def write(w: RecordWriter) -> None:
        for row in (rows[0], rows[1], closed_one):
            assert row is not None
            w.append("incident", (row["party_a"], row["party_b"]), row)

    store.record(T0, Ed25519PrivateKey.generate(), write)
    store.migrate("head")
    assert [(r["id"], r["status"]) for r in store.unchained_incidents()] == [(three, "open")]
    store.close()
