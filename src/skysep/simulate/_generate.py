"""The traffic generator: a scenario in, position reports out, tick by tick. No I/O.

Each aircraft becomes a :class:`Flight`: a ground path in a local plane
(:mod:`skysep.simulate._paths`) flown at constant speed, and a vertical
profile (level, or one climb or descent at a constant rate). Its position at
any time is a closed-form function of that time, so reports can be computed
for any set of times, in any order, with no drift.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Geod, Transformer

from skysep import units
from skysep.errors import SimulateError
from skysep.replay._types import Tracks
from skysep.simulate import _paths
from skysep.simulate._paths import F64, PlanePath
from skysep.simulate._scenario import (
    Aircraft,
    Encounter,
    Orbit,
    Patrol,
    Point,
    Scenario,
    Tanker,
    Transit,
    turn_radius_m,
)

Obj = npt.NDArray[np.object_]

#: Ticks computed at once; the random draws are made per chunk of this many
#: ticks (for every aircraft, whether it reports or not), so a shorter
#: ``duration_s`` gives a prefix of a longer run's reports.
CHUNK_TICKS: Final = 256
#: Step used to measure the true track and ground speed at a report (m).
_PROBE_M: Final = 1.0

_GEOD: Final = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Vertical:
    """Altitude ``alt0_m`` until ``change_s``, then a climb (``vs_mps`` > 0) or descent
    at ``vs_mps`` until ``alt1_m``, then level. Times: seconds after the scenario's start."""

    alt0_m: float
    change_s: float = 0.0
    vs_mps: float = 0.0
    alt1_m: float | None = None

    def at(self, t_s: F64) -> tuple[F64, F64]:
        """Altitude (m) and vertical rate (m/s) at ``t_s``."""
        if self.vs_mps == 0.0 or self.alt1_m is None:
            return np.full_like(t_s, self.alt0_m), np.zeros_like(t_s)
        lasts_s = (self.alt1_m - self.alt0_m) / self.vs_mps
        since = np.clip(t_s - self.change_s, 0.0, lasts_s)
        climbing = (t_s >= self.change_s) & (t_s < self.change_s + lasts_s)
        return self.alt0_m + self.vs_mps * since, np.where(climbing, self.vs_mps, 0.0)


@dataclass(frozen=True)
class Flight:
    """One aircraft's motion: ``path`` in the plane centred on ``origin``, flown at
    ``speed_mps`` from ``on_s`` (where it is at distance 0 along the path) until
    ``off_s``. Times: seconds after the scenario's start."""

    aircraft: str
    party: str
    origin: Point
    path: PlanePath
    speed_mps: float
    on_s: float
    off_s: float
    vertical: Vertical
    #: The key path of the aircraft in the scenario file, for messages.
    where: str


@dataclass(frozen=True)
class Batch:
    """The reports of one tick: those whose times fall within half a report interval
    of ``time_s`` (seconds since the epoch), sorted by time, then aircraft."""

    time_s: float
    reports: Tracks


@cache
def _to_plane(lat_deg: float, lon_deg: float) -> Transformer:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat_deg!r} +lon_0={lon_deg!r} +datum=WGS84 +units=m")
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def plane_xy(origin: Point, point: Point) -> complex:
    """``point`` in the plane centred on ``origin`` (east + i north, m)."""
    x, y = _to_plane(origin.lat_deg, origin.lon_deg).transform(point.lon_deg, point.lat_deg)
    return complex(float(x), float(y))


def _to_geodetic(origin: Point, x: F64, y: F64) -> tuple[F64, F64]:
    lon, lat = _to_plane(origin.lat_deg, origin.lon_deg).transform(x, y, direction="INVERSE")
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


# --- scenario to flights --------------------------------------------------------------------------


def flights(scenario: Scenario) -> tuple[Flight, ...]:
    """Every aircraft of the scenario (patterns, then encounters) as a :class:`Flight`.

    Raises :class:`SimulateError` for geometry the aircraft cannot fly (a patrol
    leg too short for the turns at its ends)."""
    out: list[Flight] = []
    for aircraft in scenario.aircraft:
        out.append(_pattern_flight(scenario, aircraft))
    for encounter in scenario.encounters:
        out.extend(_encounter_flights(scenario, encounter))
    return tuple(out)


