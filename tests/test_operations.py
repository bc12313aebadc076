"""Operations (issue #6): the file format, its validation, volumes' geometry, the
strategic check and what it discloses, the state machine, and ``skysep ops``."""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from pyproj import Geod

import skysep.operations as ops
from skysep.errors import OperationsError, SkySepError
from skysep.operations import (
    InvalidOperationError,
    Operation,
    OperationIndex,
    TransitionError,
    parse_operation,
    read_operation,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "operation.geojson"
SKYSEP = shutil.which("skysep", path=str(Path(sys.executable).parent)) or "skysep"
NOW = datetime(2030, 6, 1, tzinfo=UTC)
START = "2030-06-12T08:00:00Z"
END = "2030-06-12T12:00:00Z"
GEOD = Geod(ellps="WGS84")


def box(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, Any]:
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(
    geometry: dict[str, Any] | None = None, fid: str | None = None, **props: Any
) -> dict[str, Any]:
    properties: dict[str, Any] = {"lower_ft": 0, "upper_ft": 3000, "start": START, "end": END}
    properties.update(props)
    out: dict[str, Any] = {
        "type": "Feature",
        "geometry": geometry if geometry is not None else box(5.0, 43.0, 5.1, 43.1),
        "properties": {k: v for k, v in properties.items() if v is not None},
    }
    if fid is not None:
        out["id"] = fid
    return out


def collection(*features: dict[str, Any], **operation: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FeatureCollection", "features": list(features)}
    members = {k: v for k, v in operation.items() if v is not None}
    if members:
        out["operation"] = members
    return out


def op(*features: dict[str, Any], id: str = "op", party: str = "a", **kw: Any) -> Operation:
    return parse_operation(collection(*features, id=id, party=party, **kw), now=NOW)


def issues_of(data: Any, **kw: Any) -> list[ops.Issue]:
    with pytest.raises(InvalidOperationError) as info:
        parse_operation(data, now=kw.pop("now", NOW), source="plan.geojson", **kw)
    assert str(info.value).startswith("plan.geojson: ")
    return list(info.value.issues)


def only_issue(data: Any, **kw: Any) -> ops.Issue:
    issues = issues_of(data, **kw)
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


# -- the file format ----------------------------------------------------------------------


def test_the_example_file_parses() -> None:
    operation = read_operation(EXAMPLE, now=NOW)
    assert operation.id == "fire-ops-0612"
    assert operation.party == "sdis13"
    assert operation.aircraft == ("F-ZBFY", "F-ZBMB")
    assert operation.state == "planned"
    drop, scoop = operation.volumes
    assert (drop.id, drop.kind, scoop.id, scoop.kind) == (
        "drop-zone",
        "polygon",
        "scooping",
        "circle",
    )
    assert drop.lower_m == 0.0
    assert drop.upper_m == pytest.approx(3500 * 0.3048)
    assert scoop.upper_m == 600.0
    assert scoop.radius_m == pytest.approx(2.5 * 1852.0)
    assert drop.start == datetime(2030, 6, 12, 8, tzinfo=UTC)
    assert drop.end_s - drop.start_s == 4 * 3600
    # The polygon is kept vertex for vertex.
    given = json.loads(EXAMPLE.read_text())["features"][0]["geometry"]["coordinates"]
    assert drop.geojson()["coordinates"] == given


def test_units_metres_and_feet_and_offsets() -> None:
    operation = op(
        feature(lower_ft=None, upper_ft=None, lower_m=100, upper_m=200.5),
        feature(start="2030-06-12T10:00:00+02:00", end="2030-06-12T09:00:00+00:00"),
    )
    first, second = operation.volumes
    assert (first.lower_m, first.upper_m) == (100.0, 200.5)
    assert second.start == datetime(2030, 6, 12, 8, tzinfo=UTC)
    assert second.start.tzinfo is UTC


def test_ids_default_to_the_file_stem_and_the_feature_index(tmp_path: Path) -> None:
    path = tmp_path / "my-plan.geojson"
    path.write_text(json.dumps(collection(feature(), feature())))
    operation = read_operation(path, now=NOW)
    assert operation.id == "my-plan"
    assert [v.id for v in operation.volumes] == ["0", "1"]
    assert operation.party is None


def test_numeric_feature_ids_are_strings() -> None:
    assert op(feature(fid=None) | {"id": 7}).volumes[0].id == "7"


# -- validation: every problem, each named ----------------------------------------------


def test_lower_above_upper_names_feature_field_and_value() -> None:
    issue = only_issue(collection(feature(fid="north", lower_ft=5000, upper_ft=4000)))
    assert (issue.index, issue.feature_id, issue.field, issue.value) == (
        0,
        "north",
        "properties.lower_ft",
        5000,
    )
    assert str(issue) == (
        "features[0] (id 'north'): properties.lower_ft: 5000 is not below upper_ft 4000"
    )


def test_equal_altitude_bounds_are_refused() -> None:
    issue = only_issue(collection(feature(lower_m=300, upper_m=300, lower_ft=None, upper_ft=None)))
    assert "300 is not below upper_m 300" in str(issue)


def test_end_before_start() -> None:
    issue = only_issue(collection(feature(start=END, end=START)))
    assert issue.field == "properties.end"
    assert issue.value == START
    assert f"{START!r} is not after start {END!r}" in issue.message


def test_window_in_the_past_relative_to_now() -> None:
    later = datetime(2030, 6, 12, 12, tzinfo=UTC)
    issue = only_issue(collection(feature(fid="x")), now=later)
    assert issue.field == "properties.end"
    assert "in the past" in issue.message
    assert later.isoformat() in issue.message
    # A window that has started but not ended is fine.
    parse_operation(collection(feature()), now=later - timedelta(seconds=1))


def test_too_many_vertices() -> None:
    n = 60
    ring = [
        [5.0 + 0.1 * math.cos(2 * math.pi * k / n), 43.0 + 0.1 * math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]
    geometry = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    issue = only_issue(collection(feature(geometry)), max_vertices=59)
    assert issue.field == "geometry.coordinates"
    assert issue.value == 60
    assert issue.message == "60 vertices, more than 59"
    assert len(op(feature(geometry)).volumes) == 1  # the default allows it


def test_self_intersecting_polygon() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[5, 43], [6, 44], [6, 43], [5, 44], [5, 43]]]}
    issue = only_issue(collection(feature(bowtie, fid="bow")))
    assert issue.location == "features[0] (id 'bow')"
    assert "Self-intersection[5.5 43.5]" in issue.message


