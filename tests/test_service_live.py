"""The live picture and detector: alert events, incidents, need-to-know (no I/O)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from encounters import CATALOGUE, GEOD, Encounter

from skysep import units
from skysep.agreement import Agreement, from_mapping
from skysep.engine import LEVELS, detect
from skysep.service import Detector, LivePicture
from skysep.storage import Report

T0 = 1_800_000_000.0
SPEED = 250.0  # m/s


def agreement(**extra: float) -> Agreement:
    values: dict[str, float] = {
        "horizontal_m": 1_000.0,
        "vertical_ft": 1_000.0,
        "lookahead_s": 120.0,
        "caution_s": 60.0,
        "warning_s": 30.0,
        "disclosure_radius_nm": 10.0,
    }
    values.update(extra)
    return from_mapping(values)


def at(lat: float, lon: float, east_m: float) -> tuple[float, float]:
    lon2, lat2, _ = GEOD.fwd(lon, lat, 90.0, east_m)
    return lat2, lon2


def head_on_reports(t: float, gap0_m: float = 40_250.0) -> list[Report]:
    """North's N1 flies east, South's S1 west, on the equator at FL300, closing at 500 m/s."""
    flown = SPEED * (t - T0)
    lat_n, lon_n = at(0.0, 0.0, -gap0_m / 2 + flown)
    lat_s, lon_s = at(0.0, 0.0, gap0_m / 2 - flown)
    alt = units.ft_to_m(30_000.0)
    return [
        Report("north", "N1", t, t, lat_n, lon_n, alt, SPEED, 90.0, 0.0),
        Report("south", "S1", t, t, lat_s, lon_s, alt, SPEED, 270.0, 0.0),
    ]


def test_head_on_alert_sequence_and_incident() -> None:
    a = agreement()
    picture, detector = LivePicture(a.stale_s), Detector(a)
    events: list[tuple[float, str, str]] = []
    opened: list[dict[str, Any]] = []
    changed: list[tuple[int, dict[str, Any]]] = []
    for t in np.arange(T0, T0 + 100.0, 1.0):
        picture.update(head_on_reports(float(t)))
        result = detector.cycle(picture.snapshot(float(t)))
        events += [(float(t), e["event"], e["level"]) for e in result.events]
        ids = list(range(len(opened) + 1, len(opened) + 1 + len(result.opened)))
        detector.attach_incident_ids(result, ids)
        opened += result.opened
        changed += result.changed
    # 40.25 km apart closing at 500 m/s: LoS (1 km) from t = 78.5 s to t = 82.5 s. In the
    # lookahead (120 s) from the start: advisory, then caution at t_in <= 60, warning at <= 30.
    assert [(e, lv) for _, e, lv in events] == [
        ("new", "advisory"),
        ("level", "caution"),
        ("level", "warning"),
        ("resolved", "warning"),
    ]
    assert events[0][0] == T0
    assert events[1][0] == T0 + 19.0  # first cycle with t_in <= 60 s
    assert events[2][0] == T0 + 49.0  # first cycle with t_in <= 30 s
    assert events[3][0] == T0 + 83.0  # first cycle after the loss
    assert len(opened) == 1
    incident = opened[0]
    assert incident["party_a"] == "north"
    assert incident["aircraft_b"] == "S1"
    assert incident["start"] == pytest.approx(T0 + 78.5, abs=0.01)
    assert incident["first_alert"] == T0
    assert incident["lead_time_s"] == pytest.approx(78.5, abs=0.01)
    assert incident["level_at_start"] == "warning"
    closes = [v for _, v in changed if v.get("status") == "closed"]
    assert [i for i, v in changed if v.get("status") == "closed"] == [1]
    assert len(closes) == 1
    assert closes[0]["end"] == pytest.approx(T0 + 82.5, abs=0.01)
    assert closes[0]["duration_s"] == pytest.approx(4.0, abs=0.02)
    mins = [v["min_h_m"] for _, v in changed if "min_h_m" in v]
    # Sampled at the cycles: at t = 80 s they are 250 m apart (they meet at 80.5 s).
    assert min(mins) == pytest.approx(250.0, abs=1.0)


@pytest.mark.parametrize("encounter", CATALOGUE, ids=str)
def test_the_service_sees_what_the_engine_sees(encounter: Encounter) -> None:
    """Every catalogue encounter fed as reports gives the engine's verdict and level.

    The service knows every aircraft's party; an aircraft of no party in the
    catalogue gets a party of its own that no override names (same minima).
    """
    s = encounter.states
    parties = [
        p if p is not None else f"no-party-{k}"
        for k, p in enumerate(s.party if s.party is not None else [None] * len(s))
    ]
    reports = [
        Report(
            parties[k],
            str(s.aircraft[k]),
            T0,
            T0,
            float(s.lat_deg[k]),
            float(s.lon_deg[k]),
            float(s.alt_m[k]),
            float(s.gs_mps[k]),
            float(s.track_deg[k]),
            float(s.vs_mps[k]),
        )
        for k in range(len(s))
    ]
    picture, detector = LivePicture(encounter.agreement.stale_s), Detector(encounter.agreement)
    picture.update(reports)
    result = detector.cycle(picture.snapshot(T0))
    want = detect(s, encounter.agreement)
    assert len(result.conflicts) == len(want) == int(encounter.expect_conflict)
    assert [e["event"] for e in result.events] == ["new"] * len(want)
    if len(want):
        assert result.events[0]["level"] == LEVELS[int(want.level_code[0])]
        assert result.events[0]["t_in_s"] == pytest.approx(float(want.t_in_s[0]), abs=1e-6)
        assert result.events[0]["h_cpa_m"] == pytest.approx(float(want.h_cpa_m[0]), abs=1e-3)
        assert len(result.opened) == int(float(want.t_in_s[0]) == 0.0)


def test_same_party_conflicts_stay_within_the_party() -> None:
    a = agreement()
    picture, detector = LivePicture(a.stale_s), Detector(a)
    n1, s1 = head_on_reports(T0)
    picture.update([n1, s1._replace(party_id="north", aircraft="N2")])
    result = detector.cycle(picture.snapshot(T0))
    assert [(e["party_a"], e["party_b"]) for e in result.events] == [("north", "north")]
    assert set(result.visible) == {"north"}


def _report(party: str, aircraft: str, lat: float, lon: float, t: float = T0) -> Report:
    return Report(party, aircraft, t, t, lat, lon, 10_000.0, 0.0, 0.0, 0.0)


def test_need_to_know() -> None:
    """A party sees its own aircraft; another's only within the radius of one or in conflict."""
    a = agreement(disclosure_radius_nm=10.0)
    picture, detector = LivePicture(a.stale_s), Detector(a)
    r = units.nm_to_m(10.0)
    near_lat, near_lon = at(10.0, 20.0, r * 0.99)
    far_lat, far_lon = at(10.0, 20.0, -r * 1.01)
    picture.update(
        [
            _report("north", "N1", 10.0, 20.0),
            _report("south", "NEAR", near_lat, near_lon),
            _report("south", "FAR", far_lat, far_lon),
            _report("south", "AWAY", -30.0, 100.0),
            _report("east", "E1", -30.0, 100.02),  # 1.9 km from AWAY, far from north
        ]
    )
    result = detector.cycle(picture.snapshot(T0))
    snap = result.snapshot
    seen = {p: sorted(str(snap.key[i]) for i in idx) for p, idx in result.visible.items()}
    assert seen["north"] == ["north/N1", "south/NEAR"]
    assert seen["south"] == ["east/E1", "north/N1", "south/AWAY", "south/FAR", "south/NEAR"]
    assert seen["east"] == ["east/E1", "south/AWAY"]
    assert result.events == []  # all stationary, 1 km+ apart or far: no conflict


