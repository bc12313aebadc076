"""Scenario files: parsed from TOML, validated, held in SI units.

Every key carries its unit in its name (``speed_kt``, ``alt_ft``,
``radius_nm``, ``vs_fpm``); :mod:`skysep.units` converts them. A bad key is
refused with a :class:`~skysep.errors.SimulateError` naming the file, the key
path (``aircraft[3].speed_kt``, arrays counted from 0) and the bad value.
See ``docs/simulate.md``.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from skysep import units
from skysep.errors import SimulateError

Direction = Literal["left", "right"]

#: The flight patterns an ``[[aircraft]]`` table may name.
PATTERNS: Final[tuple[str, ...]] = ("patrol", "orbit", "tanker", "transit")
#: The kinds of scripted ``[[encounters]]``.
ENCOUNTERS: Final[tuple[str, ...]] = ("crossing", "head_on", "climbing_through", "near_miss")
DIRECTIONS: Final[tuple[str, ...]] = ("right", "left")
#: Scenarios shipped with SkySep (``src/skysep/simulate/scenarios/NAME.toml``).
BUILTIN_SCENARIOS: Final[tuple[str, ...]] = ("two-party-drill",)

#: Standard-rate turn, 3 degrees per second (a 2-minute full circle).
STANDARD_RATE_DEG_PER_S: Final = 3.0
#: Maximum bank angle when an aircraft does not give ``max_bank_deg``.
DEFAULT_MAX_BANK_DEG: Final = 25.0
#: Acceleration of gravity (standard), m/s^2.
G_MPS2: Final = 9.80665

#: Headings of a crossing differ by this range of angles; a head-on by at least the upper bound.
CROSSING_ANGLE_DEG: Final = (30.0, 150.0)
#: The horizontal miss distance of a near miss: more than 0, at most this (visual range).
NEAR_MISS_MAX_M: Final = 5000.0

_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_ALT_FT: Final = (-1_000.0, 100_000.0)
_SPEED_KT: Final = (1.0, 2_000.0)
_VS_FPM_MAX: Final = 30_000.0


@dataclass(frozen=True)
class Point:
    """A position on the WGS84 ellipsoid, degrees."""

    lat_deg: float
    lon_deg: float


@dataclass(frozen=True)
class Area:
    """The shared area: every point a scenario names lies within ``radius_m`` of ``centre``."""

    centre: Point
    radius_m: float


@dataclass(frozen=True)
class ScenarioParty:
    id: str
    name: str


@dataclass(frozen=True)
class Noise:
    """Imperfect reports. Standard deviations of Gaussian noise on the horizontal
    position (each of east and north) and on the altitude; report times off
    their tick by a uniform amount in ±``jitter_s``; each report dropped with
    probability ``drop_fraction``."""

    position_m: float = 0.0
    alt_m: float = 0.0
    jitter_s: float = 0.0
    drop_fraction: float = 0.0


@dataclass(frozen=True)
class Orbit:
    """A circle around ``centre``; ``direction`` right is clockwise seen from above."""

    centre: Point
    radius_m: float
    direction: Direction


@dataclass(frozen=True)
class Patrol:
    """A loop through the waypoints (turns at the aircraft's turn rate cut the corners);
    with two waypoints, a racetrack whose first leg joins them, turning ``direction``."""

    waypoints: tuple[Point, ...]
    direction: Direction


@dataclass(frozen=True)
class Tanker:
    """A racetrack: a leg of ``length_m`` from ``anchor`` on ``heading_deg``, a turn
    ``direction``, the leg back, a turn back to the anchor."""

    anchor: Point
    heading_deg: float
    length_m: float
    direction: Direction


@dataclass(frozen=True)
class Transit:
    """From ``origin`` to ``destination`` along the geodesic, then gone. With
    ``to_alt_m``, a climb or descent at ``vs_mps`` (a magnitude) that begins
    ``climb_at_s`` after the transit's start."""

    origin: Point
    destination: Point
    to_alt_m: float | None
    vs_mps: float
    climb_at_s: float


Pattern = Orbit | Patrol | Tanker | Transit


@dataclass(frozen=True)
class Aircraft:
    """One ``[[aircraft]]`` table. Times are seconds after the scenario's start;
    ``end_s`` None: until the end."""

    index: int
    id: str
    party: str
    pattern: Pattern
    speed_mps: float
    alt_m: float
    max_bank_deg: float
    start_s: float
    end_s: float | None

    @property
    def pattern_name(self) -> str:
        return type(self.pattern).__name__.lower()


@dataclass(frozen=True)
class EncounterAircraft:
    id: str
    party: str
    heading_deg: float
    speed_mps: float
    #: Vertical rate during the climb or descent (climbing_through), 0: level.
    vs_mps: float


@dataclass(frozen=True)
class Encounter:
    """Two aircraft at their closest approach over ``at`` at ``time_s``.

    At that moment they are ``miss_m`` apart horizontally (the line between
    them at right angles to their relative velocity, the second on the right
    of its motion relative to the first) and ``vertical_m`` apart vertically
    (the second above); the first is at ``alt_m``. Each flies a straight line
    (a geodesic) at constant speed from ``lead_s`` before until ``after_s``
    after. In a climbing_through the climbing one changes altitude by
    ``climb_m`` in all, passing ``alt_m`` at ``time_s``.
    """

    index: int
    kind: str
    at: Point
    time_s: float
    alt_m: float
    miss_m: float
    vertical_m: float
    lead_s: float
    after_s: float
    climb_m: float
    aircraft: tuple[EncounterAircraft, EncounterAircraft]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, SI units. ``start_s``: seconds since 1970-01-01T00:00:00Z."""

    source: str
    name: str
    start_s: float
    duration_s: float
    report_interval_s: float
    seed: int
    area: Area
    parties: tuple[ScenarioParty, ...]
    aircraft: tuple[Aircraft, ...]
    encounters: tuple[Encounter, ...]
    noise: Noise

    @property
    def party_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.parties)

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_s, tz=UTC)


# --- keys -----------------------------------------------------------------------------------------

_TOP_KEYS: Final = (
    "name",
    "start",
    "duration_s",
    "report_interval_s",
    "seed",
    "area",
    "parties",
    "aircraft",
    "encounters",
    "noise",
)
_AREA_KEYS: Final = ("lat", "lon", "radius_nm")
_PARTY_KEYS: Final = ("id", "name")
_NOISE_KEYS: Final = ("position_m", "alt_ft", "jitter_s", "drop_fraction")
_COMMON_AIRCRAFT_KEYS: Final = (
    "id",
    "party",
    "pattern",
    "alt_ft",
    "speed_kt",
    "max_bank_deg",
    "start_s",
    "end_s",
)
#: Keys of each pattern besides the common ones.
PATTERN_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "patrol": ("waypoints", "direction"),
    "orbit": ("centre", "radius_nm", "direction"),
    "tanker": ("anchor", "heading_deg", "length_nm", "direction"),
    "transit": ("from", "to", "to_alt_ft", "vs_fpm", "climb_at_s"),
}
_ENCOUNTER_KEYS: Final = (
    "kind",
    "at",
    "time_s",
    "alt_ft",
    "miss_m",
    "vertical_ft",
    "lead_s",
    "after_s",
    "climb_ft",
    "aircraft",
)
_ENCOUNTER_AIRCRAFT_KEYS: Final = ("id", "party", "heading_deg", "speed_kt", "vs_fpm")


class _Where:
    """A table being read: its key path, for error messages."""

    def __init__(self, source: str, path: str, table: Any) -> None:
        self.source = source
        self.path = path
        if not isinstance(table, dict):
            raise self.error(f"must be a table, got {table!r}")
        self.table: dict[str, Any] = table

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, message: str, key: str | None = None) -> SimulateError:
        where = self.key(key) if key is not None else self.path
        return SimulateError(
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
        )

    def only(self, valid: Iterable[str]) -> None:
        valid = tuple(valid)
        for name in self.table:
            if name not in valid:
                close = difflib.get_close_matches(name, valid, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(
                    f"unknown key {name!r}{hint}; valid keys: {', '.join(sorted(valid))}"
                )

    def has(self, name: str) -> bool:
        return name in self.table

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        low: float = -math.inf,
        high: float = math.inf,
        low_open: bool = False,
    ) -> float:
        if name not in self.table:
            if default is None:
                raise self.error("missing (required)", name)
            return default
        value = self.table[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"{value!r} is not a number", name)
        number = float(value)
        too_low = number <= low if low_open else number < low
        if not math.isfinite(number) or too_low or number > high:
            bracket = "(" if low_open else "["
            raise self.error(f"{value!r} is out of range {bracket}{low:g}, {high:g}]", name)
        return number

    def text(self, name: str, default: str | None = None) -> str:
        if name not in self.table:
            if default is None:
                raise self.error("missing (required)", name)
            return default
        value = self.table[name]
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{value!r} is not a non-empty string", name)
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(name, default)
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(
                f"{value!r} is not a valid option{hint}, must be one of {', '.join(choices)}",
                name,
            )
        return value

    def identifier(self, name: str) -> str:
        value = self.text(name)
        if not _ID.match(value):
            raise self.error(f"{value!r} must be letters, digits, '-' or '_'", name)
        return value

    def array(self, name: str, *, required: bool = True) -> list[Any]:
        if name not in self.table:
            if required:
                raise self.error("missing (required)", name)
            return []
        value = self.table[name]
        if not isinstance(value, list):
            raise self.error(f"must be an array, got {value!r}", name)
        return value

    def sub(self, name: str, index: int | None = None) -> _Where:
        path = self.key(name) if index is None else f"{self.key(name)}[{index}]"
        if index is None and name not in self.table:
            raise self.error("missing (required)", name)
        value = self.table[name] if index is None else self.table[name][index]
        return _Where(self.source, path, value)

    def point(self, name: str, area: Area | None, index: int | None = None) -> Point:
        where = self.sub(name, index)
        where.only(("lat", "lon"))
        point = Point(
            where.number("lat", low=-90.0, high=90.0), where.number("lon", low=-180.0, high=180.0)
        )
        if area is not None:
            distance_m = _distance_m(area.centre, point)
            if distance_m > area.radius_m:
                raise where.error(
                    f"({point.lat_deg:g}, {point.lon_deg:g}) is "
                    f"{units.m_to_nm(distance_m):.1f} NM from the area's centre, outside its "
                    f"radius_nm {units.m_to_nm(area.radius_m):g}"
                )
        return point


def _distance_m(a: Point, b: Point) -> float:
    from pyproj import Geod

    _, _, distance = Geod(ellps="WGS84").inv(a.lon_deg, a.lat_deg, b.lon_deg, b.lat_deg)
    return float(distance)


def turn_rate_rad_per_s(speed_mps: float, max_bank_deg: float) -> float:
    """The rate an aircraft turns at: standard rate (3 deg/s), or less where that
    would need more than ``max_bank_deg`` of bank (rate = g tan(bank) / speed)."""
    bank_limited = G_MPS2 * math.tan(math.radians(max_bank_deg)) / speed_mps
    return min(math.radians(STANDARD_RATE_DEG_PER_S), bank_limited)


def turn_radius_m(speed_mps: float, max_bank_deg: float) -> float:
    """Radius of a turn at :func:`turn_rate_rad_per_s`."""
    return speed_mps / turn_rate_rad_per_s(speed_mps, max_bank_deg)


# --- reading --------------------------------------------------------------------------------------


def loads_scenario(text: str, source: str = "scenario") -> Scenario:
    """Parse and validate a scenario given as TOML text; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SimulateError(f"{source}: not valid TOML: {exc}") from None
    return scenario_from_mapping(data, source)


def load_scenario(path_or_text: str | Path) -> Scenario:
    """A scenario from a file (a :class:`~pathlib.Path`, or a string without a line
    break), from TOML text (a string with one), or a built-in one by name
    (:data:`BUILTIN_SCENARIOS`) where no such file exists."""
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return loads_scenario(path_or_text)
    path = Path(path_or_text)
    if not path.exists() and str(path_or_text) in BUILTIN_SCENARIOS:
        return builtin_scenario(str(path_or_text))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SimulateError(
            f"{path}: no such file (built-in scenarios: {', '.join(BUILTIN_SCENARIOS)})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SimulateError(f"{path}: cannot be read: {exc}") from None
    return loads_scenario(text, str(path))


def builtin_scenario_text(name: str = "two-party-drill") -> str:
    """The TOML text of a scenario shipped with SkySep."""
    if name not in BUILTIN_SCENARIOS:
        raise SimulateError(
            f"{name!r} is not a built-in scenario, must be one of {', '.join(BUILTIN_SCENARIOS)}"
        )
    resource = resources.files("skysep.simulate").joinpath("scenarios", f"{name}.toml")
    return resource.read_text(encoding="utf-8")


def builtin_scenario(name: str = "two-party-drill") -> Scenario:
    """A scenario shipped with SkySep (:data:`BUILTIN_SCENARIOS`)."""
    return loads_scenario(builtin_scenario_text(name), f"<built-in scenario {name}>")


def scenario_from_mapping(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Validate a parsed TOML document into a :class:`Scenario`."""
    top = _Where(source, "", dict(data))
    top.only(_TOP_KEYS)
    name = top.text("name", "scenario")
    start_s = _start(top)
    duration_s = top.number("duration_s", low=0.0, high=30 * 86_400.0, low_open=True)
    interval_s = top.number("report_interval_s", low=0.0, high=3_600.0, low_open=True)
    seed = 0
    if top.has("seed"):
        raw_seed = top.table["seed"]
        if isinstance(raw_seed, bool) or not isinstance(raw_seed, int) or raw_seed < 0:
            raise top.error(f"{raw_seed!r} is not a non-negative integer", "seed")
        seed = raw_seed

    area_where = top.sub("area")
    area_where.only(_AREA_KEYS)
    area = Area(
        Point(
            area_where.number("lat", low=-85.0, high=85.0),
            area_where.number("lon", low=-180.0, high=180.0),
        ),
        units.nm_to_m(area_where.number("radius_nm", low=0.0, high=1_000.0, low_open=True)),
    )

    parties = _parties(top)
    party_ids = tuple(p.id for p in parties)
    noise = _noise(top, interval_s) if top.has("noise") else Noise()

    seen: dict[str, str] = {}
    aircraft = []
    for index in range(len(top.array("aircraft", required=False))):
        where = top.sub("aircraft", index)
        one = _aircraft(where, index, area, party_ids, duration_s)
        _unique(where, one.id, seen)
        aircraft.append(one)
    encounters = []
    for index in range(len(top.array("encounters", required=False))):
        where = top.sub("encounters", index)
        encounter = _encounter(where, index, area, party_ids, duration_s)
        for k, plane in enumerate(encounter.aircraft):
            _unique(where.sub("aircraft", k), plane.id, seen)
        encounters.append(encounter)
    if not aircraft and not encounters:
        raise top.error("no [[aircraft]] and no [[encounters]]: nothing would fly")
    scenario = Scenario(
        source=source,
        name=name,
        start_s=start_s,
        duration_s=duration_s,
        report_interval_s=interval_s,
        seed=seed,
        area=area,
        parties=parties,
        aircraft=tuple(aircraft),
        encounters=tuple(encounters),
        noise=noise,
    )
    from skysep.simulate._generate import flights

    flights(scenario)  # refuses geometry the aircraft cannot fly
    return scenario


def _unique(where: _Where, aircraft_id: str, seen: dict[str, str]) -> None:
    if aircraft_id in seen:
        raise where.error(f"{aircraft_id!r} is already the id of {seen[aircraft_id]}", "id")
    seen[aircraft_id] = where.path


def _start(top: _Where) -> float:
    value = top.table.get("start")
    if value is None:
        raise top.error("missing (required)", "start")
    when: datetime | None = None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
    if when is None or when.tzinfo is None:
        raise top.error(
            f"{value!r} is not a date and time with a UTC offset (e.g. 2026-11-27T12:00:00Z)",
            "start",
        )
    return when.astimezone(UTC).timestamp()


def _parties(top: _Where) -> tuple[ScenarioParty, ...]:
    raw = top.array("parties")
    if not raw:
        raise top.error("at least one [[parties]] table is needed", "parties")
    parties: list[ScenarioParty] = []
    for index in range(len(raw)):
        where = top.sub("parties", index)
        where.only(_PARTY_KEYS)
        pid = where.identifier("id")
        if pid in (p.id for p in parties):
            raise where.error(f"party {pid!r} is declared twice", "id")
        parties.append(ScenarioParty(pid, where.text("name", pid)))
    return tuple(parties)


def _noise(top: _Where, interval_s: float) -> Noise:
    where = top.sub("noise")
    where.only(_NOISE_KEYS)
    jitter_s = where.number("jitter_s", 0.0, low=0.0)
    if jitter_s >= interval_s / 2:
        raise where.error(
            f"{jitter_s!r} must be less than half the report interval ({interval_s / 2:g} s), "
            "so that an aircraft's reports stay in order",
            "jitter_s",
        )
    return Noise(
        position_m=where.number("position_m", 0.0, low=0.0, high=10_000.0),
        alt_m=units.ft_to_m(where.number("alt_ft", 0.0, low=0.0, high=10_000.0)),
        jitter_s=jitter_s,
        drop_fraction=where.number("drop_fraction", 0.0, low=0.0, high=1.0),
    )


def _party(where: _Where, party_ids: tuple[str, ...]) -> str:
    return where.choice("party", party_ids)


def _aircraft(
    where: _Where, index: int, area: Area, party_ids: tuple[str, ...], duration_s: float
) -> Aircraft:
    pattern = where.choice("pattern", PATTERNS)
    where.only(_COMMON_AIRCRAFT_KEYS + PATTERN_KEYS[pattern])
    aircraft_id = where.identifier("id")
    party = _party(where, party_ids)
    speed_mps = units.kt_to_mps(where.number("speed_kt", low=_SPEED_KT[0], high=_SPEED_KT[1]))
    alt_m = units.ft_to_m(where.number("alt_ft", low=_ALT_FT[0], high=_ALT_FT[1]))
    max_bank_deg = where.number(
        "max_bank_deg", DEFAULT_MAX_BANK_DEG, low=0.0, high=80.0, low_open=True
    )
    start_s = where.number("start_s", 0.0, low=0.0, high=duration_s)
    end_s: float | None = None
    if where.has("end_s"):
        end_s = where.number("end_s", low=start_s, high=math.inf, low_open=True)
    radius_m = turn_radius_m(speed_mps, max_bank_deg)

    def direction() -> Direction:
        return "left" if where.choice("direction", DIRECTIONS, "right") == "left" else "right"

    built: Pattern
    if pattern == "orbit":
        orbit_m = units.nm_to_m(where.number("radius_nm", low=0.0, high=500.0, low_open=True))
        if orbit_m < radius_m * (1 - 1e-9):
            raise where.error(
                f"{units.m_to_nm(orbit_m):g} is a tighter circle than this aircraft can fly at "
                f"{units.mps_to_kt(speed_mps):g} kt and at most {max_bank_deg:g} deg of bank "
                f"(smallest radius_nm {units.m_to_nm(radius_m):.2f})",
                "radius_nm",
            )
        built = Orbit(where.point("centre", area), orbit_m, direction())
    elif pattern == "patrol":
        raw = where.array("waypoints")
        if len(raw) < 2:
            raise where.error(f"{len(raw)} waypoint(s): a patrol needs at least 2", "waypoints")
        points = tuple(where.point("waypoints", area, k) for k in range(len(raw)))
        built = Patrol(points, direction())
    elif pattern == "tanker":
        built = Tanker(
            where.point("anchor", area),
            where.number("heading_deg", low=0.0, high=360.0),
            units.nm_to_m(where.number("length_nm", low=0.0, high=1_000.0, low_open=True)),
            direction(),
        )
    else:
        to_alt_m: float | None = None
        vs_mps = 0.0
        if where.has("to_alt_ft") or where.has("vs_fpm"):
            to_alt_m = units.ft_to_m(where.number("to_alt_ft", low=_ALT_FT[0], high=_ALT_FT[1]))
            vs_mps = units.fpm_to_mps(
                where.number("vs_fpm", low=0.0, high=_VS_FPM_MAX, low_open=True)
            )
        origin = where.point("from", area)
        destination = where.point("to", area)
        if _distance_m(origin, destination) < 1.0:
            raise where.error("'from' and 'to' are the same point", "to")
        built = Transit(
            origin, destination, to_alt_m, vs_mps, where.number("climb_at_s", 0.0, low=0.0)
        )
    return Aircraft(
        index=index,
        id=aircraft_id,
        party=party,
        pattern=built,
        speed_mps=speed_mps,
        alt_m=alt_m,
        max_bank_deg=max_bank_deg,
        start_s=start_s,
        end_s=end_s,
    )


def _angle_between_deg(a: float, b: float) -> float:
    return abs((b - a + 180.0) % 360.0 - 180.0)


def _encounter(
    where: _Where, index: int, area: Area, party_ids: tuple[str, ...], duration_s: float
) -> Encounter:
    where.only(_ENCOUNTER_KEYS)
    kind = where.choice("kind", ENCOUNTERS)
    at = where.point("at", area)
    time_s = where.number("time_s", low=0.0, high=duration_s)
    alt_m = units.ft_to_m(where.number("alt_ft", low=_ALT_FT[0], high=_ALT_FT[1]))
    if kind == "near_miss":
        miss_m = where.number("miss_m", low=0.0, high=NEAR_MISS_MAX_M, low_open=True)
    else:
        miss_m = where.number("miss_m", 0.0, low=0.0, high=100_000.0)
    climbing = kind == "climbing_through"
    if climbing and where.has("vertical_ft"):
        raise where.error(
            "a climbing_through has no vertical_ft: the climbing aircraft passes alt_ft at time_s",
            "vertical_ft",
        )
    if not climbing and where.has("climb_ft"):
        raise where.error("climb_ft is only for kind = 'climbing_through'", "climb_ft")
    vertical_m = units.ft_to_m(where.number("vertical_ft", 0.0, low=-50_000.0, high=50_000.0))
    climb_m = units.ft_to_m(
        where.number("climb_ft", 4_000.0, low=0.0, high=50_000.0, low_open=True)
    )
    lead_s = where.number("lead_s", 600.0, low=0.0, high=86_400.0, low_open=True)
    after_s = where.number("after_s", 300.0, low=0.0, high=86_400.0)

    raw = where.array("aircraft")
    if len(raw) != 2:
        raise where.error(f"{len(raw)} aircraft: an encounter has exactly 2", "aircraft")
    planes: list[EncounterAircraft] = []
    for k in range(2):
        sub = where.sub("aircraft", k)
        sub.only(_ENCOUNTER_AIRCRAFT_KEYS)
        if sub.has("vs_fpm") and not climbing:
            raise sub.error("vs_fpm is only for kind = 'climbing_through'", "vs_fpm")
        if k == 1 and kind == "head_on" and not sub.has("heading_deg"):
            heading_deg = (planes[0].heading_deg + 180.0) % 360.0
        else:
            heading_deg = sub.number("heading_deg", low=0.0, high=360.0)
        planes.append(
            EncounterAircraft(
                id=sub.identifier("id"),
                party=_party(sub, party_ids),
                heading_deg=heading_deg,
                speed_mps=units.kt_to_mps(
                    sub.number("speed_kt", low=_SPEED_KT[0], high=_SPEED_KT[1])
                ),
                vs_mps=units.fpm_to_mps(
                    sub.number("vs_fpm", 0.0, low=-_VS_FPM_MAX, high=_VS_FPM_MAX)
                ),
            )
        )
    first, second = planes
    angle = _angle_between_deg(first.heading_deg, second.heading_deg)
    low, high = CROSSING_ANGLE_DEG
    second_heading = where.sub("aircraft", 1).key("heading_deg")
    if kind == "crossing" and not low <= angle <= high:
        raise where.error(
            f"headings {first.heading_deg:g} and {second.heading_deg:g} differ by {angle:g} deg; "
            f"a crossing needs {low:g} to {high:g} deg",
            second_heading.removeprefix(where.path + "."),
        )
    if kind == "head_on" and angle < high:
        raise where.error(
            f"headings {first.heading_deg:g} and {second.heading_deg:g} differ by {angle:g} deg; "
            f"a head_on needs at least {high:g} deg",
            second_heading.removeprefix(where.path + "."),
        )
    if climbing and sum(p.vs_mps != 0.0 for p in planes) != 1:
        raise where.error(
            "a climbing_through needs exactly one aircraft with a vs_fpm other than 0 "
            f"(got {units.mps_to_fpm(first.vs_mps):g} and {units.mps_to_fpm(second.vs_mps):g})",
            "aircraft",
        )
    relative = _velocity(second) - _velocity(first)
    if abs(relative) < 1.0:
        raise where.error(
            "the two aircraft have the same velocity: they never close in, "
            "so there is no closest approach",
            "aircraft",
        )
    return Encounter(
        index=index,
        kind=kind,
        at=at,
        time_s=time_s,
        alt_m=alt_m,
        miss_m=miss_m,
        vertical_m=vertical_m,
        lead_s=lead_s,
        after_s=after_s,
        climb_m=climb_m,
        aircraft=(first, second),
    )


def _velocity(plane: EncounterAircraft) -> complex:
    """Horizontal velocity as a complex number, east + i north (m/s)."""
    heading = math.radians(plane.heading_deg)
    return complex(plane.speed_mps * math.sin(heading), plane.speed_mps * math.cos(heading))