def test_unknown_property_with_a_suggestion() -> None:
    issue = only_issue(collection(feature(uper_ft=10)))
    assert issue.field == "properties.uper_ft"
    assert issue.value == 10
    assert "did you mean 'upper_ft'?" in issue.message
    assert "valid: end, lower_ft" in issue.message


def test_unknown_members_of_the_collection_and_operation() -> None:
    data = collection(feature(), id="x", partie="a")
    data["crs"] = {}
    messages = [str(i) for i in issues_of(data)]
    assert any("operation: partie: unknown (did you mean 'party'?)" in m for m in messages)
    assert any(m.startswith("FeatureCollection: crs: unknown") for m in messages)


def test_missing_fields() -> None:
    bare = {"type": "Feature", "geometry": box(5, 43, 6, 44), "properties": {}}
    fields = {i.field for i in issues_of(collection(bare))}
    assert fields == {
        "properties.lower_ft",
        "properties.upper_ft",
        "properties.start",
        "properties.end",
    }
    point = feature({"type": "Point", "coordinates": [5, 43]})
    assert only_issue(collection(point)).field == "properties.radius_nm"


def test_one_unit_per_quantity() -> None:
    issue = only_issue(collection(feature(lower_m=0)))
    assert issue.message == "give lower once, in one unit: both 'lower_ft' and 'lower_m' are set"