def _pattern_flight(scenario: Scenario, aircraft: Aircraft) -> Flight:
    where = f"aircraft[{aircraft.index}]"
    radius_m = turn_radius_m(aircraft.speed_mps, aircraft.max_bank_deg)
    pattern = aircraft.pattern
    vertical = Vertical(aircraft.alt_m)
    off_s = math.inf if aircraft.end_s is None else aircraft.end_s
    if isinstance(pattern, Orbit):
        origin = pattern.centre
        path = _paths.circle(pattern.radius_m, _turn(pattern.direction))
    elif isinstance(pattern, Tanker):
        origin = pattern.anchor
        path = _paths.racetrack(
            0j,
            math.radians(pattern.heading_deg),
            pattern.length_m,
            radius_m,
            _turn(pattern.direction),
        )
    elif isinstance(pattern, Patrol):
        origin = _centroid(pattern.waypoints)
        points = [plane_xy(origin, p) for p in pattern.waypoints]
        if len(points) == 2:
            leg = points[1] - points[0]
            path = _paths.racetrack(
                points[0], _paths.heading_of(leg), abs(leg), radius_m, _turn(pattern.direction)
            )
        else:
            try:
                path = _paths.polygon(points, radius_m)
            except _paths.ShortLegError as exc:
                following = (exc.leg + 1) % len(points)
                raise SimulateError(
                    f"{scenario.source}: {where}.waypoints: the leg from waypoints[{exc.leg}] "
                    f"to waypoints[{following}] is {exc.length_m / 1000:.2f} km long, shorter "
                    f"than the {exc.needed_m / 1000:.2f} km its turns need at "
                    f"{units.mps_to_kt(aircraft.speed_mps):g} kt and {aircraft.max_bank_deg:g} "
                    f"deg of bank (turn radius {units.m_to_nm(radius_m):.2f} NM)"
                ) from None
    else:
        assert isinstance(pattern, Transit)
        origin = pattern.origin
        target = plane_xy(origin, pattern.destination)
        path = PlanePath((_paths.line(0j, _paths.heading_of(target), abs(target)),), loop=False)
        off_s = min(off_s, aircraft.start_s + path.length_m / aircraft.speed_mps)
        if pattern.to_alt_m is not None and pattern.to_alt_m != aircraft.alt_m:
            sign = 1.0 if pattern.to_alt_m > aircraft.alt_m else -1.0
            vertical = Vertical(
                aircraft.alt_m,
                aircraft.start_s + pattern.climb_at_s,
                sign * pattern.vs_mps,
                pattern.to_alt_m,
            )
    return Flight(
        aircraft=aircraft.id,
        party=aircraft.party,
        origin=origin,
        path=path,
        speed_mps=aircraft.speed_mps,
        on_s=aircraft.start_s,
        off_s=off_s,
        vertical=vertical,
        where=where,
    )


def _turn(direction: str) -> float:
    return 1.0 if direction == "right" else -1.0


def _centroid(points: Iterable[Point]) -> Point:
    """A central point of a few waypoints (mean of their unit vectors)."""
    lat = np.radians([p.lat_deg for p in points])
    lon = np.radians([p.lon_deg for p in points])
    x = float(np.mean(np.cos(lat) * np.cos(lon)))
    y = float(np.mean(np.cos(lat) * np.sin(lon)))
    z = float(np.mean(np.sin(lat)))
    return Point(math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x)))


