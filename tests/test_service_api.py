"""The service's HTTP and WebSocket API, in process (the ASGI app over a real SQLite file).

The clock is the test's: cycles run when the test says, at the time it says.
The end-to-end tests in ``test_service_e2e.py`` run the real server instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import pytest
from encounters import GEOD
from fastapi.testclient import TestClient
from harness import Clock
from starlette.websockets import WebSocketDisconnect

from skysep import units
from skysep.agreement import Agreement, from_mapping
from skysep.service import TRACK_AFTER_S, TRACK_BEFORE_S, create_app
from skysep.storage import Store

T0 = 1_800_000_000.0
SPEED_KT = float(units.mps_to_kt(250.0))


def agreement() -> Agreement:
    return from_mapping(
        {
            "horizontal_m": 1_000.0,
            "vertical_ft": 1_000.0,
            "lookahead_s": 120.0,
            "caution_s": 60.0,
            "warning_s": 30.0,
            "disclosure_radius_nm": 10.0,
        }
    )


@dataclass
class Service(harness.Service):
    admin: str

    def headers(self, who: str) -> dict[str, str]:
        token = self.admin if who == "admin" else self.tokens[who]
        return {"Authorization": f"Bearer {token}"}

    def post_reports(self, who: str, reports: list[dict[str, Any]]) -> Any:
        return self.post("/v1/reports", who, {"reports": reports})


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    store = Store.open(str(tmp_path / "service.sqlite3"))
    tokens = {p: store.add_party(p, p.title(), "en", T0) for p in ("north", "south", "east")}
    _, admin = store.issue_token(None, T0)
    clock = Clock(T0)
    app = create_app(store, agreement(), clock=clock, run_cycles=False)
    with TestClient(app) as client:
        yield Service(client, store, clock, tokens, admin)
    store.close()


def position(east_m: float, lat: float = 0.0, lon: float = 0.0) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, east_m)
    return lat2, lon2


def head_on(t: float, gap0_m: float = 40_250.0) -> dict[str, list[dict[str, Any]]]:
    """North's N1 east-bound, South's S1 west-bound, FL300, closing at 500 m/s; LoS 78.5-82.5 s."""
    flown = 250.0 * (t - T0)
    lat_n, lon_n = position(-gap0_m / 2 + flown)
    lat_s, lon_s = position(gap0_m / 2 - flown)
    common = {"time": t, "alt_ft": 30_000.0, "gs_kt": SPEED_KT, "vs_fpm": 0.0}
    return {
        "north": [{"aircraft": "N1", "lat": lat_n, "lon": lon_n, "track_deg": 90.0, **common}],
        "south": [
            {"aircraft": "S1", "lat": lat_s, "lon": lon_s, "track_deg": 270.0, **common},
            # Far from every north aircraft: north must never see it.
            {"aircraft": "FAR", "lat": 5.0, "lon": 5.0, "track_deg": 0.0, **common},
        ],
    }


def fly(service: Service, start: float, end: float) -> None:
    t = start
    while t <= end:
        service.clock.now = t
        for party, reports in head_on(t).items():
            assert service.post_reports(party, reports).status_code == 200
        service.cycle(t)
        t += 1.0


# -- access ----------------------------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401(service: Service) -> None:
    for headers in ({}, {"Authorization": "Bearer sks_nope"}, {"Authorization": "Basic x"}):
        response = service.client.get("/v1/alerts", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["status"] == 401


def test_health_needs_no_token(service: Service) -> None:
    body = service.client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["cycle_time"] is None
    assert body["cycle_ms"] is None
    assert body["alerts_ms"] is None


def test_health_times_the_last_cycle(service: Service) -> None:
    service.cycle(T0)
    body = service.client.get("/health").json()
    assert body["cycle_time"] is not None
    assert 0.0 < body["alerts_ms"] <= body["cycle_ms"]


def test_admin_and_party_tokens_do_not_mix(service: Service) -> None:
    assert service.client.get("/v1/alerts", headers=service.headers("admin")).status_code == 403
    assert (
        service.client.get("/v1/admin/parties", headers=service.headers("north")).status_code == 403
    )


def test_admin_manages_parties_and_tokens(service: Service) -> None:
    created = service.client.post(
        "/v1/admin/parties",
        headers=service.headers("admin"),
        json={"id": "west", "name": "West", "language": "ru"},
    )
    assert created.status_code == 201
    token = created.json()["token"]
    me = service.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"party": "west", "name": "West", "language": "ru"}
    again = service.client.post(
        "/v1/admin/parties",
        headers=service.headers("admin"),
        json={"id": "west", "name": "West"},
    )
    assert again.status_code == 409
    rotated = service.client.post(
        "/v1/admin/parties/west/tokens", headers=service.headers("admin"), params={"rotate": True}
    )
    assert rotated.status_code == 201
    new = rotated.json()["token"]
    assert (
        service.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert (
        service.client.get("/v1/me", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    )
    revoked = service.client.delete(
        f"/v1/admin/tokens/{rotated.json()['token_id']}", headers=service.headers("admin")
    )
    assert revoked.status_code == 204
    assert (
        service.client.get("/v1/me", headers={"Authorization": f"Bearer {new}"}).status_code == 401
    )
    listed = service.get("/v1/admin/parties/west/tokens", "admin")
    assert [t["revoked_at"] is not None for t in listed] == [True, True]
    assert (
        service.client.get(
            "/v1/admin/parties/nobody/tokens", headers=service.headers("admin")
        ).status_code
        == 404
    )
    bad = service.client.post(
        "/v1/admin/parties", headers=service.headers("admin"), json={"id": "x y", "name": "X"}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["field"] == "id"


# -- ingest ----------------------------------------------------------------------------------


def test_reports_are_stored_before_the_reply(service: Service) -> None:
    response = service.post_reports("north", head_on(T0)["north"])
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0}
    again = service.post_reports("north", head_on(T0)["north"])
    assert again.json() == {"accepted": 1, "duplicates": 1}
    assert service.store.count_reports() == 1
    stored = service.store.reports_between("north", "N1", T0, T0)
    assert stored[0].alt_m == pytest.approx(9_144.0)
    assert stored[0].gs_mps == pytest.approx(250.0, abs=1e-3)


def test_a_bad_batch_is_rejected_whole_naming_index_and_field(service: Service) -> None:
    good = head_on(T0)["north"][0]
    batch = [
        good,
        {**good, "lat": 95.0},
        {**good, "time": "yesterday"},
        {**good, "alt_m": 9_000.0},  # two altitudes
        {k: v for k, v in good.items() if k != "aircraft"},
        {**good, "colour": "red"},
        {**good, "aircraft": "has space"},
    ]
    response = service.post_reports("north", batch)
    assert response.status_code == 422
    problems = response.json()["error"]["problems"]
    got = {(p["index"], p["field"]) for p in problems}
    assert got == {
        (1, "lat"),
        (2, "time"),
        (3, "alt_ft/alt_m"),
        (4, "aircraft"),
        (5, "colour"),
        (6, "aircraft"),
    }
    by_index = {p["index"]: p for p in problems}
    assert by_index[1]["value"] == 95.0
    assert by_index[2]["value"] == "yesterday"
    assert "yesterday" in by_index[2]["message"]
    assert service.store.count_reports() == 0


def test_a_party_writes_only_its_own_aircraft(service: Service) -> None:
    report = {**head_on(T0)["north"][0], "party": "south"}
    response = service.post_reports("north", [head_on(T0)["north"][0], report])
    assert response.status_code == 403
    assert response.json()["error"]["problems"] == [
        {
            "index": 1,
            "field": "party",
            "value": "south",
            "message": "not the caller's party 'north'",
        }
    ]
    assert service.store.count_reports() == 0


def test_the_same_callsign_in_two_parties_is_two_aircraft(service: Service) -> None:
    report = head_on(T0)["north"][0]
    assert service.post_reports("north", [report]).status_code == 200
    assert service.post_reports("south", [{**report, "lat": 1.0}]).status_code == 200
    service.cycle(T0)
    own = service.get("/v1/traffic", "north")["aircraft"]
    assert [(a["party"], a["aircraft"], a["lat"]) for a in own] == [("north", "N1", 0.0)]


def test_reports_from_the_future_are_refused(service: Service) -> None:
    report = {**head_on(T0)["north"][0], "time": T0 + 3_600.0}
    response = service.post_reports("north", [report])
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["field"] == "time"


def test_empty_and_malformed_bodies_are_422(service: Service) -> None:
    assert service.post_reports("north", []).status_code == 422
    response = service.client.post(
        "/v1/reports", headers=service.headers("north"), content=b"{not json"
    )
    assert response.status_code == 422
    assert response.json()["error"]["status"] == 422


# -- alerts, need-to-know, incidents ---------------------------------------------------------


def test_alerts_reach_both_parties_with_their_own_aircraft_first(service: Service) -> None:
    fly(service, T0, T0 + 20.0)
    north = service.get("/v1/alerts", "north")
    south = service.get("/v1/alerts", "south")
    assert [(a["event"], a["level"]) for a in north] == [("new", "advisory"), ("level", "caution")]
    assert [a["id"] for a in north] == [a["id"] for a in south]
    first_n, first_s = north[0], south[0]
    assert (first_n["own_aircraft"], first_n["other_aircraft"]) == ("N1", "S1")
    assert (first_s["own_aircraft"], first_s["other_aircraft"]) == ("S1", "N1")
    assert first_n["other"]["aircraft"] == "S1"
    assert first_n["other"]["alt_ft"] == pytest.approx(30_000.0)
    assert first_n["t_in_s"] == pytest.approx(78.5, abs=0.01)
    assert first_n["cpa"]["h_nm"] == pytest.approx(0.0, abs=1e-3)
    assert first_n["cpa"]["t_s"] == pytest.approx(80.5, abs=0.01)
    assert service.get("/v1/alerts", "east") == []
    assert [a["level"] for a in service.get("/v1/alerts", "north", level="caution")] == ["caution"]
    assert service.get("/v1/alerts", "north", aircraft="S1") == []
    assert len(service.get("/v1/alerts", "south", aircraft="S1")) == 2
    assert service.get("/v1/alerts", "north", since=T0 + 10.0)[0]["event"] == "level"
    bad = service.client.get("/v1/alerts", headers=service.headers("north"), params={"since": "x"})
    assert bad.status_code == 422


def test_traffic_discloses_only_what_a_party_needs(service: Service) -> None:
    fly(service, T0, T0 + 2.0)
    north = {a["aircraft"] for a in service.get("/v1/traffic", "north")["aircraft"]}
    south = {a["aircraft"] for a in service.get("/v1/traffic", "south")["aircraft"]}
    east = service.get("/v1/traffic", "east")["aircraft"]
    assert north == {"N1", "S1"}  # S1 is in conflict with N1; FAR is 780 km away
    assert south == {"S1", "FAR", "N1"}
    assert east == []


def test_incident_recorded_with_both_tracks(service: Service) -> None:
    fly(service, T0, T0 + 84.0)
    incidents = service.get("/v1/incidents", "north")
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["status"] == "closed"
    assert (incident["aircraft_a"], incident["aircraft_b"]) == ("N1", "S1")
    assert incident["lead_time_s"] == pytest.approx(78.5, abs=0.01)
    assert incident["duration_s"] == pytest.approx(4.0, abs=0.02)
    assert incident["level_at_start"] == "warning"
    assert service.get("/v1/incidents", "south") == incidents
    assert service.get("/v1/incidents", "east") == []
    path = f"/v1/incidents/{incident['id']}"
    assert service.client.get(path, headers=service.headers("east")).status_code == 404
    assert service.client.get(path + "/tracks", headers=service.headers("east")).status_code == 404
    assert service.get(path + "/tracks", "north")["tracks"] == []  # pending for a minute
    # Keep flying (they part) until a minute after the end: the segment is copied.
    fly(service, T0 + 85.0, T0 + 82.5 + TRACK_AFTER_S + 1.0)
    body = service.get(path + "/tracks", "south")
    assert body["incident"]["status"] == "recorded"
    times = {(p["aircraft"], p["time"]) for p in body["tracks"]}
    assert {a for a, _ in times} == {"N1", "S1"}
    n1 = sorted(p["time"] for p in body["tracks"] if p["aircraft"] == "N1")
    # Reported every second from T0 (less than 2 min before the start at T0 + 78.5 s) to
    # the end (T0 + 82.5 s) plus a minute: T0 ... T0 + 142 s.
    assert T0 > T0 + 78.5 - TRACK_BEFORE_S
    assert len(n1) == 143
    assert n1[0] == "2027-01-15T08:00:00Z"
    assert n1[-1] == "2027-01-15T08:02:22Z"


def test_websocket_delivers_alerts_and_takes_reports(service: Service) -> None:
    with service.client.websocket_connect(
        "/v1/ws?traffic=true", headers=service.headers("north")
    ) as ws:
        ws.send_json({"type": "reports", "seq": 7, "reports": head_on(T0)["north"]})
        assert ws.receive_json() == {"type": "ack", "seq": 7, "accepted": 1, "duplicates": 0}
        ws.send_json({"type": "reports", "seq": 8, "reports": [{"aircraft": "N1"}]})
        error = ws.receive_json()
        assert error["type"] == "error"
        assert error["seq"] == 8
        assert {p["field"] for p in error["error"]["problems"]} >= {"lat", "lon", "time"}
        assert service.post_reports("south", head_on(T0)["south"]).status_code == 200
        service.cycle(T0)
        messages = [ws.receive_json(), ws.receive_json()]
        kinds = {m["type"]: m for m in messages}
        assert kinds["alert"]["alert"]["own_aircraft"] == "N1"
        assert {a["aircraft"] for a in kinds["traffic"]["aircraft"]} == {"N1", "S1"}


def test_websocket_refuses_a_bad_token(service: Service) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        service.client.websocket_connect("/v1/ws?token=sks_wrong"),
    ):
        pass
    assert info.value.code == 4401


def test_openapi_documents_every_route_and_its_errors(service: Service) -> None:
    spec = service.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/v1/reports",
        "/v1/alerts",
        "/v1/alerts/stream",
        "/v1/traffic",
        "/v1/incidents",
        "/v1/incidents/{incident_id}",
        "/v1/incidents/{incident_id}/tracks",
        "/v1/admin/parties",
        "/v1/admin/tokens/{token_id}",
        "/health",
    ):
        assert path in paths
    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path != "/health":
                assert "401" in codes, (method, path)
            for code in codes - {"200", "201", "204"}:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
    assert "422" in paths["/v1/reports"]["post"]["responses"]


def test_concurrent_batches_share_commits_and_are_all_stored(service: Service) -> None:
    """Batches arriving together are committed together (group commit); each is answered
    with its own counts, and every report is stored exactly once."""
    from concurrent.futures import ThreadPoolExecutor

    def batch(k: int) -> list[dict[str, Any]]:
        return [
            {**head_on(T0)["north"][0], "aircraft": f"N{k}-{i}", "lat": 0.001 * i}
            for i in range(50)
        ]

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda k: service.post_reports("north", batch(k % 20)), range(40)))
    assert all(r.status_code == 200 for r in replies)
    bodies = [r.json() for r in replies]
    assert all(b["accepted"] == 50 for b in bodies)
    # Each of the 20 distinct batches was sent twice: 20 x 50 new, 20 x 50 duplicates.
    assert sum(b["duplicates"] for b in bodies) == 20 * 50
    assert service.store.count_reports() == 20 * 50


def test_a_server_process_collects_garbage_between_cycles(tmp_path: Path) -> None:
    """``collect_between_cycles`` (``skysep serve``): while the cycle loop runs, automatic
    collections are off and each cycle ends with one; stopping gives the collector back."""
    import gc

    collected: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.append(info["generation"])

    store = Store.open(str(tmp_path / "gc.sqlite3"))
    app = create_app(store, agreement(), collect_between_cycles=True)
    gc.callbacks.append(note)
    try:
        with TestClient(app) as client:
            assert not gc.isenabled()
            assert gc.get_freeze_count() > 0
            live = client.app.state.live  # type: ignore[attr-defined]
            deadline = time.monotonic() + 10.0
            while live.last_stats is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert live.last_stats is not None, "no cycle ran"
            deadline = time.monotonic() + 5.0
            while not collected and time.monotonic() < deadline:
                time.sleep(0.05)
            assert collected, "no collection after the cycle"
        assert gc.isenabled()
    finally:
        gc.callbacks.remove(note)
        gc.unfreeze()
        gc.enable()
        store.close()