def test_non_finite_and_out_of_range_coordinates() -> None:
    nan_ring = box(5, 43, 6, 44)
    nan_ring["coordinates"][0][1] = [float("nan"), 43]
    issue = only_issue(collection(feature(nan_ring)))
    assert issue.field == "geometry.coordinates[0][1]"
    assert "not finite" in issue.message

    far = box(5, 43, 6, 44)
    far["coordinates"][0][2] = [6, 95]
    issue = only_issue(collection(feature(far)))
    assert issue.field == "geometry.coordinates[0][2]"
    assert issue.message == "latitude 95.0 is out of range [-90, 90]"

    beyond = feature({"type": "Point", "coordinates": [400, 43]}, radius_m=100)
    assert "longitude 400.0 is out of range" in only_issue(collection(beyond)).message

    third = box(5, 43, 6, 44)
    third["coordinates"][0][0] = [5, 43, 100]
    third["coordinates"][0][-1] = [5, 43, 100]
    assert any("[longitude, latitude]" in i.message for i in issues_of(collection(feature(third))))

    non_finite_alt = only_issue(collection(feature(upper_ft=float("inf"))))
    assert non_finite_alt.message == "inf is not a finite number"


def test_unclosed_ring() -> None:
    ring = [[5, 43], [6, 43], [6, 44], [5, 44]]
    issue = only_issue(collection(feature({"type": "Polygon", "coordinates": [ring]})))
    assert issue.field == "geometry.coordinates[0]"
    assert "not closed: first position [5.0, 43.0] differs from last [5.0, 44.0]" in issue.message


@pytest.mark.parametrize(
    ("radius", "why"),
    [
        ({"radius_m": 0}, "is not a radius"),
        ({"radius_nm": -2}, "is not a radius"),
        ({"radius_m": 2_000_000}, "is not a radius"),
        ({"radius_m": "5"}, "is not a finite number"),
        ({"radius_m": float("nan")}, "is not a finite number"),
    ],
)
def test_bad_radius(radius: dict[str, Any], why: str) -> None:
    issue = only_issue(collection(feature({"type": "Point", "coordinates": [5, 43]}, **radius)))
    (name,) = radius
    assert issue.field == f"properties.{name}"
    assert why in issue.message


def test_radius_on_a_polygon_is_refused() -> None:
    issue = only_issue(collection(feature(radius_m=50)))
    assert issue.message == "radius applies to Point features, not Polygon"


def test_times_must_carry_an_offset() -> None:
    issue = only_issue(collection(feature(start="2030-06-12T08:00:00")))
    assert issue.field == "properties.start"
    assert "has no UTC offset" in issue.message
    issue = only_issue(collection(feature(end="tomorrow")))
    assert issue.message == "'tomorrow' is not an ISO-8601 time"


def test_every_problem_is_reported_not_only_the_first() -> None:
    data = collection(
        feature(fid="a", lower_ft=9000),
        feature(fid="b", start=END, end=START),
        feature(fid="c", lower_ft=None, lower_m=None),
        feature(fid="a"),
    )
    issues = issues_of(data)
    assert [(i.feature_id, i.field) for i in issues] == [
        ("a", "properties.lower_ft"),
        ("b", "properties.end"),
        ("c", "properties.lower_ft"),
        ("a", "id"),
    ]
    assert "'a' is also the id of features[0]" in issues[-1].message


def test_empty_and_oversized_collections() -> None:
    assert only_issue(collection()).field == "features"
    assert (
        "3 volumes, more than 2"
        in only_issue(
            collection(feature(fid="1"), feature(fid="2"), feature(fid="3")), max_volumes=2
        ).message
    )
    assert only_issue([1, 2]).message.endswith("GeoJSON FeatureCollection object")


def test_the_file_reader_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.geojson"
    bad.write_text('{"type": "FeatureCollection",\n "features": [}')
    with pytest.raises(
        InvalidOperationError, match=r"broken.geojson: line 2, column 15: : not JSON"
    ):
        read_operation(bad, now=NOW)
    with pytest.raises(InvalidOperationError, match="no such operation file"):
        read_operation(tmp_path / "missing.geojson", now=NOW)
    wrong = tmp_path / "wrong.geojson"
    wrong.write_text(json.dumps(collection(feature(lower_ft=1e6))))
    with pytest.raises(InvalidOperationError) as info:
        read_operation(wrong, now=NOW)
    assert str(info.value).startswith(f"{wrong}: features[0]: properties.lower_ft: 1000000.0")


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(InvalidOperationError, match="has no UTC offset"):
        parse_operation(collection(feature()), now=datetime(2030, 1, 1))


