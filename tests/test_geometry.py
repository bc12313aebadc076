"""WGS84 geometry: ECEF positions, ground velocities and the horizontal distance, against pyproj."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from encounters import GEOD, Aircraft, make_states
from pyproj import Transformer

from skysep.agreement import Agreement
from skysep.engine import METHODS, States, detect
from skysep.engine._geometry import (
    east_north,
    ground_velocity_ecef,
    horizontal_distance_m,
    near_surface_geodetic,
    surface_ecef,
    surface_state_ecef,
)
from skysep.engine._kernels import normal_chord_bound_m

F64 = npt.NDArray[np.float64]

_TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)

#: Smallest radius of curvature of the WGS84 ellipsoid (meridional, at the equator): b^2 / a.
R_MIN_M = GEOD.b**2 / GEOD.a


def _pyproj_ecef(lat: F64, lon: F64, h: F64 | None = None) -> F64:
    x, y, z = _TO_ECEF.transform(lon, lat, np.zeros_like(lat) if h is None else h)
    return np.column_stack([x, y, z])


def _random_points(rng: np.random.Generator, n: int) -> tuple[F64, F64]:
    lat = rng.uniform(-90.0, 90.0, n)
    lon = rng.uniform(-180.0, 180.0, n)
    # the ends of the ranges, exactly
    lat[:6] = [90.0, -90.0, 0.0, 89.0, -89.0, 45.0]
    lon[:6] = [180.0, -180.0, 180.0, -180.0, 0.0, 179.999999]
    return lat, lon


# --------------------------------------------------------------------------- #
# ECEF positions and normals


def test_surface_ecef_matches_pyproj() -> None:
    lat, lon = _random_points(np.random.default_rng(4978), 20_000)
    position, _ = surface_ecef(lat, lon)
    error = np.linalg.norm(position - _pyproj_ecef(lat, lon), axis=1)
    assert error.max() < 1e-3  # the requirement: under a millimetre
    assert error.max() < 1e-6  # in fact: rounding only


@pytest.mark.parametrize("height_m", [0.0, -10_000.0, 10_000.0, None])
def test_near_surface_geodetic_inverts_surface_ecef_as_pyproj_does(height_m: float | None) -> None:
    rng = np.random.default_rng(4979)
    lat, lon = _random_points(rng, 20_000)
    lat[:4] = [90.0, -90.0, 0.0, 89.99999]
    h = rng.uniform(-10_000.0, 10_000.0, lat.shape[0]) if height_m is None else height_m
    position, up = surface_ecef(lat, lon)
    points = position + up * np.broadcast_to(h, lat.shape)[:, None]
    got_lat, got_lon = near_surface_geodetic(points)
    to_geodetic = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
    ref_lon, ref_lat, _ = to_geodetic.transform(points[:, 0], points[:, 1], points[:, 2])
    assert np.abs(got_lat - ref_lat).max() < 1e-9
    not_pole = np.abs(lat) < 89.9
    lon_error = (got_lon - ref_lon + 180.0) % 360.0 - 180.0
    assert np.abs(lon_error[not_pole]).max() < 1e-9
    assert np.abs(got_lat - lat).max() < 1e-9


def test_surface_state_ecef_is_surface_ecef_and_ground_velocity_ecef() -> None:
    rng = np.random.default_rng(4980)
    lat, lon = _random_points(rng, 5_000)
    gs = rng.uniform(0.0, 300.0, lat.shape[0])
    track = rng.uniform(0.0, 360.0, lat.shape[0])
    gs[::7] = np.nan
    track[::11] = np.nan
    position, up, velocity = surface_state_ecef(lat, lon, gs, track)
    ref_position, ref_up = surface_ecef(lat, lon)
    np.testing.assert_array_equal(position, ref_position)
    np.testing.assert_array_equal(up, ref_up)
    np.testing.assert_array_equal(velocity, ground_velocity_ecef(lat, lon, gs, track))
    missing = np.isnan(gs) | np.isnan(track)
    assert missing.any()
    assert np.isnan(velocity[missing]).all()
    assert not np.isnan(velocity[~missing]).any()


def test_up_is_the_geodetic_normal() -> None:
    lat, lon = _random_points(np.random.default_rng(4979), 5_000)
    _, up = surface_ecef(lat, lon)
    assert np.allclose(np.linalg.norm(up, axis=1), 1.0, rtol=0, atol=1e-12)
    # pyproj's ellipsoidal height is measured along the geodetic normal
    along = (_pyproj_ecef(lat, lon, np.full_like(lat, 1000.0)) - _pyproj_ecef(lat, lon)) / 1000.0
    assert np.abs(up - along).max() < 1e-9


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (0.0, 0.0, (1.0, 0.0, 0.0)),
        (0.0, 90.0, (0.0, 1.0, 0.0)),
        (0.0, 180.0, (-1.0, 0.0, 0.0)),
        (0.0, -180.0, (-1.0, 0.0, 0.0)),
        (90.0, 0.0, (0.0, 0.0, 1.0)),
        (-90.0, 123.0, (0.0, 0.0, -1.0)),
    ],
)
def test_up_points_where_expected(
    lat: float, lon: float, expected: tuple[float, float, float]
) -> None:
    _, up = surface_ecef(np.array([lat]), np.array([lon]))
    assert up[0] == pytest.approx(expected, abs=1e-15)


# --------------------------------------------------------------------------- #
# Ground velocities


@pytest.mark.parametrize(
    ("lat", "lon", "track", "expected"),
    [
        (0.0, 0.0, 0.0, (0.0, 0.0, 1.0)),  # north at the equator: +z
        (0.0, 0.0, 180.0, (0.0, 0.0, -1.0)),  # south: -z
        (0.0, 0.0, 90.0, (0.0, 1.0, 0.0)),  # east at lon 0: +y
        (0.0, 90.0, 90.0, (-1.0, 0.0, 0.0)),  # east at lon 90: -x
        (0.0, 180.0, 90.0, (0.0, -1.0, 0.0)),  # east at lon 180: -y
        (0.0, -90.0, 270.0, (-1.0, 0.0, 0.0)),  # west at lon -90: -x
        (45.0, 0.0, 0.0, (-math.sqrt(0.5), 0.0, math.sqrt(0.5))),  # north at 45 N: up the axis
        (90.0, 0.0, 0.0, (-1.0, 0.0, 0.0)),  # "north" at the pole: on along lon 180
        (-90.0, 0.0, 0.0, (1.0, 0.0, 0.0)),  # north from the south pole: along lon 0
    ],
)
def test_velocity_directions(
    lat: float, lon: float, track: float, expected: tuple[float, float, float]
) -> None:
    gs = 250.0
    velocity = ground_velocity_ecef(
        np.array([lat]), np.array([lon]), np.array([gs]), np.array([track])
    )
    assert velocity[0] == pytest.approx([gs * c for c in expected], abs=1e-12)


def test_velocity_is_tangent_with_the_ground_speed() -> None:
    rng = np.random.default_rng(7)
    lat, lon = _random_points(rng, 5_000)
    n = int(lat.shape[0])
    gs = rng.uniform(0.0, 2000.0, n)
    track = rng.uniform(0.0, 360.0, n)
    velocity = ground_velocity_ecef(lat, lon, gs, track)
    _, up = surface_ecef(lat, lon)
    assert np.allclose(np.linalg.norm(velocity, axis=1), gs, rtol=1e-12, atol=1e-12)
    assert np.abs(np.einsum("ij,ij->i", velocity, up)).max() < 1e-9


def test_velocity_follows_the_geodesic_of_its_track() -> None:
    """Moving 1 m along the track on the ellipsoid (pyproj) goes where the velocity points."""
    rng = np.random.default_rng(8)
    n = 5_000
    lat = rng.uniform(-89.0, 89.0, n)
    lon = rng.uniform(-180.0, 180.0, n)
    track = rng.uniform(0.0, 360.0, n)
    lon2, lat2, _ = GEOD.fwd(lon, lat, track, np.ones(n))
    step = _pyproj_ecef(np.asarray(lat2), np.asarray(lon2)) - _pyproj_ecef(lat, lon)
    velocity = ground_velocity_ecef(lat, lon, np.ones(n), track)
    # The geodesic leaves the tangent line by 1 m / 2R over 1 m; rounding of the
    # ECEF difference is ~1e-9 m.
    assert np.abs(step - velocity).max() < 1e-6


# --------------------------------------------------------------------------- #
# Horizontal distance against the geodesic


def _geodesic_pairs(rng: np.random.Generator, n: int) -> tuple[F64, F64, F64, F64, F64]:
    """Random pairs 10 m to 200 km apart, |lat| <= 89, a quarter across +-180, a quarter polar."""
    lat1 = rng.uniform(-89.0, 89.0, n)
    lon1 = rng.uniform(-180.0, 180.0, n)
    azimuth = rng.uniform(0.0, 360.0, n)
    distance = 10.0 ** rng.uniform(1.0, math.log10(200e3), n)
    quarter = n // 4
    across = slice(0, quarter)  # start east of 178 E and head roughly east: across 180
    lon1[across] = rng.uniform(178.2, 180.0, quarter)
    azimuth[across] = rng.uniform(45.0, 135.0, quarter)
    distance[across] = rng.uniform(200e3 * 0.9, 200e3, quarter)
    polar = slice(quarter, 2 * quarter)
    lat1[polar] = rng.choice([-1.0, 1.0], quarter) * rng.uniform(85.0, 89.0, quarter)
    lon2, lat2, _ = GEOD.fwd(lon1, lat1, azimuth, distance)
    lat2, lon2 = np.asarray(lat2), np.asarray(lon2)
    keep = np.abs(lat2) <= 89.0
    return lat1[keep], lon1[keep], lat2[keep], lon2[keep], distance[keep]


def _pairs_states(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> States:
    """Pair k at altitude 10 k m: with V = 5 m, only the two aircraft of a pair can conflict."""
    n = lat1.shape[0]
    alt = np.repeat(-2000.0 + 10.0 * np.arange(n), 2)
    zeros = np.zeros(2 * n)
    lat = np.column_stack([lat1, lat2]).ravel()
    lon = np.column_stack([lon1, lon2]).ravel()
    ids = np.array([f"P{k // 2:05d}{'ab'[k % 2]}" for k in range(2 * n)], dtype=object)
    return States(ids, lat, lon, alt, zeros, zeros.copy(), zeros.copy())


@pytest.mark.parametrize("method", METHODS)
def test_horizontal_distance_matches_the_geodesic(method: str) -> None:
    lat1, lon1, lat2, lon2, distance = _geodesic_pairs(np.random.default_rng(200), 1600)
    assert np.count_nonzero(np.sign(lon1) != np.sign(lon2)) > 300  # really across 180
    states = _pairs_states(lat1, lon1, lat2, lon2)
    everything = Agreement(horizontal_m=250e3, vertical_m=5.0)
    found = detect(states, everything, method=method)  # type: ignore[arg-type]
    assert len(found) == lat1.shape[0]
    assert np.array_equal(found.index_a // 2, np.arange(lat1.shape[0]))
    assert np.array_equal(found.index_b, found.index_a + 1)
    h = found.h_now_m
    relative = (distance - h) / distance
    assert np.abs(relative).max() < 1e-3  # the requirement: within 0.1 %
    # In fact: a chord is never longer than the arc, and shorter by about s^2 / 24 R^2.
    # (rounding: ECEF coordinates of ~6.4e6 m carry ~1e-9 m)
    assert (distance - h).min() > -1e-8
    assert np.all(distance - h <= 1.05 * distance**3 / (24.0 * R_MIN_M**2) + 1e-8)


def test_horizontal_distance_m_is_the_engines() -> None:
    """The NumPy horizontal distance (report.html's figures) is the kernels' h(0)."""
    lat1, lon1, lat2, lon2, _ = _geodesic_pairs(np.random.default_rng(201), 400)
    found = detect(_pairs_states(lat1, lon1, lat2, lon2), Agreement(250e3, 5.0))
    assert len(found) == lat1.shape[0]
    p1, u1 = surface_ecef(lat1, lon1)
    p2, u2 = surface_ecef(lat2, lon2)
    h = horizontal_distance_m(p1, u1, p2, u2)
    np.testing.assert_allclose(h[found.index_a // 2], found.h_now_m, rtol=1e-12, atol=1e-6)
    east, north = east_north(45.0, 90.0)
    np.testing.assert_allclose(east, [-1.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(north, [0.0, -np.sqrt(0.5), np.sqrt(0.5)], atol=1e-15)


@pytest.mark.parametrize(
    ("lat1", "lon1", "lat2", "lon2"),
    [
        (0.0, 179.95, 0.0, -179.95),
        (-45.0, -179.99, -45.1, 179.99),
        (89.0, 0.0, 89.0, 180.0),  # 222 km across the pole
        (89.0, -90.0, 89.5, 90.0),
        (-89.0, 45.0, -89.0, -135.0),
        (60.0, 180.0, 60.0, -180.0),  # the same point written twice
        (0.0, 0.0, 0.0, 0.0001),  # 11 m
    ],
)
def test_horizontal_distance_special_places(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    _, _, distance = GEOD.inv(lon1, lat1, lon2, lat2)
    states = make_states([Aircraft("A", lat1, lon1, 0.0), Aircraft("B", lat2, lon2, 0.0)])
    found = detect(states, Agreement(horizontal_m=300e3, vertical_m=10.0))
    assert len(found) == 1
    assert found.h_now_m[0] == pytest.approx(distance, rel=1e-3, abs=1e-6)


def test_horizontal_distance_does_not_depend_on_altitude() -> None:
    states = make_states([Aircraft("A", 47.0, 8.0, 0.0), Aircraft("B", 47.0, 8.0, 30_000.0)])
    found = detect(states, Agreement(horizontal_m=1000.0, vertical_m=40_000.0))
    assert found.h_now_m.tolist() == [0.0]
    assert found.v_now_m.tolist() == [30_000.0]


# --------------------------------------------------------------------------- #
# The chord's component along the pair's mean normal (the grid's box margin uses a bound)


def _normal_part_of_chords(
    rng: np.random.Generator, n: int, low_m: float, high_m: float
) -> tuple[F64, F64]:
    """|m.D| and |D| for random surface chords D whose geodesic length is in [low, high]."""
    lat = rng.uniform(-90.0, 90.0, n)
    lon = rng.uniform(-180.0, 180.0, n)
    lon2, lat2, _ = GEOD.fwd(lon, lat, rng.uniform(0.0, 360.0, n), rng.uniform(low_m, high_m, n))
    p1, u1 = surface_ecef(lat, lon)
    p2, u2 = surface_ecef(np.asarray(lat2), np.asarray(lon2))
    m = u1 + u2
    m /= np.linalg.norm(m, axis=1)[:, None]
    chord = p2 - p1
    return np.abs(np.einsum("ij,ij->i", m, chord)), np.linalg.norm(chord, axis=1)


def test_normal_part_of_a_chord_is_below_1e_11_per_metre_up_to_400_km() -> None:
    """docs/definition.md: |m.D| <= 1e-11 d^2 (per metre) on WGS84 up to 400 km."""
    normal, d = _normal_part_of_chords(np.random.default_rng(11), 100_000, 1_000.0, 400_000.0)
    assert (normal / d**2).max() < 1e-11


def test_normal_chord_bound_of_the_grid_holds_up_to_8000_km() -> None:
    """The grid grows boxes by normal_chord_bound_m(d_max), d_max = H + 2 v_max t.

    Measured: |m.D| = e^2 d^3 / (8 R_min^2) to within 1 %; the bound is twice that.
    """
    normal, d = _normal_part_of_chords(np.random.default_rng(12), 100_000, 1_000.0, 8_000_000.0)
    bound = np.array([normal_chord_bound_m(float(x)) for x in d])
    assert np.all(normal <= bound)
    # and the cubic law itself, at every length (plus rounding), within 1 %
    law = GEOD.es * d**3 / (8.0 * R_MIN_M**2)
    assert np.all(normal <= 1.01 * law + 1e-8)
