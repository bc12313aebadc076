"""The hotline and the verifiable record in the service, in process (as test_service_api.py):
conflict threads with traffic alerts in each party's language, requests and
acknowledgements, need-to-know, escalation past the deadline, receipts; and the storage
of threads, messages and the chain on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from encounters import GEOD
from fastapi.testclient import TestClient
from harness import Clock
from sqlalchemy import inspect
from starlette.testclient import WebSocketTestSession

from skysep import units
from skysep.agreement import Agreement, from_mapping
from skysep.hotline import AckState, due_escalations, render
from skysep.record import (
    Entry,
    Receipt,
    SignedHead,
    key_fingerprint,
    load_public_key,
    signature_valid,
    verify_entries,
)
from skysep.service import create_app
from skysep.service._hotline import MAX_ESCALATIONS, CycleWork, HotlineService
from skysep.storage import Store
from skysep.storage._records import RecordWriter
from skysep.storage._schema import metadata

T0 = 1_800_000_000.0
SPEED_KT = float(units.mps_to_kt(250.0))
ACK_DEADLINE_S = 120.0
#: Head-on (see test_service_api.py): caution from T0 + 19 s, warning from T0 + 49 s,
#: loss of separation T0 + 78.5 s to T0 + 82.5 s.
CAUTION_AT = T0 + 19.0


def agreement() -> Agreement:
    return from_mapping(
        {
            "horizontal_m": 1_000.0,
            "vertical_ft": 1_000.0,
            "lookahead_s": 120.0,
            "caution_s": 60.0,
            "warning_s": 30.0,
            "disclosure_radius_nm": 10.0,
            "ack_deadline_s": ACK_DEADLINE_S,
        }
    )


@dataclass
class Service(harness.Service):
    key: Ed25519PrivateKey

    def send(self, thread_id: int, who: str, message: dict[str, Any], **kw: Any) -> Any:
        return self.post(f"/v1/threads/{thread_id}/messages", who, {"message": message, **kw})


LANGUAGES = {"north": "en", "south": "ru", "east": "fr"}


@pytest.fixture
def service(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Service]:
    """The app with the cycle's record work on a thread; ``processes`` (parametrised
    indirectly): on the recorder process, as ``skysep serve`` runs it."""
    store = Store.open(str(tmp_path / "service.sqlite3"))
    tokens = {p: store.add_party(p, p.title(), lang, T0) for p, lang in LANGUAGES.items()}
    clock = Clock(T0)
    key = Ed25519PrivateKey.generate()
    processes = getattr(request, "param", "thread") == "processes"
    app = create_app(
        store, agreement(), clock=clock, run_cycles=False, key=key, worker_processes=processes
    )
    with TestClient(app) as client:
        yield Service(client, store, clock, tokens, key)
    store.close()


def position(east_m: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(0.0, 0.0, 90.0, east_m)
    return lat2, lon2


def head_on(t: float) -> dict[str, list[dict[str, Any]]]:
    """North's N1 east-bound, South's S1 west-bound, FL300, closing at 500 m/s."""
    flown = 250.0 * (t - T0)
    lat_n, lon_n = position(-40_250.0 / 2 + flown)
    lat_s, lon_s = position(40_250.0 / 2 - flown)
    common = {"time": t, "alt_ft": 30_000.0, "gs_kt": SPEED_KT, "vs_fpm": 0.0}
    return {
        "north": [{"aircraft": "N1", "lat": lat_n, "lon": lon_n, "track_deg": 90.0, **common}],
        "south": [{"aircraft": "S1", "lat": lat_s, "lon": lon_s, "track_deg": 270.0, **common}],
    }


def fly(service: Service, start: float, end: float) -> None:
    t = start
    while t <= end:
        service.clock.now = t
        for party, reports in head_on(t).items():
            response = service.client.post(
                "/v1/reports", headers=service.headers(party), json={"reports": reports}
            )
            assert response.status_code == 200, response.text
        service.cycle(t)
        t += 1.0


def receive(ws: WebSocketTestSession, kind: str) -> dict[str, Any]:
    """The next WebSocket message of type ``kind`` (alerts and others in between skipped)."""
    for _ in range(50):
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message")


def the_thread(service: Service, who: str) -> dict[str, Any]:
    threads = service.get("/v1/threads", who)
    assert len(threads) == 1
    detail: dict[str, Any] = service.get(f"/v1/threads/{threads[0]['id']}", who)
    return detail


# -- conflict threads ------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["thread", "processes"], indirect=True)
def test_a_conflict_opens_a_thread_with_a_traffic_alert_in_each_language(
    service: Service,
) -> None:
    fly(service, T0, CAUTION_AT - 1.0)
    assert service.get("/v1/threads", "north") == []  # advisory only: no thread yet
    with service.ws("north") as ws_north, service.ws("south") as ws_south:
        fly(service, CAUTION_AT, CAUTION_AT)
        pushed_n, pushed_s = receive(ws_north, "message"), receive(ws_south, "message")
    north, south = the_thread(service, "north"), the_thread(service, "south")
    assert north["thread"]["id"] == south["thread"]["id"]
    assert north["thread"]["kind"] == "conflict"
    assert north["thread"]["parties"] == ["north", "south"]
    assert north["thread"]["aircraft"] == {"north": "N1", "south": "S1"}
    assert north["thread"]["awaiting_me"] == 1
    [alert_n], [alert_s] = north["messages"], south["messages"]
    assert alert_n["sender"] == "skysep"
    assert alert_n["kind"] == "traffic_alert"
    assert alert_n["body"] == alert_s["body"]
    assert alert_n["body"]["level"] == "caution"
    assert alert_n["body"]["t_in_s"] == pytest.approx(59.5, abs=0.01)
    assert alert_n["requires_ack"]
    assert sorted(alert_n["awaiting"]) == ["north", "south"]
    assert north["language"] == "en"
    assert south["language"] == "ru"
    assert alert_n["text"].startswith("Traffic CAUTION: N1 (north) and S1 (south) lose separation")
    assert alert_s["text"].startswith("Трафик, ВНИМАНИЕ: N1 (north) и S1 (south)")
    assert alert_s["text"] == render(alert_s["body"], "ru")
    # Pushed over the WebSocket, rendered for each, with each party's receipt.
    assert pushed_n["message"]["text"] == alert_n["text"]
    assert pushed_s["message"]["text"] == alert_s["text"]
    assert pushed_n["receipt"]["party"] == "north"
    assert pushed_s["receipt"]["party"] == "south"
    assert pushed_n["receipt"]["seq"] == alert_n["seq"]
    # Recorded: the alert event and the message, both concerning both parties.
    kinds = [(e.kind, e.parties) for e in service.store.chain_entries()]
    assert kinds == [("alert", ("north", "south")), ("message", ("north", "south"))]
    chain, heads = service.store.chain_entries(), service.store.signed_heads()
    assert verify_entries(chain, public_key=service.key.public_key(), heads=heads).ok


@pytest.mark.parametrize("service", ["thread", "processes"], indirect=True)
def test_a_warning_adds_a_traffic_alert_to_the_same_thread(service: Service) -> None:
    fly(service, T0, T0 + 50.0)
    thread = the_thread(service, "north")
    assert [m["body"]["level"] for m in thread["messages"]] == ["caution", "warning"]
    assert len(service.get("/v1/threads", "south")) == 1


# -- requests, acknowledgements, need-to-know ------------------------------------------------


@pytest.mark.parametrize("service", ["thread", "processes"], indirect=True)
def test_request_and_acknowledge(service: Service) -> None:
    fly(service, T0, CAUTION_AT)
    thread_id = the_thread(service, "north")["thread"]["id"]
    with service.ws("south") as ws_south:
        sent = service.send(
            thread_id, "north", {"kind": "request", "aircraft": "S1", "action": "climb",
                                 "flight_level": 350},
        )  # fmt: skip
        pushed = receive(ws_south, "message")
    assert sent.status_code == 201, sent.text
    request = sent.json()
    assert request["sender"] == "north"
    assert request["requires_ack"]
    assert request["awaiting"] == ["south"]
    assert request["text"] == "Request: S1, climb to FL350."
    assert request["deadline"] is not None
    assert pushed["message"]["text"] == "Просьба: S1, набирайте эшелон 350."
    # South acknowledges.
    acked = service.post(f"/v1/threads/{thread_id}/messages/{request['id']}/ack", "south")
    assert acked.status_code == 201, acked.text
    assert acked.json()["kind"] == "acknowledge"
    assert acked.json()["body"] == {"kind": "acknowledge", "refers_to": str(request["id"])}
    messages = {m["id"]: m for m in the_thread(service, "north")["messages"]}
    assert messages[request["id"]]["awaiting"] == []
    assert [a["party"] for a in messages[request["id"]]["acks"]] == ["south"]
    assert messages[request["id"]]["acks"][0]["reply_id"] == acked.json()["id"]
    south_view = the_thread(service, "south")["messages"]
    assert south_view[-1]["text"] == f"Принято: сообщение {request['id']}."
    # Twice: refused; one's own message: refused; the chain has the message and the ack.
    again = service.post(f"/v1/threads/{thread_id}/messages/{request['id']}/ack", "south")
    assert again.status_code == 409
    assert again.json()["error"]["status"] == 409
    own = service.post(f"/v1/threads/{thread_id}/messages/{request['id']}/ack", "north")
    assert own.status_code == 422
    assert own.json()["error"]["problems"][0]["field"] == "message.refers_to"
    kinds = [e.kind for e in service.store.chain_entries()]
    assert kinds[-2:] == ["message", "ack"]
    last = service.store.chain_entries()[-1].payload
    assert last is not None
    assert last["body"]["refers_to"] == str(request["id"])


def test_an_unable_answers_a_request(service: Service) -> None:
    fly(service, T0, CAUTION_AT)
    thread_id = the_thread(service, "north")["thread"]["id"]
    sent = service.send(thread_id, "north", {"kind": "request", "aircraft": "S1",
                                             "action": "turn", "heading_deg": 0.0})  # fmt: skip
    request_id = sent.json()["id"]
    unable = service.send(
        thread_id,
        "south",
        {"kind": "unable", "refers_to": str(request_id), "reason": "weather", "detail": "CB"},
    )
    assert unable.status_code == 201, unable.text
    north = {m["id"]: m for m in the_thread(service, "north")["messages"]}
    assert north[request_id]["awaiting"] == []
    assert north[unable.json()["id"]]["text"] == (
        f"Unable to comply with message {request_id}: weather (CB)."
    )


def test_a_bad_message_is_422_naming_field_and_value(service: Service) -> None:
    fly(service, T0, CAUTION_AT)
    thread_id = the_thread(service, "north")["thread"]["id"]
    before = len(service.store.chain_entries())
    bad = service.send(thread_id, "north", {"kind": "request", "aircraft": "S1", "action": "jump"})
    assert bad.status_code == 422
    problem = bad.json()["error"]["problems"][0]
    assert (problem["field"], problem["value"]) == ("message.action", "jump")
    assert "'climb', 'descend', 'turn' or 'hold'" in problem["message"]
    level = service.send(thread_id, "north", {"kind": "request", "aircraft": "S1",
                                              "action": "climb", "flight_level": 1200})  # fmt: skip
    assert level.json()["error"]["problems"][0]["field"] == "message.flight_level"
    assert level.json()["error"]["problems"][0]["value"] == 1200
    kind = service.send(thread_id, "north", {"kind": "shout"})
    assert kind.json()["error"]["problems"][0]["field"] == "message.kind"
    assert kind.json()["error"]["problems"][0]["value"] == "shout"
    escalation = service.send(
        thread_id, "north", {"kind": "escalation", "refers_to": "1", "attempt": 1, "overdue_s": 0}
    )
    assert escalation.status_code == 422
    assert len(service.store.chain_entries()) == before  # nothing stored or recorded


def test_free_text_and_a_direct_thread(service: Service) -> None:
    opened = service.post("/v1/threads", "east", {"party": "north", "subject": "Exercise"})
    assert opened.status_code == 201, opened.text
    thread_id = opened.json()["id"]
    assert opened.json()["parties"] == ["east", "north"]
    text = service.send(thread_id, "east", {"kind": "free_text", "text": "Bonjour"})
    assert text.status_code == 201
    assert not text.json()["requires_ack"]
    asked = service.send(thread_id, "east", {"kind": "free_text", "text": "Ack?"},
                         requires_ack=True)  # fmt: skip
    assert asked.json()["awaiting"] == ["north"]
    assert service.post("/v1/threads", "east", {"party": "east", "subject": "x"}).status_code == 422
    assert service.post("/v1/threads", "east", {"party": "nobody", "subject": "x"}).status_code == (
        404
    )


def test_a_party_reads_only_its_own_threads(service: Service) -> None:
    fly(service, T0, CAUTION_AT)
    thread_id = the_thread(service, "north")["thread"]["id"]
    assert service.get("/v1/threads", "east") == []
    for response in (
        service.client.get(f"/v1/threads/{thread_id}", headers=service.headers("east")),
        service.send(thread_id, "east", {"kind": "free_text", "text": "hello"}),
        service.post(f"/v1/threads/{thread_id}/messages/1/ack", "east"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["status"] == 404
    assert service.client.get("/v1/threads").status_code == 401
    assert service.get("/v1/record/receipts", "east")["items"] == []


# -- escalation ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["thread", "processes"], indirect=True)
def test_an_unacknowledged_alert_is_escalated_after_the_deadline(service: Service) -> None:
    fly(service, T0, CAUTION_AT)
    alert = the_thread(service, "north")["messages"][0]
    service.cycle(CAUTION_AT + ACK_DEADLINE_S - 1.0)  # not yet
    assert not the_thread(service, "north")["thread"]["flagged"]
    assert [e.kind for e in service.store.chain_entries()].count("escalation") == 0
    with service.ws("north") as ws_north, service.ws("south") as ws_south:
        service.cycle(CAUTION_AT + ACK_DEADLINE_S + 0.5)
        escalated_n, escalated_s = receive(ws_north, "escalation"), receive(ws_south, "escalation")
    # Re-sent to both (both owe an answer), with the escalation message and a receipt.
    assert escalated_n["message"]["id"] == alert["id"]
    assert escalated_n["message"]["text"] == alert["text"]
    assert escalated_n["attempt"] == 1
    assert escalated_n["overdue_s"] == pytest.approx(0.5)
    assert escalated_s["escalation"]["text"] == (
        f"Сообщение {alert['id']} не подтверждено через 0 с после срока: "  # noqa: RUF001
        "отправлено повторно 1 раз."
    )
    assert escalated_n["receipt"]["party"] == "north"
    # Flagged on the thread, the message overdue; the escalation in the chain.
    thread = the_thread(service, "north")
    assert thread["thread"]["flagged"]
    assert service.get("/v1/threads", "south")[0]["flagged"]
    original = thread["messages"][0]
    assert original["overdue"]
    assert [e["attempt"] for e in original["escalations"]] == [1]
    assert thread["messages"][-1]["kind"] == "escalation"
    assert thread["messages"][-1]["sender"] == "skysep"
    recorded = [e for e in service.store.chain_entries() if e.kind == "escalation"]
    assert len(recorded) == 1
    assert recorded[0].payload is not None
    assert recorded[0].payload["body"] == {
        "kind": "escalation",
        "refers_to": str(alert["id"]),
        "attempt": 1,
        "overdue_s": 0.5,
    }
    # Not again within the interval; again after it; the flag stays until both answer.
    service.cycle(CAUTION_AT + 2 * ACK_DEADLINE_S)
    assert len(the_thread(service, "north")["messages"][0]["escalations"]) == 1
    service.cycle(CAUTION_AT + 2 * ACK_DEADLINE_S + 1.0)
    assert len(the_thread(service, "north")["messages"][0]["escalations"]) == 2
    thread_id = thread["thread"]["id"]
    assert (
        service.post(f"/v1/threads/{thread_id}/messages/{alert['id']}/ack", "south").status_code
        == 201
    )
    assert the_thread(service, "north")["thread"]["flagged"]
    assert (
        service.post(f"/v1/threads/{thread_id}/messages/{alert['id']}/ack", "north").status_code
        == 201
    )
    assert not the_thread(service, "north")["thread"]["flagged"]
    service.cycle(CAUTION_AT + 10 * ACK_DEADLINE_S)
    assert len(the_thread(service, "north")["messages"][0]["escalations"]) == 2


# -- the record ------------------------------------------------------------------------------


def test_receipts_verify_with_the_public_key(service: Service) -> None:
    fly(service, T0, T0 + 84.0)  # through the loss of separation: incident opened and closed
    thread_id = the_thread(service, "north")["thread"]["id"]
    service.send(thread_id, "south", {"kind": "free_text", "text": "Climbing S1"})
    key = service.get("/v1/record/key", "north")
    public = load_public_key(key["public_key_pem"])
    assert key["fingerprint"] == key_fingerprint(service.key) == key_fingerprint(public)
    body = service.get("/v1/record/receipts", "north")
    assert body["key"] == key["fingerprint"]
    items = body["items"]
    kinds = {item["entry"]["kind"] for item in items}
    assert kinds == {"alert", "incident", "message"}
    for item in items:
        entry, receipt = Entry.from_json(item["entry"]), Receipt.from_json(item["receipt"])
        assert receipt.party == "north"
        assert (receipt.seq, receipt.hash) == (entry.seq, entry.hash)
        assert signature_valid(public, receipt.statement(), receipt.signature)
        forged = {**receipt.statement(), "hash": "0" * 64}
        assert not signature_valid(public, forged, receipt.signature)
    # The whole chain verifies, and the latest head covers it.
    whole = service.store.chain_entries()
    heads = service.store.signed_heads()
    assert heads[-1].seq == whole[-1].seq
    assert verify_entries(whole, public_key=public, heads=heads).ok
    assert SignedHead.from_json(body["head"]) == heads[-1]
    # Paging: after_seq.
    later = service.get("/v1/record/receipts", "north", after_seq=items[0]["entry"]["seq"])
    assert [i["entry"]["seq"] for i in later["items"]] == [i["entry"]["seq"] for i in items[1:]]


@pytest.mark.parametrize("service", ["thread", "processes"], indirect=True)
def test_incidents_are_recorded_opened_and_closed(service: Service) -> None:
    fly(service, T0, T0 + 84.0)
    incidents = [e for e in service.store.chain_entries() if e.kind == "incident"]
    assert [e.payload["status"] for e in incidents if e.payload is not None] == ["open", "closed"]
    assert {e.payload["id"] for e in incidents if e.payload is not None} == {
        service.get("/v1/incidents", "north")[0]["id"]
    }
    alerts = [e for e in service.store.chain_entries() if e.kind == "alert"]
    assert [(a.payload or {}).get("level") for a in alerts] == ["caution", "warning", "warning"]
    assert [(a.payload or {}).get("event") for a in alerts][-1] == "resolved"


def test_openapi_documents_the_hotline_routes_and_their_errors(service: Service) -> None:
    paths = service.client.get("/openapi.json").json()["paths"]
    routes = {
        ("/v1/threads", "get"),
        ("/v1/threads", "post"),
        ("/v1/threads/{thread_id}", "get"),
        ("/v1/threads/{thread_id}/messages", "post"),
        ("/v1/threads/{thread_id}/messages/{message_id}/ack", "post"),
        ("/v1/record/receipts", "get"),
        ("/v1/record/key", "get"),
    }
    for path, method in routes:
        responses = paths[path][method]["responses"]
        assert {"401", "403", "422"} <= set(responses), (path, method)
        for code in set(responses) - {"200", "201"}:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}
    assert "404" in paths["/v1/threads/{thread_id}"]["get"]["responses"]
    assert "409" in paths["/v1/threads/{thread_id}/messages/{message_id}/ack"]["post"]["responses"]


# -- storage, on SQLite and PostgreSQL -------------------------------------------------------


def test_migrations_create_the_hotline_and_record_tables(store: Store) -> None:
    revision = store.schema_revision()
    assert revision is not None
    assert revision >= "0002"  # later migrations may follow
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        tables = set(inspect(conn).get_table_names())
    assert {"threads", "messages", "acks", "escalations", "chain", "chain_parties", "heads"} <= (
        tables
    )


def test_store_threads_messages_acks_and_escalations(store: Store) -> None:
    key = Ed25519PrivateKey.generate()

    def first(w: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        thread = w.conflict_thread("south", "S1", "north", "N1", "Conflict")
        again = w.conflict_thread("north", "N1", "south", "S1", "Conflict")
        assert again["id"] == thread["id"]
        w.append("alert", ["south", "north"], {"id": 1, "level": "caution", "x": float("nan")})
        row = w.add_message(thread, "skysep", {"kind": "free_text", "text": "é"},
                            requires_ack=True, deadline=T0 + 120.0)  # fmt: skip
        return thread, row

    (thread, row), recorded = store.record(T0, key, first)
    assert (thread["party_a"], thread["aircraft_a"]) == ("north", "N1")
    assert [e.seq for e in recorded.entries] == [0, 1]
    assert recorded.entries[0].payload == {"id": 1, "level": "caution", "x": None}
    assert recorded.head is not None
    assert recorded.head.seq == 1
    assert row["seq"] == 1
    assert store.conflict_thread_of("south", "S1", "north", "N1") == store.thread(thread["id"])
    assert [t["id"] for t in store.threads_for("south")] == [thread["id"]]
    assert store.threads_for("east") == []
    pending = store.unanswered()
    assert [(m["id"], m["answered_by"]) for m in pending] == [(row["id"], [])]
    assert store.unanswered([thread["id"]]) == pending  # only the listed threads' messages
    assert store.unanswered([thread["id"] + 1]) == []
    assert store.unanswered([]) == []

    def answer(w: Any) -> bool:
        reply = w.add_message(thread, "north", {"kind": "acknowledge", "refers_to": "1"},
                              requires_ack=False, deadline=None, record_kind="ack")  # fmt: skip
        assert w.add_ack(row["id"], "north", reply["id"])
        assert not w.add_ack(row["id"], "north", reply["id"])
        late = {"kind": "free_text", "text": "late"}
        esc = w.add_message(
            thread, "skysep", late, requires_ack=False, deadline=None, record_kind="escalation"
        )
        w.add_escalation(row["id"], 1, esc["id"])
        return True

    store.record(T0 + 130.0, key, answer)
    [still] = store.unanswered()  # the service's own message needs both parties' answer
    assert still["answered_by"] == ["north"]
    assert still["escalated_at"] == [T0 + 130.0]
    messages = store.thread_messages(thread["id"])
    assert [m["kind"] for m in messages] == ["free_text", "acknowledge", "free_text"]
    assert messages[0]["acks"][0]["party"] == "north"
    assert messages[0]["escalations"][0]["attempt"] == 1
    assert messages[0]["body"] == {"kind": "free_text", "text": "é"}
    chain = store.chain_entries()
    assert [e.kind for e in chain] == ["alert", "message", "ack", "escalation"]
    assert [e.seq for e in store.entries_concerning("north", after_seq=1)] == [2, 3]
    assert store.entries_concerning("east") == []
    assert verify_entries(chain, public_key=key.public_key(), heads=store.signed_heads()).ok
    assert [h.seq for h in store.signed_heads()] == [1, 3]
    assert store.head_at_or_after(2) == store.latest_head()
    # Nothing appended: no head signed; a failed write leaves nothing behind.
    store.record(T0 + 140.0, key, lambda w: None)
    assert len(store.signed_heads()) == 2

    def failing(w: Any) -> None:
        w.append("alert", ["north"], {"id": 2})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.record(T0 + 150.0, key, failing)
    assert len(store.chain_entries()) == 4


def test_concurrent_appends_make_one_unbroken_chain(store: Store) -> None:
    key = Ed25519PrivateKey.generate()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                payload = {"n": n, "i": i}

                def write(w: RecordWriter, p: dict[str, int] = payload) -> Entry:
                    return w.append("alert", ["north"], p)

                store.record(T0 + i, key, write)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    chain = store.chain_entries()
    assert [e.seq for e in chain] == list(range(40))
    assert verify_entries(chain, public_key=key.public_key(), heads=store.signed_heads()).ok


def test_due_selection_escalates_only_what_is_due_up_to_the_cap(store: Store) -> None:
    """Past its deadline: escalated; before it, or answered (by every recipient), or not
    requiring acknowledgement: never; at most MAX_ESCALATIONS times, one interval apart. The
    SQL due-selection gives what due_escalations over every unanswered message gives."""
    for party, language in LANGUAGES.items():
        store.add_party(party, party.title(), language, T0)
    key = Ed25519PrivateKey.generate()
    service = HotlineService(store, agreement(), key, Clock(T0))
    alert = {"kind": "free_text", "text": "traffic"}

    def post(now: float, requires_ack: bool = True) -> int:
        def write(w: RecordWriter) -> int:
            thread = w.conflict_thread("north", "N1", "south", "S1", "Conflict")
            deadline = now + ACK_DEADLINE_S if requires_ack else None
            row = w.add_message(
                thread, "skysep", alert, requires_ack=requires_ack, deadline=deadline
            )
            return int(row["id"])

        return store.record(now, key, write)[0]

    def answer(message_id: int, party: str, now: float) -> None:
        def write(w: RecordWriter) -> None:
            thread = w.conflict_thread("north", "N1", "south", "S1", "Conflict")
            body = {"kind": "acknowledge", "refers_to": str(message_id)}
            reply = w.add_message(
                thread, party, body, requires_ack=False, deadline=None, record_kind="ack"
            )
            assert w.add_ack(message_id, party, int(reply["id"]))

        store.record(now, key, write)

    late = post(T0)  # due at T0 + 120
    half = post(T0)  # answered by one of the two parties it needs: still due
    answered = post(T0)  # answered by both before its deadline: never
    no_ack = post(T0, requires_ack=False)
    early = post(T0 + 60.0)  # due at T0 + 180
    answer(half, "north", T0 + 10.0)
    answer(answered, "north", T0 + 10.0)
    answer(answered, "south", T0 + 11.0)

    def reference(now: float) -> list[tuple[int, int, float]]:
        pending = store.unanswered()
        states = [
            AckState(
                str(m["id"]),
                _utc(m["created_at"]),
                True,
                tuple(_utc(t) for t in sorted(m["escalated_at"])),
            )
            for m in pending
        ]
        due = due_escalations(
            states, set(), _utc(now), deadline_s=ACK_DEADLINE_S, max_escalations=MAX_ESCALATIONS
        )
        return [(int(d.message_id), d.attempt, round(d.overdue_s, 3)) for d in due]

    def due(now: float) -> list[tuple[int, int, float]]:
        got = [(int(m["id"]), attempt, overdue) for m, attempt, overdue in service._due(now)]
        assert got == reference(now)
        return got

    def cycle(now: float) -> None:
        service.record_cycle(CycleWork(now, [], [], []))

    assert due(T0 + ACK_DEADLINE_S - 0.001) == []
    assert due(T0 + ACK_DEADLINE_S) == [(late, 1, 0.0), (half, 1, 0.0)]
    cycle(T0 + ACK_DEADLINE_S + 0.5)
    assert due(T0 + ACK_DEADLINE_S + 1.0) == []
    assert due(T0 + 60.0 + ACK_DEADLINE_S) == [(early, 1, 0.0)]
    # Every interval after the previous escalation, MAX_ESCALATIONS times, then never again.
    for attempt in range(2, MAX_ESCALATIONS + 1):
        now = T0 + attempt * ACK_DEADLINE_S + 0.5
        assert [(m, a) for m, a, _ in due(now) if m != early] == [(late, attempt), (half, attempt)]
        cycle(now)
    capped = T0 + (MAX_ESCALATIONS + 1) * ACK_DEADLINE_S + 0.5
    ((message, attempts, overdue_s),) = due(capped)
    assert (message, attempts) == (early, MAX_ESCALATIONS)
    assert overdue_s == pytest.approx(capped - T0 - 180.0)
    cycle(capped)  # the early one's last: late and half are at the cap already
    for later in (2, 3, 10):
        assert due(T0 + (MAX_ESCALATIONS + later) * ACK_DEADLINE_S + 0.5) == []
    escalated = store.messages_with_answers([late, half, answered, no_ack, early])
    assert [e["attempt"] for e in escalated[late]["escalations"]] == list(
        range(1, MAX_ESCALATIONS + 1)
    )
    assert len(escalated[half]["escalations"]) == MAX_ESCALATIONS
    assert escalated[answered]["escalations"] == []
    assert escalated[no_ack]["escalations"] == []
    assert len(escalated[early]["escalations"]) == MAX_ESCALATIONS
    # Everything is settled: the selection looks past all of it; a new message is seen.
    assert service._open_from > max(late, half, answered, no_ack, early)
    fresh = post(T0 + 10_000.0)
    assert due(T0 + 10_000.0 + ACK_DEADLINE_S) == [(fresh, 1, 0.0)]
    assert verify_entries(
        store.chain_entries(), public_key=key.public_key(), heads=store.signed_heads()
    ).ok


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)
