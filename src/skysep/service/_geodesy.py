"""Geodesics on the WGS84 ellipsoid (pyproj's Geod) for the live picture."""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
from pyproj import Geod

F64 = npt.NDArray[np.float64]


@cache
def _wgs84() -> Geod:
    return Geod(ellps="WGS84")


def forward(lat_deg: F64, lon_deg: F64, azimuth_deg: F64, distance_m: F64) -> tuple[F64, F64]:
    """Where each point ends up after ``distance_m`` along a geodesic (negative: backwards)."""
    lon, lat, _ = _wgs84().fwd(lon_deg, lat_deg, azimuth_deg, distance_m)
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


def inverse(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """(initial azimuth in degrees, distance in m) from point 1 to point 2."""
    azimuth, _, distance = _wgs84().inv(lon1, lat1, lon2, lat2)
    return float(azimuth), float(distance)


def midpoints(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> tuple[F64, F64]:
    """The points halfway along the geodesics between pairs of points: (lat, lon) arrays."""
    if lat1.shape[0] == 0:
        return lat1.copy(), lon1.copy()
    azimuth, _, distance = _wgs84().inv(lon1, lat1, lon2, lat2)
    lon, lat, _ = _wgs84().fwd(lon1, lat1, azimuth, np.asarray(distance) / 2.0)
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
