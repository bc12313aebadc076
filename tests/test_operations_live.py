"""Live containment (issue #6): intrusions and non-conformance, vectorised, against a
brute-force per-point shapely check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from skysep.errors import OperationsError
from skysep.operations import ActiveVolumes, Intrusion, Operation, parse_operation

NOW = datetime(2030, 6, 1, tzinfo=UTC)
T0 = datetime(2030, 6, 12, 8, tzinfo=UTC)


def _feature(
    geometry: dict[str, Any],
    fid: str,
    lower_m: float,
    upper_m: float,
    start: datetime,
    end: datetime,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": geometry,
        "properties": {
            "lower_m": lower_m,
            "upper_m": upper_m,
            "start": start.isoformat(),
            "end": end.isoformat(),
            **extra,
        },
    }


def _box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _op(
    op_id: str,
    party: str,
    *features: dict[str, Any],
    aircraft: tuple[str, ...] = (),
    state: str = "active",
) -> Operation:
    data = {
        "type": "FeatureCollection",
        "features": list(features),
        "operation": {"id": op_id, "party": party, "aircraft": list(aircraft)},
    }
    return (
        parse_operation(data, now=NOW).with_state(state)
        if state != "planned"
        else (parse_operation(data, now=NOW))
    )


def _check(active: ActiveVolumes, rows: list[tuple[str, str, float, float, float, float]]) -> Any:
    ac, party, lat, lon, alt, t = zip(*rows, strict=True)
    return active.check(
        aircraft=list(ac),
        party=list(party),
        lat_deg=list(lat),
        lon_deg=list(lon),
        alt_m=list(alt),
        time_s=list(t),
    )


def test_intrusion_and_conformance_rules() -> None:
    t = (T0 + timedelta(hours=1)).timestamp()
    fire = _op(
        "fire",
        "sdis",
        _feature(_box(5.0, 43.0, 5.2, 43.2), "zone", 0, 1000, T0, T0 + timedelta(hours=4)),
        aircraft=("F-ZBFY", "F-ZBMB"),
    )
    news = _op(
        "news",
        "tv",
        _feature(_box(6.0, 43.0, 6.2, 43.2), "orbit", 0, 1000, T0, T0 + timedelta(hours=4)),
        aircraft=("F-HTV",),
    )
    planned = _op(
        "later",
        "tv",
        _feature(_box(5.0, 43.0, 5.2, 43.2), "z", 0, 1000, T0, T0 + timedelta(hours=4)),
        state="planned",
    )
    active = ActiveVolumes([fire, news, planned])
    assert [v.operation_id for v in active.volumes] == ["fire", "news"]
    alerts = _check(
        active,
        [
            ("F-ZBFY", "sdis", 43.1, 5.1, 500.0, t),  # in its own volume: fine
            ("F-ZBMB", "sdis", 43.1, 6.1, 500.0, t),  # in tv's volume: intrusion + non-conforming
            ("F-HTV", "tv", 43.1, 6.1, 1500.0, t),  # above its own volume: non-conforming
            ("N1", "", 43.1, 5.1, 1000.0, t),  # no party, on the top boundary: intrusion
            ("N2", "tv", 43.1, 5.1, 200.0, t + 4 * 3600),  # after the window: nothing
            ("F-HTV", "other", 43.1, 8.0, 0.0, t),  # same id, another party: not listed
        ],
    )
    assert alerts.intrusions() == [
        Intrusion("F-ZBMB", "sdis", "news", "orbit", "tv"),
        Intrusion("N1", "", "fire", "zone", "sdis"),
    ]
    assert alerts.nonconforming() == [("F-ZBMB", "sdis", "fire"), ("F-HTV", "tv", "news")]
    assert alerts.intrusion_aircraft.tolist() == [1, 3]


def test_the_boundaries_are_inside() -> None:
    zone = _op(
        "z", "a", _feature(_box(5.0, 43.0, 5.2, 43.2), "v", 100, 200, T0, T0 + timedelta(hours=1))
    )
    active = ActiveVolumes([zone])
    rows = [
        ("x", "b", 43.0, 5.1, 100.0, T0.timestamp()),
        ("y", "b", 43.2, 5.2, 200.0, (T0 + timedelta(hours=1)).timestamp()),
        ("z", "b", 43.2, 5.2, 200.01, T0.timestamp()),
        ("w", "b", 43.1, 5.1, 150.0, T0.timestamp() - 0.001),
    ]
    assert _check(active, rows).intrusion_aircraft.tolist() == [0, 1]


def test_across_the_antimeridian() -> None:
    zone = _op(
        "z",
        "a",
        _feature(_box(179.0, -17.0, 181.0, -16.0), "v", 0, 500, T0, T0 + timedelta(hours=1)),
    )
    t = T0.timestamp()
    rows = [
        ("e", "b", -16.5, 179.5, 10.0, t),
        ("w", "b", -16.5, -179.5, 10.0, t),
        ("wrapped", "b", -16.5, 180.5, 10.0, t),
        ("edge", "b", -16.5, 180.0, 10.0, t),
        ("edge2", "b", -16.5, -180.0, 10.0, t),
        ("out", "b", -16.5, -178.9, 10.0, t),
    ]
    assert _check(ActiveVolumes([zone]), rows).intrusion_aircraft.tolist() == [0, 1, 2, 3, 4]


def test_bad_arrays_are_refused() -> None:
    active = ActiveVolumes([])
    with pytest.raises(OperationsError, match=r"lat_deg\[1\] = nan is not finite"):
        active.check(
            aircraft=["a", "b"],
            party=["", ""],
            lat_deg=[0, np.nan],
            lon_deg=[0, 0],
            alt_m=[0, 0],
            time_s=0.0,
        )
    with pytest.raises(OperationsError, match=r"alt_m has shape \(1,\), expected \(2,\)"):
        active.check(
            aircraft=["a", "b"],
            party=["", ""],
            lat_deg=[0, 0],
            lon_deg=[0, 0],
            alt_m=[0],
            time_s=0.0,
        )
    with pytest.raises(OperationsError, match=r"lat_deg\[0\] = 91.0 is out of range"):
        active.check(aircraft=["a"], party=[""], lat_deg=[91.0], lon_deg=[0], alt_m=[0], time_s=0.0)
    empty = active.check(aircraft=[], party=[], lat_deg=[], lon_deg=[], alt_m=[], time_s=[])
    assert empty.intrusions() == []
    assert empty.nonconforming() == []


def _brute_force(
    ops: list[Operation],
    ac: list[str],
    party: list[str],
    lat: np.ndarray,
    lon: np.ndarray,
    alt: np.ndarray,
    t: np.ndarray,
) -> tuple[set[Any], set[Any]]:
    intrusions, nonconforming = set(), set()
    for i in range(len(ac)):
        point = shapely.Point(((lon[i] + 180.0) % 360.0) - 180.0, lat[i])
        listed, inside_own = [], False
        for op in ops:
            for v in op.volumes:
                inside = (
                    any(shapely.intersects(p, point) for p in v.parts)
                    and v.lower_m <= alt[i] <= v.upper_m
                    and v.start_s <= t[i] <= v.end_s
                )
                if inside and op.party != party[i]:
                    intrusions.add((ac[i], op.id, v.id))
                if inside and op.party == party[i] and ac[i] in op.aircraft:
                    inside_own = True
            if op.party == party[i] and ac[i] in op.aircraft:
                listed.append(op.id)
        if listed and not inside_own:
            nonconforming.update((ac[i], o) for o in listed)
    return intrusions, nonconforming


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_ops=st.integers(0, 8), n_aircraft=st.integers(0, 120))
def test_containment_matches_brute_force(seed: int, n_ops: int, n_aircraft: int) -> None:
    rng = np.random.default_rng(seed)
    parties = ["a", "b", "c"]
    ids = [f"ac{k}" for k in range(n_aircraft)]
    ac_party = [parties[k % 3] if k % 7 else "" for k in range(n_aircraft)]
    ops = []
    for k in range(n_ops):
        features = []
        for j in range(int(rng.integers(1, 4))):
            lon, lat = float(rng.uniform(-0.5, 0.5)), float(rng.uniform(-0.5, 0.5))
            lower = float(rng.integers(0, 10) * 100)
            start = T0 + timedelta(minutes=int(rng.integers(0, 120)))
            end = start + timedelta(minutes=int(rng.integers(10, 120)))
            if j % 2:
                geometry = {"type": "Point", "coordinates": [lon, lat]}
                extra = {"radius_m": float(rng.uniform(1000, 30000))}
            else:
                geometry = _box(
                    lon,
                    lat,
                    lon + float(rng.uniform(0.05, 0.5)),
                    lat + float(rng.uniform(0.05, 0.5)),
                )
                extra = {}
            upper = lower + float(rng.integers(1, 10) * 100)
            features.append(_feature(geometry, f"v{j}", lower, upper, start, end, **extra))
        listed = tuple(str(a) for a in rng.choice(ids, size=min(5, n_aircraft), replace=False))
        state = "active" if rng.random() < 0.8 else "planned"
        ops.append(_op(f"op{k}", parties[k % 3], *features, aircraft=listed, state=state))
    lat = rng.uniform(-0.6, 1.1, n_aircraft)
    lon = rng.uniform(-0.6, 1.1, n_aircraft)
    alt = rng.integers(0, 20, n_aircraft) * 100.0  # often exactly on a band's boundary
    t = T0.timestamp() + rng.integers(0, 240, n_aircraft) * 60.0
    alerts = ActiveVolumes(ops).check(
        aircraft=ids, party=ac_party, lat_deg=lat, lon_deg=lon, alt_m=alt, time_s=t
    )
    active_ops = [op for op in ops if op.state == "active"]
    want_intrusions, want_nonconforming = _brute_force(active_ops, ids, ac_party, lat, lon, alt, t)
    got_intrusions = {(i.aircraft, i.operation_id, i.volume_id) for i in alerts.intrusions()}
    got_nonconforming = {(a, o) for a, _, o in alerts.nonconforming()}
    assert got_intrusions == want_intrusions
    assert got_nonconforming == want_nonconforming
