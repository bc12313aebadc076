"""Operations in the service (#6), in process over a real SQLite file with the test's clock:
filing and its 422s, strategic-conflict notices (only the overlap), withdrawals, states, live
intrusion and conformance alerts, the hotline thread and the record, a restart; the storage
on SQLite and PostgreSQL; and ``skysep ops`` against a real ``skysep serve``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import harness
import httpx
import pytest
import shapely  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from harness import Clock
from shapely.geometry import box, shape  # type: ignore[import-untyped]
from test_service_api import agreement
from test_service_e2e import AGREEMENT, Server, add_party, skysep

from skysep import units
from skysep.errors import StorageError
from skysep.service import create_app
from skysep.storage import Store

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
START = "2027-01-15T07:50:00Z"
END = "2027-01-15T10:00:00Z"

Box = tuple[float, float, float, float]
#: North's volume, South's volume that overlaps it, and one of South's far from everything.
ALPHA: Box = (5.0, 43.0, 5.2, 43.2)
BRAVO_NEAR: Box = (5.1, 43.1, 5.3, 43.3)
BRAVO_FAR: Box = (6.0, 44.0, 6.1, 44.1)


def ring(b: Box) -> list[list[list[float]]]:
    x0, y0, x1, y1 = b
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def feature(fid: str, b: Box, **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"lower_ft": 0, "upper_ft": 3000, "start": START, "end": END}
    properties.update(props)
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": "Polygon", "coordinates": ring(b)},
        "properties": properties,
    }


def plan(op_id: str | None, *features: dict[str, Any], **member: Any) -> dict[str, Any]:
    operation = dict(member)
    if op_id is not None:
        operation["id"] = op_id
    return {"type": "FeatureCollection", "operation": operation, "features": list(features)}


def alpha(**member: Any) -> dict[str, Any]:
    return plan("alpha", feature("a-box", ALPHA), name="North secret survey", **member)


def bravo(near: Box = BRAVO_NEAR) -> dict[str, Any]:
    return plan(
        "bravo",
        feature("b-near", near, name="South hidden corridor"),
        feature("b-far", BRAVO_FAR),
        name="South exercise",
    )


class Service(harness.Service):
    def call(self, method: str, path: str, who: str, body: Any = None, status: int = 200) -> Any:
        response = self.client.request(method, path, headers=self.headers(who), json=body)
        assert response.status_code == status, response.text
        return response.json()

    def file(self, who: str, document: dict[str, Any], status: int = 201) -> Any:
        return self.call("POST", "/v1/operations", who, document, status)

    def state(self, who: str, op_id: str, state: str, status: int = 200) -> Any:
        return self.call("POST", f"/v1/operations/{op_id}/state", who, {"state": state}, status)

    def report(self, who: str, aircraft: str, lat: float, lon: float, alt_ft: float) -> None:
        body = {
            "reports": [
                {
                    "time": self.clock.now,
                    "aircraft": aircraft,
                    "lat": lat,
                    "lon": lon,
                    "alt_ft": alt_ft,
                    "gs_kt": 0.0,
                    "track_deg": 0.0,
                    "vs_fpm": 0.0,
                }
            ]
        }
        self.call("POST", "/v1/reports", who, body)


@contextmanager
def open_service(path: Path, tokens: dict[str, str] | None = None) -> Iterator[Service]:
    store = Store.open(str(path))
    if tokens is None:
        tokens = {p: store.add_party(p, p.title(), "en", T0) for p in ("north", "south", "east")}
    clock = Clock(T0)
    app = create_app(store, agreement(), clock=clock, run_cycles=False)
    with TestClient(app) as client:
        yield Service(client, store, clock, tokens)
    store.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with open_service(tmp_path / "service.sqlite3") as s:
        yield s


def text_of(value: Any) -> str:
    return json.dumps(value)


def region_area(notice: dict[str, Any]) -> Any:
    return shape(notice["region"])


# -- filing -------------------------------------------------------------------------------------


def test_filing_refuses_an_invalid_document_naming_feature_field_and_value(
    service: Service,
) -> None:
    bad = plan(
        "x",
        feature("ok", ALPHA),
        feature("low", ALPHA, lower_ft=4000),
        {**feature("late", ALPHA), "properties": {"lower_ft": 0, "upper_ft": 10, "start": START}},
    )
    error = service.file("north", bad, 422)["error"]
    assert error["status"] == 422
    problems = {(p["index"], p["field"]): p for p in error["problems"]}
    assert problems[(1, "properties.lower_ft")]["value"] == 4000
    assert "features[1] (id 'low')" in problems[(1, "properties.lower_ft")]["message"]
    assert problems[(2, "properties.end")]["value"] is None
    assert "features[2] (id 'late')" in problems[(2, "properties.end")]["message"]
    assert 0 not in {p["index"] for p in error["problems"]}
    # A window already over, a bad member of `operation`: named too; nothing stored.
    past = plan("y", feature("v", ALPHA, end="2027-01-15T07:59:00Z"), colour="red")
    problems = service.file("north", past, 422)["error"]["problems"]
    fields = {(p["index"], p["field"]): p["value"] for p in problems}
    assert fields[(0, "properties.end")] == "2027-01-15T07:59:00Z"
    assert fields[(None, "operation.colour")] == "red"
    assert service.call("GET", "/v1/operations", "north") == []


def test_a_document_naming_another_party_is_refused(service: Service) -> None:
    error = service.file("north", alpha(party="south"), 403)["error"]
    assert error["problems"] == [
        {
            "index": None,
            "field": "operation.party",
            "value": "south",
            "message": "not the caller's party 'north'",
        }
    ]


def test_ids_are_the_partys_own_and_never_collide(service: Service) -> None:
    a = service.file("north", plan("op1", feature("v", ALPHA)))["operation"]
    b = service.file("south", plan("op1", feature("v", BRAVO_FAR)))["operation"]
    assert (a["id"], a["party"]) == ("op1", "north")
    assert (b["id"], b["party"]) == ("op1", "south")
    assert service.call("GET", "/v1/operations/op1", "north")["volumes"][0]["lower_ft"] == 0
    assert service.call("GET", "/v1/operations/op1", "south")["document"]["features"][0][
        "geometry"
    ]["coordinates"] == ring(BRAVO_FAR)
    # The same id twice for one party: 409. No id: the service makes one.
    assert service.file("north", plan("op1", feature("v", BRAVO_FAR)), 409)["error"]["status"]
    service.clock.now = T0 + 1
    made = service.file("north", plan(None, feature("v", BRAVO_FAR)))["operation"]
    assert made["id"].startswith("op-")
    assert [o["id"] for o in service.call("GET", "/v1/operations", "north")] == ["op1", made["id"]]


def test_another_partys_operation_is_404(service: Service) -> None:
    service.file("north", alpha())
    assert service.call("GET", "/v1/operations/alpha", "south", status=404)["error"]["status"]
    service.call("PUT", "/v1/operations/alpha", "south", bravo(), status=404)
    service.state("south", "alpha", "active", status=404)
    assert service.call("GET", "/v1/operations", "south") == []
    assert service.call("GET", "/v1/operations/alpha", "north")["state"] == "planned"


def test_state_changes_follow_the_state_machine(service: Service) -> None:
    service.file("north", alpha())
    error = service.state("north", "alpha", "ended", 409)["error"]
    assert "valid next states: active, cancelled" in error["message"]
    assert error["problems"][0]["field"] == "state"
    assert error["problems"][0]["value"] == "ended"
    assert service.state("north", "alpha", "planned", 422)["error"]["problems"][0]["field"] == (
        "state"
    )
    active = service.state("north", "alpha", "active")["operation"]
    assert (active["state"], active["next_states"]) == ("active", ["ended", "cancelled"])
    assert service.state("north", "alpha", "ended")["operation"]["next_states"] == []
    error = service.state("north", "alpha", "active", 409)["error"]
    assert "valid next states: none" in error["message"]
    # An ended operation cannot change either.
    assert service.call("PUT", "/v1/operations/alpha", "north", alpha(), 409)["error"]


# -- strategic conflicts --------------------------------------------------------------------------


def test_overlapping_operations_notify_each_party_of_the_overlap_only(service: Service) -> None:
    with (
        service.client.websocket_connect("/v1/ws", headers=service.headers("north")) as ws_north,
        service.client.websocket_connect("/v1/ws", headers=service.headers("south")) as ws_south,
    ):
        assert service.file("north", alpha())["notices"] == []
        reply = service.file("south", bravo())
        pushed_north, posted_north = ws_north.receive_json(), ws_north.receive_json()
        pushed_south, posted_south = ws_south.receive_json(), ws_south.receive_json()
    # The notice, then the hotline message that announces the conflict on both sides.
    assert posted_north["type"] == posted_south["type"] == "message"
    assert posted_north["message"]["kind"] == "notice_of_operations"
    assert posted_north["message"]["body"] == posted_south["message"]["body"]
    [to_south] = reply["notices"]
    [to_north] = service.call("GET", "/v1/notices", "north")
    assert pushed_north["type"] == pushed_south["type"] == "notice"
    assert pushed_north["notice"] == to_north
    assert pushed_south["notice"] == to_south
    assert to_north["conflict_id"] == to_south["conflict_id"]
    overlap = box(5.1, 43.1, 5.2, 43.2)
    for notice in (to_north, to_south):
        assert notice["event"] == "new"
        assert shapely.equals(region_area(notice), overlap)
        assert (notice["lower_ft"], notice["upper_ft"]) == (0.0, pytest.approx(3000.0))
        assert (notice["start"], notice["end"]) == (START, END)
    assert (to_north["operation_id"], to_north["volume_id"], to_north["other_party"]) == (
        "alpha",
        "a-box",
        "south",
    )
    assert (to_south["operation_id"], to_south["volume_id"], to_south["other_party"]) == (
        "bravo",
        "b-near",
        "north",
    )
    # Nothing of the other party's operation: its ids, names, other volumes, whole area.
    for hidden in ("bravo", "b-near", "b-far", "South hidden corridor", "South exercise", "5.3"):
        assert hidden not in text_of(to_north) + text_of(pushed_north) + text_of(posted_north)
    for hidden in ("alpha", "a-box", "North secret survey", "5.0,", "43.0,"):
        assert hidden not in text_of(to_south) + text_of(pushed_south) + text_of(posted_south)
    # A third party is told nothing.
    assert service.call("GET", "/v1/notices", "east") == []


def test_a_change_re_notifies_and_a_gone_overlap_is_withdrawn(service: Service) -> None:
    service.file("north", alpha())
    [first] = service.file("south", bravo())["notices"]
    # The overlap shrinks: a new notice of the same conflict, with the new region.
    smaller: Box = (5.15, 43.15, 5.3, 43.3)
    [changed] = service.call("PUT", "/v1/operations/bravo", "south", bravo(smaller))["notices"]
    assert changed["conflict_id"] == first["conflict_id"]
    assert changed["event"] == "new"
    assert shapely.equals(region_area(changed), box(5.15, 43.15, 5.2, 43.2))
    # The same document again: nothing new to say.
    assert service.call("PUT", "/v1/operations/bravo", "south", bravo(smaller))["notices"] == []
    # Moved clear: withdrawn, to both.
    clear: Box = (5.5, 43.5, 5.6, 43.6)
    [gone] = service.call("PUT", "/v1/operations/bravo", "south", bravo(clear))["notices"]
    assert (gone["event"], gone["conflict_id"]) == ("withdrawn", first["conflict_id"])
    north = service.call("GET", "/v1/notices", "north")
    assert [n["event"] for n in north] == ["new", "new", "withdrawn"]
    assert north[-1]["operation_id"] == "alpha"
    # Back again, then cancelled: withdrawn again.
    service.call("PUT", "/v1/operations/bravo", "south", bravo())
    [cancelled] = service.state("south", "bravo", "cancelled")["notices"]
    assert cancelled["event"] == "withdrawn"
    assert service.call("GET", "/v1/notices", "north", status=200)[-1]["event"] == "withdrawn"
    # A cancelled operation conflicts no more: filing over it notifies nobody.
    assert service.file("east", plan("echo", feature("e", BRAVO_NEAR)))["notices"] != []
    assert {n["other_party"] for n in service.call("GET", "/v1/notices", "east")} == {"north"}


def test_same_party_and_disjoint_operations_do_not_conflict(service: Service) -> None:
    service.file("north", alpha())
    assert service.file("north", plan("own", feature("v", BRAVO_NEAR)))["notices"] == []
    higher = plan("high", feature("v", BRAVO_NEAR, lower_ft=3000, upper_ft=5000))
    assert service.file("south", higher)["notices"] == []  # stacked bands touch only
    later = plan("later", feature("v", BRAVO_NEAR, start=END, end="2027-01-15T11:00:00Z"))
    assert service.file("south", later)["notices"] == []  # a hand-over at 10:00


def test_notices_are_posted_on_the_hotline_and_recorded_per_recipient(service: Service) -> None:
    service.file("north", alpha())
    service.file("south", bravo())
    [thread] = service.call("GET", "/v1/threads", "north")
    assert thread["kind"] == "operations"
    assert thread["parties"] == ["north", "south"]
    detail = service.call("GET", f"/v1/threads/{thread['id']}", "south")
    [message] = detail["messages"]
    assert message["kind"] == "notice_of_operations"
    assert message["requires_ack"] is True
    assert sorted(message["awaiting"]) == ["north", "south"]
    for hidden in ("alpha", "a-box", "bravo", "b-near", "b-far"):
        assert hidden not in text_of(message)
    conflict_id = service.call("GET", "/v1/notices", "north")[0]["conflict_id"]
    assert message["body"]["operation_id"] == f"conflict-{conflict_id}"
    # The record: each party's receipts hold its own notice, never the other's.
    north = service.call("GET", "/v1/record/receipts", "north")["items"]
    south = service.call("GET", "/v1/record/receipts", "south")["items"]
    north_kinds = [i["entry"]["kind"] for i in north]
    assert north_kinds.count("notice") == 1
    assert "operation" in north_kinds
    notice_entry = next(i["entry"] for i in north if i["entry"]["kind"] == "notice")
    assert notice_entry["parties"] == ["north"]
    assert notice_entry["payload"]["operation_id"] == "alpha"
    assert "bravo" not in text_of([i["entry"] for i in north])
    assert "alpha" not in text_of([i["entry"] for i in south])
    # Withdrawals are posted too (no acknowledgement needed).
    service.state("south", "bravo", "cancelled")
    messages = service.call("GET", f"/v1/threads/{thread['id']}", "north")["messages"]
    assert [m["requires_ack"] for m in messages] == [True, False]
    assert "withdrawn" in messages[-1]["body"]["summary"]


# -- live -----------------------------------------------------------------------------------------


def test_an_intrusion_alerts_both_parties_each_with_its_own_view(service: Service) -> None:
    service.file("north", alpha())
    service.file("north", plan("other-north-op", feature("secret", BRAVO_FAR)))
    service.state("north", "alpha", "active")
    service.state("north", "other-north-op", "active")
    alt_ft = 2000.0
    with (
        service.client.websocket_connect("/v1/ws", headers=service.headers("north")) as ws_north,
        service.client.websocket_connect("/v1/ws", headers=service.headers("south")) as ws_south,
    ):
        service.report("south", "S1", 43.1, 5.1, alt_ft)
        service.cycle(T0)
        pushed = {"north": ws_north.receive_json(), "south": ws_south.receive_json()}
    to_north = service.call("GET", "/v1/volume-alerts", "north")
    to_south = service.call("GET", "/v1/volume-alerts", "south")
    assert [(a["event"], a["kind"]) for a in to_north] == [("new", "intrusion")]
    assert [(a["event"], a["kind"]) for a in to_south] == [("new", "intrusion")]
    [n], [s] = to_north, to_south
    assert pushed["north"] == {
        "type": "volume_alert",
        "volume_alert": n,
        "receipt": pushed["north"]["receipt"],
    }
    assert pushed["south"]["volume_alert"] == s
    assert pushed["north"]["receipt"]["party"] == "north"
    # The operation's party: its ids, the intruder and its state.
    assert (n["operation_id"], n["volume_id"], n["operation_party"]) == ("alpha", "a-box", "north")
    assert (n["aircraft"], n["aircraft_party"]) == ("S1", "south")
    assert n["state"]["lat"] == pytest.approx(43.1)
    assert n["state"]["alt_ft"] == pytest.approx(alt_ft)
    # The intruder's party: the volume's area, band and window and whose it is; no ids.
    assert (s["operation_id"], s["volume_id"], s["operation_party"]) == (None, None, "north")
    assert shapely.equals(shape(s["area"]), box(*ALPHA))
    assert (s["lower_m"], s["upper_m"]) == (0.0, pytest.approx(float(units.ft_to_m(3000.0))))
    assert (s["start"], s["end"]) == (START, END)
    for hidden in ("alpha", "a-box", "other-north-op", "secret", "North secret survey"):
        assert hidden not in text_of(s) + text_of(pushed["south"])
    # A cycle later still inside: no new event. Then out (above the band): resolved to both.
    service.cycle(T0 + 1)
    assert len(service.call("GET", "/v1/volume-alerts", "north")) == 1
    service.clock.now = T0 + 2
    service.report("south", "S1", 43.1, 5.1, 3500.0)
    service.cycle(T0 + 2)
    for party in ("north", "south"):
        events = service.call("GET", "/v1/volume-alerts", party)
        assert [a["event"] for a in events] == ["new", "resolved"]
    resolved = service.call("GET", "/v1/volume-alerts", "south")[-1]
    assert resolved["operation_id"] is None
    assert resolved["state"]["alt_ft"] == pytest.approx(3500.0)
    # A third party hears nothing.
    assert service.call("GET", "/v1/volume-alerts", "east") == []


def test_an_aircraft_outside_its_own_active_operation_alerts_its_party_only(
    service: Service,
) -> None:
    service.file("north", alpha(aircraft=["N1"]))
    service.report("north", "N1", 43.5, 5.5, 1000.0)  # outside alpha's area
    service.cycle(T0)
    assert service.call("GET", "/v1/volume-alerts", "north") == []  # alpha is only planned
    service.state("north", "alpha", "active")
    service.cycle(T0 + 1)
    [alert] = service.call("GET", "/v1/volume-alerts", "north")
    assert (alert["kind"], alert["event"], alert["aircraft"]) == ("conformance", "new", "N1")
    assert (alert["operation_id"], alert["volume_id"]) == ("alpha", None)
    assert alert["state"]["lat"] == pytest.approx(43.5)
    assert service.call("GET", "/v1/volume-alerts", "south") == []
    # Back inside: resolved. An unlisted aircraft of north's outside: nothing.
    service.clock.now = T0 + 2
    service.report("north", "N1", 43.1, 5.1, 1000.0)
    service.report("north", "N2", 45.0, 7.0, 1000.0)
    service.cycle(T0 + 2)
    events = service.call("GET", "/v1/volume-alerts", "north")
    assert [(a["kind"], a["event"]) for a in events] == [
        ("conformance", "new"),
        ("conformance", "resolved"),
    ]
    # Ending the operation resolves what it raised.
    service.clock.now = T0 + 3
    service.report("north", "N1", 43.5, 5.5, 1000.0)
    service.cycle(T0 + 3)
    service.state("north", "alpha", "ended")
    service.cycle(T0 + 4)
    assert [a["event"] for a in service.call("GET", "/v1/volume-alerts", "north")][-2:] == [
        "new",
        "resolved",
    ]


# -- restart --------------------------------------------------------------------------------------


def test_a_restart_restores_the_index_the_conflicts_and_the_live_alerts(tmp_path: Path) -> None:
    db = tmp_path / "service.sqlite3"
    with open_service(db) as service:
        tokens = service.tokens
        service.file("north", alpha())
        service.file("south", bravo())
        service.state("north", "alpha", "active")
        service.report("south", "S1", 43.1, 5.1, 1000.0)
        service.cycle(T0)
        assert len(service.call("GET", "/v1/volume-alerts", "north")) == 1

    with open_service(db, tokens) as service:
        # The index: a new overlap with north's operation is found.
        echo = plan("echo", feature("e", (5.05, 43.05, 5.1, 43.1)))
        [to_east] = service.file("east", echo)["notices"]
        assert to_east["other_party"] == "north"
        # The open conflicts: moving bravo clear withdraws the conflict notified before.
        clear: Box = (5.5, 43.5, 5.6, 43.6)
        [gone] = service.call("PUT", "/v1/operations/bravo", "south", bravo(clear))["notices"]
        assert gone["event"] == "withdrawn"
        # The live alerts: S1, still inside, is not announced again; its leaving is.
        service.clock.now = T0 + 1
        service.report("south", "S1", 43.1, 5.1, 1000.0)
        service.cycle(T0 + 1)
        assert len(service.call("GET", "/v1/volume-alerts", "north")) == 1
        service.clock.now = T0 + 2
        service.report("south", "S1", 42.0, 4.0, 1000.0)
        service.cycle(T0 + 2)
        events = service.call("GET", "/v1/volume-alerts", "north")
        assert [a["event"] for a in events] == ["new", "resolved"]
        assert service.call("GET", "/v1/operations/alpha", "north")["state"] == "active"


def test_openapi_documents_the_operations_routes(service: Service) -> None:
    paths = service.client.get("/openapi.json").json()["paths"]
    routes = {
        ("/v1/operations", "post"),
        ("/v1/operations", "get"),
        ("/v1/operations/{operation_id}", "get"),
        ("/v1/operations/{operation_id}", "put"),
        ("/v1/operations/{operation_id}/state", "post"),
        ("/v1/notices", "get"),
        ("/v1/volume-alerts", "get"),
    }
    for path, method in routes:
        responses = paths[path][method]["responses"]
        assert "401" in responses
        for code in set(responses) - {"200", "201"}:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, code)
    assert "422" in paths["/v1/operations"]["post"]["responses"]
    assert "409" in paths["/v1/operations/{operation_id}/state"]["post"]["responses"]


# -- storage, on both databases -------------------------------------------------------------------


def test_storage_of_operations_notices_and_volume_alerts(store: Store) -> None:
    def op(party: str, op_id: str, state: str = "planned") -> dict[str, Any]:
        return {
            "party_id": party,
            "id": op_id,
            "name": op_id.upper(),
            "state": state,
            "document": alpha(),
            "created_at": T0,
            "updated_at": T0,
        }

    store.operations_write(lambda w: w.insert_operation(op("north", "op1")))
    store.operations_write(lambda w: w.insert_operation(op("south", "op1", "active")))
    store.operations_write(lambda w: w.insert_operation(op("north", "op2", "ended")))
    with pytest.raises(StorageError, match="already exists"):
        store.operations_write(lambda w: w.insert_operation(op("north", "op1")))
    with pytest.raises(StorageError, match="no operation"):
        store.operations_write(lambda w: w.update_operation("east", "op1", {"state": "active"}))
    store.operations_write(
        lambda w: w.update_operation("north", "op1", {"state": "active", "updated_at": T0 + 5})
    )
    row = store.operation("north", "op1")
    assert row is not None
    assert (row["state"], row["updated_at"], row["document"]) == ("active", T0 + 5, alpha())
    assert store.operation("east", "op1") is None
    assert [r["id"] for r in store.operations_of("north")] == ["op1", "op2"]
    assert [r["id"] for r in store.operations_of("north", states=["ended"])] == ["op2"]
    assert sorted((r["party_id"], r["id"]) for r in store.filed_operations()) == [
        ("north", "op1"),
        ("south", "op1"),
    ]

    def notice(cid: str, party: str, event: str, t: float) -> dict[str, Any]:
        return {
            "conflict_id": cid,
            "party_id": party,
            "event": event,
            "other_party": "south" if party == "north" else "north",
            "operation_id": "op1",
            "volume_id": "v",
            "region": {"type": "Polygon", "coordinates": ring(ALPHA)},
            "lower_m": 0.0,
            "upper_m": 900.5,
            "start": T0,
            "end": T0 + 3600.0,
            "time": t,
        }

    ids = store.operations_write(
        lambda w: w.insert_notices(
            [
                notice("c1", "north", "new", T0),
                notice("c1", "south", "new", T0),
                notice("c2", "north", "new", T0),
                notice("c2", "north", "withdrawn", T0 + 1),
            ]
        )
    )
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    north = store.notices_for("north")
    assert [(n["conflict_id"], n["event"]) for n in north] == [
        ("c1", "new"),
        ("c2", "new"),
        ("c2", "withdrawn"),
    ]
    assert north[0]["region"] == {"type": "Polygon", "coordinates": ring(ALPHA)}
    assert store.notices_for("north", after_id=ids[2]) == [north[-1]]
    assert sorted((n["conflict_id"], n["party_id"]) for n in store.open_notices()) == [
        ("c1", "north"),
        ("c1", "south"),
    ]

    def alert(kind: str, event: str, volume: str | None) -> dict[str, Any]:
        return {
            "time": T0,
            "event": event,
            "kind": kind,
            "aircraft": "S1",
            "aircraft_party": "south",
            "operation_id": "op1",
            "volume_id": volume,
            "operation_party": "north" if kind == "intrusion" else "south",
            "detail": {"state": None, "volume": None},
        }

    store.operations_write(
        lambda w: w.insert_volume_alerts(
            [
                alert("intrusion", "new", "v"),
                alert("conformance", "new", None),
                alert("intrusion", "resolved", "v"),
            ]
        )
    )
    assert [a["kind"] for a in store.volume_alerts_for("north")] == ["intrusion", "intrusion"]
    assert len(store.volume_alerts_for("south")) == 3
    assert [a["event"] for a in store.volume_alerts_for("south", kind="conformance")] == ["new"]
    assert store.volume_alerts_for("east") == []
    [still] = store.open_volume_alerts()
    assert (still["kind"], still["volume_id"]) == ("conformance", None)


# -- the command line against a real server -------------------------------------------------------


@pytest.mark.slow
def test_skysep_ops_file_state_and_list_against_a_real_server(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    north, south = add_party(db, "north", "en"), add_party(db, "south", "en")
    agreement_file = tmp_path / "agreement.toml"
    agreement_file.write_text(AGREEMENT)
    server = Server(db, agreement_file, tmp_path / "server.log")
    # Windows around the wall clock: the server validates against its own time.
    import datetime as dt

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    window = {
        "start": (now - dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "end": (now + dt.timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
    }
    (tmp_path / "alpha.geojson").write_text(
        json.dumps(plan(None, feature("a-box", ALPHA, **window)))
    )
    (tmp_path / "bravo.geojson").write_text(
        json.dumps(plan("bravo", feature("b-near", BRAVO_NEAR, **window)))
    )
    (tmp_path / "bad.geojson").write_text(
        json.dumps(plan("bad", feature("v", ALPHA, lower_ft=5000, **window)))
    )
    server.start()
    try:

        def ops(token: str, *args: str) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "SKYSEP_TOKEN": token, "COLUMNS": "200"}
            return subprocess.run(
                skysep("ops", *args, "--url", server.url),
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
            )

        first = ops(north, "file", str(tmp_path / "alpha.geojson"))
        assert first.returncode == 0, first.stderr
        assert "filed operation 'alpha' (planned)" in first.stdout
        assert "notices: none" in first.stdout
        second = ops(south, "file", str(tmp_path / "bravo.geojson"))
        assert second.returncode == 0, second.stderr
        assert "bravo/b-near" in second.stdout
        assert "north" in second.stdout
        assert "alpha" not in second.stdout
        bad = ops(north, "file", str(tmp_path / "bad.geojson"))
        assert bad.returncode == 1
        assert "features[0] properties.lower_ft" in bad.stderr
        assert "(value: 5000)" in bad.stderr
        state = ops(north, "state", "alpha", "ended")
        assert state.returncode == 1
        assert "valid next states: active, cancelled" in state.stderr
        assert ops(north, "state", "alpha", "cancelled").returncode == 0
        listed = ops(north, "list", "--notices")
        assert listed.returncode == 0, listed.stderr
        assert "alpha" in listed.stdout
        assert "cancelled" in listed.stdout
        assert "withdrawn" in listed.stdout
        assert "bravo" not in listed.stdout
        response = httpx.get(
            server.url + "/v1/notices", headers={"Authorization": f"Bearer {south}"}
        )
        assert [n["event"] for n in response.json()] == ["new", "withdrawn"]
    finally:
        server.stop()