def test_a_conflict_discloses_the_other_aircraft_even_beyond_the_radius() -> None:
    a = agreement(disclosure_radius_nm=5.0)
    picture, detector = LivePicture(a.stale_s), Detector(a)
    picture.update(head_on_reports(T0))  # 40 km apart, in conflict within 120 s
    result = detector.cycle(picture.snapshot(T0))
    assert len(result.events) == 1
    snap = result.snapshot
    assert sorted(str(snap.key[i]) for i in result.visible["north"]) == ["north/N1", "south/S1"]


def test_stale_aircraft_are_dropped_and_their_conflicts_resolve() -> None:
    a = agreement(stale_s=15.0)
    picture, detector = LivePicture(a.stale_s), Detector(a)
    picture.update(head_on_reports(T0))
    assert [e["event"] for e in detector.cycle(picture.snapshot(T0 + 14.0)).events] == ["new"]
    picture.update(head_on_reports(T0 + 14.0)[:1])  # only N1 keeps reporting
    result = detector.cycle(picture.snapshot(T0 + 15.5))
    assert [e["event"] for e in result.events] == ["resolved"]
    assert result.events[0]["detail"]["b"] is None  # S1 is gone
    assert len(picture) == 1


def test_positions_move_to_the_cycle_time_along_the_geodesic() -> None:
    picture = LivePicture(15.0)
    picture.update([Report("north", "N1", T0, T0, 45.0, 5.0, 10_000.0, 200.0, 30.0, -5.0)])
    snap = picture.snapshot(T0 + 10.0)
    lon, lat, _ = GEOD.fwd(5.0, 45.0, 30.0, 2_000.0)
    assert snap.lat_deg[0] == pytest.approx(lat, abs=1e-9)
    assert snap.lon_deg[0] == pytest.approx(lon, abs=1e-9)
    assert snap.alt_m[0] == pytest.approx(9_950.0)