def test_error_tree() -> None:
    assert issubclass(InvalidOperationError, OperationsError)
    assert issubclass(TransitionError, OperationsError)
    assert issubclass(OperationsError, SkySepError)


def test_all_lists_the_public_names() -> None:
    for name in ops.__all__:
        assert getattr(ops, name) is not None, name
    with pytest.raises(AttributeError):
        _ = ops.nothing_here  # type: ignore[attr-defined]


# -- geometry: circles, the antimeridian, the poles ---------------------------------------


def _circle_points(lon: float, lat: float, radius_m: float, n: int = 720) -> np.ndarray:
    az = np.linspace(0, 360, n, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, radius_m))
    return np.stack([np.asarray(lons), np.asarray(lats)], axis=1)


def _covered(volume: ops.Volume, pts: np.ndarray) -> np.ndarray:
    lon = (pts[:, 0] + 180.0) % 360.0 - 180.0
    return np.asarray(shapely.intersects_xy(volume.geometry, lon, pts[:, 1]))


@pytest.mark.parametrize(
    ("lon", "lat", "radius_m"),
    [(5.0, 43.0, 5000.0), (179.99, -16.0, 3000.0), (-10.0, 89.9, 5000.0), (0.0, 0.0, 50.0)],
)
def test_a_circle_contains_its_circle_and_little_more(
    lon: float, lat: float, radius_m: float
) -> None:
    volume = op(feature({"type": "Point", "coordinates": [lon, lat]}, radius_m=radius_m)).volumes[0]
    tol = ops.CIRCLE_TOLERANCE_M
    assert _covered(volume, _circle_points(lon, lat, radius_m - 0.01)).all()
    assert not _covered(volume, _circle_points(lon, lat, radius_m + tol + 0.05)).any()


def test_a_circle_across_the_antimeridian_is_split() -> None:
    volume = op(feature({"type": "Point", "coordinates": [179.99, -16.0]}, radius_m=3000)).volumes[
        0
    ]
    assert len(volume.parts) == 2
    west, east = sorted(volume.parts, key=lambda p: shapely.bounds(p)[0])
    assert shapely.bounds(west)[0] == -180.0
    assert shapely.bounds(west)[2] < -179.9
    assert shapely.bounds(east)[2] == 180.0
    assert shapely.bounds(east)[0] > 179.9
    assert volume.geojson()["type"] == "MultiPolygon"


def test_a_circle_around_the_pole_covers_it() -> None:
    volume = op(feature({"type": "Point", "coordinates": [30.0, 89.99]}, radius_m=5000)).volumes[0]
    assert len(volume.parts) == 1
    lo_lon, _lo_lat, hi_lon, hi_lat = shapely.bounds(volume.parts[0])
    assert (lo_lon, hi_lon, hi_lat) == (-180.0, 180.0, 90.0)
    pole = np.array([[-179.0, 90.0], [0.0, 90.0], [123.0, 89.999]])
    assert _covered(volume, pole).all()
    assert _covered(volume, _circle_points(30.0, 89.99, 4999.0)).all()
    assert not _covered(volume, _circle_points(30.0, 89.99, 5002.0)).any()


def test_a_circle_near_the_pole_but_not_around_it() -> None:
    volume = op(feature({"type": "Point", "coordinates": [30.0, 89.9]}, radius_m=5000)).volumes[0]
    assert not _covered(volume, np.array([[0.0, 90.0]])).any()
    assert _covered(volume, _circle_points(30.0, 89.9, 4999.0)).all()
    assert not _covered(volume, _circle_points(30.0, 89.9, 5002.0)).any()


