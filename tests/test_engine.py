"""The conflict engine against the standard encounters, its contract and an independent model."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from encounters import (
    CATALOGUE,
    GEOD,
    H_5NM,
    ICAO_5NM,
    KT450,
    PARTIES,
    Aircraft,
    Encounter,
    assert_identical,
    fl,
    make_states,
    offset,
    reversed_states,
    track_to,
)
from pyproj import Transformer

from skysep import units
from skysep.agreement import Agreement, preset
from skysep.engine import LEVELS, METHODS, Conflicts, States, detect
from skysep.engine._kernels import AT_MINIMUM_TOLERANCE_M
from skysep.errors import EngineError

F64 = npt.NDArray[np.float64]

# --------------------------------------------------------------------------- #
# The catalogue


@pytest.mark.parametrize("flip", [False, True], ids=["given-order", "reversed"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("encounter", CATALOGUE, ids=str)
def test_encounter(encounter: Encounter, method: str, flip: bool) -> None:
    states = reversed_states(encounter.states) if flip else encounter.states
    found = detect(states, encounter.agreement, method=method)  # type: ignore[arg-type]
    if not encounter.expect_conflict:
        assert len(found) == 0, f"{encounter.name}: unexpected conflict {found}"
        return
    assert len(found) == 1, f"{encounter.name}: expected one conflict, got {len(found)}"
    assert found.aircraft_a.tolist() == ["A"]
    assert found.aircraft_b.tolist() == ["B"]
    ids = states.aircraft.tolist()
    assert (found.index_a[0], found.index_b[0]) == (ids.index("A"), ids.index("B"))
    for name, (want, tol) in encounter.expect.items():
        got = float(getattr(found, name)[0])
        if math.isinf(want):
            assert got == want, f"{encounter.name}: {name} = {got}, want {want}"
        else:
            assert abs(got - want) <= tol, (
                f"{encounter.name}: {name} = {got!r}, want {want} ± {tol}"
            )
    if encounter.level is not None:
        assert found.level.tolist() == [encounter.level]


@pytest.mark.parametrize("encounter", [e for e in CATALOGUE if e.expect_conflict], ids=str)
def test_encounter_invariants(encounter: Encounter) -> None:
    found = detect(encounter.states, encounter.agreement)
    lookahead = encounter.agreement.lookahead_s
    assert 0.0 <= found.t_cpa_s[0] <= lookahead
    assert found.h_cpa_m[0] <= found.h_now_m[0] + 1e-6
    assert 0.0 <= found.t_in_s[0] < lookahead
    assert found.t_out_s[0] > found.t_in_s[0]
    assert found.t_out_s[0] > 0.0
    h_m, v_m = found.horizontal_m[0], found.vertical_m[0]
    parties = encounter.states.party
    if parties is None:
        assert (h_m, v_m) == (encounter.agreement.horizontal_m, encounter.agreement.vertical_m)
    else:
        wanted = encounter.agreement.minima_for(parties[0], parties[1])
        assert (h_m, v_m) == wanted
    if found.t_in_s[0] == 0.0:  # already in LoS: within both minima now
        assert found.h_now_m[0] < h_m
        assert found.v_now_m[0] < v_m


# --------------------------------------------------------------------------- #
# Ordering, orientation and levels


def _cluster(ids: list[str]) -> States:
    """Stationary aircraft within 2 km of each other at one level: every pair conflicts."""
    aircraft = []
    for k, name in enumerate(ids):
        lat, lon = offset(48.0, 11.0, 300.0 * k, -200.0 * k)
        aircraft.append(Aircraft(name, lat, lon, fl(300)))
    return make_states(aircraft)


@pytest.mark.parametrize("method", METHODS)
def test_pairs_are_oriented_and_sorted_by_id(method: str) -> None:
    ids = ["zulu", "alpha", "Mike", "bravo", "10", "9", "alpha2"]
    states = _cluster(ids)
    found = detect(states, ICAO_5NM, method=method)  # type: ignore[arg-type]
    n = len(ids)
    assert len(found) == n * (n - 1) // 2
    pairs = list(zip(found.aircraft_a.tolist(), found.aircraft_b.tolist(), strict=True))
    assert all(a < b for a, b in pairs)
    assert pairs == sorted(pairs)
    assert pairs == sorted((min(a, b), max(a, b)) for a in ids for b in ids if a < b)
    assert [ids[i] for i in found.index_a] == found.aircraft_a.tolist()
    assert [ids[i] for i in found.index_b] == found.aircraft_b.tolist()
    assert np.array_equal(found.pairs, np.stack([found.index_a, found.index_b], axis=1))


def test_ids_in_string_order_not_numeric() -> None:
    found = detect(_cluster(["10", "9"]), ICAO_5NM)
    assert (found.aircraft_a[0], found.aircraft_b[0]) == ("10", "9")


def _single(encounter_name: str) -> tuple[Encounter, Conflicts]:
    encounter = next(e for e in CATALOGUE if e.name == encounter_name)
    found = detect(encounter.states, encounter.agreement)
    assert len(found) == 1
    return encounter, found


@pytest.mark.parametrize("method", METHODS)
def test_level_thresholds_are_inclusive(method: str) -> None:
    encounter, found = _single("los-advisory")
    t_in = float(found.t_in_s[0])
    below = math.nextafter(t_in, -math.inf)

    def level(warning_s: float, caution_s: float) -> str:
        agreement = dataclasses.replace(
            encounter.agreement, warning_s=warning_s, caution_s=caution_s
        )
        result = detect(encounter.states, agreement, method=method)  # type: ignore[arg-type]
        assert result.t_in_s[0] == t_in
        return str(result.level[0])

    assert level(60.0, t_in) == "caution"
    assert level(60.0, below) == "advisory"
    assert level(t_in, t_in) == "warning"
    assert level(below, t_in) == "caution"
    assert level(below, below) == "advisory"


@pytest.mark.parametrize("method", METHODS)
def test_lookahead_boundary(method: str) -> None:
    """A loss starting exactly at the lookahead is not within [0, lookahead]; just after is."""
    encounter, found = _single("los-advisory")
    t_in = float(found.t_in_s[0])
    at = encounter.agreement.with_lookahead(t_in)
    assert len(detect(encounter.states, at, method=method)) == 0  # type: ignore[arg-type]
    after = encounter.agreement.with_lookahead(math.nextafter(t_in, math.inf))
    result = detect(encounter.states, after, method=method)  # type: ignore[arg-type]
    assert len(result) == 1
    assert result.t_in_s[0] == t_in
    assert result.t_cpa_s[0] == after.lookahead_s  # still closing at the end of the window


def test_levels_are_the_documented_names() -> None:
    assert LEVELS == ("warning", "caution", "advisory")


# --------------------------------------------------------------------------- #
# Contract: bad input, empty input


def _three() -> States:
    return make_states(
        [
            Aircraft("A", 50.0, 5.0, fl(300), KT450, 90.0),
            Aircraft("B", 50.0, 5.1, fl(300), KT450, 270.0),
            Aircraft("C", 50.1, 5.0, fl(310), KT450, 180.0),
        ]
    )


def _with(field: str, index: int, value: float) -> States:
    states = _three()
    values = getattr(states, field).copy()
    values[index] = value
    return dataclasses.replace(states, **{field: values})


BAD_STATES: list[tuple[str, Callable[[], States], tuple[str, ...]]] = [
    ("lat-91", lambda: _with("lat_deg", 1, 91.0), ("#1", "'B'", "lat_deg", "91.0")),
    ("lat-nan", lambda: _with("lat_deg", 2, math.nan), ("#2", "'C'", "lat_deg", "nan")),
    ("lon-180.5", lambda: _with("lon_deg", 0, 180.5), ("#0", "'A'", "lon_deg", "180.5")),
    ("alt-inf", lambda: _with("alt_m", 1, math.inf), ("#1", "alt_m", "inf")),
    ("gs-nan", lambda: _with("gs_mps", 1, math.nan), ("#1", "'B'", "gs_mps", "nan")),
    ("gs-negative", lambda: _with("gs_mps", 2, -5.0), ("#2", "'C'", "gs_mps", "-5.0")),
    ("track-361", lambda: _with("track_deg", 1, 361.0), ("#1", "track_deg", "361.0")),
    ("track-negative", lambda: _with("track_deg", 0, -1.0), ("#0", "track_deg", "-1.0")),
    ("vs-nan", lambda: _with("vs_mps", 2, math.nan), ("#2", "vs_mps", "nan")),
    (
        "lon-too-short",
        lambda: dataclasses.replace(_three(), lon_deg=np.array([5.0, 5.1])),
        ("lon_deg", "length 3", "(2,)"),
    ),
    (
        "gs-two-dimensional",
        lambda: dataclasses.replace(_three(), gs_mps=np.zeros((3, 1))),
        ("gs_mps", "1-D"),
    ),
    (
        "alt-a-list",
        lambda: dataclasses.replace(_three(), alt_m=[1.0, 2.0, 3.0]),  # type: ignore[arg-type]
        ("alt_m", "1-D"),
    ),
    (
        "party-too-short",
        lambda: dataclasses.replace(_three(), party=np.array(["north"], dtype=object)),
        ("party", "3", "1"),
    ),
    (
        "duplicate-id",
        lambda: dataclasses.replace(_three(), aircraft=np.array(["A", "B", "A"], dtype=object)),
        ("'A'", "more than once"),
    ),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("make", "needles"), [c[1:] for c in BAD_STATES], ids=[c[0] for c in BAD_STATES]
)
def test_bad_states_raise_engine_error(
    make: Callable[[], States], needles: tuple[str, ...], method: str
) -> None:
    with pytest.raises(EngineError) as raised:
        detect(make(), ICAO_5NM, method=method)  # type: ignore[arg-type]
    message = str(raised.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_engine_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="lat_deg"):
        detect(_with("lat_deg", 0, -91.0), ICAO_5NM)


def test_unknown_method_lists_the_valid_ones() -> None:
    with pytest.raises(EngineError) as raised:
        detect(_three(), ICAO_5NM, method="quadtree")  # type: ignore[arg-type]
    message = str(raised.value)
    assert "'quadtree'" in message
    for method in METHODS:
        assert method in message


def test_state_bounds_are_valid() -> None:
    """The ends of every range are valid input (the poles, ±180°, track 360°)."""
    states = make_states(
        [
            Aircraft("A", 90.0, -180.0, -2000.0, 0.0, 0.0, -500.0),
            Aircraft("B", -90.0, 180.0, 100_000.0, 2000.0, 360.0, 500.0),
        ]
    )
    for method in METHODS:
        assert len(detect(states, ICAO_5NM, method=method)) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "missing", [None, math.nan, "", pd.NA], ids=["None", "nan", "empty", "pd.NA"]
)
def test_missing_party_markers_mean_no_party(missing: object) -> None:
    """An aircraft without a party gets the top-level minima and is never "the same party".

    pd.NA is what pandas' string dtype holds for a missing value.
    """
    unchecked = dataclasses.replace(PARTIES, check_same_party=False)
    lat2, lon2 = offset(33.5, 36.3, units.nm_to_m(4.0), 0.0)
    states = make_states([Aircraft("A", 33.5, 36.3, fl(200)), Aircraft("B", lat2, lon2, fl(200))])
    states = dataclasses.replace(states, party=np.array([missing, missing], dtype=object))
    found = detect(states, unchecked)
    assert len(found) == 1  # 4 NM < 5 NM, and two aircraft without a party are checked
    assert found.horizontal_m.tolist() == [H_5NM]


def _empty_states() -> States:
    empty = np.empty(0, dtype=np.float64)
    return States(np.empty(0, dtype=object), empty, empty, empty, empty, empty, empty)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("count", [0, 1])
def test_empty_and_single_aircraft(method: str, count: int) -> None:
    states = _empty_states() if count == 0 else make_states([Aircraft("A", 0.0, 0.0, 0.0)])
    found = detect(states, ICAO_5NM, method=method)  # type: ignore[arg-type]
    assert len(found) == 0
    for name in ("index_a", "t_in_s", "aircraft_a", "level_code"):
        assert getattr(found, name).shape == (0,)
    assert found.pairs.shape == (0, 2)


# --------------------------------------------------------------------------- #
# Grid against brute force at scale, and threads


def random_traffic(
    rng: np.random.Generator,
    n: int,
    centre: tuple[float, float],
    radius_m: float,
    parties: tuple[str | None, ...] = (None,),
    gs_range_mps: tuple[float, float] = (120.0, 260.0),
) -> States:
    """A busy region: flight levels, some climbing, some stationary, some duplicates."""
    distance = radius_m * np.sqrt(rng.uniform(0.0, 1.0, n))
    azimuth = rng.uniform(0.0, 360.0, n)
    lon, lat, _ = GEOD.fwd(np.full(n, centre[1]), np.full(n, centre[0]), azimuth, distance)
    alt = units.ft_to_m(100.0 * rng.integers(200, 400, n).astype(np.float64))
    gs = rng.uniform(*gs_range_mps, n)
    gs[rng.uniform(size=n) < 0.05] = 0.0
    track = rng.uniform(0.0, 360.0, n)
    vs = np.where(rng.uniform(size=n) < 0.2, units.fpm_to_mps(rng.uniform(-2500, 2500, n)), 0.0)
    twins = rng.uniform(size=n) < 0.03  # a copy of the previous aircraft, 1000 ft above
    for k in np.flatnonzero(twins[1:]) + 1:
        for column in (lat, lon, gs, track, vs):
            column[k] = column[k - 1]
        alt[k] = min(alt[k - 1] + units.ft_to_m(1000.0), 50_000.0)
    party = np.array([parties[k] for k in rng.integers(0, len(parties), n)], dtype=object)
    return States(
        aircraft=np.array([f"AC{k:05d}" for k in rng.permutation(n)], dtype=object),
        lat_deg=np.asarray(lat, dtype=np.float64),
        lon_deg=np.asarray(lon, dtype=np.float64),
        alt_m=alt,
        gs_mps=gs,
        track_deg=track,
        vs_mps=vs,
        party=None if parties == (None,) else party,
    )


SLOW = (120.0, 260.0)
FAST = (240.0, 520.0)


@pytest.mark.parametrize(
    ("centre", "radius_m", "agreement", "gs_range_mps"),
    [
        ((48.0, 10.0), 300_000.0, ICAO_5NM, SLOW),
        ((0.0, 180.0), 150_000.0, preset("rule-of-threes"), SLOW),
        ((88.5, 40.0), 150_000.0, PARTIES, SLOW),
        ((45.0, 0.0), 2_000_000.0, ICAO_5NM.with_lookahead(900.0), SLOW),
        # fast traffic over a continent with a long lookahead: far from the
        # grid frame's centre, paths leave the pair's tangent plane by kilometres
        ((45.0, 0.0), 1_000_000.0, ICAO_5NM.with_lookahead(1200.0), FAST),
    ],
    ids=["europe", "antimeridian", "pole", "continent-15min", "continent-fast-20min"],
)
def test_grid_equals_brute_force_on_busy_traffic(
    centre: tuple[float, float],
    radius_m: float,
    agreement: Agreement,
    gs_range_mps: tuple[float, float],
) -> None:
    rng = np.random.default_rng(20240611)
    parties = (None, "north", "south", "east")
    states = random_traffic(rng, 2500, centre, radius_m, parties, gs_range_mps)
    brute = detect(states, agreement, method="brute-force")
    grid = detect(states, agreement, method="grid")
    assert len(brute) > 50  # busy enough to mean something
    assert_identical(grid, brute)
    assert grid.candidates < brute.candidates


def test_threads_give_identical_results() -> None:
    """Enough aircraft (>= 2 x 2000) for the grid to split each slice between threads."""
    rng = np.random.default_rng(7)
    states = random_traffic(rng, 5000, (40.0, -100.0), 400_000.0)
    one = detect(states, ICAO_5NM, method="grid", threads=1)
    two = detect(states, ICAO_5NM, method="grid", threads=2)
    assert len(one) > 100
    assert_identical(two, one)
    assert_identical(one, detect(states, ICAO_5NM, method="brute-force"))


@pytest.mark.parametrize(
    ("gs_mps", "run_in_m", "side_deg", "lateral_m", "other_lon_deg"),
    [(250.0, 70_000.0, 90.0, 9257.5, -5.0), (600.0, 150_000.0, 270.0, 9200.0, 30.0)],
    ids=["250mps-4m-inside", "600mps-60m-inside"],
)
def test_grid_finds_pairs_tilted_from_the_grid_frame(
    gs_mps: float, run_in_m: float, side_deg: float, lateral_m: float, other_lon_deg: float
) -> None:
    """The grid finds a loss of separation far from the traffic's centre (regression).

    A is stationary; B flies north from ``run_in_m`` south and passes ``lateral_m``
    from A (inside the 9260 m minimum). C, far away, tilts the grid's frame.
    B flies straight in its own tangent plane, so by the time it reaches A it
    is hundreds of metres off the pair's mean tangent plane: the 3-D distance
    exceeds h(t), and a frame axis tilted towards it sees a coordinate
    difference larger than H. Before d9e386d the boxes were grown by H/2 only
    and the grid missed this pair.
    """
    lon_p, lat_p, _ = GEOD.fwd(0.0, 0.0, side_deg, lateral_m)
    lon_b, lat_b, _ = GEOD.fwd(lon_p, lat_p, 180.0, run_in_m)
    states = make_states(
        [
            Aircraft("A", 0.0, 0.0, 10_000.0),
            Aircraft("B", float(lat_b), float(lon_b), 10_000.0, gs_mps, 0.0),
            Aircraft("C", 0.0, other_lon_deg, 20_000.0),
        ]
    )
    brute = detect(states, ICAO_5NM, method="brute-force")
    assert len(brute) == 1
    assert brute.h_cpa_m[0] < H_5NM
    assert_identical(detect(states, ICAO_5NM, method="grid"), brute)


# --------------------------------------------------------------------------- #
# An independent implementation of the pair model (numpy + pyproj), sampled densely

_TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)


@dataclasses.dataclass(frozen=True)
class PairModel:
    """h(t) and d(t) of one pair, from first principles (docs/definition.md)."""

    r0: F64  # relative surface position projected on the mean tangent plane
    u: F64  # relative velocity projected on the same plane
    dz0: float
    dvz: float

    def h(self, t: F64) -> F64:
        return np.asarray(
            np.linalg.norm(self.r0[None, :] + t[:, None] * self.u[None, :], axis=1),
            dtype=np.float64,
        )

    def dz(self, t: F64) -> F64:
        return np.abs(self.dz0 + self.dvz * t)

    def margin(self, t: F64, h_m: float, v_m: float) -> F64:
        """max(h - H, |d| - V): negative exactly in a loss of separation."""
        return np.maximum(self.h(t) - h_m, self.dz(t) - v_m)


def reference_pair(states: States, i: int, j: int) -> PairModel:
    idx = [i, j]
    lat, lon = states.lat_deg[idx], states.lon_deg[idx]
    x, y, z = _TO_ECEF.transform(lon, lat, np.zeros(2))
    pos = np.column_stack([x, y, z])
    phi, lam = np.radians(lat), np.radians(lon)
    east = np.column_stack([-np.sin(lam), np.cos(lam), np.zeros(2)])
    north = np.column_stack([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
    up = np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    trk = np.radians(states.track_deg[idx])
    gs = states.gs_mps[idx]
    vel = (gs * np.sin(trk))[:, None] * east + (gs * np.cos(trk))[:, None] * north
    m = up[0] + up[1]
    m /= np.linalg.norm(m)
    project = np.eye(3) - np.outer(m, m)
    return PairModel(
        r0=project @ (pos[1] - pos[0]),
        u=project @ (vel[1] - vel[0]),
        dz0=float(states.alt_m[j] - states.alt_m[i]),
        dvz=float(states.vs_mps[j] - states.vs_mps[i]),
    )


def _random_close_pair(rng: np.random.Generator, k: int) -> States:
    kind = k % 4
    if kind == 0:  # anywhere
        lat0, lon0 = rng.uniform(-89.0, 89.0), rng.uniform(-180.0, 180.0)
    elif kind == 1:  # across the antimeridian
        lat0, lon0 = rng.uniform(-70.0, 70.0), 180.0
    elif kind == 2:  # near a pole
        lat0, lon0 = rng.choice([-1.0, 1.0]) * rng.uniform(88.0, 89.0), rng.uniform(-180, 180)
    else:  # mid latitudes
        lat0, lon0 = rng.uniform(30.0, 60.0), rng.uniform(-10.0, 30.0)
    lat2, lon2 = offset(lat0, lon0, rng.uniform(-20e3, 20e3), rng.uniform(-20e3, 20e3))
    gs = rng.uniform(0.0, 300.0, 2)
    gs[rng.uniform(size=2) < 0.1] = 0.0
    climb = rng.uniform(-600.0, 600.0) if rng.uniform() < 0.3 else 0.0
    alt = fl(300) + np.array([0.0, climb])
    vs = np.where(rng.uniform(size=2) < 0.3, rng.uniform(-15.0, 15.0, 2), 0.0)
    track = rng.uniform(0.0, 360.0, 2)
    if rng.uniform() < 0.6:  # B heads roughly for A
        track[1] = (track_to(lat2, lon2, lat0, lon0) + rng.uniform(-30.0, 30.0)) % 360.0
    return make_states(
        [
            Aircraft("A", lat0, lon0, alt[0], gs[0], track[0], vs[0]),
            Aircraft("B", lat2, lon2, alt[1], gs[1], track[1], vs[1]),
        ]
    )


def test_pair_model_against_dense_sampling() -> None:
    """t_in, t_out, t_cpa and the distances agree with h(t), d(t) sampled every 0.1 s."""
    rng = np.random.default_rng(1852)
    agreement = ICAO_5NM
    lookahead = agreement.lookahead_s
    # The definition's strict comparisons are against the reduced minima.
    h_m = agreement.horizontal_m - AT_MINIMUM_TOLERANCE_M
    v_m = agreement.vertical_m - AT_MINIMUM_TOLERANCE_M
    samples = np.linspace(0.0, lookahead, 3001)
    eps_m = 1e-6  # rounding allowance on margins (positions are ~6.4e6 m)
    step_s = 1e-3
    conflicts = 0
    for k in range(300):
        states = _random_close_pair(rng, k)
        model = reference_pair(states, 0, 1)
        margin = model.margin(samples, h_m, v_m)
        found = detect(states, agreement, method="brute-force")
        assert_identical(detect(states, agreement, method="grid"), found)
        where = f"pair {k}: {states}"
        if len(found) == 0:
            assert margin.min() > -eps_m, where
            continue
        conflicts += 1
        assert found.h_now_m[0] == pytest.approx(model.h(np.zeros(1))[0], abs=1e-6), where
        t_in, t_out = float(found.t_in_s[0]), float(found.t_out_s[0])
        t_cpa = float(found.t_cpa_s[0])
        assert 0.0 <= t_in < lookahead, where
        assert t_out > t_in, where
        # (t_in = 0: the loss may have started before now, so t = 0 is inside)
        inside = ((samples > t_in) | (t_in == 0.0)) & (samples < t_out)
        assert np.all(margin[inside] < eps_m), where
        assert np.all(margin[~inside] > -eps_m), where
        middle = np.array([(t_in + min(t_out, lookahead)) / 2.0])
        assert model.margin(middle, h_m, v_m)[0] < 0.0, where
        if t_in > 0.0:  # on the boundary, out just before, in just after
            at = model.margin(np.array([t_in - step_s, t_in, t_in + step_s]), h_m, v_m)
            assert abs(at[1]) < 1e-6, where
            assert at[0] > -eps_m, where
            if t_in + step_s < t_out:
                assert at[2] < eps_m, where
        if math.isfinite(t_out):
            at = model.margin(np.array([t_out - step_s, t_out, t_out + step_s]), h_m, v_m)
            assert abs(at[1]) < 1e-6, where
            assert at[2] > -eps_m, where
            if t_out - step_s > t_in:
                assert at[0] < eps_m, where
        # t_cpa: the minimum of h over [0, lookahead]
        h_samples = model.h(samples)
        h_at_cpa = model.h(np.array([t_cpa]))[0]
        assert 0.0 <= t_cpa <= lookahead, where
        assert h_at_cpa <= h_samples.min() + 1e-6, where
        assert found.h_cpa_m[0] == pytest.approx(h_at_cpa, abs=1e-6), where
        assert found.v_cpa_m[0] == pytest.approx(model.dz(np.array([t_cpa]))[0], abs=1e-9)
        assert found.v_now_m[0] == pytest.approx(abs(model.dz0), abs=1e-9)
    assert 100 < conflicts < 250, conflicts  # a mix of both outcomes


def test_reference_model_agrees_with_the_catalogue() -> None:
    """The independent model reproduces an analytic encounter (guards the reference itself)."""
    encounter = next(e for e in CATALOGUE if e.name == "head-on")
    model = reference_pair(encounter.states, 0, 1)
    t_in, _ = encounter.expect["t_in_s"]
    h = model.h(np.array([t_in]))[0]
    assert h == pytest.approx(H_5NM, abs=0.05 * 2 * KT450)
