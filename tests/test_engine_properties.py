"""Property tests: the grid finds exactly the pairs and values brute force finds.

Scenarios (2-60 aircraft) are drawn with a bias to the cases that break
spatial indexes and interval arithmetic: identical positions and velocities,
zero speeds, flight levels exactly V apart, parties (checked or not),
clusters across the antimeridian and at the poles, and tight clusters so that
conflicts are common.
"""

from __future__ import annotations

import dataclasses
import math
from random import Random

import numpy as np
from encounters import (
    CONFLICT_FIELDS,
    ICAO_5NM,
    PARTIES,
    PARTIES_UNCHECKED,
    assert_identical,
    fl,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skysep import units
from skysep.agreement import Agreement, preset
from skysep.engine import States, detect
from skysep.engine._kernels import AT_MINIMUM_TOLERANCE_M

AGREEMENTS: tuple[Agreement, ...] = (
    ICAO_5NM,
    preset("icao-3nm"),
    preset("rule-of-threes"),
    preset("nmac"),
    PARTIES,
    PARTIES_UNCHECKED,
    ICAO_5NM.with_lookahead(45.0),
    ICAO_5NM.with_lookahead(1200.0),
)

#: (name, latitude and longitude strategies of the cluster centre)
CENTRES = {
    "mid-latitudes": (st.floats(-60.0, 60.0), st.floats(-180.0, 180.0)),
    "antimeridian": (st.floats(-70.0, 70.0), st.sampled_from([180.0, -180.0, 179.99])),
    "north-pole": (st.floats(88.0, 90.0), st.floats(-180.0, 180.0)),
    "south-pole": (st.floats(-90.0, -88.0), st.floats(-180.0, 180.0)),
    "equator": (st.just(0.0), st.floats(-180.0, 180.0)),
}

#: Half-width of the cluster (m): from all-in-one-point to a region.
SPREADS = (0.0, 500.0, 5_000.0, 20_000.0, 60_000.0, 300_000.0)

LEVELS_M = [fl(level) for level in range(280, 330, 10)]  # exactly 1000 ft apart, as given
SPEEDS_MPS = [units.kt_to_mps(250.0), units.kt_to_mps(450.0)]
RATES_MPS = [units.fpm_to_mps(r) for r in (-2000.0, -1000.0, 1000.0, 2000.0)]

M_PER_DEG = 111_000.0  # only to scatter points: exactness is not needed here


def _position(lat0: float, lon0: float, east_m: float, north_m: float) -> tuple[float, float]:
    lat = lat0 + north_m / M_PER_DEG
    lon = lon0
    if lat > 90.0:  # over the pole
        lat, lon = 180.0 - lat, lon + 180.0
    elif lat < -90.0:
        lat, lon = -180.0 - lat, lon + 180.0
    lon += east_m / (M_PER_DEG * max(math.cos(math.radians(lat)), 1e-3))
    lon = (lon + 180.0) % 360.0 - 180.0
    return lat, lon


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[States, Agreement]:
    n = draw(st.integers(2, 60))
    lat_s, lon_s = CENTRES[draw(st.sampled_from(sorted(CENTRES)))]
    lat0, lon0 = draw(lat_s), draw(lon_s)
    spread = draw(st.sampled_from(SPREADS))
    offsets = st.floats(-spread, spread) if spread else st.just(0.0)
    parties = draw(st.sampled_from([(None,), ("north",), ("north", "south", None, "east")]))
    rows: list[tuple[float, float, float, float, float, float]] = []
    party: list[str | None] = []
    for k in range(n):
        copy = draw(st.sampled_from(["none", "none", "none", "position", "velocity", "state"]))
        if k == 0 or copy == "none":
            lat, lon = _position(lat0, lon0, draw(offsets), draw(offsets))
            alt = draw(st.one_of(st.sampled_from(LEVELS_M), st.floats(fl(275), fl(325))))
        else:
            source = rows[draw(st.integers(0, k - 1))]
            lat, lon, alt = source[0], source[1], source[2]
            if copy == "velocity":  # same velocity, elsewhere
                lat, lon = _position(lat0, lon0, draw(offsets), draw(offsets))
            if copy in ("position", "velocity"):
                alt = draw(st.sampled_from(LEVELS_M))
        if k > 0 and copy in ("velocity", "state"):
            gs, track, vs = source[3], source[4], source[5]
        else:
            gs = draw(st.one_of(st.just(0.0), st.sampled_from(SPEEDS_MPS), st.floats(0.0, 400.0)))
            track = draw(
                st.one_of(st.sampled_from([0.0, 90.0, 180.0, 270.0, 360.0]), st.floats(0.0, 360.0))
            )
            vs = draw(st.one_of(st.just(0.0), st.sampled_from(RATES_MPS), st.floats(-30.0, 30.0)))
        rows.append((lat, lon, alt, gs, track, vs))
        party.append(draw(st.sampled_from(parties)))
    columns = np.array(rows, dtype=np.float64).T
    ids = draw(st.permutations([f"AC{k:02d}" for k in range(n)]))
    states = States(
        aircraft=np.array(ids, dtype=object),
        lat_deg=columns[0].copy(),
        lon_deg=columns[1].copy(),
        alt_m=columns[2].copy(),
        gs_mps=columns[3].copy(),
        track_deg=columns[4].copy(),
        vs_mps=columns[5].copy(),
        party=None if parties == (None,) else np.array(party, dtype=object),
    )
    return states, draw(st.sampled_from(AGREEMENTS))


#: Sized so that the file runs in about 15 s (numba's compiled kernels are cached on disk).
PROFILE = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROFILE
@given(scenarios())
def test_grid_equals_brute_force(scenario: tuple[States, Agreement]) -> None:
    states, agreement = scenario
    brute = detect(states, agreement, method="brute-force")
    grid = detect(states, agreement, method="grid")
    assert_identical(grid, brute)
    assert grid.candidates <= brute.candidates


@settings(PROFILE, max_examples=100)
@given(scenarios())
def test_results_keep_their_contract(scenario: tuple[States, Agreement]) -> None:
    states, agreement = scenario
    found = detect(states, agreement, method="brute-force")
    lookahead = agreement.lookahead_s
    pairs = list(zip(found.aircraft_a.tolist(), found.aircraft_b.tolist(), strict=True))
    assert all(a < b for a, b in pairs)
    assert pairs == sorted(pairs)
    assert len(set(pairs)) == len(pairs)
    assert np.all((found.t_cpa_s >= 0.0) & (found.t_cpa_s <= lookahead))
    assert np.all((found.t_in_s >= 0.0) & (found.t_in_s < lookahead))
    assert np.all((found.t_out_s > found.t_in_s) & (found.t_out_s > 0.0))
    assert np.all(found.h_cpa_m <= found.h_now_m + 1e-6)
    expected_level = np.where(
        found.t_in_s <= agreement.warning_s, 0, np.where(found.t_in_s <= agreement.caution_s, 1, 2)
    )
    assert np.array_equal(found.level_code, expected_level)
    # in LoS now <=> t_in == 0 (up to the 1 micrometre tolerance at the minima)
    tol = AT_MINIMUM_TOLERANCE_M
    now = (found.h_now_m < found.horizontal_m - tol) & (found.v_now_m < found.vertical_m - tol)
    assert not now[found.t_in_s > 0.0].any()
    for k in range(len(found)):
        a, b = int(found.index_a[k]), int(found.index_b[k])
        party_a = None if states.party is None else states.party[a]
        party_b = None if states.party is None else states.party[b]
        assert (found.party_a[k], found.party_b[k]) == (party_a, party_b)
        assert (found.horizontal_m[k], found.vertical_m[k]) == agreement.minima_for(
            party_a, party_b
        )
        if party_a is not None and party_a == party_b:
            assert agreement.check_same_party


@settings(PROFILE, max_examples=50)
@given(scenarios(), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(scenario: tuple[States, Agreement], rnd: Random) -> None:
    states, agreement = scenario
    order = np.array(rnd.sample(range(len(states)), len(states)), dtype=np.int64)
    shuffled = dataclasses.replace(
        states,
        aircraft=states.aircraft[order],
        lat_deg=states.lat_deg[order],
        lon_deg=states.lon_deg[order],
        alt_m=states.alt_m[order],
        gs_mps=states.gs_mps[order],
        track_deg=states.track_deg[order],
        vs_mps=states.vs_mps[order],
        party=None if states.party is None else states.party[order],
    )
    want = detect(states, agreement)
    got = detect(shuffled, agreement)
    assert len(got) == len(want)
    for name in CONFLICT_FIELDS:
        if name in ("index_a", "index_b"):
            continue
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert np.array_equal(order[got.index_a], want.index_a)
    assert np.array_equal(order[got.index_b], want.index_b)
