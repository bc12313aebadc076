"""Geometry of volumes: the one module that calls shapely and pyproj.

Volumes are compared in the **lon/lat plane**, as RFC 7946 (§3.1.1) defines
GeoJSON: an edge between two positions is the straight line between them in
(longitude, latitude). Every volume is brought into one canonical frame,
longitudes in [-180, 180], split at the antimeridian into parts (RFC 7946
§3.1.9), so that one STRtree and exact planar predicates serve the whole
globe. Circles are made here from their centre and radius in metres along
the WGS84 ellipsoid's geodesics (pyproj), enclosing the pole when they reach
it. ``docs/operations.md`` states the rules and why.

shapely ships no type information: its values are typed :data:`Geometry`
(``Any``) and every call into it stays in this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import shapely  # type: ignore[import-untyped]
import shapely.geometry  # type: ignore[import-untyped]
from pyproj import Geod

#: A shapely geometry (shapely has no type stubs).
Geometry: TypeAlias = Any

#: Circles are polygons that contain the circle and lie at most this far outside it.
CIRCLE_TOLERANCE_M: Final = 1.0
#: Bounds on a circle's vertex count (the tolerance decides between them).
CIRCLE_MIN_VERTICES: Final = 32
CIRCLE_MAX_VERTICES: Final = 4096
#: The relate pattern of "the interiors meet": a conflict needs overlap, not a touch.
INTERIORS_MEET: Final = "T********"

_ELLIPSOID: Final = "WGS84"


def polygon(shell: Sequence[Sequence[float]], holes: Sequence[Sequence[Sequence[float]]]) -> Any:
    """A shapely polygon from GeoJSON rings (positions ``[lon, lat]``)."""
    return shapely.Polygon(shell, holes)


def multipolygon(parts: Sequence[Geometry]) -> Any:
    """A shapely multipolygon from polygons."""
    return shapely.MultiPolygon(list(parts))


def invalidity(geometry: Geometry) -> str | None:
    """Why ``geometry`` is not a valid polygon (GEOS's explanation), or None if it is."""
    reason = str(shapely.is_valid_reason(geometry))
    return None if reason == "Valid Geometry" else reason


def _polygons(geometry: Geometry) -> list[Geometry]:
    """The polygons (of positive area) inside a geometry of any type."""
    out: list[Geometry] = []
    for part in shapely.get_parts(geometry):
        if isinstance(part, shapely.Polygon):
            if part.area > 0:
                out.append(part)
        elif isinstance(part, shapely.MultiPolygon | shapely.GeometryCollection):
            out.extend(_polygons(part))
    return out


def canonical_parts(geometry: Geometry) -> tuple[Any, ...]:
    """The polygons of ``geometry`` in the canonical frame: longitudes in [-180, 180].

    ``geometry`` may reach longitudes in [-360, 360] (a polygon drawn across
    the antimeridian without being split) but spans at most 360 degrees. The
    parts beyond ±180 are cut off and shifted by ∓360; pieces that meet
    again (a polar cap) are merged. A geometry already within ±180 is
    returned as is, vertex for vertex.
    """
    min_lon, _, max_lon, _ = shapely.bounds(geometry)
    if min_lon >= -180.0 and max_lon <= 180.0:
        return tuple(_polygons(geometry))
    pieces: list[Geometry] = []
    for k in (-1, 0, 1):
        window = shapely.box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        piece = shapely.intersection(geometry, window)
        if piece.is_empty:
            continue
        if k:
            piece = shapely.transform(piece, lambda xy, k=k: xy - np.array([360.0 * k, 0.0]))
        pieces.extend(_polygons(piece))
    return tuple(_polygons(shapely.union_all(pieces)))


def union(parts: Sequence[Geometry]) -> Any:
    """One (multi)polygon of parts that do not overlap (shared edges are merged)."""
    polygons = _polygons(shapely.union_all(list(parts)))
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def circle(lon_deg: float, lat_deg: float, radius_m: float, tolerance_m: float) -> Any:
    """A polygon containing the geodesic circle, at most ``tolerance_m`` outside it.

    The polygon's edges are straight in lon/lat like every edge. Its
    vertices lie on the geodesic circle of radius (r + tol/2) / cos(π/n),
    so that in a locally flat frame each edge's midpoint is r + tol/2 from
    the centre, with n the smallest count that keeps the sagitta within
    tol/2 (at least :data:`CIRCLE_MIN_VERTICES`). Then n is doubled (up to
    :data:`CIRCLE_MAX_VERTICES`) until every edge's lon/lat midpoint lies
    between r and r + tol from the centre along the ellipsoid: near a pole,
    where straight lon/lat edges bend away from geodesics, that takes more
    vertices. Longitudes are continuous (they may pass ±180; see
    :func:`canonical_parts`). A circle around a pole closes through it.
    """
    geod = Geod(ellps=_ELLIPSOID)
    half = tolerance_m / 2.0
    ratio = min(half / radius_m, 1.0)
    n = math.ceil(math.pi / math.acos(1.0 - ratio)) if ratio < 1.0 else CIRCLE_MIN_VERTICES
    n = min(max(n, CIRCLE_MIN_VERTICES), CIRCLE_MAX_VERTICES)
    while True:
        outer_m = (radius_m + half) / math.cos(math.pi / n)
        azimuths = np.linspace(0.0, 360.0, n, endpoint=False)
        lons, lats, _ = geod.fwd(
            np.full(n, lon_deg), np.full(n, lat_deg), azimuths, np.full(n, outer_m)
        )
        lons = np.rad2deg(np.unwrap(np.deg2rad(np.asarray(lons, dtype=np.float64))))
        lats = np.asarray(lats, dtype=np.float64)
        closing = (lons[0] - lons[-1] + 180.0) % 360.0 - 180.0
        next_lons = np.append(lons[1:], lons[-1] + closing)
        mid_lons = (lons + next_lons) / 2.0
        mid_lats = (lats + np.roll(lats, -1)) / 2.0
        _, _, mid_m = geod.inv(np.full(n, lon_deg), np.full(n, lat_deg), mid_lons, mid_lats)
        mid_m = np.asarray(mid_m, dtype=np.float64)
        if n >= CIRCLE_MAX_VERTICES or (
            mid_m.min() >= radius_m and mid_m.max() <= radius_m + tolerance_m
        ):
            break
        n = min(2 * n, CIRCLE_MAX_VERTICES)
    turn = lons[-1] + closing - lons[0]
    coords = list(zip(lons.tolist(), lats.tolist(), strict=True))
    if abs(turn) > 180.0:  # the circle goes once around a pole: close through it
        _, _, to_north_m = geod.inv(lon_deg, lat_deg, 0.0, 90.0)
        pole = 90.0 if to_north_m < outer_m else -90.0
        end = lons[0] + math.copysign(360.0, turn)
        coords += [(end, lats[0]), (end, pole), (float(lons[0]), pole)]
    return shapely.Polygon(coords)


def geojson(geometry: Geometry) -> dict[str, Any]:
    """A GeoJSON geometry object (lists, floats) of a polygon or multipolygon."""

    def ring(r: Geometry) -> list[list[float]]:
        return [[float(x), float(y)] for x, y in np.asarray(r.coords)[:, :2]]

    def rings(p: Geometry) -> list[list[list[float]]]:
        return [ring(p.exterior), *(ring(h) for h in p.interiors)]

    polygons = _polygons(geometry)
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": rings(polygons[0])}
    return {"type": "MultiPolygon", "coordinates": [rings(p) for p in polygons]}


def normalize(geometry: Geometry) -> Any:
    """The same geometry in shapely's canonical form (rings' start and orientation, parts'
    order), so that one area gives one GeoJSON whichever side computed it."""
    return shapely.normalize(geometry)


def same_area(a: Mapping[str, Any], b: Mapping[str, Any], tolerance_deg: float = 1e-9) -> bool:
    """Do two GeoJSON (multi)polygons cover the same area (vertex order and start aside)?"""
    ga, gb = shapely.geometry.shape(a), shapely.geometry.shape(b)
    if shapely.equals_exact(shapely.normalize(ga), shapely.normalize(gb), tolerance=tolerance_deg):
        return True
    return bool(shapely.equals(ga, gb))


def representative_point(area: Mapping[str, Any]) -> tuple[float, float]:
    """(lon, lat) of a point inside a GeoJSON (multi)polygon, to name where it is."""
    point = shapely.geometry.shape(area).representative_point()
    return float(point.x), float(point.y)


def vertex_count(geometry: Geometry) -> int:
    """Vertices of a polygonal geometry, each ring's closing position not counted again."""
    return int(shapely.get_num_coordinates(geometry)) - sum(
        1 + len(p.interiors) for p in _polygons(geometry)
    )


def area_deg2(geometry: Geometry) -> float:
    """Area in the lon/lat plane (square degrees): only to tell empty from not."""
    return float(shapely.area(geometry))


def array(geometries: Sequence[Geometry]) -> npt.NDArray[np.object_]:
    """A numpy array of geometries, for shapely's vectorised functions."""
    out = np.empty(len(geometries), dtype=object)
    out[:] = list(geometries)
    return out


class Tree:
    """A typed face of shapely's STRtree over polygons in the canonical frame."""

    def __init__(self, geometries: npt.NDArray[np.object_]) -> None:
        self.geometries = geometries
        self._tree = shapely.STRtree(geometries)

    def candidates(self, geometry: Geometry) -> npt.NDArray[np.intp]:
        """Indices of the geometries whose bounding box meets ``geometry``'s."""
        return np.asarray(self._tree.query(geometry), dtype=np.intp)

    def hits_xy(
        self, lon_deg: npt.NDArray[np.float64], lat_deg: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.intp]:
        """(2, k) pairs (point, geometry): the point lies inside or on the geometry."""
        if len(self.geometries) == 0 or len(lon_deg) == 0:
            return np.empty((2, 0), dtype=np.intp)
        pts = shapely.points(lon_deg, lat_deg)
        return np.asarray(self._tree.query(pts, predicate="intersects"), dtype=np.intp)


def interiors_meet(geometries: npt.NDArray[np.object_], other: Geometry) -> npt.NDArray[np.bool_]:
    """For each geometry: do its interior and ``other``'s share a point (overlap, not touch)?"""
    return np.asarray(shapely.relate_pattern(geometries, other, INTERIORS_MEET), dtype=np.bool_)


def intersection(a: Geometry, b: Geometry) -> Any:
    """The polygonal part of ``a ∩ b`` (lines and points where they only touch dropped)."""
    return union(_polygons(shapely.intersection(a, b)))


def covers_xy(
    geometry: Geometry, lon_deg: npt.NDArray[np.float64], lat_deg: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """For each point: inside or on ``geometry`` (the per-point reference check)."""
    return np.asarray(shapely.intersects_xy(geometry, lon_deg, lat_deg), dtype=np.bool_)