def test_unsplit_and_split_antimeridian_polygons_are_the_same_volume() -> None:
    unsplit = op(feature(box(179.0, 10.0, 181.0, 11.0))).volumes[0]
    split = op(
        feature(
            {
                "type": "MultiPolygon",
                "coordinates": [
                    box(179.0, 10.0, 180.0, 11.0)["coordinates"],
                    box(-180.0, 10.0, -179.0, 11.0)["coordinates"],
                ],
            }
        )
    ).volumes[0]
    assert len(unsplit.parts) == len(split.parts) == 2
    assert shapely.equals(unsplit.geometry, split.geometry)
    assert shapely.bounds(unsplit.geometry).tolist() == [-180.0, 10.0, 180.0, 11.0]


def test_an_edge_the_long_way_round_is_refused() -> None:
    east_west, west_east = issues_of(collection(feature(box(170.0, 10.0, -170.0, 11.0))))
    assert east_west.field == "geometry.coordinates[0][1]"
    assert east_west.value == [-170.0, 10.0]
    assert "from longitude 170.0 to -170.0 spans 340 degrees" in east_west.message
    assert "(e.g. 190)" in east_west.message
    assert west_east.field == "geometry.coordinates[0][3]"
    assert "(e.g. -190)" in west_east.message


def test_a_polar_cap_polygon() -> None:
    ring = [[-180, 85], [-90, 85], [0, 85], [90, 85], [180, 85], [180, 90], [-180, 90], [-180, 85]]
    cap = op(feature({"type": "Polygon", "coordinates": [ring]})).volumes[0]
    assert shapely.bounds(cap.geometry).tolist() == [-180.0, 85.0, 180.0, 90.0]
    other = op(feature({"type": "Point", "coordinates": [45.0, 89.9]}, radius_m=1000), party="b")
    index = OperationIndex([Operation(id="cap", volumes=(cap,), party="a")])
    (conflict,) = index.conflicts(other)
    assert shapely.equals(conflict.region, other.volumes[0].geometry)


def test_antimeridian_conflict_on_both_sides() -> None:
    a = op(feature(box(179.5, 10.0, 180.5, 11.0)), id="a", party="a")
    b = op(feature(box(-179.8, 10.5, -179.0, 12.0)), id="b", party="b")
    (conflict,) = OperationIndex([a]).conflicts(b)
    assert shapely.equals(conflict.region, shapely.box(-179.8, 10.5, -179.5, 11.0))
    c = op(feature(box(179.8, 10.5, 185.0, 12.0)), id="c", party="c")
    (conflict,) = OperationIndex([a]).conflicts(c)
    expected = shapely.union(shapely.box(179.8, 10.5, 180, 11), shapely.box(-180, 10.5, -179.5, 11))
    assert shapely.equals(conflict.region, expected)
    assert conflict.region_geojson()["type"] == "MultiPolygon"


# -- the strategic check: what intersects ----------------------------------------------


def _pair(a: dict[str, Any], b: dict[str, Any]) -> list[ops.StrategicConflict]:
    index = OperationIndex([op(a, id="A", party="a")])
    return index.conflicts(op(b, id="B", party="b"))


def test_touching_edges_do_not_conflict() -> None:
    assert _pair(feature(box(5, 43, 6, 44)), feature(box(6, 43, 7, 44))) == []
    # a shared edge with different vertices along it
    assert _pair(feature(box(5, 43, 6, 44)), feature(box(6, 43.5, 7, 45))) == []
    # a shared corner
    assert _pair(feature(box(5, 43, 6, 44)), feature(box(6, 44, 7, 45))) == []
    # a sliver of overlap does
    assert len(_pair(feature(box(5, 43, 6, 44)), feature(box(5.999999, 43, 7, 44)))) == 1


def test_altitude_bands_sharing_a_boundary_do_not_conflict() -> None:
    low = feature(lower_ft=0, upper_ft=400)
    assert _pair(low, feature(lower_ft=400, upper_ft=1000)) == []
    (c,) = _pair(low, feature(lower_ft=399, upper_ft=1000))
    assert c.lower_m == pytest.approx(399 * 0.3048)
    assert c.upper_m == pytest.approx(400 * 0.3048)
    # the same altitude, in another unit, sharing the boundary exactly
    assert (
        _pair(
            feature(lower_m=0, upper_m=120, lower_ft=None, upper_ft=None),
            feature(lower_m=120, upper_m=300, lower_ft=None, upper_ft=None),
        )
        == []
    )


