"""The catalogue of standard encounters: one place that the engine tests parametrise over.

Each :class:`Encounter` is a snapshot of two aircraft, ``"A"`` and ``"B"``, an
agreement, whether the pair is a conflict, and the values the engine must
report where they are known analytically (each with its tolerance).

Positions are built on the WGS84 ellipsoid with :class:`pyproj.Geod`:
:func:`offset` goes ``east_m`` from a reference point along the geodesic that
leaves it due east (or west), then ``north_m`` along the meridian, so that
aircraft with the same east offset share a meridian exactly and distances
along a meridian are exact geodesic lengths. Tracks towards a point are the
geodesic azimuths (:func:`track_to`), so an aircraft "heading for" a point
passes over it to within centimetres in the engine's straight-line model.

Tolerances: the engine's horizontal distance is the chord between surface
points projected on the pair's mean tangent plane, shorter than the geodesic
by s³/24R² (5 cm at 20 NM), and each aircraft flies straight in its own tangent
plane, so analytic times derived on a flat plane hold to about a millisecond
for the regional encounters; 0.05 s is used unless stated otherwise. Values
the engine computes exactly (``t_in_s = 0``, ``t_out_s = inf``, vertical-only
crossings) have tolerance 0 or 1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

import numpy as np
from pyproj import Geod

from skysep import units
from skysep.agreement import Agreement, from_mapping, loads, preset
from skysep.engine import Conflicts, States

GEOD: Final = Geod(ellps="WGS84")

INF: Final = math.inf

#: (expected value, absolute tolerance) of one field of :class:`skysep.engine.Conflicts`.
Expected = tuple[float, float]

ICAO_5NM: Final = preset("icao-5nm")
H_5NM: Final = units.nm_to_m(5.0)
V_1000FT: Final = units.ft_to_m(1000.0)

KT450: Final = units.kt_to_mps(450.0)


def fl(level: float) -> float:
    """Altitude (m) of a flight level (hundreds of feet)."""
    return units.ft_to_m(level * 100.0)


def _parties_agreement(check_same_party: bool) -> Agreement:
    return loads(
        f"""
name = "Two parties"
horizontal_nm = 5
vertical_ft = 1000
check_same_party = {str(check_same_party).lower()}

[[parties]]
id = "north"

[[parties]]
id = "south"