def _encounter_flights(scenario: Scenario, encounter: Encounter) -> list[Flight]:
    """Both aircraft of an encounter, flown backwards from the closest approach.

    In the plane centred on the encounter's point, relative position at the
    closest approach is ``miss_m`` times the unit vector at right angles
    (clockwise) to the relative velocity; each aircraft is half of it from
    the point. Straight lines at constant speed: the separation is smallest
    exactly then."""
    velocities = [
        p.speed_mps * _paths.unit(math.radians(p.heading_deg)) for p in encounter.aircraft
    ]
    relative = velocities[1] - velocities[0]
    across = complex(relative.imag, -relative.real) / abs(relative)
    offsets = [-encounter.miss_m / 2 * across, encounter.miss_m / 2 * across]
    on_s = encounter.time_s - encounter.lead_s
    out: list[Flight] = []
    for k, (plane, velocity, offset) in enumerate(
        zip(encounter.aircraft, velocities, offsets, strict=True)
    ):
        level_m = encounter.alt_m + (encounter.vertical_m if k == 1 else 0.0)
        if plane.vs_mps != 0.0:
            half_m = encounter.climb_m / 2
            sign = 1.0 if plane.vs_mps > 0 else -1.0
            vertical = Vertical(
                encounter.alt_m - sign * half_m,
                encounter.time_s - half_m / abs(plane.vs_mps),
                plane.vs_mps,
                encounter.alt_m + sign * half_m,
            )
        else:
            vertical = Vertical(level_m)
        path = PlanePath(
            (
                _paths.line(
                    offset - velocity * encounter.lead_s,
                    math.radians(plane.heading_deg),
                    plane.speed_mps * (encounter.lead_s + encounter.after_s),
                ),
            ),
            loop=False,
        )
        out.append(
            Flight(
                aircraft=plane.id,
                party=plane.party,
                origin=encounter.at,
                path=path,
                speed_mps=plane.speed_mps,
                on_s=on_s,
                off_s=encounter.time_s + encounter.after_s,
                vertical=vertical,
                where=f"encounters[{encounter.index}].aircraft[{k}]",
            )
        )
    return out


# --- flights to reports ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    gs_mps: F64
    track_deg: F64
    vs_mps: F64


def _state(
    flight: Flight, t_s: F64, noise_xy_m: F64 | None = None, noise_alt_m: F64 | None = None
) -> _State:
    """The flight's reports at times ``t_s`` (seconds after the start), with noise added
    to the reported position (plane metres, shape (2, n)) and altitude."""
    x, y, heading = flight.path.at(flight.speed_mps * (t_s - flight.on_s))
    lat, lon = _to_geodetic(flight.origin, x, y)
    ahead_lat, ahead_lon = _to_geodetic(
        flight.origin, x + _PROBE_M * np.sin(heading), y + _PROBE_M * np.cos(heading)
    )
    track, _, moved_m = _GEOD.inv(lon, lat, ahead_lon, ahead_lat)
    track_deg = np.mod(np.asarray(track, dtype=np.float64), 360.0)
    gs_mps = flight.speed_mps * np.asarray(moved_m, dtype=np.float64) / _PROBE_M
    alt_m, vs_mps = flight.vertical.at(t_s)
    if noise_xy_m is not None and (noise_xy_m != 0).any():
        lat, lon = _to_geodetic(flight.origin, x + noise_xy_m[0], y + noise_xy_m[1])
    if noise_alt_m is not None:
        alt_m = alt_m + noise_alt_m
    return _State(lat, lon, alt_m, gs_mps, track_deg, vs_mps)