def test_time_windows_sharing_a_boundary_do_not_conflict() -> None:
    first = feature(start="2030-06-12T08:00:00Z", end="2030-06-12T10:00:00Z")
    assert _pair(first, feature(start="2030-06-12T10:00:00Z", end=END)) == []
    (c,) = _pair(first, feature(start="2030-06-12T09:59:59Z", end=END))
    assert c.start == datetime(2030, 6, 12, 9, 59, 59, tzinfo=UTC)
    assert c.end == datetime(2030, 6, 12, 10, tzinfo=UTC)


def test_disclosure_is_the_overlap_only() -> None:
    theirs = feature(box(5.0, 43.0, 5.2, 43.2), fid="secret-route", lower_ft=0, upper_ft=5000)
    mine = feature(
        box(5.1, 43.1, 5.3, 43.3),
        fid="survey",
        lower_ft=2000,
        upper_ft=9000,
        start="2030-06-12T10:00:00Z",
        end="2030-06-12T14:00:00Z",
    )
    index = OperationIndex([op(theirs, id="strike-package", party="red", name="Secret")])
    (c,) = index.conflicts(op(mine, id="photo", party="blue"))
    expected = shapely.box(5.1, 43.1, 5.2, 43.2)
    assert shapely.equals(c.region, expected)
    assert not shapely.equals(c.region, shapely.box(5.0, 43.0, 5.2, 43.2))
    assert (c.lower_m, c.upper_m) == pytest.approx((2000 * 0.3048, 5000 * 0.3048))
    assert (c.start, c.end) == (
        datetime(2030, 6, 12, 10, tzinfo=UTC),
        datetime(2030, 6, 12, 12, tzinfo=UTC),
    )

    blue = c.disclosed_to("blue")
    assert (blue.party, blue.other_party, blue.operation_id, blue.volume_id) == (
        "blue",
        "red",
        "photo",
        "survey",
    )
    red = c.disclosed_to("red").to_dict()
    assert (red["operation_id"], red["volume_id"], red["other_party"]) == (
        "strike-package",
        "secret-route",
        "blue",
    )
    assert shapely.equals(shapely.geometry.shape(red["region"]), expected)
    assert red["start"] == "2030-06-12T10:00:00Z"
    assert red["end"] == END
    # Nothing of red's operation but the overlap reaches blue.
    text = json.dumps(blue.to_dict())
    for secret in ("strike-package", "secret-route", "Secret", "5.0, 43.0"):
        assert secret not in text
    assert set(blue.to_dict()) == {
        "conflict_id",
        "party",
        "other_party",
        "operation_id",
        "volume_id",
        "region",
        "lower_m",
        "upper_m",
        "start",
        "end",
    }
    assert c.disclosed_to("red").conflict_id == blue.conflict_id
    with pytest.raises(OperationsError, match="party 'green' is not in this conflict"):
        c.disclosed_to("green")


def test_the_conflict_id_is_the_same_from_both_sides() -> None:
    a = op(feature(fid="x"), id="A", party="a")
    b = op(feature(fid="y"), id="B", party="b")
    (ab,) = OperationIndex([a]).conflicts(b)
    (ba,) = OperationIndex([b]).conflicts(a)
    assert ab.conflict_id == ba.conflict_id
    assert (ab.party, ba.party) == ("b", "a")


def test_own_party_and_own_operation_never_conflict() -> None:
    a = op(feature(), id="A", party="a")
    index = OperationIndex([a])
    assert index.conflicts(op(feature(), id="A2", party="a")) == []
    assert index.conflicts(a, party="b") == []  # the operation itself is skipped
    assert len(index.conflicts(op(feature(), id="A2", party="a"), party="b")) == 1


