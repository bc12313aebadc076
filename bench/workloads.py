"""Synthetic traffic snapshots for the conflict-engine benchmark (fixed seeds, SI arrays).

Two workloads, each a function ``(n, seed) -> States``:

* ``A`` (dense, the peer's benchmark): ``n`` aircraft uniformly in a 400 km x 400 km box,
  20,000-40,000 ft, 200-500 kt, uniform random tracks, vertical rates uniform in
  +-2,000 ft/min.
* ``B`` (sparse, realistic): ``n`` aircraft over a 4,000 km x 4,000 km area centred on
  Europe (48 N, 10 E). Most cruise level on semicircular flight levels, some climb or descend
  near airports, a few slow helicopters and drones fly low. ``B-am`` is the same picture
  rotated about the Earth's axis so that it is centred on the antimeridian (48 N, 180 E):
  a rotation about the polar axis preserves every geodesic distance and every true track, so
  ``B-am`` must give exactly the conflicts of ``B``.

Positions are drawn in a local plane around the centre and placed on the Earth with the
azimuthal equidistant projection (great-circle distance and bearing from the centre on a
sphere of the mean Earth radius), so the "box" is a box of that map; the engine then reads
the latitudes and longitudes as WGS84 geodetic coordinates like any other input. Aviation
units (ft, kt, ft/min) are converted with :mod:`skysep.units` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from skysep import units
from skysep.engine import States

F64 = npt.NDArray[np.float64]

#: Mean Earth radius (IUGG), used only to lay the synthetic box onto the globe.
MEAN_EARTH_RADIUS_M: Final = 6_371_008.8

#: Workload A: the peer's dense box.
A_CENTRE_DEG: Final = (48.0, 10.0)
A_SIDE_M: Final = 400_000.0
#: Workload B: a realistic continental picture.
B_CENTRE_DEG: Final = (48.0, 10.0)
B_SIDE_M: Final = 4_000_000.0
#: ``B-am`` is ``B`` turned about the polar axis by this many degrees of longitude.
B_AM_SHIFT_DEG: Final = 170.0

#: Airports of workload B (lat, lon in degrees): terminal traffic and drones cluster here.
AIRPORTS_DEG: Final[tuple[tuple[float, float], ...]] = (
    (51.47, -0.45),  # London Heathrow
    (51.15, -0.19),  # London Gatwick
    (49.01, 2.55),  # Paris CDG
    (48.72, 2.38),  # Paris Orly
    (50.03, 8.57),  # Frankfurt
    (52.31, 4.76),  # Amsterdam
    (48.35, 11.79),  # Munich
    (40.47, -3.56),  # Madrid
    (41.30, 2.08),  # Barcelona
    (41.80, 12.25),  # Rome Fiumicino
    (45.63, 8.72),  # Milan Malpensa
    (47.46, 8.55),  # Zurich
    (46.24, 6.11),  # Geneva
    (48.11, 16.57),  # Vienna
    (50.90, 4.48),  # Brussels
    (51.29, 6.77),  # Duesseldorf
    (53.63, 9.99),  # Hamburg
    (52.36, 13.50),  # Berlin
    (50.10, 14.26),  # Prague
    (52.17, 20.97),  # Warsaw
    (47.44, 19.26),  # Budapest
    (55.62, 12.66),  # Copenhagen
    (59.65, 17.92),  # Stockholm
    (60.19, 11.10),  # Oslo
    (60.32, 24.96),  # Helsinki
    (53.42, -6.27),  # Dublin
    (53.35, -2.27),  # Manchester
    (55.95, -3.37),  # Edinburgh
    (38.77, -9.13),  # Lisbon
    (39.55, 2.73),  # Palma
    (43.66, 7.22),  # Nice
    (45.73, 5.08),  # Lyon
    (43.44, 1.37),  # Toulouse
    (45.51, 12.35),  # Venice
    (40.89, 14.29),  # Naples
    (37.94, 23.94),  # Athens
    (44.57, 26.09),  # Bucharest
    (42.70, 23.41),  # Sofia
    (44.82, 20.31),  # Belgrade
    (41.26, 28.74),  # Istanbul
    (50.35, 30.89),  # Kyiv Boryspil
    (54.64, 25.29),  # Vilnius
    (56.92, 23.97),  # Riga
    (36.68, -4.50),  # Malaga
    (35.86, 14.48),  # Malta
)


@dataclass(frozen=True)
class Workload:
    """A named snapshot generator."""

    key: str
    title: str
    make: Callable[[int, int], States]


def destination(
    lat0_deg: float, lon0_deg: float, east_m: F64, north_m: F64
) -> tuple[F64, F64, F64]:
    """Points at plane offsets from a centre, by the azimuthal equidistant projection.

    Returns ``(lat_deg, lon_deg, grid_north_deg)``: the latitudes, longitudes wrapped to
    [-180, 180), and the bearing (degrees) of the plane's north axis at each point, so that a
    track drawn in the plane can be turned into a true track.
    """
    phi0 = np.radians(lat0_deg)
    dist = np.hypot(east_m, north_m) / MEAN_EARTH_RADIUS_M
    theta = np.arctan2(east_m, north_m)
    sin_lat = np.sin(phi0) * np.cos(dist) + np.cos(phi0) * np.sin(dist) * np.cos(theta)
    lat = np.arcsin(np.clip(sin_lat, -1.0, 1.0))
    dlon = np.arctan2(
        np.sin(theta) * np.sin(dist) * np.cos(phi0), np.cos(dist) - np.sin(phi0) * sin_lat
    )
    # Final bearing of the great circle from the centre, minus the bearing in the plane: how
    # far the plane's north is turned at the point (zero at the centre).
    final = np.arctan2(
        np.sin(dlon) * np.cos(phi0),
        np.cos(lat) * np.sin(phi0) - np.sin(lat) * np.cos(phi0) * np.cos(dlon),
    )
    final = np.where(dist > 0.0, final, theta)
    lon_deg = wrap_lon(lon0_deg + np.degrees(dlon))
    return np.degrees(lat), lon_deg, np.degrees(final - theta)


def wrap_lon(lon_deg: F64) -> F64:
    """Longitudes wrapped to [-180, 180)."""
    wrapped: F64 = np.mod(lon_deg + 180.0, 360.0) - 180.0
    return wrapped


def _ids(prefix: str, n: int) -> npt.NDArray[np.object_]:
    width = max(6, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(n)], dtype=object)


def _track(track_deg: F64) -> F64:
    wrapped: F64 = np.mod(track_deg, 360.0)
    return wrapped


def dense_box(n: int, seed: int) -> States:
    """Workload A: the peer's dense random box (see the module docstring)."""
    rng = np.random.default_rng([0xA, seed, n])
    half = 0.5 * A_SIDE_M
    east = rng.uniform(-half, half, n)
    north = rng.uniform(-half, half, n)
    lat, lon, _ = destination(*A_CENTRE_DEG, east, north)
    return States(
        aircraft=_ids("A", n),
        lat_deg=lat,
        lon_deg=lon,
        alt_m=units.ft_to_m(rng.uniform(20_000.0, 40_000.0, n)),
        gs_mps=units.kt_to_mps(rng.uniform(200.0, 500.0, n)),
        track_deg=_track(rng.uniform(0.0, 360.0, n)),
        vs_mps=units.fpm_to_mps(rng.uniform(-2_000.0, 2_000.0, n)),
    )