def simulate(
    scenario: Scenario, *, seed: int | None = None, duration_s: float | None = None
) -> Iterator[Batch]:
    """Position reports of every aircraft of ``scenario``, one :class:`Batch` per tick.

    Ticks are every ``report_interval_s`` from the scenario's start, up to and
    including ``duration_s`` after it (the scenario's own duration by
    default). An aircraft reports at a tick when it is flying then, unless the
    report is dropped (``noise.drop_fraction``); its report time is off the
    tick by up to ``noise.jitter_s``, and its position and altitude carry the
    scenario's noise. The reports depend only on the scenario, ``seed`` (the
    scenario's ``seed`` by default) and ``duration_s``: the same inputs give the
    same reports, and a shorter duration gives a prefix of a longer one's.
    """
    if duration_s is not None and not (duration_s > 0 and math.isfinite(duration_s)):
        raise SimulateError(f"duration_s must be a positive finite number, got {duration_s!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SimulateError(f"seed must be a non-negative integer, got {seed!r}")
    duration = scenario.duration_s if duration_s is None else float(duration_s)
    interval = scenario.report_interval_s
    noise = scenario.noise
    plan = flights(scenario)
    rng = np.random.default_rng(scenario.seed if seed is None else seed)
    n_ticks = math.floor(duration / interval * (1 + 1e-12)) + 1
    for first in range(0, n_ticks, CHUNK_TICKS):
        shape = (len(plan), CHUNK_TICKS)
        jitter = (2 * rng.random(shape) - 1) * noise.jitter_s
        kept = rng.random(shape) >= noise.drop_fraction
        position = rng.standard_normal((len(plan), 2, CHUNK_TICKS)) * noise.position_m
        altitude = rng.standard_normal(shape) * noise.alt_m
        ticks = np.arange(first, min(first + CHUNK_TICKS, n_ticks))
        n = len(ticks)
        parts: list[tuple[npt.NDArray[np.intp], int, F64, _State]] = []
        for f, flight in enumerate(plan):
            t_s = ticks * interval + jitter[f, :n]
            reports = np.flatnonzero(kept[f, :n] & (t_s >= flight.on_s) & (t_s <= flight.off_s))
            if len(reports) == 0:
                continue
            state = _state(flight, t_s[reports], position[f][:, reports], altitude[f, reports])
            parts.append((reports, f, t_s[reports], state))
        yield from _batches(scenario, plan, ticks, parts)


def _batches(
    scenario: Scenario,
    plan: tuple[Flight, ...],
    ticks: npt.NDArray[np.int64],
    parts: list[tuple[npt.NDArray[np.intp], int, F64, _State]],
) -> Iterator[Batch]:
    def gather(pick: str) -> F64:
        if not parts:
            return np.zeros(0)
        return np.concatenate([getattr(state, pick) for _, _, _, state in parts])

    tick = np.concatenate([r for r, _, _, _ in parts]) if parts else np.zeros(0, dtype=np.intp)
    flight = (
        np.concatenate([np.full(len(r), f) for r, f, _, _ in parts])
        if parts
        else np.zeros(0, dtype=np.intp)
    )
    time_s = np.concatenate([t for _, _, t, _ in parts]) if parts else np.zeros(0)
    order = np.lexsort((flight, time_s, tick))
    ids = np.array([p.aircraft for p in plan] + [""], dtype=object)
    party = np.array([p.party for p in plan] + [""], dtype=object)
    columns = {name: gather(name)[order] for name in _State.__dataclass_fields__}
    tick, flight, time_s = tick[order], flight[order], time_s[order]
    bounds = np.searchsorted(tick, np.arange(len(ticks) + 1))
    for k, nominal in enumerate(ticks):
        part = slice(int(bounds[k]), int(bounds[k + 1]))
        yield Batch(
            time_s=scenario.start_s + float(nominal) * scenario.report_interval_s,
            reports=Tracks(
                aircraft=ids[flight[part]],
                time_s=scenario.start_s + time_s[part],
                party=party[flight[part]],
                **{name: np.ascontiguousarray(values[part]) for name, values in columns.items()},
            ),
        )


def concat(batches: Iterable[Batch]) -> Tracks:
    """All the reports of some batches, in one :class:`~skysep.replay.Tracks`."""
    parts = [b.reports for b in batches]
    names = ("time_s", "lat_deg", "lon_deg", "alt_m", "gs_mps", "track_deg", "vs_mps")
    if not parts:
        empty = np.zeros(0)
        return Tracks(
            aircraft=np.zeros(0, dtype=object),
            party=np.zeros(0, dtype=object),
            **dict.fromkeys(names, empty),
        )
    party = [p.party if p.party is not None else np.full(len(p), None, object) for p in parts]
    return Tracks(
        aircraft=np.concatenate([p.aircraft for p in parts]),
        party=np.concatenate(party),
        **{name: np.concatenate([getattr(p, name) for p in parts]) for name in names},
    )


def simulate_tracks(
    scenario: Scenario, *, seed: int | None = None, duration_s: float | None = None
) -> Tracks:
    """Every report of :func:`simulate` at once, in time order."""
    return concat(simulate(scenario, seed=seed, duration_s=duration_s))