def test_missing_velocity_is_derived_from_the_previous_report() -> None:
    picture = LivePicture(15.0)
    lon2, lat2, _ = GEOD.fwd(5.0, 45.0, 120.0, 1_000.0)
    picture.update([Report("north", "N1", T0, T0, 45.0, 5.0, 10_000.0)])
    picture.update([Report("north", "N1", T0 + 5.0, T0 + 5.0, lat2, lon2, 10_050.0)])
    snap = picture.snapshot(T0 + 5.0)
    assert snap.gs_mps[0] == pytest.approx(200.0, rel=1e-9)
    assert snap.track_deg[0] == pytest.approx(120.0, abs=1e-6)
    assert snap.vs_mps[0] == pytest.approx(10.0)


def test_an_older_report_does_not_replace_a_newer_one() -> None:
    picture = LivePicture(15.0)
    picture.update([_report("north", "N1", 1.0, 1.0, T0 + 2.0), _report("north", "N1", 2.0, 2.0)])
    assert picture.snapshot(T0 + 2.0).lat_deg[0] == 1.0


def test_restored_pairs_are_not_announced_again() -> None:
    a = agreement()
    picture, detector = LivePicture(a.stale_s), Detector(a)
    picture.update(head_on_reports(T0))
    first = detector.cycle(picture.snapshot(T0))
    row = {**first.events[0], "id": 1}
    restarted = Detector(a)
    restarted.restore([row], [])
    picture.update(head_on_reports(T0 + 20.0))
    events = restarted.cycle(picture.snapshot(T0 + 20.0)).events
    assert [(e["event"], e["previous_level"], e["level"]) for e in events] == [
        ("level", "advisory", "caution")
    ]
    assert events[0]["detail"]["first_alert"] == T0


def test_cpa_point_is_the_midpoint_at_closest_approach() -> None:
    a = agreement()
    picture, detector = LivePicture(a.stale_s), Detector(a)
    picture.update(head_on_reports(T0))
    event = detector.cycle(picture.snapshot(T0)).events[0]
    assert event["t_cpa_s"] == pytest.approx(80.5, abs=0.01)
    assert event["detail"]["cpa"]["lat_deg"] == pytest.approx(0.0, abs=1e-9)
    assert event["detail"]["cpa"]["lon_deg"] == pytest.approx(0.0, abs=1e-6)
    assert math.isclose(event["detail"]["cpa"]["time"], T0 + event["t_cpa_s"])