#: Shares of workload B's aircraft by kind (the rest cruise).
B_CLIMB_DESCENT: Final = 0.20
B_HELICOPTER: Final = 0.02
B_DRONE: Final = 0.01


def realistic(n: int, seed: int) -> States:
    """Workload B: a continental snapshot centred on Europe (see the module docstring).

    * Cruise (77 %): anywhere in the area, uniform random true track, level (vertical rate
      exactly 0) on a flight level from FL280 to FL410 by the semicircular rule: tracks
      000-179 on odd levels (FL290, FL310, ... FL410), 180-359 on even levels (FL280 ...
      FL400), favouring the middle levels. Ground speed grows with the level, 420-500 kt
      +- 30 kt, capped to 250-500 kt.
    * Climbing or descending (20 %): within 10-180 km of one of the airports, at an altitude
      that follows a 3-degree profile (about 1,000 ft per 3 NM from the airport) between
      1,500 and 28,000 ft; climbers head away from the airport and descenders towards it
      (+-40 degrees), at 500-3,000 ft/min. 200-250 kt below 10,000 ft, then rising to about
      450 kt at FL280.
    * Helicopters (2 %): anywhere, 500-3,000 ft, 60-140 kt, most level, some at +-500 ft/min.
    * Drones (1 %): within 40 km of an airport's city, 100-400 ft, 0-40 kt (a fifth hovering
      at exactly 0 kt), level.
    """
    rng = np.random.default_rng([0xB, seed, n])
    n_climb = round(B_CLIMB_DESCENT * n)
    n_heli = round(B_HELICOPTER * n)
    n_drone = round(B_DRONE * n)
    n_cruise = n - n_climb - n_heli - n_drone
    half = 0.5 * B_SIDE_M
    lat0, lon0 = B_CENTRE_DEG

    lat = np.empty(n)
    lon = np.empty(n)
    alt_ft = np.empty(n)
    gs_kt = np.empty(n)
    trk = np.empty(n)
    vs_fpm = np.zeros(n)
    kind = np.repeat(np.arange(4), [n_cruise, n_climb, n_heli, n_drone])

    # Cruise and helicopters: uniform over the area, uniform random true tracks.
    free = (kind == 0) | (kind == 2)
    m = int(free.sum())
    la, lo, _ = destination(lat0, lon0, rng.uniform(-half, half, m), rng.uniform(-half, half, m))
    lat[free], lon[free] = la, lo
    trk[free] = _track(rng.uniform(0.0, 360.0, m))

    cruise = kind == 0
    east = trk[cruise] < 180.0
    levels = np.array([0, 1, 2, 3, 4, 5, 6])
    weights = np.array([0.10, 0.14, 0.18, 0.20, 0.18, 0.12, 0.08])
    step = rng.choice(levels, size=int(cruise.sum()), p=weights)
    flight_level = np.where(east, 290 + 20 * step, 280 + 20 * step)
    alt_ft[cruise] = 100.0 * flight_level
    gs_kt[cruise] = np.clip(
        420.0 + (flight_level - 280) / 130.0 * 80.0 + rng.uniform(-30.0, 30.0, east.shape[0]),
        250.0,
        500.0,
    )

    heli = kind == 2
    alt_ft[heli] = rng.uniform(500.0, 3_000.0, n_heli)
    gs_kt[heli] = rng.uniform(60.0, 140.0, n_heli)
    vs_fpm[heli] = np.where(rng.random(n_heli) < 0.3, rng.choice([-500.0, 500.0], n_heli), 0.0)

    # Terminal traffic and drones: around airports.
    airports = np.array(AIRPORTS_DEG)
    ap_east, ap_north = _plane_coordinates(lat0, lon0, airports[:, 0], airports[:, 1])

    climb = kind == 1
    home = rng.integers(0, airports.shape[0], n_climb)
    radius_m = rng.uniform(10_000.0, 180_000.0, n_climb)
    bearing = rng.uniform(0.0, 2.0 * np.pi, n_climb)
    e = ap_east[home] + radius_m * np.sin(bearing)
    nn = ap_north[home] + radius_m * np.cos(bearing)
    la, lo, turn = destination(lat0, lon0, e, nn)
    lat[climb], lon[climb] = la, lo
    profile_ft = units.m_to_ft(radius_m * np.tan(np.radians(3.0))) * rng.normal(1.0, 0.1, n_climb)
    alt = np.clip(profile_ft, 1_500.0, 28_000.0)
    alt_ft[climb] = alt
    climbing = rng.random(n_climb) < 0.5
    heading_plane = np.degrees(bearing) + np.where(climbing, 0.0, 180.0)
    trk[climb] = _track(heading_plane + turn + rng.uniform(-40.0, 40.0, n_climb))
    rate = rng.uniform(500.0, 3_000.0, n_climb)
    vs_fpm[climb] = np.where(climbing, rate, -rate)
    gs_kt[climb] = np.where(
        alt < 10_000.0,
        rng.uniform(200.0, 250.0, n_climb),
        np.clip(
            250.0 + (alt - 10_000.0) / 18_000.0 * 200.0 + rng.normal(0.0, 15.0, n_climb),
            250.0,
            500.0,
        ),
    )

    drone = kind == 3
    home = rng.integers(0, airports.shape[0], n_drone)
    radius_m = 40_000.0 * np.sqrt(rng.random(n_drone))
    bearing = rng.uniform(0.0, 2.0 * np.pi, n_drone)
    la, lo, _ = destination(
        lat0,
        lon0,
        ap_east[home] + radius_m * np.sin(bearing),
        ap_north[home] + radius_m * np.cos(bearing),
    )
    lat[drone], lon[drone] = la, lo
    alt_ft[drone] = rng.uniform(100.0, 400.0, n_drone)
    gs_kt[drone] = np.where(rng.random(n_drone) < 0.2, 0.0, rng.uniform(5.0, 40.0, n_drone))
    trk[drone] = _track(rng.uniform(0.0, 360.0, n_drone))

    # Shuffle so that the kinds are interleaved in the input order, as in a real feed.
    perm = rng.permutation(n)
    return States(
        aircraft=_ids("B", n),
        lat_deg=lat[perm],
        lon_deg=lon[perm],
        alt_m=units.ft_to_m(alt_ft[perm]),
        gs_mps=units.kt_to_mps(gs_kt[perm]),
        track_deg=trk[perm],
        vs_mps=units.fpm_to_mps(vs_fpm[perm]),
    )


