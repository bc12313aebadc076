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


def surface_ecef(lat_deg: F64, lon_deg: F64) -> tuple[F64, F64]:
    """Earth-centred, Earth-fixed positions of points on the WGS84 surface.

    Returns ``(position_m, up)``: ``(N, 3)`` positions in metres and the
    ``(N, 3)`` unit normals (geodetic up) there.
    """
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    sin_lon, cos_lon = np.sin(lon), np.cos(lon)
    prime_vertical_m = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * sin_lat * sin_lat)
    position = np.empty((lat.shape[0], 3))
    position[:, 0] = prime_vertical_m * cos_lat * cos_lon
    position[:, 1] = prime_vertical_m * cos_lat * sin_lon
    position[:, 2] = prime_vertical_m * (1.0 - WGS84_E2) * sin_lat
    up = np.empty_like(position)
    up[:, 0] = cos_lat * cos_lon
    up[:, 1] = cos_lat * sin_lon
    up[:, 2] = sin_lat
    return position, up


def ground_velocity_ecef(lat_deg: F64, lon_deg: F64, gs_mps: F64, track_deg: F64) -> F64:
    """``(N, 3)`` Earth-centred velocity of a ground speed along a true track.

    The velocity lies in the plane tangent to the ellipsoid at the aircraft:
    ``gs * (sin(track) * east + cos(track) * north)``.
    """
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    trk = np.radians(track_deg)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    sin_lon, cos_lon = np.sin(lon), np.cos(lon)
    v_east = gs_mps * np.sin(trk)
    v_north = gs_mps * np.cos(trk)
    velocity = np.empty((lat.shape[0], 3))
    # east = (-sin lon, cos lon, 0); north = (-sin lat cos lon, -sin lat sin lon, cos lat)
    velocity[:, 0] = -v_east * sin_lon - v_north * sin_lat * cos_lon
    velocity[:, 1] = v_east * cos_lon - v_north * sin_lat * sin_lon
    velocity[:, 2] = v_north * cos_lat
    return velocity


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