def test_one_conflict_per_pair_of_volumes() -> None:
    filed = op(
        feature(box(5, 43, 6, 44), fid="w"), feature(box(7, 43, 8, 44), fid="e"), id="A", party="a"
    )
    new = op(
        feature(box(5.5, 43.5, 7.5, 43.6), fid="long"),
        feature(fid="far", lower_ft=5000, upper_ft=6000),
        id="B",
        party="b",
    )
    conflicts = OperationIndex([filed]).conflicts(new)
    assert [(c.volume_id, c.other_volume_id) for c in conflicts] == [("long", "w"), ("long", "e")]
    assert shapely.equals(conflicts[1].region, shapely.box(7, 43.5, 7.5, 43.6))


def test_index_matches_the_naive_check_with_pending_and_built_rows() -> None:
    rng = np.random.default_rng(7)

    def random_op(k: int) -> Operation:
        features = []
        for j in range(3):
            lon, lat = rng.uniform(5, 6), rng.uniform(43, 44)
            lower = float(rng.integers(0, 40) * 100)
            start = datetime(2030, 6, 12, tzinfo=UTC) + timedelta(hours=int(rng.integers(0, 12)))
            props = {
                "lower_ft": lower,
                "upper_ft": lower + float(rng.integers(1, 20) * 100),
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
            }
            if j == 0:
                geometry = {"type": "Point", "coordinates": [lon, lat]}
                props["radius_m"] = float(rng.uniform(500, 8000))
            else:
                geometry = box(lon, lat, lon + rng.uniform(0.01, 0.2), lat + rng.uniform(0.01, 0.2))
            features.append(feature(geometry, fid=f"v{j}", **props))
        return op(*features, id=f"op{k}", party=f"p{k % 5}")

    filed = [random_op(k) for k in range(200)]
    index = OperationIndex(filed[:150], rebuild_after=20)
    for extra in filed[150:]:  # leaves some rows pending, outside the tree
        index.add(extra)
    index.remove("op3")
    index.set_state("op4", "active")
    index.set_state("op4", "ended")
    live = [o for o in filed if o.id not in ("op3", "op4")]
    for k in range(200, 230):
        new = random_op(k)
        got = {(c.volume_id, c.other_operation_id, c.other_volume_id) for c in index.conflicts(new)}
        want = set()
        for other in live:
            if other.party == new.party:
                continue
            for v in new.volumes:
                for w in other.volumes:
                    if (
                        shapely.relate_pattern(v.geometry, w.geometry, "T********")
                        and v.lower_m < w.upper_m
                        and w.lower_m < v.upper_m
                        and v.start < w.end
                        and w.start < v.end
                    ):
                        want.add((v.id, other.id, w.id))
        assert got == want


# -- the state machine and changes -----------------------------------------------------


def test_state_transitions() -> None:
    index = OperationIndex([op(feature(), id="A", party="a")])
    assert index.set_state("A", "active").state == "active"
    assert index.get("A").state == "active"
    with pytest.raises(TransitionError) as info:
        index.set_state("A", "planned")
    assert info.value.valid == ("ended", "cancelled")
    assert str(info.value) == (
        "operation 'A': is 'active' and cannot become 'planned'; "
        "valid next states: 'ended', 'cancelled'"
    )
    index.set_state("A", "ended")
    with pytest.raises(TransitionError, match="valid next states: none, 'ended' is final"):
        index.set_state("A", "active")
    with pytest.raises(TransitionError, match="'flying' is not a valid state, must be one of"):
        op(feature()).with_state("flying")
    assert op(feature()).with_state("cancelled").state == "cancelled"


def test_ended_and_cancelled_operations_do_not_conflict() -> None:
    index = OperationIndex([op(feature(), id="A", party="a"), op(feature(), id="C", party="c")])
    new = op(feature(), id="B", party="b")
    assert [c.other_operation_id for c in index.conflicts(new)] == ["A", "C"]
    index.set_state("A", "active")
    index.set_state("A", "ended")
    index.set_state("C", "cancelled")
    assert index.conflicts(new) == []
    assert index.conflicts(new.with_state("cancelled")) == []
    assert index.volume_count == 0
    assert len(index) == 2