def _plane_coordinates(
    lat0_deg: float, lon0_deg: float, lat_deg: F64, lon_deg: F64
) -> tuple[F64, F64]:
    """Inverse of :func:`destination`: plane (east, north) offsets of points from a centre."""
    phi0 = np.radians(lat0_deg)
    phi = np.radians(lat_deg)
    dlon = np.radians(lon_deg - lon0_deg)
    cos_c = np.sin(phi0) * np.sin(phi) + np.cos(phi0) * np.cos(phi) * np.cos(dlon)
    dist = np.arccos(np.clip(cos_c, -1.0, 1.0))
    theta = np.arctan2(
        np.sin(dlon) * np.cos(phi),
        np.cos(phi0) * np.sin(phi) - np.sin(phi0) * np.cos(phi) * np.cos(dlon),
    )
    east: F64 = MEAN_EARTH_RADIUS_M * dist * np.sin(theta)
    north: F64 = MEAN_EARTH_RADIUS_M * dist * np.cos(theta)
    return east, north


def realistic_antimeridian(n: int, seed: int) -> States:
    """Workload B-am: workload B turned about the polar axis to straddle the antimeridian."""
    states = realistic(n, seed)
    return replace(states, lon_deg=wrap_lon(states.lon_deg + B_AM_SHIFT_DEG))


WORKLOADS: Final[dict[str, Workload]] = {
    "A": Workload("A", "dense 400 km box (peer's benchmark)", dense_box),
    "B": Workload("B", "realistic 4,000 km area, Europe", realistic),
    "B-am": Workload("B-am", "workload B rotated onto the antimeridian", realistic_antimeridian),
}