[[pairs]]
parties = ["north", "south"]
horizontal_nm = 3
vertical_ft = 3000
""",
        "two-parties",
    )


#: 5 NM / 1000 ft between parties, 3 NM / 3000 ft between north and south.
PARTIES: Final = _parties_agreement(check_same_party=True)
PARTIES_UNCHECKED: Final = _parties_agreement(check_same_party=False)

#: A vertical minimum whose reduced value (``V - AT_MINIMUM_TOLERANCE_M``) is
#: exactly 100.0 m, so that vertical-only crossings give exactly
#: representable times: with a closing rate of 10 m/s from ``100 + 10 t`` m
#: the loss of separation starts at exactly ``t`` s.
V_EXACT_M: Final = 100.000001
EXACT: Final = from_mapping({"horizontal_m": H_5NM, "vertical_m": V_EXACT_M}, "exact")


@dataclass(frozen=True)
class Aircraft:
    """One aircraft of an encounter (SI units, degrees)."""

    id: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    gs_mps: float = 0.0
    track_deg: float = 0.0
    vs_mps: float = 0.0
    party: str | None = None


@dataclass(frozen=True)
class Encounter:
    """A standard encounter and what the engine must say about it."""

    name: str
    states: States
    agreement: Agreement
    expect_conflict: bool
    #: Field of :class:`~skysep.engine.Conflicts` -> (value, absolute tolerance).
    expect: Mapping[str, Expected] = field(default_factory=lambda: MappingProxyType({}))
    #: Expected alert level, where it is not on a threshold.
    level: str | None = None
    #: Why the expectation holds, where it is not obvious.
    note: str = ""

    def __str__(self) -> str:
        return self.name


def offset(ref_lat: float, ref_lon: float, east_m: float, north_m: float) -> tuple[float, float]:
    """(lat, lon) reached from a reference point: ``east_m`` east, then ``north_m`` north.

    The east leg is the geodesic leaving the reference point due east (west
    when negative); the north leg follows the meridian, across the pole if it
    is long enough.
    """
    lat, lon = ref_lat, ref_lon
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90.0 if east_m > 0 else 270.0, abs(east_m))
    if north_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0 if north_m > 0 else 180.0, abs(north_m))
    return float(lat), float(lon)


def track_to(lat: float, lon: float, lat2: float, lon2: float) -> float:
    """True track (degrees in [0, 360)) of the geodesic from one point towards another."""
    azimuth, _, _ = GEOD.inv(lon, lat, lon2, lat2)
    return float(azimuth) % 360.0


def geodesic_m(lat: float, lon: float, lat2: float, lon2: float) -> float:
    """Geodesic distance (m) between two points on the WGS84 ellipsoid."""
    _, _, distance = GEOD.inv(lon, lat, lon2, lat2)
    return float(distance)


def make_states(aircraft: Sequence[Aircraft]) -> States:
    """A :class:`States` of the given aircraft, in the given order."""

    def column(name: str) -> np.ndarray:
        return np.array([getattr(a, name) for a in aircraft], dtype=np.float64)

    parties = [a.party for a in aircraft]
    return States(
        aircraft=np.array([a.id for a in aircraft], dtype=object),
        lat_deg=column("lat_deg"),
        lon_deg=column("lon_deg"),
        alt_m=column("alt_m"),
        gs_mps=column("gs_mps"),
        track_deg=column("track_deg"),
        vs_mps=column("vs_mps"),
        party=None if all(p is None for p in parties) else np.array(parties, dtype=object),
    )


def reversed_states(states: States) -> States:
    """The same snapshot with the aircraft in reverse order."""
    flip = slice(None, None, -1)
    return States(
        aircraft=states.aircraft[flip],
        lat_deg=states.lat_deg[flip],
        lon_deg=states.lon_deg[flip],
        alt_m=states.alt_m[flip],
        gs_mps=states.gs_mps[flip],
        track_deg=states.track_deg[flip],
        vs_mps=states.vs_mps[flip],
        party=None if states.party is None else states.party[flip],
    )


def _encounter(
    name: str,
    aircraft: Sequence[Aircraft],
    agreement: Agreement = ICAO_5NM,
    *,
    conflict: bool,
    level: str | None = None,
    note: str = "",
    expect: Mapping[str, Expected] | None = None,
    **more: Expected,
) -> Encounter:
    return Encounter(
        name=name,
        states=make_states(aircraft),
        agreement=agreement,
        expect_conflict=conflict,
        expect=MappingProxyType({**(expect or {}), **more}),
        level=level,
        note=note,
    )


# --------------------------------------------------------------------------- #
# Builders. Times in s, distances in m; tolerances T and D unless stated.
T: Final = 0.05
D: Final = 0.1


def head_on() -> Encounter:
    """20 NM apart on one meridian, 450 kt each, closing: t_in = 15 NM / 900 kt = 60 s."""
    ref = (45.0, 10.0)
    half = units.nm_to_m(10.0)
    alt = fl(350)
    a = Aircraft("A", *offset(*ref, 0.0, -half), alt, KT450, 0.0)
    b = Aircraft("B", *offset(*ref, 0.0, half), alt, KT450, 180.0)
    closing = 2.0 * KT450
    distance = 2.0 * half
    return _encounter(
        "head-on",
        [a, b],
        conflict=True,
        t_in_s=((distance - H_5NM) / closing, T),
        t_cpa_s=(distance / closing, T),
        t_out_s=((distance + H_5NM) / closing, T),
        h_cpa_m=(0.0, D),
        v_cpa_m=(0.0, 0.0),
        h_now_m=(distance, 1e-4 * distance),
        v_now_m=(0.0, 0.0),
        note="t_in is 60 s, on the warning threshold: the level is not checked",
    )


def _crossing(
    ref: tuple[float, float], speed_mps: float, leg_m: float, alt: float = fl(330)
) -> tuple[Aircraft, Aircraft, dict[str, Expected]]:
    """A from the west and B from the south, both over ``ref`` after ``leg_m / speed``."""
    lat_a, lon_a = offset(*ref, -leg_m, 0.0)
    lat_b, lon_b = offset(*ref, 0.0, -leg_m)
    a = Aircraft("A", lat_a, lon_a, alt, speed_mps, track_to(lat_a, lon_a, *ref))
    b = Aircraft("B", lat_b, lon_b, alt, speed_mps, 0.0)
    half_width = H_5NM / math.sqrt(2.0)  # at 90 degrees, h(t) = sqrt(2) |leg - v t|
    expect: dict[str, Expected] = {
        "t_in_s": ((leg_m - half_width) / speed_mps, T),
        "t_cpa_s": (leg_m / speed_mps, T),
        "t_out_s": ((leg_m + half_width) / speed_mps, T),
        "h_cpa_m": (0.0, D),
        "h_now_m": (geodesic_m(lat_a, lon_a, lat_b, lon_b), 1e-4 * math.sqrt(2.0) * leg_m),
    }
    return a, b, expect


def crossing_90() -> Encounter:
    """12 NM legs at 420 kt, meeting over the reference point at 90 degrees."""
    speed = units.kt_to_mps(420.0)
    a, b, expect = _crossing((50.0, 5.0), speed, units.nm_to_m(12.0))
    return _encounter("crossing-90", [a, b], conflict=True, level="caution", expect=expect)


def high_latitude_crossing() -> Encounter:
    """The 90-degree crossing at 80 N, where the meridians converge fast."""
    speed = units.kt_to_mps(420.0)
    a, b, expect = _crossing((80.0, 60.0), speed, units.nm_to_m(12.0))
    return _encounter(
        "high-latitude-crossing", [a, b], conflict=True, level="caution", expect=expect
    )


def overtaking() -> Encounter:
    """Same track, 10 NM in trail, 480 kt behind 280 kt: closing at 200 kt."""
    ref = (40.0, -30.0)
    alt = fl(310)
    lead = Aircraft("B", *offset(*ref, 0.0, 0.0), alt, units.kt_to_mps(280.0), 0.0)
    chaser = Aircraft("A", *offset(*ref, 0.0, -units.nm_to_m(10.0)), alt, units.kt_to_mps(480.0))
    closing = units.kt_to_mps(200.0)
    gap = units.nm_to_m(10.0)
    return _encounter(
        "overtaking",
        [chaser, lead],
        conflict=True,
        level="caution",
        t_in_s=((gap - H_5NM) / closing, T),  # 90 s
        t_cpa_s=(gap / closing, T),  # 180 s
        t_out_s=((gap + H_5NM) / closing, T),  # 270 s
        h_cpa_m=(0.0, D),
        h_now_m=(gap, 1e-4 * gap),
    )


def climbing_through() -> Encounter:
    """B, right below A on the same path, climbs through A's level at 1500 ft/min.

    3000 ft below: the loss starts after 2000 ft (80 s) and ends after 4000 ft
    (160 s). The horizontal distance is 0 throughout (identical positions and
    velocities), so t_cpa = 0.
    """
    lat, lon = 35.0, 20.0
    a = Aircraft("A", lat, lon, fl(300), KT450, 60.0)
    b = Aircraft("B", lat, lon, fl(270), KT450, 60.0, units.fpm_to_mps(1500.0))
    return _encounter(
        "climbing-through",
        [a, b],
        conflict=True,
        level="caution",
        t_in_s=(80.0, 1e-6),
        t_out_s=(160.0, 1e-6),
        t_cpa_s=(0.0, 0.0),
        h_cpa_m=(0.0, 0.0),
        v_cpa_m=(units.ft_to_m(3000.0), 1e-6),
        h_now_m=(0.0, 0.0),
        v_now_m=(units.ft_to_m(3000.0), 1e-6),
    )


def climbing_while_crossing() -> Encounter:
    """A 90-degree crossing (10 NM legs, 400 kt) where B climbs through A's level.

    Horizontally the loss lasts from 58.2 s to 121.8 s; vertically (2500 ft
    below, 1000 ft/min) from 90 s to 210 s: it starts with the vertical and
    ends with the horizontal.
    """
    speed = units.kt_to_mps(400.0)
    leg = units.nm_to_m(10.0)
    a, b, expect = _crossing((-33.0, 151.0), speed, leg, alt=fl(300))
    climb = units.fpm_to_mps(1000.0)
    b = Aircraft(b.id, b.lat_deg, b.lon_deg, fl(275), b.gs_mps, b.track_deg, climb)
    expect["t_in_s"] = (units.ft_to_m(1500.0) / climb, 1e-6)  # 90 s
    expect["v_now_m"] = (units.ft_to_m(2500.0), 1e-6)
    expect["v_cpa_m"] = (units.ft_to_m(1000.0), climb * T)  # at t_cpa = 90 s
    return _encounter(
        "climbing-while-crossing", [a, b], conflict=True, level="caution", expect=expect
    )


def _parallel(name: str, lateral_m: float) -> Encounter:
    """Opposite tracks on two meridians ``lateral_m`` apart, 20 NM in trail, 450 kt each."""
    ref = (20.0, 100.0)
    along = units.nm_to_m(10.0)
    alt = fl(370)
    a = Aircraft("A", *offset(*ref, -lateral_m / 2.0, -along), alt, KT450, 0.0)
    b = Aircraft("B", *offset(*ref, lateral_m / 2.0, along), alt, KT450, 180.0)
    closing = 2.0 * KT450
    inside = lateral_m < H_5NM
    expect: dict[str, Expected] = {}
    if inside:
        width = math.sqrt(H_5NM**2 - lateral_m**2)  # along-track length of the loss
        expect = {
            "t_in_s": ((2.0 * along - width) / closing, T),
            "t_out_s": ((2.0 * along + width) / closing, T),
            "t_cpa_s": (along / KT450, T),
            "h_cpa_m": (lateral_m, 0.5),
        }
    return _encounter(
        name, [a, b], conflict=inside, level="caution" if inside else None, expect=expect
    )


def parallel_just_outside() -> Encounter:
    return _parallel("parallel-just-outside", H_5NM + 100.0)


def parallel_just_inside() -> Encounter:
    return _parallel("parallel-just-inside", H_5NM - 100.0)


def _equator_side_by_side(lateral_m: float) -> tuple[float, float, float]:
    """Latitude 0 and two longitudes ``lateral_m`` apart along the equator."""
    lon = 40.0
    lat2, lon2 = offset(0.0, lon, lateral_m, 0.0)
    assert lat2 == 0.0  # the equator is a geodesic
    return 0.0, lon, lon2


def identical_velocities_inside() -> Encounter:
    """3 NM apart on the equator, both north at 450 kt: identical ECEF velocities.

    On the equator the north vectors of any two longitudes are both the
    Earth's axis, so the relative velocity is exactly zero: the loss never
    ends.
    """
    lat, lon, lon2 = _equator_side_by_side(units.nm_to_m(3.0))
    a = Aircraft("A", lat, lon, fl(350), KT450, 0.0)
    b = Aircraft("B", lat, lon2, fl(350), KT450, 0.0)
    return _encounter(
        "identical-velocities-inside",
        [a, b],
        conflict=True,
        level="warning",
        t_in_s=(0.0, 0.0),
        t_out_s=(INF, 0.0),
        t_cpa_s=(0.0, 0.0),
        h_cpa_m=(units.nm_to_m(3.0), 0.01),
        h_now_m=(units.nm_to_m(3.0), 0.01),
    )


def identical_velocities_outside_horizontally() -> Encounter:
    lat, lon, lon2 = _equator_side_by_side(units.nm_to_m(6.0))
    a = Aircraft("A", lat, lon, fl(350), KT450, 0.0)
    b = Aircraft("B", lat, lon2, fl(350), KT450, 0.0)
    return _encounter("identical-velocities-outside-h", [a, b], conflict=False)


def identical_velocities_outside_vertically() -> Encounter:
    a = Aircraft("A", 12.0, 34.0, fl(350), KT450, 123.0)
    b = Aircraft("B", 12.0, 34.0, fl(370), KT450, 123.0)
    return _encounter("identical-velocities-outside-v", [a, b], conflict=False)


def identical_velocities_at_50n() -> Encounter:
    """Side by side 3 NM apart at 50 N, both north at 450 kt: the meridians converge.

    Same ground speed and true track is not the same velocity away from the
    equator: B (east) drifts towards A at v tan(lat) d / N (0.24 m/s), so the
    distance falls by 72 m over the lookahead (t_cpa = T) and the loss ends,
    in the straight-line model, after about 17 hours, well beyond the lookahead.
    """
    lat0 = 50.0
    lateral = units.nm_to_m(3.0)
    lat, lon = offset(lat0, 0.0, 0.0, 0.0)
    lat2, lon2 = offset(lat0, 0.0, lateral, 0.0)
    a = Aircraft("A", lat, lon, fl(350), KT450, 0.0)
    b = Aircraft("B", lat2, lon2, fl(350), KT450, 0.0)
    prime_vertical = GEOD.a / math.sqrt(1.0 - GEOD.es * math.sin(math.radians(lat0)) ** 2)
    drift = KT450 * math.tan(math.radians(lat0)) * lateral / prime_vertical
    lookahead = ICAO_5NM.lookahead_s
    return _encounter(
        "identical-velocities-50n",
        [a, b],
        conflict=True,
        level="warning",
        t_in_s=(0.0, 0.0),
        t_cpa_s=(lookahead, 0.0),
        h_cpa_m=(lateral - drift * lookahead, 0.5),
        t_out_s=((lateral + H_5NM) / drift, 0.01 * (lateral + H_5NM) / drift),
        note="meridians converge: same track is not the same velocity",
    )


def zero_speed_inside() -> Encounter:
    lat, lon = -60.0, -70.0
    lat2, lon2 = offset(lat, lon, units.nm_to_m(4.0), 0.0)
    a = Aircraft("A", lat, lon, fl(200))
    b = Aircraft("B", lat2, lon2, fl(200))
    return _encounter(
        "zero-speed-inside",
        [a, b],
        conflict=True,
        level="warning",
        t_in_s=(0.0, 0.0),
        t_out_s=(INF, 0.0),
        t_cpa_s=(0.0, 0.0),
        h_cpa_m=(units.nm_to_m(4.0), 0.01),
        h_now_m=(units.nm_to_m(4.0), 0.01),
    )


def zero_speed_outside() -> Encounter:
    lat, lon = -60.0, -70.0
    lat2, lon2 = offset(lat, lon, units.nm_to_m(6.0), 0.0)
    a = Aircraft("A", lat, lon, fl(200))
    b = Aircraft("B", lat2, lon2, fl(200))
    return _encounter("zero-speed-outside", [a, b], conflict=False)


def identical_positions() -> Encounter:
    """Same point and altitude, one north and one east at 450 kt: apart at v sqrt(2)."""
    a = Aircraft("A", 10.0, -80.0, fl(250), KT450, 0.0)
    b = Aircraft("B", 10.0, -80.0, fl(250), KT450, 90.0)
    return _encounter(
        "identical-positions",
        [a, b],
        conflict=True,
        level="warning",
        t_in_s=(0.0, 0.0),
        t_out_s=(H_5NM / (KT450 * math.sqrt(2.0)), 1e-6),
        t_cpa_s=(0.0, 0.0),
        h_cpa_m=(0.0, 0.0),
        h_now_m=(0.0, 0.0),
        v_now_m=(0.0, 0.0),
    )


def identical_positions_and_velocities() -> Encounter:
    a = Aircraft("A", -10.0, 80.0, fl(250), KT450, 200.0, 3.0)
    b = Aircraft("B", -10.0, 80.0, fl(250), KT450, 200.0, 3.0)
    return _encounter(
        "identical-states",
        [a, b],
        conflict=True,
        level="warning",
        t_in_s=(0.0, 0.0),
        t_out_s=(INF, 0.0),
        h_cpa_m=(0.0, 0.0),
        v_cpa_m=(0.0, 0.0),
    )


def _level_pair(name: str, alt_a_m: float, alt_b_m: float, conflict: bool) -> Encounter:
    """Same point and velocity, level, at two altitudes."""
    a = Aircraft("A", 52.0, 4.0, alt_a_m, KT450, 270.0)
    b = Aircraft("B", 52.0, 4.0, alt_b_m, KT450, 270.0)
    expect: dict[str, Expected] = {}
    if conflict:
        expect = {"t_in_s": (0.0, 0.0), "t_out_s": (INF, 0.0)}
    return _encounter(name, [a, b], conflict=conflict, expect=expect)


def exactly_v_fl300_fl310() -> Encounter:
    """31,000 ft and 30,000 ft given in feet: exactly V apart, not a loss."""
    return _level_pair("exactly-v-fl300-fl310", fl(300), fl(310), conflict=False)


def exactly_v_fl030_fl040() -> Encounter:
    """4000 ft and 3000 ft: in metres their difference rounds to just below 304.8 m."""
    assert fl(40) - fl(30) < V_1000FT
    return _level_pair("exactly-v-fl030-fl040", fl(30), fl(40), conflict=False)


def exactly_v_from_zero() -> Encounter:
    return _level_pair("exactly-v-0ft-1000ft", 0.0, units.ft_to_m(1000.0), conflict=False)


def just_inside_v() -> Encounter:
    return _level_pair("just-inside-v", fl(300), units.ft_to_m(30999.0), conflict=True)


def _equator_at_distance(chord_m: float) -> tuple[float, float]:
    """Two longitudes on the equator whose ECEF chord is ``chord_m``.

    On the equator the surface is a circle of radius a, the mean normal of
    two points is orthogonal to their chord, and the engine's horizontal
    distance is the chord 2 a sin(dlon / 2) up to rounding (~1e-9 m).
    """
    half = math.degrees(math.asin(chord_m / (2.0 * GEOD.a)))
    return -half, half


def exactly_h_stationary() -> Encounter:
    """Exactly H apart (as exactly as geometry allows: see _equator_at_distance), not moving."""
    west, east = _equator_at_distance(H_5NM)
    a = Aircraft("A", 0.0, west, fl(300))
    b = Aircraft("B", 0.0, east, fl(300))
    return _encounter("exactly-h-stationary", [a, b], conflict=False)


def exactly_h_diverging() -> Encounter:
    """Exactly H apart and moving apart (A west, B east): never a loss."""
    west, east = _equator_at_distance(H_5NM)
    a = Aircraft("A", 0.0, west, fl(300), KT450, 270.0)
    b = Aircraft("B", 0.0, east, fl(300), KT450, 90.0)
    return _encounter("exactly-h-diverging", [a, b], conflict=False)


def exactly_h_parallel() -> Encounter:
    """Exactly H apart, both north on the equator: identical velocities, never a loss."""
    west, east = _equator_at_distance(H_5NM)
    a = Aircraft("A", 0.0, west, fl(300), KT450, 0.0)
    b = Aircraft("B", 0.0, east, fl(300), KT450, 0.0)
    return _encounter("exactly-h-parallel", [a, b], conflict=False)


def just_inside_h() -> Encounter:
    """10 micrometres inside H (ten times the tolerance), not moving: a loss forever."""
    west, east = _equator_at_distance(H_5NM - 1e-5)
    a = Aircraft("A", 0.0, west, fl(300))
    b = Aircraft("B", 0.0, east, fl(300))
    return _encounter(
        "just-inside-h",
        [a, b],
        conflict=True,
        t_in_s=(0.0, 0.0),
        t_out_s=(INF, 0.0),
        h_now_m=(H_5NM - 1e-5, 1e-7),
    )


def already_in_los() -> Encounter:
    """3 NM apart and closing head-on at 900 kt: t_in = 0, out after (3 + 5) NM / 900 kt."""
    ref = (-20.0, -45.0)
    half = units.nm_to_m(1.5)
    a = Aircraft("A", *offset(*ref, 0.0, -half), fl(280), KT450, 0.0)
    b = Aircraft("B", *offset(*ref, 0.0, half), fl(280), KT450, 180.0)
    closing = 2.0 * KT450
    return _encounter(
        "already-in-los",
        [a, b],
        conflict=True,
        level="warning",
        t_in_s=(0.0, 0.0),
        t_cpa_s=(2.0 * half / closing, T),
        t_out_s=((2.0 * half + H_5NM) / closing, T),
        h_now_m=(2.0 * half, 1e-4 * 2.0 * half),
    )


def _head_on_at(name: str, distance_nm: float, conflict: bool, level: str | None) -> Encounter:
    ref = (30.0, 30.0)
    half = units.nm_to_m(distance_nm / 2.0)
    a = Aircraft("A", *offset(*ref, 0.0, -half), fl(390), KT450, 0.0)
    b = Aircraft("B", *offset(*ref, 0.0, half), fl(390), KT450, 180.0)
    closing = 2.0 * KT450
    expect: dict[str, Expected] = {}
    if conflict:
        expect = {
            "t_in_s": ((2.0 * half - H_5NM) / closing, T),
            "t_cpa_s": (min(2.0 * half / closing, ICAO_5NM.lookahead_s), T),
        }
    return _encounter(name, [a, b], conflict=conflict, level=level, expect=expect)


def los_advisory() -> Encounter:
    """60 NM head-on at 900 kt: t_in = 55 NM / 900 kt = 220 s, an advisory."""
    return _head_on_at("los-advisory", 60.0, conflict=True, level="advisory")


def los_beyond_lookahead() -> Encounter:
    """90 NM head-on at 900 kt: t_in = 85 NM / 900 kt = 340 s > 300 s."""
    return _head_on_at("los-beyond-lookahead", 90.0, conflict=False, level=None)


def _vertical_exact(name: str, t_in: float, conflict: bool, level: str | None) -> Encounter:
    """B above A at the same point, descending at 10 m/s: the loss starts at exactly ``t_in``.

    With the agreement :data:`EXACT`, the reduced V is exactly 100.0 m and B is
    100 + 10 t_in m above A, so (V - dz) / dvz = t_in with no rounding.
    """
    a = Aircraft("A", 46.0, 7.0, 1000.0, KT450, 10.0)
    b = Aircraft("B", 46.0, 7.0, 1000.0 + 100.0 + 10.0 * t_in, KT450, 10.0, -10.0)
    expect: dict[str, Expected] = {}
    if conflict:
        expect = {"t_in_s": (t_in, 0.0), "t_out_s": (t_in + 20.0, 1e-9)}
    return _encounter(name, [a, b], EXACT, conflict=conflict, level=level, expect=expect)


def los_starts_exactly_at_warning() -> Encounter:
    return _vertical_exact("los-at-warning-threshold", 60.0, True, "warning")


def los_starts_just_after_warning() -> Encounter:
    return _vertical_exact("los-just-after-warning-threshold", 60.0625, True, "caution")


def los_starts_exactly_at_caution() -> Encounter:
    return _vertical_exact("los-at-caution-threshold", 120.0, True, "caution")


def los_starts_just_after_caution() -> Encounter:
    return _vertical_exact("los-just-after-caution-threshold", 120.0625, True, "advisory")


def los_starts_exactly_at_lookahead() -> Encounter:
    """The loss would start at t = T exactly: at T itself the pair is exactly at V, no loss."""
    return _vertical_exact("los-at-lookahead", 300.0, False, None)


def los_starts_just_before_lookahead() -> Encounter:
    return _vertical_exact("los-just-before-lookahead", 299.9375, True, "advisory")


def antimeridian_head_on() -> Encounter:
    """At 10 N, 179.9 E and 179.9 W (21.9 km apart), flying at each other across 180."""
    lat = 10.0
    lon_a, lon_b = 179.9, -179.9
    distance = geodesic_m(lat, lon_a, lat, lon_b)
    a = Aircraft("A", lat, lon_a, fl(330), KT450, track_to(lat, lon_a, lat, lon_b))
    b = Aircraft("B", lat, lon_b, fl(330), KT450, track_to(lat, lon_b, lat, lon_a))
    closing = 2.0 * KT450
    return _encounter(
        "antimeridian-head-on",
        [a, b],
        conflict=True,
        level="warning",
        t_in_s=((distance - H_5NM) / closing, T),
        t_cpa_s=(distance / closing, T),
        t_out_s=((distance + H_5NM) / closing, T),
        h_cpa_m=(0.0, D),
        h_now_m=(distance, 1e-4 * distance),
    )


def antimeridian_stationary() -> Encounter:
    """At 60 N, 179.95 E and 179.95 W: 5.6 km apart, not 20,000 km."""
    lat = 60.0
    distance = geodesic_m(lat, 179.95, lat, -179.95)
    a = Aircraft("A", lat, 179.95, fl(330))
    b = Aircraft("B", lat, -179.95, fl(330))
    return _encounter(
        "antimeridian-stationary",
        [a, b],
        conflict=True,
        t_in_s=(0.0, 0.0),
        t_out_s=(INF, 0.0),
        h_now_m=(distance, 1e-4 * distance),
    )


def _over_the_pole(name: str, lat: float, lon_b: float, agreement: Agreement) -> Encounter:
    """A at (lat, 0) and B at (lat, lon_b), both flying north, over the pole."""
    to_pole = geodesic_m(lat, 0.0, 90.0, 0.0)
    a = Aircraft("A", lat, 0.0, fl(350), KT450, 0.0)
    b = Aircraft("B", lat, lon_b, fl(350), KT450, 0.0)
    if lon_b == 180.0:  # head-on through the pole
        t_in = (2.0 * to_pole - H_5NM) / (2.0 * KT450)
        t_out = (2.0 * to_pole + H_5NM) / (2.0 * KT450)
    else:  # crossing at 90 degrees over the pole
        t_in = (to_pole - H_5NM / math.sqrt(2.0)) / KT450
        t_out = (to_pole + H_5NM / math.sqrt(2.0)) / KT450
    tol = 0.5 if lat < 89.5 else T  # tangent planes 1 degree apart at 89 N
    level = "advisory" if t_in > agreement.caution_s else "warning"
    return _encounter(
        name,
        [a, b],
        agreement,
        conflict=True,
        level=level,
        t_in_s=(t_in, tol),
        t_cpa_s=(to_pole / KT450, tol),
        t_out_s=(t_out, tol),
        h_cpa_m=(0.0, 2.0),
    )


def polar_head_on() -> Encounter:
    return _over_the_pole("polar-head-on-89.9", 89.9, 180.0, ICAO_5NM)


def polar_head_on_89() -> Encounter:
    """At 89 N on opposite sides (222 km apart): t_in 461 s, so a 600 s lookahead."""
    return _over_the_pole("polar-head-on-89", 89.0, 180.0, ICAO_5NM.with_lookahead(600.0))


def polar_crossing() -> Encounter:
    return _over_the_pole("polar-crossing", 89.9, 90.0, ICAO_5NM)


def polar_stationary() -> Encounter:
    """At 89.99 N on opposite sides of the pole: 2.2 km apart."""
    distance = geodesic_m(89.99, 0.0, 89.99, 180.0)
    a = Aircraft("A", 89.99, 0.0, fl(300))
    b = Aircraft("B", 89.99, 180.0, fl(300))
    return _encounter(
        "polar-stationary",
        [a, b],
        conflict=True,
        t_in_s=(0.0, 0.0),
        h_now_m=(distance, 1e-4 * distance),
    )


def _party_pair(
    name: str,
    agreement: Agreement,
    parties: tuple[str | None, str | None],
    lateral_nm: float,
    vertical_ft: float,
    conflict: bool,
    horizontal_m: float | None = None,
) -> Encounter:
    """Two stationary aircraft ``lateral_nm`` and ``vertical_ft`` apart."""
    lat, lon = 33.5, 36.3
    lat2, lon2 = offset(lat, lon, units.nm_to_m(lateral_nm), 0.0)
    a = Aircraft("A", lat, lon, fl(200), party=parties[0])
    b = Aircraft("B", lat2, lon2, fl(200) + units.ft_to_m(vertical_ft), party=parties[1])
    expect: dict[str, Expected] = {}
    if conflict and horizontal_m is not None:
        expect = {"horizontal_m": (horizontal_m, 0.0), "t_in_s": (0.0, 0.0)}
    return _encounter(name, [a, b], agreement, conflict=conflict, expect=expect)


def same_party_unchecked() -> Encounter:
    return _party_pair(
        "same-party-unchecked", PARTIES_UNCHECKED, ("north", "north"), 2.0, 0.0, False
    )


def same_party_checked() -> Encounter:
    return _party_pair("same-party-checked", PARTIES, ("north", "north"), 2.0, 0.0, True, H_5NM)


def other_party_unchecked() -> Encounter:
    """check_same_party = false does not affect pairs of two parties."""
    return _party_pair(
        "other-party-unchecked",
        PARTIES_UNCHECKED,
        ("north", "south"),
        2.0,
        0.0,
        True,
        units.nm_to_m(3.0),
    )


def no_party_unchecked() -> Encounter:
    """Two aircraft with no party are never "the same party"."""
    return _party_pair("no-party-unchecked", PARTIES_UNCHECKED, (None, None), 2.0, 0.0, True, H_5NM)


def override_horizontal() -> Encounter:
    """4 NM between north and south: outside their 3 NM override."""
    return _party_pair("override-4nm-north-south", PARTIES, ("north", "south"), 4.0, 0.0, False)


def override_horizontal_reversed() -> Encounter:
    """The override applies in either order of the parties."""
    return _party_pair("override-4nm-south-north", PARTIES, ("south", "north"), 4.0, 0.0, False)


def default_minima_for_no_party() -> Encounter:
    """4 NM between north and an aircraft of no party: inside the 5 NM default."""
    return _party_pair("default-4nm-north-none", PARTIES, ("north", None), 4.0, 0.0, True, H_5NM)


def override_vertical() -> Encounter:
    """1 NM and 2000 ft apart, north and south: inside their 3000 ft override."""
    return _party_pair(
        "override-2000ft-north-south",
        PARTIES,
        ("north", "south"),
        1.0,
        2000.0,
        True,
        units.nm_to_m(3.0),
    )


def default_vertical_for_same_party() -> Encounter:
    """1 NM and 2000 ft apart within north: outside the 1000 ft default."""
    return _party_pair(
        "default-2000ft-north-north", PARTIES, ("north", "north"), 1.0, 2000.0, False
    )


def undeclared_party() -> Encounter:
    """Parties need not be declared (docs/agreement.md): "east" gets the top-level minima."""
    return _party_pair("undeclared-party", PARTIES, ("east", "south"), 4.0, 0.0, True, H_5NM)


BUILDERS: Final = (
    head_on,
    crossing_90,
    high_latitude_crossing,
    overtaking,
    climbing_through,
    climbing_while_crossing,
    parallel_just_outside,
    parallel_just_inside,
    identical_velocities_inside,
    identical_velocities_outside_horizontally,
    identical_velocities_outside_vertically,
    identical_velocities_at_50n,
    zero_speed_inside,
    zero_speed_outside,
    identical_positions,
    identical_positions_and_velocities,
    exactly_v_fl300_fl310,
    exactly_v_fl030_fl040,
    exactly_v_from_zero,
    just_inside_v,
    exactly_h_stationary,
    exactly_h_diverging,
    exactly_h_parallel,
    just_inside_h,
    already_in_los,
    los_advisory,
    los_beyond_lookahead,
    los_starts_exactly_at_warning,
    los_starts_just_after_warning,
    los_starts_exactly_at_caution,
    los_starts_just_after_caution,
    los_starts_exactly_at_lookahead,
    los_starts_just_before_lookahead,
    antimeridian_head_on,
    antimeridian_stationary,
    polar_head_on,
    polar_head_on_89,
    polar_crossing,
    polar_stationary,
    same_party_unchecked,
    same_party_checked,
    other_party_unchecked,
    no_party_unchecked,
    override_horizontal,
    override_horizontal_reversed,
    default_minima_for_no_party,
    override_vertical,
    default_vertical_for_same_party,
    undeclared_party,
)

#: Every standard encounter, built once.
CATALOGUE: Final[tuple[Encounter, ...]] = tuple(build() for build in BUILDERS)

BY_NAME: Final[Mapping[str, Encounter]] = MappingProxyType({e.name: e for e in CATALOGUE})
assert len(BY_NAME) == len(CATALOGUE), "encounter names must be unique"


# --------------------------------------------------------------------------- #
# Helpers shared by the engine tests.

#: Every per-pair field of :class:`~skysep.engine.Conflicts`.
CONFLICT_FIELDS: Final = (
    "index_a",
    "index_b",
    "aircraft_a",
    "aircraft_b",
    "party_a",
    "party_b",
    "level_code",
    "t_in_s",
    "t_out_s",
    "t_cpa_s",
    "h_cpa_m",
    "v_cpa_m",
    "h_now_m",
    "v_now_m",
    "horizontal_m",
    "vertical_m",
)


def assert_identical(got: Conflicts, want: Conflicts) -> None:
    """Same pairs in the same order with bit-identical values (the same kernel computes both)."""
    assert len(got) == len(want)
    for name in CONFLICT_FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.shape == b.shape, name
        if a.dtype == object:
            assert a.tolist() == b.tolist(), name
        else:
            assert np.array_equal(a, b), f"{name} differs at rows {np.flatnonzero(a != b)[:10]}"
