"""The operation file: a GeoJSON FeatureCollection, one Feature per volume.

:data:`PROPERTIES` and :data:`OPERATION_MEMBERS` declare every name a file
may hold; ``docs/operations.md`` describes the format. Every problem is
collected (not just the first) into one :class:`InvalidOperationError`
whose issues name the feature, the field and the bad value.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from skysep import units
from skysep.operations import _geometry as geo
from skysep.operations._errors import InvalidOperationError, Issue
from skysep.operations._model import Kind, Operation, Volume

#: Default limit on the vertices of one volume (all rings, closing positions not
#: counted twice): enough for a traced corridor, small enough that checks stay fast.
MAX_VERTICES: Final = 1000
#: Default limit on the volumes of one operation.
MAX_VOLUMES: Final = 100
#: Largest circle radius (1,000 km): beyond that, give a polygon.
MAX_RADIUS_M: Final = 1_000_000.0
#: Longitudes may pass ±180 (to cross the antimeridian without splitting) up to ±360.
MAX_ABS_LON_DEG: Final = 360.0
#: An edge may span at most this much longitude (except along a pole).
MAX_EDGE_LON_DEG: Final = 180.0

#: Every property a volume's Feature may hold, with its help text.
PROPERTIES: Final[dict[str, str]] = {
    "lower_ft": "Bottom of the altitude band, feet above mean sea level (or lower_m).",
    "lower_m": "Bottom of the altitude band, metres above mean sea level (or lower_ft).",
    "upper_ft": "Top of the altitude band, feet above mean sea level (or upper_m).",
    "upper_m": "Top of the altitude band, metres above mean sea level (or upper_ft).",
    "start": "Start of the time window: ISO-8601 with a UTC offset ('2025-06-01T08:00:00Z').",
    "end": "End of the time window: ISO-8601 with a UTC offset, after start and after now.",
    "radius_nm": "Point features only: the circle's radius in nautical miles (or radius_m).",
    "radius_m": "Point features only: the circle's radius in metres (or radius_nm).",
    "name": "Display name of the volume (optional).",
}

#: Members of the collection-level ``operation`` object (all optional).
OPERATION_MEMBERS: Final[dict[str, str]] = {
    "id": "Identifier of the operation (letters, digits, '.', '-', '_'); default: the file's stem.",
    "name": "Display name.",
    "party": "The filing party's id (letters, digits, '-', '_'); the service sets it itself.",
    "aircraft": "Identifiers of the aircraft the operation covers (conformance applies to them).",
}

_COLLECTION_MEMBERS: Final = ("type", "features", "operation", "bbox")
_FEATURE_MEMBERS: Final = ("type", "geometry", "properties", "id", "bbox")
_GEOMETRY_TYPES: Final = ("Polygon", "MultiPolygon", "Point")
_PARTY_ID: Final = re.compile(r"^[A-Za-z0-9_-]+$")
_OPERATION_ID: Final = re.compile(r"^[A-Za-z0-9_.-]+$")
#: (quantity, unit suffixes) of the quantities given in one unit of several.
_QUANTITIES: Final = (("lower", ("ft", "m")), ("upper", ("ft", "m")), ("radius", ("nm", "m")))


def _suggest(name: str, valid: Iterable[str]) -> str:
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown{hint}; valid: {', '.join(valid)}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Feature:
    """Collects the issues of one feature (or of the collection itself)."""

    def __init__(self, issues: list[Issue], location: str, index: int | None) -> None:
        self.issues = issues
        self.location = location
        self.index = index
        self.feature_id: str | None = None
        self.failed = False

    def add(self, field: str, value: object, message: str) -> None:
        self.failed = True
        self.issues.append(Issue(self.location, field, value, message, self.index, self.feature_id))


def _time(f: _Feature, props: Mapping[str, Any], name: str) -> datetime | None:
    field = f"properties.{name}"
    if name not in props:
        f.add(field, None, f"missing; give {name} as ISO-8601 UTC, e.g. '2025-06-01T08:00:00Z'")
        return None
    raw = props[name]
    if not isinstance(raw, str):
        f.add(field, raw, f"{raw!r} is not an ISO-8601 time string")
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        f.add(field, raw, f"{raw!r} is not an ISO-8601 time")
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        f.add(field, raw, f"{raw!r} has no UTC offset; end it with 'Z' (UTC) or '+00:00'")
        return None
    return value.astimezone(UTC)


def _quantity(
    f: _Feature, props: Mapping[str, Any], stem: str, suffixes: Sequence[str]
) -> tuple[float | None, str | None]:
    """(SI value, property name) of a quantity given in one of its units."""
    given = [f"{stem}_{s}" for s in suffixes if f"{stem}_{s}" in props]
    if not given:
        return None, None
    if len(given) > 1:
        f.add(
            f"properties.{given[1]}",
            props[given[1]],
            f"give {stem} once, in one unit: both {given[0]!r} and {given[1]!r} are set",
        )
        return None, None
    name = given[0]
    raw = props[name]
    if not _is_number(raw) or not math.isfinite(raw):
        f.add(f"properties.{name}", raw, f"{raw!r} is not a finite number")
        return None, None
    return float(raw) * units.SUFFIX_TO_SI[name.rsplit("_", 1)[1]], name


def _position(f: _Feature, field: str, pos: object) -> tuple[float, float] | None:
    if not isinstance(pos, list) or not all(_is_number(c) for c in pos):
        f.add(field, pos, f"{pos!r} is not a position [longitude, latitude]")
        return None
    if len(pos) != 2:
        f.add(
            field,
            pos,
            f"{pos!r} must be [longitude, latitude] (the altitude band is given by "
            "lower_*/upper_*, not by a third coordinate)",
        )
        return None
    lon, lat = float(pos[0]), float(pos[1])
    ok = True
    if not (math.isfinite(lon) and math.isfinite(lat)):
        f.add(field, pos, f"{pos!r} has a coordinate that is not finite")
        return None
    if not -90.0 <= lat <= 90.0:
        f.add(field, pos, f"latitude {lat!r} is out of range [-90, 90]")
        ok = False
    if not -MAX_ABS_LON_DEG <= lon <= MAX_ABS_LON_DEG:
        f.add(
            field,
            pos,
            f"longitude {lon!r} is out of range [-180, 180] (up to ±360 only to cross the "
            "antimeridian without splitting)",
        )
        ok = False
    return (lon, lat) if ok else None


def _ring(f: _Feature, field: str, raw: object) -> list[tuple[float, float]] | None:
    if not isinstance(raw, list):
        f.add(field, raw, f"{raw!r} is not a ring (an array of positions)")
        return None
    positions = [_position(f, f"{field}[{i}]", p) for i, p in enumerate(raw)]
    ring = [p for p in positions if p is not None]
    if len(ring) != len(positions):
        return None
    if len(ring) < 4:
        f.add(field, raw, f"a ring needs at least 4 positions (first = last), got {len(ring)}")
        return None
    if ring[0] != ring[-1]:
        f.add(
            field,
            raw,
            f"ring is not closed: first position {list(ring[0])} differs from last "
            f"{list(ring[-1])} (RFC 7946 repeats the first position at the end)",
        )
        return None
    ok = True
    for i, ((lon0, lat0), (lon1, lat1)) in enumerate(itertools.pairwise(ring)):
        along_pole = lat0 == lat1 and abs(lat0) == 90.0
        if abs(lon1 - lon0) > MAX_EDGE_LON_DEG and not along_pole:
            f.add(
                f"{field}[{i + 1}]",
                [lon1, lat1],
                f"edge from longitude {lon0!r} to {lon1!r} spans {abs(lon1 - lon0):g} degrees: "
                "edges are straight in lon/lat, so this one goes the long way round; to cross "
                "the antimeridian, split the polygon at ±180 (RFC 7946 §3.1.9) or continue "
                f"past ±180 (e.g. {lon1 + math.copysign(360.0, lon0 - lon1):g})",
            )
            ok = False
    return ring if ok else None


def _polygon(f: _Feature, field: str, raw: object) -> Any | None:
    if not isinstance(raw, list) or not raw:
        f.add(field, raw, f"{raw!r} is not a polygon (a non-empty array of rings)")
        return None
    rings = [_ring(f, f"{field}[{i}]", r) for i, r in enumerate(raw)]
    if any(r is None for r in rings):
        return None
    shell, *holes = (r for r in rings if r is not None)
    return geo.polygon(shell, holes)


def _geometry(f: _Feature, raw: object) -> tuple[str, Any | None, tuple[float, float] | None]:
    """(type, polygonal shapely geometry or None, Point position or None)."""
    if not isinstance(raw, dict):
        f.add("geometry", raw, f"{raw!r} is not a GeoJSON geometry object")
        return "", None, None
    kind = raw.get("type")
    if kind not in _GEOMETRY_TYPES:
        f.add(
            "geometry.type",
            kind,
            f"{kind!r} is not a valid option, must be one of {', '.join(_GEOMETRY_TYPES)}",
        )
        return "", None, None
    coords = raw.get("coordinates")
    if kind == "Point":
        return kind, None, _position(f, "geometry.coordinates", coords)
    if kind == "Polygon":
        return kind, _polygon(f, "geometry.coordinates", coords), None
    if not isinstance(coords, list) or not coords:
        f.add("geometry.coordinates", coords, f"{coords!r} is not an array of polygons")
        return kind, None, None
    parts = [_polygon(f, f"geometry.coordinates[{i}]", p) for i, p in enumerate(coords)]
    if any(p is None for p in parts):
        return kind, None, None
    return kind, geo.multipolygon(parts), None


def _volume(
    issues: list[Issue],
    index: int,
    raw: object,
    now: datetime,
    max_vertices: int,
    circle_tolerance_m: float,
) -> Volume | None:
    f = _Feature(issues, f"features[{index}]", index)
    if not isinstance(raw, dict):
        f.add("", raw, f"{raw!r} is not a GeoJSON Feature object")
        return None
    volume_id = str(index)
    if "id" in raw:
        fid = raw["id"]
        if (isinstance(fid, str) and fid.strip()) or _is_number(fid):
            volume_id = f.feature_id = str(fid)
            f.location = f"features[{index}] (id {volume_id!r})"
        else:
            f.add("id", fid, f"{fid!r} is not a non-empty string or a number")
    if raw.get("type") != "Feature":
        f.add("type", raw.get("type"), f"{raw.get('type')!r} must be 'Feature'")
    for member in raw:
        if member not in _FEATURE_MEMBERS:
            f.add(member, raw[member], _suggest(member, _FEATURE_MEMBERS))
    props = raw.get("properties")
    if not isinstance(props, dict):
        f.add("properties", props, f"{props!r} is not an object of properties")
        props = {}
    for name in props:
        if name not in PROPERTIES:
            f.add(f"properties.{name}", props[name], _suggest(name, PROPERTIES))
    if "name" in props and not isinstance(props["name"], str):
        f.add("properties.name", props["name"], f"{props['name']!r} is not a string")

    # Altitude band.
    band: dict[str, tuple[float, str]] = {}
    for stem in ("lower", "upper"):
        value, name = _quantity(f, props, stem, ("ft", "m"))
        if value is not None and name is not None:
            band[stem] = (value, name)
        elif not any(f"{stem}_{u}" in props for u in ("ft", "m")):
            f.add(f"properties.{stem}_ft", None, f"missing; give {stem}_ft or {stem}_m (AMSL)")
    if len(band) == 2 and not band["lower"][0] < band["upper"][0]:
        lo_name, hi_name = band["lower"][1], band["upper"][1]
        f.add(
            f"properties.{lo_name}",
            props[lo_name],
            f"{props[lo_name]!r} is not below {hi_name} {props[hi_name]!r}",
        )

    # Time window.
    start = _time(f, props, "start")
    end = _time(f, props, "end")
    if start is not None and end is not None:
        if not start < end:
            f.add(
                "properties.end",
                props["end"],
                f"{props['end']!r} is not after start {props['start']!r}",
            )
        elif not end > now:
            f.add(
                "properties.end",
                props["end"],
                f"{props['end']!r} is in the past: the window ended before now ({now.isoformat()})",
            )

    # Area.
    kind, shape, center = _geometry(f, raw.get("geometry"))
    radius_given = any(f"radius_{u}" in props for u in ("nm", "m"))
    radius_m: float | None = None
    if kind == "Point":
        radius_m, radius_name = _quantity(f, props, "radius", ("nm", "m"))
        if not radius_given:
            f.add("properties.radius_nm", None, "missing; a Point needs radius_nm or radius_m")
        elif (
            radius_m is not None and radius_name is not None and not 0.0 < radius_m <= MAX_RADIUS_M
        ):
            f.add(
                f"properties.{radius_name}",
                props[radius_name],
                f"{props[radius_name]!r} is not a radius: it must be positive and at most "
                f"{MAX_RADIUS_M / 1000:g} km (give a polygon beyond that)",
            )
            radius_m = None
    elif kind and radius_given:
        name = next(f"radius_{u}" for u in ("nm", "m") if f"radius_{u}" in props)
        f.add(f"properties.{name}", props[name], f"radius applies to Point features, not {kind}")

    parts: tuple[Any, ...] = ()
    if shape is not None:
        count = geo.vertex_count(shape)
        if count > max_vertices:
            f.add("geometry.coordinates", count, f"{count} vertices, more than {max_vertices}")
        else:
            reason = geo.invalidity(shape)
            if reason is not None:
                f.add("geometry.coordinates", reason, f"not a valid polygon: {reason}")
            else:
                min_lon, _, max_lon, _ = shape.bounds
                if max_lon - min_lon > 360.0:
                    f.add(
                        "geometry.coordinates",
                        [min_lon, max_lon],
                        f"spans {max_lon - min_lon:g} degrees of longitude, more than 360",
                    )
                else:
                    parts = geo.canonical_parts(shape)
    elif center is not None and radius_m is not None:
        parts = geo.canonical_parts(geo.circle(center[0], center[1], radius_m, circle_tolerance_m))

    if f.failed or start is None or end is None or len(band) != 2:
        return None
    volume_kind: Kind = "circle" if kind == "Point" else "polygon"
    return Volume(
        id=volume_id,
        index=index,
        kind=volume_kind,
        parts=parts,
        lower_m=band["lower"][0],
        upper_m=band["upper"][0],
        start=start,
        end=end,
        center_lon_deg=center[0] if center is not None else None,
        center_lat_deg=center[1] if center is not None else None,
        radius_m=radius_m,
    )


def _operation_members(issues: list[Issue], raw: object) -> dict[str, Any]:
    f = _Feature(issues, "operation", None)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        f.add("", raw, f"{raw!r} is not an object")
        return {}
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in OPERATION_MEMBERS:
            f.add(name, value, _suggest(name, OPERATION_MEMBERS))
        elif name == "id":
            if isinstance(value, str) and _OPERATION_ID.match(value):
                out["id"] = value
            else:
                f.add(name, value, f"{value!r} must be letters, digits, '.', '-' or '_'")
        elif name == "party":
            if isinstance(value, str) and _PARTY_ID.match(value):
                out["party"] = value
            else:
                f.add(name, value, f"{value!r} must be letters, digits, '-' or '_'")
        elif name == "name":
            if isinstance(value, str):
                out["name"] = value
            else:
                f.add(name, value, f"{value!r} is not a string")
        elif name == "aircraft":
            if (
                isinstance(value, list)
                and all(isinstance(a, str) and a.strip() for a in value)
                and len(set(value)) == len(value)
            ):
                out["aircraft"] = tuple(value)
            else:
                f.add(name, value, f"{value!r} must be a list of distinct non-empty strings")
    return out


def parse_operation(
    data: object,
    *,
    now: datetime,
    source: str = "operation",
    operation_id: str | None = None,
    max_vertices: int = MAX_VERTICES,
    max_volumes: int = MAX_VOLUMES,
    circle_tolerance_m: float = geo.CIRCLE_TOLERANCE_M,
) -> Operation:
    """Validate a parsed GeoJSON FeatureCollection into a planned :class:`Operation`.

    ``now`` (timezone-aware) is the time a window must end after; it is not
    read from a clock. ``source`` names the file or request in messages;
    ``operation_id`` overrides the file's ``operation.id``. Raises
    :class:`InvalidOperationError` listing every problem found.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidOperationError(
            source, [Issue("now", "now", now, f"{now.isoformat()!r} has no UTC offset")]
        )
    issues: list[Issue] = []
    top = _Feature(issues, "FeatureCollection", None)
    if not isinstance(data, dict):
        top.add("", data, "the file must hold a GeoJSON FeatureCollection object")
        raise InvalidOperationError(source, issues)
    if data.get("type") != "FeatureCollection":
        top.add("type", data.get("type"), f"{data.get('type')!r} must be 'FeatureCollection'")
    for member in data:
        if member not in _COLLECTION_MEMBERS:
            top.add(member, data[member], _suggest(member, _COLLECTION_MEMBERS))
    members = _operation_members(issues, data.get("operation"))
    features = data.get("features")
    volumes: list[Volume | None] = []
    if not isinstance(features, list) or not features:
        top.add("features", features, "an operation needs at least one Feature (volume)")
    elif len(features) > max_volumes:
        top.add("features", len(features), f"{len(features)} volumes, more than {max_volumes}")
    else:
        volumes = [
            _volume(issues, i, raw, now, max_vertices, circle_tolerance_m)
            for i, raw in enumerate(features)
        ]
    seen: dict[str, int] = {}
    for index, raw in enumerate(features if isinstance(features, list) and volumes else []):
        fid = raw.get("id") if isinstance(raw, dict) else None
        if not ((isinstance(fid, str) and fid.strip()) or _is_number(fid)):
            continue
        volume_id = str(fid)
        if volume_id in seen:
            issues.append(
                Issue(
                    f"features[{index}] (id {volume_id!r})",
                    "id",
                    fid,
                    f"{volume_id!r} is also the id of features[{seen[volume_id]}]",
                    index,
                    volume_id,
                )
            )
        seen.setdefault(volume_id, index)
    if issues:
        raise InvalidOperationError(source, issues)
    return Operation(
        id=operation_id if operation_id is not None else members.get("id", ""),
        volumes=tuple(v for v in volumes if v is not None),
        party=members.get("party"),
        name=members.get("name", ""),
        aircraft=members.get("aircraft", ()),
    )


def read_operation(
    path: str | Path,
    *,
    now: datetime,
    max_vertices: int = MAX_VERTICES,
    max_volumes: int = MAX_VOLUMES,
    circle_tolerance_m: float = geo.CIRCLE_TOLERANCE_M,
) -> Operation:
    """Read and validate an operation file; its id defaults to the file's stem.

    Errors name the file (and line and column if it is not JSON).
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidOperationError(
            source, [Issue("file", "", source, "no such operation file")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidOperationError(
            source, [Issue("file", "", source, f"cannot read the operation file: {exc}")]
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidOperationError(
            source,
            [Issue(f"line {exc.lineno}, column {exc.colno}", "", None, f"not JSON: {exc.msg}")],
        ) from None
    operation = parse_operation(
        data,
        now=now,
        source=source,
        max_vertices=max_vertices,
        max_volumes=max_volumes,
        circle_tolerance_m=circle_tolerance_m,
    )
    if not operation.id:
        operation = replace(operation, id=path.stem)
    return operation
