"""WGS84 geometry: geodetic positions and ground velocities to Earth-centred vectors.

Horizontal positions are taken on the ellipsoid surface (altitude 0): the
horizontal distance between two aircraft does not depend on their altitudes.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

WGS84_A_M: Final = 6378137.0
WGS84_F: Final = 1.0 / 298.257223563
WGS84_E2: Final = WGS84_F * (2.0 - WGS84_F)


Trig = tuple[F64, F64, F64, F64]


def _sin_cos(lat_deg: F64, lon_deg: F64) -> Trig:
    """sin and cos of the latitudes, then of the longitudes."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    return np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)


def surface_ecef(lat_deg: F64, lon_deg: F64) -> tuple[F64, F64]:
    """Earth-centred, Earth-fixed positions of points on the WGS84 surface.

    Returns ``(position_m, up)``: ``(N, 3)`` positions in metres and the
    ``(N, 3)`` unit normals (geodetic up) there.
    """
    return _surface(_sin_cos(lat_deg, lon_deg))


def surface_state_ecef(
    lat_deg: F64, lon_deg: F64, gs_mps: F64, track_deg: F64
) -> tuple[F64, F64, F64]:
    """:func:`surface_ecef` and :func:`ground_velocity_ecef` at once (the same numbers,
    the sines and cosines computed once): ``(position_m, up, velocity_mps)``; the
    velocity is NaN where the ground speed or the track is."""
    trig = _sin_cos(lat_deg, lon_deg)
    return (*_surface(trig), _velocity(trig, gs_mps, track_deg))


def _surface(trig: Trig) -> tuple[F64, F64]:
    sin_lat, cos_lat, sin_lon, cos_lon = trig
    prime_vertical_m = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    position = np.empty((sin_lat.shape[0], 3))
    position[:, 0] = prime_vertical_m * cos_lat * cos_lon
    position[:, 1] = prime_vertical_m * cos_lat * sin_lon
    position[:, 2] = prime_vertical_m * (1.0 - WGS84_E2) * sin_lat
    up = np.empty_like(position)
    up[:, 0] = cos_lat * cos_lon
    up[:, 1] = cos_lat * sin_lon
    up[:, 2] = sin_lat
    return position, up


def near_surface_geodetic(position_m: F64) -> tuple[F64, F64]:
    """Geodetic latitude and longitude (degrees) of ``(N, 3)`` ECEF points near the surface.

    The inverse of :func:`surface_ecef` for points on the WGS84 surface, and
    for points a few kilometres above or below it (a chord between two
    surface points dips below it): Bowring's formula (1976), applied twice,
    within 1e-9 degree up to 10 km from the surface (the tests compare it
    with PROJ). Written out because it is a few lines where importing PROJ
    costs ``skysep replay`` 0.05 s.
    """
    x, y, z = position_m[:, 0], position_m[:, 1], position_m[:, 2]
    b_m = WGS84_A_M * (1.0 - WGS84_F)
    ep2 = WGS84_E2 / (1.0 - WGS84_E2)
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))  # exact on the surface itself
    for _ in range(2):  # Bowring: the parametric latitude, then the geodetic one
        beta = np.arctan2((1.0 - WGS84_F) * np.sin(lat), np.cos(lat))
        lat = np.arctan2(
            z + ep2 * b_m * np.sin(beta) ** 3, p - WGS84_E2 * WGS84_A_M * np.cos(beta) ** 3
        )
    lon = np.arctan2(y, x)
    return np.degrees(lat), np.degrees(lon)


def ground_velocity_ecef(lat_deg: F64, lon_deg: F64, gs_mps: F64, track_deg: F64) -> F64:
    """``(N, 3)`` Earth-centred velocity of a ground speed along a true track.

    The velocity lies in the plane tangent to the ellipsoid at the aircraft:
    ``gs * (sin(track) * east + cos(track) * north)``.
    """
    return _velocity(_sin_cos(lat_deg, lon_deg), gs_mps, track_deg)


def _velocity(trig: Trig, gs_mps: F64, track_deg: F64) -> F64:
    sin_lat, cos_lat, sin_lon, cos_lon = trig
    trk = np.radians(track_deg)
    v_east = gs_mps * np.sin(trk)
    v_north = gs_mps * np.cos(trk)
    velocity = np.empty((sin_lat.shape[0], 3))
    # east = (-sin lon, cos lon, 0); north = (-sin lat cos lon, -sin lat sin lon, cos lat)
    velocity[:, 0] = -v_east * sin_lon - v_north * sin_lat * cos_lon
    velocity[:, 1] = v_east * cos_lon - v_north * sin_lat * sin_lon
    velocity[:, 2] = v_north * cos_lat
    return velocity


def east_north(lat_deg: float, lon_deg: float) -> tuple[F64, F64]:
    """The unit vectors (ECEF) pointing east and north at one point of the surface."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    east = np.array([-np.sin(lon), np.cos(lon), 0.0])
    north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
    return east, north


def horizontal_distance_m(position_a_m: F64, up_a: F64, position_b_m: F64, up_b: F64) -> F64:
    """The horizontal distance of docs/definition.md between ``(N, 3)`` surface points and
    their normals: the chord without its component along the mean of the two normals."""
    r = position_b_m - position_a_m
    m = up_a + up_b
    m /= np.linalg.norm(m, axis=1)[:, None]
    along = np.einsum("ij,ij->i", r, m)
    across: F64 = np.linalg.norm(r - along[:, None] * m, axis=1)
    return across


def frame_facing(up: F64) -> F64:
    """A 3x3 rotation whose third row points at the mean of ``up``.

    Rotated into this frame, a regional traffic picture lies nearly flat in
    the first two coordinates, which the candidate grid indexes.
    """
    mean = up.mean(axis=0) if up.shape[0] else np.array([0.0, 0.0, 1.0])
    norm = float(np.linalg.norm(mean))
    z = mean / norm if norm > 1e-6 else np.array([0.0, 0.0, 1.0])
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])