def test_update_replaces_volumes_and_keeps_state() -> None:
    index = OperationIndex([op(feature(box(5, 43, 6, 44)), id="A", party="a")])
    index.set_state("A", "active")
    new = op(feature(box(5.5, 43.5, 6.5, 44.5)), id="B", party="b")
    assert len(index.conflicts(new)) == 1
    moved = index.update(op(feature(box(8, 43, 9, 44)), id="A", party="a"))
    assert moved.state == "active"
    assert index.conflicts(new) == []
    assert len(index.conflicts_of("A")) == 0
    index.add(new)
    assert [c.other_operation_id for c in index.conflicts_of("B")] == []
    index.update(op(feature(box(6, 43.6, 7, 44)), id="A", party="a"))
    assert [c.other_operation_id for c in index.conflicts_of("B")] == ["A"]
    with pytest.raises(OperationsError, match="was filed by 'a'; 'b' cannot change it"):
        index.update(op(feature(), id="A", party="b"))
    index.set_state("A", "ended")
    with pytest.raises(OperationsError, match="is 'ended'; it can no longer change"):
        index.update(op(feature(), id="A", party="a"))


def test_add_remove_and_refusals() -> None:
    index = OperationIndex()
    stored = index.add(op(feature(), id="A", party=None), party="a")  # type: ignore[arg-type]
    assert stored.party == "a"
    assert "A" in index
    assert len(index) == 1
    with pytest.raises(OperationsError, match="is already filed"):
        index.add(stored)
    with pytest.raises(OperationsError, match="has no party"):
        index.add(parse_operation(collection(feature(), id="B"), now=NOW))
    with pytest.raises(OperationsError, match="has no id"):
        index.add(parse_operation(collection(feature()), now=NOW), party="a")
    assert index.remove("A") is stored
    with pytest.raises(OperationsError, match="'A': no such operation in the index"):
        index.get("A")
    assert list(index) == []


# -- the command line --------------------------------------------------------------------


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SKYSEP, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_check_lists_the_volumes() -> None:
    result = run("ops", "check", EXAMPLE, "--now", "2030-01-01T00:00:00Z")
    assert result.returncode == 0, result.stderr
    assert "drop-zone" in result.stdout
    assert "scooping" in result.stdout
    assert "0-3,500 ft" in result.stdout
    assert "valid, 2 volume(s)" in result.stdout


def test_cli_check_reports_every_problem(tmp_path: Path) -> None:
    plan = tmp_path / "plan.geojson"
    plan.write_text(json.dumps(collection(feature(lower_ft=9000), feature(end=START, start=END))))
    result = run("ops", "check", plan, "--now", "2030-01-01T00:00:00Z")
    assert result.returncode == 2
    assert "features[0]: properties.lower_ft: 9000 is not below upper_ft 3000" in result.stderr
    assert "features[1]: properties.end" in result.stderr
    past = run("ops", "check", EXAMPLE, "--now", "2031-01-01T00:00:00Z")
    assert past.returncode == 2
    assert "is in the past" in past.stderr


def test_cli_conflicts_between_files(tmp_path: Path) -> None:
    other = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    other["operation"] = {"id": "news-heli", "party": "tv5"}
    other["features"] = [feature(box(5.60, 43.50, 5.70, 43.60), fid="orbit")]
    path = tmp_path / "news.geojson"
    path.write_text(json.dumps(other))
    result = run("ops", "conflicts", EXAMPLE, path, "--now", "2030-01-01T00:00:00Z")
    assert result.returncode == 1, result.stderr
    assert "1 strategic conflict(s)" in result.stdout
    assert "tv5: news-heli/orbit" in result.stdout
    assert "sdis13: fire-ops-0612/drop-zone" in result.stdout
    alone = run("ops", "conflicts", EXAMPLE, "--now", "2030-01-01T00:00:00Z")
    assert alone.returncode == 0
    assert "no strategic conflicts" in alone.stdout
