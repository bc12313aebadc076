"""NASA DAIDALUS files as they are: encounters (``.daa``), configurations (``.conf``), alerts.

* :func:`read_daa` reads an encounter file: optional ``#`` comments, a header
  row, an optional units row, then one row per aircraft per time step. The
  first aircraft named in the file is the ownship.
* :func:`read_conf` reads a configuration file (``key = value [unit]``) and
  builds the :class:`~skysep.wellclear.WellClearConfig` of its alerters;
  what SkySep does not support (sensor uncertainty mitigation, kinematic
  alerting, detectors other than WCV_TAUMOD, CDCylinder and TCAS3D,
  terminal-area logic) is refused with the file, line, key and value.
* :func:`run_encounter` runs the well-clear detector over an encounter, one
  row per (time, ownship, traffic aircraft) with the columns of DAIDALUS's
  ``DaidalusAlerting`` example program; :func:`write_alerts` writes them in
  that program's CSV layout (header row, units row, six decimals).

Units are converted at this edge, through :mod:`skysep.units`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from skysep import units
from skysep.errors import EngineError, SkySepError
from skysep.wellclear import (
    REGIONS,
    Alerter,
    AlertLevel,
    AlertMemory,
    CylinderVolume,
    TauModVolume,
    TcasVolume,
    Traffic,
    Volume,
    WellClearAlerts,
    WellClearConfig,
    alert_pairs,
)
from skysep.wellclear._types import F64, track_components


class DaidalusError(SkySepError):
    """A DAIDALUS encounter or configuration file that cannot be used.

    The message names the file, the line and the column or key, and quotes
    the bad value; a configuration SkySep does not support is refused the
    same way, with the reason.
    """


# --- units ------------------------------------------------------------------------------------

_DEG_PER_RAD: Final = 180.0 / math.pi

#: DAIDALUS unit names SkySep reads, with their dimension and factor to SI
#: (angles: to degrees).
UNITS: Final[dict[str, tuple[str, float]]] = {
    "m": ("length", 1.0),
    "meter": ("length", 1.0),
    "metre": ("length", 1.0),
    "ft": ("length", units.M_PER_FT),
    "feet": ("length", units.M_PER_FT),
    "foot": ("length", units.M_PER_FT),
    "nmi": ("length", units.M_PER_NM),
    "nm": ("length", units.M_PER_NM),
    "NM": ("length", units.M_PER_NM),
    "nautical_mile": ("length", units.M_PER_NM),
    "s": ("time", 1.0),
    "min": ("time", units.S_PER_MIN),
    "minute": ("time", units.S_PER_MIN),
    "minutes": ("time", units.S_PER_MIN),
    "h": ("time", units.S_PER_H),
    "hr": ("time", units.S_PER_H),
    "hour": ("time", units.S_PER_H),
    "knot": ("speed", units.MPS_PER_KT),
    "kn": ("speed", units.MPS_PER_KT),
    "kts": ("speed", units.MPS_PER_KT),
    "fpm": ("speed", units.MPS_PER_FPM),
    "ft/min": ("speed", units.MPS_PER_FPM),
    "foot/min": ("speed", units.MPS_PER_FPM),
    "feet/min": ("speed", units.MPS_PER_FPM),
    "m/s": ("speed", 1.0),
    "mps": ("speed", 1.0),
    "deg": ("angle", 1.0),
    "degree": ("angle", 1.0),
    "rad": ("angle", _DEG_PER_RAD),
    "radian": ("angle", _DEG_PER_RAD),
}
#: Unit names meaning "the column's default unit" (DAIDALUS treats ``none`` so);
#: ``unitless`` means the value is already in internal units (SI, radians).
_DEFAULT_UNITS: Final = frozenset({"none", "unspecified", "-", ""})
_INTERNAL_UNITS: Final = frozenset({"unitless"})
_INTERNAL_FACTOR: Final[dict[str, float]] = {
    "length": 1.0,
    "time": 1.0,
    "speed": 1.0,
    "angle": _DEG_PER_RAD,
}


def _unit_factor(unit: str, dimension: str, default: str, where: str) -> float:
    """Factor from ``unit`` to SI (degrees for angles); ``where`` names the place for errors."""
    name = unit.strip()
    if name.lower() in _DEFAULT_UNITS:
        name = default
    if name.lower() in _INTERNAL_UNITS:
        return _INTERNAL_FACTOR[dimension]
    found = UNITS.get(name) or UNITS.get(name.lower())
    if found is None or found[0] != dimension:
        valid = sorted(k for k, (dim, _) in UNITS.items() if dim == dimension)
        raise DaidalusError(
            f"{where}: unit {unit!r} is not a valid {dimension} unit, "
            f"must be one of {', '.join(valid)}"
        )
    return found[1]


# --- encounter files --------------------------------------------------------------------------

_SPLIT: Final = re.compile(r"\s*[,;]\s*|\s+")


@dataclass(frozen=True)
class _Column:
    """A state column: its alternative headings (DAIDALUS's order), dimension and default unit."""

    names: tuple[str, ...]
    dimension: str
    default_unit: str


_NAME = ("name", "aircraft", "id")
_TIME = ("clock", "time", "tm", "st")
_GEODETIC = ("lat", "lon", "long", "latitude")
_POSITION = {
    "geodetic": (
        _Column(("lat", "latitude"), "angle", "deg"),
        _Column(("lon", "long", "longitude"), "angle", "deg"),
    ),
    "local": (
        _Column(("sx",), "length", "nmi"),
        _Column(("sy",), "length", "nmi"),
    ),
}
_ALTITUDE = _Column(("sz", "alt", "altitude"), "length", "ft")
_TRACK = (
    _Column(("trk", "track"), "angle", "deg"),
    _Column(("gs", "groundspeed", "groundspd"), "speed", "knot"),
)
_VXY = (_Column(("vx",), "speed", "knot"), _Column(("vy",), "speed", "knot"))
_VERTICAL = _Column(("vs", "vz", "verticalspeed", "hdot"), "speed", "fpm")
_HEADING = _Column(("heading",), "angle", "deg")
_AIRSPEED = _Column(("airspeed",), "speed", "knot")


@dataclass(frozen=True)
class Encounter:
    """A DAIDALUS encounter: one :class:`~skysep.wellclear.Traffic` per time step.

    In every step the ownship (the first aircraft of the file) comes first,
    then the other aircraft present at that time, in order of first
    appearance in the file. ``lines[k]`` holds the file line of each
    aircraft's row in step ``k``.
    """

    source: str
    ownship: str
    times_s: F64
    steps: tuple[Traffic, ...]
    lines: tuple[tuple[int, ...], ...]
    geodetic: bool
    has_air_velocity: bool

    def __len__(self) -> int:
        return len(self.steps)


def _fields(line: str) -> list[str]:
    text = line.strip()
    if not text:
        return []
    return _SPLIT.split(text)


def _is_units_row(cells: list[str]) -> bool:
    return bool(cells) and all(
        (c.startswith("[") and c.endswith("]")) or c.lower() in {"unitless", "none", "unspecified"}
        for c in cells
    )


def _find(header: list[str], names: tuple[str, ...]) -> int:
    lower = [h.lower() for h in header]
    for name in names:
        if name in lower:
            return lower.index(name)
    return -1


def _parse_clock(text: str) -> float:
    parts = text.split(":")
    value = 0.0
    for part in parts:
        value = value * 60.0 + float(part)
    return value


def _read_text(path: str | Path) -> tuple[str, str]:
    """(the file's name for messages, its text), or DaidalusError saying why not."""
    source = str(path)
    try:
        return source, Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DaidalusError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DaidalusError(f"{source}: cannot be read: {exc}") from None


def read_daa(path: str | Path) -> Encounter:
    """Read a DAIDALUS encounter file (``.daa``, or ``.xyz`` with local positions).

    Raises :class:`DaidalusError` naming the file, line and column of each
    problem and quoting the bad value.
    """
    source, text = _read_text(path)

    header: list[str] = []
    header_line = 0
    unit_cells: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not header:
            if "=" in stripped:
                raise DaidalusError(
                    f"{source}:{number}: configuration line {stripped!r} in an encounter file "
                    "is not supported; put configuration keys in the .conf file"
                )
            header = _fields(stripped)
            header_line = number
            continue
        cells = _fields(stripped)
        if not rows and not unit_cells and _is_units_row(cells):
            unit_cells = cells
            continue
        rows.append((number, cells))
    if not header:
        raise DaidalusError(f"{source}: no header row (NAME, lat|sx, lon|sy, alt|sz, ...)")
    if unit_cells and len(unit_cells) != len(header):
        raise DaidalusError(
            f"{source}: the units row has {len(unit_cells)} field(s) but the header "
            f"(line {header_line}) has {len(header)}"
        )
    col_units = [c.strip("[]").strip() for c in unit_cells] if unit_cells else [""] * len(header)

    def locate(column: _Column, required: bool = True) -> int:
        k = _find(header, column.names)
        if k < 0 and required:
            raise DaidalusError(
                f"{source}:{header_line}: no {'|'.join(column.names)} column in the header "
                f"{', '.join(header)}"
            )
        return k

    name_col = _find(header, _NAME)
    if name_col < 0:
        raise DaidalusError(f"{source}:{header_line}: no NAME column in the header")
    time_col = _find(header, _TIME)
    clock = time_col >= 0 and header[time_col].lower() == "clock"
    geodetic = _find(header, _GEODETIC) >= 0
    pos_cols = _POSITION["geodetic" if geodetic else "local"]
    track = _find(header, ("trk", "track")) >= 0
    vel_cols = _TRACK if track else _VXY
    state_cols = (*pos_cols, _ALTITUDE, *vel_cols, _VERTICAL)
    indices = [locate(c) for c in state_cols]
    heading_col = locate(_HEADING, required=False)
    airspeed_col = locate(_AIRSPEED, required=False)
    has_air = heading_col >= 0 and airspeed_col >= 0
    alerter_col = _find(header, ("alerter",))

    def factor(column: _Column, k: int) -> float:
        where = f"{source}:{header_line}: column {header[k]!r}"
        return _unit_factor(col_units[k], column.dimension, column.default_unit, where)

    factors = [factor(c, k) for c, k in zip(state_cols, indices, strict=True)]
    air_factors = (
        (factor(_HEADING, heading_col), factor(_AIRSPEED, airspeed_col)) if has_air else (1.0, 1.0)
    )
    time_factor = 1.0
    if time_col >= 0 and not clock:
        time_factor = _unit_factor(
            col_units[time_col], "time", "s", f"{source}:{header_line}: column {header[time_col]!r}"
        )

    def number_at(cells: list[str], k: int, line: int) -> float:
        text_value = cells[k]
        try:
            value = float(text_value)
        except ValueError:
            raise DaidalusError(
                f"{source}:{line}: column {header[k]!r}: {text_value!r} is not a number"
            ) from None
        if not math.isfinite(value):
            raise DaidalusError(
                f"{source}:{line}: column {header[k]!r}: {text_value!r} is not a finite number"
            )
        return value

    order: dict[str, int] = {}
    records: dict[float, dict[str, tuple[int, list[float], int]]] = {}
    previous = ""
    for line, cells in rows:
        if len(cells) != len(header):
            raise DaidalusError(
                f"{source}:{line}: {len(cells)} field(s), the header has {len(header)}: "
                f"{' '.join(cells)!r}"
            )
        name = cells[name_col]
        if name == '"' and previous:  # DAIDALUS's ditto mark: the previous row's aircraft
            name = previous
        previous = name
        if time_col < 0:
            t = 0.0
        elif clock:
            try:
                t = _parse_clock(cells[time_col])
            except ValueError:
                raise DaidalusError(
                    f"{source}:{line}: column {header[time_col]!r}: {cells[time_col]!r} "
                    "is not a time (s or hh:mm:ss)"
                ) from None
        else:
            t = number_at(cells, time_col, line) * time_factor
        values = [number_at(cells, k, line) * f for k, f in zip(indices, factors, strict=True)]
        if has_air:
            values.append(number_at(cells, heading_col, line) * air_factors[0])
            values.append(number_at(cells, airspeed_col, line) * air_factors[1])
        alerter = 1
        if alerter_col >= 0:
            text_alerter = cells[alerter_col]
            try:
                alerter = int(float(text_alerter))
            except ValueError:
                raise DaidalusError(
                    f"{source}:{line}: column {header[alerter_col]!r}: {text_alerter!r} "
                    "is not an alerter index"
                ) from None
        order.setdefault(name, len(order))
        at_time = records.setdefault(t, {})
        if name in at_time:
            raise DaidalusError(
                f"{source}:{line}: aircraft {name!r} has a second state at time {t!r} "
                f"(first on line {at_time[name][0]})"
            )
        at_time[name] = (line, values, alerter)
    if not order:
        raise DaidalusError(f"{source}: no aircraft state after the header")
    ownship = next(iter(order))
    times = sorted(records)
    steps: list[Traffic] = []
    lines: list[tuple[int, ...]] = []
    for t in times:
        at_time = records[t]
        if ownship not in at_time:
            others = ", ".join(f"{n!r} (line {at_time[n][0]})" for n in list(at_time)[:3])
            raise DaidalusError(
                f"{source}: the ownship {ownship!r} (the first aircraft of the file) has no "
                f"state at time {t!r}, where {others} have one"
            )
        names = sorted(at_time, key=lambda n: (n != ownship, order[n]))
        table = np.array([at_time[n][1] for n in names], dtype=np.float64)
        steps.append(
            _traffic(names, table, [at_time[n][2] for n in names], geodetic, track, has_air)
        )
        lines.append(tuple(at_time[n][0] for n in names))
    return Encounter(
        source=source,
        ownship=ownship,
        times_s=np.array(times, dtype=np.float64),
        steps=tuple(steps),
        lines=tuple(lines),
        geodetic=geodetic,
        has_air_velocity=has_air,
    )


def _traffic(
    names: list[str],
    table: F64,
    alerter: list[int],
    geodetic: bool,
    track: bool,
    has_air: bool,
) -> Traffic:
    a, b, alt, v1, v2, vz = (table[:, k] for k in range(6))
    ve, vn = track_components(v2, v1) if track else (v1, v2)
    air_ve, air_vn = track_components(table[:, 7], table[:, 6]) if has_air else (None, None)
    return Traffic(
        aircraft=np.array(names, dtype=object),
        alt_m=alt,
        ve_mps=ve,
        vn_mps=vn,
        vz_mps=vz,
        lat_deg=a if geodetic else None,
        lon_deg=b if geodetic else None,
        x_m=None if geodetic else a,
        y_m=None if geodetic else b,
        air_ve_mps=air_ve,
        air_vn_mps=air_vn,
        alerter=np.array(alerter, dtype=np.int64),
    )


# --- configuration files ----------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One ``key = value [unit]`` line of a configuration file."""

    key: str
    text: str
    unit: str
    line: int


#: Detector classes SkySep implements, by DAIDALUS class name.
SUPPORTED_DETECTORS: Final[tuple[str, ...]] = (
    "gov.nasa.larcfm.ACCoRD.WCV_TAUMOD",
    "gov.nasa.larcfm.ACCoRD.CDCylinder",
    "gov.nasa.larcfm.ACCoRD.TCAS3D",
)
#: Detector classes refused, with the reason.
REFUSED_DETECTORS: Final[dict[str, str]] = {
    "WCV_TAUMOD_SUM": (
        "the SUM (sensor uncertainty mitigation) model of DO-365A/B is not supported; "
        "use the configuration without SUM (WCV_TAUMOD)"
    ),
    "WCV_TCPA": "the TCPA well-clear variant (WCV_TCPA) is not supported",
    "WCV_TEP": "the TEP well-clear variant (WCV_TEP) is not supported",
    "WCV_HZ": "the hazard-zone well-clear variant (WCV_HZ) is not supported",
    "WCV_VMOD": "the VMOD well-clear variant (WCV_VMOD) is not supported",
    "TCAS2D": "the horizontal-only TCAS volume (TCAS2D) is not supported",
    "CD2D": "the horizontal-only cylinder (CD2D) is not supported",
}

#: Keys of a configuration file that decide alerts, with DAIDALUS's defaults.
_DEFAULTS: Final[dict[str, str]] = {
    "lookahead_time": "180.0",
    "hysteresis_time": "0.0",
    "persistence_time": "0.0",
    "alerting_m": "0",
    "alerting_n": "0",
    "ownship_centric_alerting": "true",
    "corrective_region": "NEAR",
    "dta_logic": "0",
}
#: Units DaidalusAlerting prints the extra columns in, and the keys that set them.
_OUTPUT_UNIT_KEYS: Final[dict[str, tuple[str, str]]] = {
    "horizontal": ("min_horizontal_recovery", "nmi"),
    "vertical": ("min_vertical_recovery", "ft"),
    "horizontal_speed": ("step_hs", "knot"),
    "vertical_speed": ("step_vs", "fpm"),
}

_LINE: Final = re.compile(r"^(?P<key>[^=]+?)\s*=\s*(?P<value>.*?)\s*(\[(?P<unit>[^\]]*)\])?\s*$")


@dataclass(frozen=True)
class DaidalusConfiguration:
    """A configuration file: the alerting it sets and its raw parameters (keys lower-cased)."""

    source: str
    config: WellClearConfig
    parameters: dict[str, Parameter] = field(repr=False)

    def unit_of(self, key: str, default: str) -> str:
        """The unit a key is given in (``default`` when absent or unitless)."""
        parameter = self.parameters.get(key.lower())
        return parameter.unit if parameter is not None and parameter.unit else default

    @property
    def output_units(self) -> dict[str, str]:
        """Units of DaidalusAlerting's extra columns (horizontal, vertical and their speeds)."""
        return {name: self.unit_of(key, unit) for name, (key, unit) in _OUTPUT_UNIT_KEYS.items()}


def _parse_conf(source: str, text: str) -> dict[str, Parameter]:
    parameters: dict[str, Parameter] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if match is None:
            raise DaidalusError(
                f"{source}:{number}: {stripped!r} is not a 'key = value [unit]' line"
            )
        key = match.group("key").strip()
        parameters[key.lower()] = Parameter(
            key=key,
            text=match.group("value").strip(),
            unit=(match.group("unit") or "").strip(),
            line=number,
        )
    return parameters


class _Reader:
    """Typed access to the parameters of one configuration file, with located errors."""

    def __init__(self, source: str, parameters: dict[str, Parameter]) -> None:
        self.source = source
        self.parameters = parameters

    def get(self, key: str) -> Parameter | None:
        return self.parameters.get(key.lower())

    def where(self, key: str) -> str:
        parameter = self.get(key)
        if parameter is None:
            return f"{self.source}: key {key!r}"
        return f"{self.source}:{parameter.line}: key {parameter.key!r}"

    def fail(self, key: str, message: str) -> DaidalusError:
        parameter = self.get(key)
        value = f" = {parameter.text!r}" if parameter is not None else ""
        return DaidalusError(f"{self.where(key)}{value}: {message}")

    def text(self, key: str, default: str | None = None) -> str:
        parameter = self.get(key)
        if parameter is None:
            if default is None:
                raise DaidalusError(f"{self.source}: key {key!r} is missing")
            return default
        return parameter.text

    def number(self, key: str, dimension: str, default_unit: str, default: str | None) -> float:
        text = self.text(key, default)
        try:
            value = float(text)
        except ValueError:
            raise self.fail(key, "not a number") from None
        if not math.isfinite(value):
            raise self.fail(key, "not a finite number")
        parameter = self.get(key)
        unit = parameter.unit if parameter is not None else ""
        return value * _unit_factor(unit, dimension, default_unit, self.where(key))

    def integer(self, key: str, default: str) -> int:
        text = self.text(key, default)
        try:
            return int(float(text))
        except ValueError:
            raise self.fail(key, "not an integer") from None

    def boolean(self, key: str, default: str) -> bool:
        text = self.text(key, default).lower()
        if text in {"true", "t"}:
            return True
        if text in {"false", "f"}:
            return False
        raise self.fail(key, "not a boolean, must be one of true, false")


def read_conf(path: str | Path) -> DaidalusConfiguration:
    """Read a DAIDALUS configuration file and build its alerting configuration.

    Raises :class:`DaidalusError` naming the file, line and key, quoting the
    value, for a malformed value and for anything SkySep does not support.
    """
    source, text = _read_text(path)
    parameters = _parse_conf(source, text)
    reader = _Reader(source, parameters)

    if reader.integer("dta_logic", _DEFAULTS["dta_logic"]) != 0:
        raise reader.fail(
            "dta_logic", "the DAA terminal-area (DTA) logic is not supported; set dta_logic = 0"
        )
    corrective = reader.text("corrective_region", _DEFAULTS["corrective_region"]).upper()
    if corrective not in REGIONS:
        raise reader.fail(
            "corrective_region", f"not a valid option, must be one of {', '.join(REGIONS)}"
        )
    names_text = reader.text("alerters", "")
    names = [name.strip() for name in names_text.split(",") if name.strip()]
    if not names:
        raise DaidalusError(
            f"{source}: no alerter: the key 'alerters' (a comma-separated list of alerter "
            "names) is missing or empty"
        )
    alerters = tuple(_alerter(reader, name) for name in names)
    try:
        config = WellClearConfig(
            alerters=alerters,
            lookahead_s=reader.number("lookahead_time", "time", "s", _DEFAULTS["lookahead_time"]),
            hysteresis_time_s=reader.number(
                "hysteresis_time", "time", "s", _DEFAULTS["hysteresis_time"]
            ),
            persistence_time_s=reader.number(
                "persistence_time", "time", "s", _DEFAULTS["persistence_time"]
            ),
            alerting_m=reader.integer("alerting_m", _DEFAULTS["alerting_m"]),
            alerting_n=reader.integer("alerting_n", _DEFAULTS["alerting_n"]),
            ownship_centric=reader.boolean(
                "ownship_centric_alerting", _DEFAULTS["ownship_centric_alerting"]
            ),
            corrective_region=corrective,  # type: ignore[arg-type]
        )
    except EngineError as exc:
        raise DaidalusError(f"{source}: {exc}") from None
    return DaidalusConfiguration(source=source, config=config, parameters=parameters)


def _alerter(reader: _Reader, name: str) -> Alerter:
    levels: list[AlertLevel] = []
    k = 1
    while True:
        prefix = f"{name}_alert_{k}_".lower()
        if not any(key.startswith(prefix) for key in reader.parameters):
            break
        levels.append(_level(reader, name, k))
        k += 1
    if not levels:
        raise reader.fail(
            "alerters", f"alerter {name!r} has no level (no key {name}_alert_1_region, ...)"
        )
    return Alerter(name=name, levels=tuple(levels))


def _level(reader: _Reader, alerter: str, k: int) -> AlertLevel:
    key = f"{alerter}_alert_{k}_"
    region_key = key + "region"
    region = reader.text(region_key, "").upper()
    if region not in REGIONS:
        if reader.get(region_key) is None:
            raise DaidalusError(f"{reader.source}: key {region_key!r} is missing")
        raise reader.fail(region_key, f"not a valid region, must be one of {', '.join(REGIONS)}")
    for spread in (
        "spread_hdir",
        "spread_trk",
        "spread_hs",
        "spread_gs",
        "spread_vs",
        "spread_alt",
    ):
        spread_key = key + spread
        if reader.get(spread_key) is None:
            continue
        try:
            value = float(reader.text(spread_key))
        except ValueError:
            raise reader.fail(spread_key, "not a number") from None
        if value != 0.0:
            raise reader.fail(
                spread_key,
                "alerting with maneuver spreads (kinematic alerting) is not supported; "
                "set the spreads to 0",
            )
    alerting = abs(reader.number(key + "alerting_time", "time", "s", "0"))
    early = abs(reader.number(key + "early_alerting_time", "time", "s", "0"))
    detector = reader.text(key + "detector", "")
    if not detector:
        raise DaidalusError(f"{reader.source}: key {key + 'detector'!r} is missing")
    return AlertLevel(
        volume=_volume(reader, alerter, detector),
        alerting_time_s=alerting,
        early_alerting_time_s=early,
        region=region,  # type: ignore[arg-type]
        detector=detector,
    )


def _volume(reader: _Reader, alerter: str, detector: str) -> Volume:
    class_key = f"{alerter}_load_core_detection_{detector}"
    class_name = reader.text(class_key, "")
    if not class_name:
        raise DaidalusError(
            f"{reader.source}: key {class_key!r} is missing (the class of detector {detector!r})"
        )
    simple = class_name.rsplit(".", 1)[-1]
    if simple in REFUSED_DETECTORS:
        raise reader.fail(class_key, REFUSED_DETECTORS[simple])
    prefix = f"{alerter}_{detector}_"
    if simple == "WCV_TAUMOD":
        return TauModVolume(
            dthr_m=reader.number(prefix + "WCV_DTHR", "length", "m", None),
            zthr_m=reader.number(prefix + "WCV_ZTHR", "length", "m", None),
            tthr_s=reader.number(prefix + "WCV_TTHR", "time", "s", None),
            tcoa_s=reader.number(prefix + "WCV_TCOA", "time", "s", None),
        )
    if simple == "CDCylinder":
        return CylinderVolume(
            d_m=abs(reader.number(prefix + "D", "length", "m", None)),
            h_m=abs(reader.number(prefix + "H", "length", "m", None)),
        )
    if simple == "TCAS3D":
        return _tcas(reader, prefix)
    raise reader.fail(
        class_key,
        f"unknown detector class, supported: {', '.join(SUPPORTED_DETECTORS)}",
    )


def _tcas(reader: _Reader, prefix: str) -> TcasVolume:
    """A TCAS table as DAIDALUS's ``TCASTable.setParameters`` reads it.

    ``TCAS_level_k`` (k = 1..L) are the altitude upper bounds of the first L
    sensitivity levels (a missing one is 0); the thresholds ``TCAS_TAU_k``,
    ``_TCOA_k``, ``_DMOD_k``, ``_ZTHR_k``, ``_HMD_k`` (k = 1..L+1) are 0 when
    missing; ``TCAS_HMDFilter`` defaults to false.
    """
    level_prefix = (prefix + "TCAS_level_").lower()
    numbers = []
    for key in reader.parameters:
        if key.startswith(level_prefix):
            try:
                numbers.append(int(key[len(level_prefix) :]))
            except ValueError:
                raise reader.fail(key, "not a TCAS_level_<number> key") from None
    bounds: list[float] = []
    for k in range(1, max(numbers, default=0) + 1):
        key = f"{prefix}TCAS_level_{k}"
        bound = reader.number(key, "length", "m", "0") if reader.get(key) is not None else 0.0
        if bounds and bound <= bounds[-1]:
            raise reader.fail(key, f"sensitivity levels must increase, {bounds[-1]!r} m before")
        bounds.append(bound)
    count = len(bounds) + 1

    def row(name: str, dimension: str) -> tuple[float, ...]:
        return tuple(
            max(0.0, reader.number(f"{prefix}TCAS_{name}_{k}", dimension, "m", "0"))
            if dimension != "time"
            else max(0.0, reader.number(f"{prefix}TCAS_{name}_{k}", "time", "s", "0"))
            for k in range(1, count + 1)
        )

    return TcasVolume(
        levels_m=tuple(bounds),
        tau_s=row("TAU", "time"),
        tcoa_s=row("TCOA", "time"),
        dmod_m=row("DMOD", "length"),
        zthr_m=row("ZTHR", "length"),
        hmd_m=row("HMD", "length"),
        hmd_filter=reader.boolean(prefix + "TCAS_HMDFilter", "false"),
    )


# --- running an encounter and writing DaidalusAlerting's CSV ----------------------------------


def _level_columns(n_levels: int) -> list[str]:
    return [f"Time to Volume of Alert({k})" for k in range(1, n_levels + 1)]


EXTRA_COLUMNS: Final[tuple[str, ...]] = (
    "Horizontal Separation",
    "Vertical Separation",
    "Horizontal Closure Rate",
    "Vertical Closure Rate",
    "Projected HMD",
    "Projected VMD",
    "Projected TCPA",
    "Projected DCPA",
    "Projected TCOA",
)
TAUMOD_COLUMN: Final = "Projected TAUMOD (WCV*)"


def iterate_encounter(encounter: Encounter, config: WellClearConfig) -> Iterator[WellClearAlerts]:
    """The alerts of every time step of an encounter (ownship against each traffic aircraft)."""
    memory = AlertMemory.empty()
    for time_s, traffic in zip(encounter.times_s, encounter.steps, strict=True):
        n = len(traffic)
        own = np.zeros(n - 1, dtype=np.int64)
        intr = np.arange(1, n, dtype=np.int64)
        alerts, memory = alert_pairs(
            traffic, own, intr, config, memory=memory, time_s=float(time_s)
        )
        yield alerts


def _to(unit: str, values: F64, dimension: str) -> F64:
    factor = _unit_factor(unit, dimension, unit, f"output unit {unit!r}")
    result: F64 = values / factor
    return result


def alerts_frame(
    alerts: list[WellClearAlerts], configuration: DaidalusConfiguration
) -> pd.DataFrame:
    """DaidalusAlerting's table: one row per (time, ownship, traffic aircraft).

    Columns ``Time, Ownship, Traffic, Alerter, Alert Level``, then ``Time to
    Volume of Alert(1..L)`` (seconds; ``inf``: no violation within the
    lookahead; NaN: the pair's alerter has no such level), then the relative
    geometry in the units the configuration gives (``frame.attrs["units"]``
    maps every column to its unit): separations, closure rates, projected
    HMD/VMD within the lookahead, TCPA, DCPA, time to co-altitude (NaN: not
    converging), and modified tau of the first alerter's corrective volume
    (NaN: not closing) when that volume is a well-clear one.
    """
    config = configuration.config
    n_levels = config.max_levels
    out_units = configuration.output_units
    corrective = config.corrective_level(1)
    taumod = config.alerters[0].levels[corrective - 1].volume if corrective > 0 else None
    with_taumod = isinstance(taumod, TauModVolume)
    if alerts:
        time = np.concatenate([np.full(len(a), a.time_s) for a in alerts])
        s = np.concatenate([a.s_m for a in alerts])
        v = np.concatenate([a.v_mps for a in alerts])
        tin = np.concatenate([a.time_in_s for a in alerts])
        ownship = np.concatenate([a.ownship for a in alerts])
        traffic = np.concatenate([a.traffic for a in alerts])
        alerter = np.concatenate([a.alerter for a in alerts])
        level = np.concatenate([a.alert_level for a in alerts])
    else:
        time = np.empty(0)
        s = v = np.empty((0, 3))
        tin = np.empty((0, n_levels))
        ownship = traffic = np.empty(0, dtype=object)
        alerter = level = np.empty(0, dtype=np.int64)
    lookahead = config.lookahead_s
    sx, sy, sz = s[:, 0], s[:, 1], s[:, 2]
    vx, vy, vz = v[:, 0], v[:, 1], v[:, 2]
    sqv = vx * vx + vy * vy
    sdotv = sx * vx + sy * vy
    with np.errstate(invalid="ignore", divide="ignore"):
        tcpa_raw = np.where((vx == 0) & (vy == 0), np.nan, -sdotv / sqv)
        hmd_t = np.where(sdotv < 0, np.minimum(tcpa_raw, lookahead), 0.0)
        hmd = np.hypot(vx * hmd_t + sx, vy * hmd_t + sy)
        converging = sz * vz < 0
        coalt = -sz / vz
        vmd = np.where(converging & (coalt <= lookahead), 0.0, np.abs(sz + lookahead * vz))
        vmd = np.where(converging, vmd, np.abs(sz))
        tcpa = np.where(np.isnan(tcpa_raw), np.nan, np.maximum(0.0, tcpa_raw))
        dcpa = np.hypot(vx * tcpa + sx, vy * tcpa + sy)
        tcoa = np.where((vz != 0) & (coalt >= 0), coalt, np.nan)
    frame = pd.DataFrame(
        {
            "Time": time,
            "Ownship": ownship.astype(str),
            "Traffic": traffic.astype(str),
            "Alerter": alerter,
            "Alert Level": level,
        }
    )
    for k, name in enumerate(_level_columns(n_levels)):
        frame[name] = tin[:, k]
    hor, ver = out_units["horizontal"], out_units["vertical"]
    hs, vs = out_units["horizontal_speed"], out_units["vertical_speed"]
    extras = (
        (_to(hor, np.hypot(sx, sy), "length"), hor),
        (_to(ver, np.abs(sz), "length"), ver),
        (_to(hs, np.sqrt(sqv), "speed"), hs),
        (_to(vs, np.abs(vz), "speed"), vs),
        (_to(hor, hmd, "length"), hor),
        (_to(ver, vmd, "length"), ver),
        (tcpa, "s"),
        (_to(hor, dcpa, "length"), hor),
        (tcoa, "s"),
    )
    column_units = {"Time": "s", **{name: "s" for name in _level_columns(n_levels)}}
    for name, (values, unit) in zip(EXTRA_COLUMNS, extras, strict=True):
        frame[name] = values
        column_units[name] = unit
    if with_taumod:
        assert isinstance(taumod, TauModVolume)
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = np.where(
                sdotv < 0, (taumod.dthr_m * taumod.dthr_m - (sx * sx + sy * sy)) / sdotv, -1.0
            )
        frame[TAUMOD_COLUMN] = np.where(tau >= 0, tau, np.nan)
        column_units[TAUMOD_COLUMN] = "s"
    frame.attrs["units"] = column_units
    return frame


def wellclear_frame(alerts: WellClearAlerts) -> pd.DataFrame:
    """A fleet's alerts as a table in SkySep's conventions (SI, units in the names).

    Columns: ``ownship, traffic, alerter, alert_level``, then for each level
    ``k`` ``t_in_s_k`` and ``t_out_s_k`` (start and end of the violation of
    its volume within the lookahead; ``inf``/``-inf``: none; NaN: the pair's
    alerter has no such level), then ``h_now_m`` and ``v_now_m`` (current
    horizontal and vertical separation; NaN for pairs pruned as too far apart).
    """
    frame = pd.DataFrame(
        {
            "ownship": alerts.ownship.astype(str),
            "traffic": alerts.traffic.astype(str),
            "alerter": alerts.alerter,
            "alert_level": alerts.alert_level,
        }
    )
    for k in range(alerts.time_in_s.shape[1]):
        frame[f"t_in_s_{k + 1}"] = alerts.time_in_s[:, k]
        frame[f"t_out_s_{k + 1}"] = alerts.time_out_s[:, k]
    frame["h_now_m"] = np.hypot(alerts.s_m[:, 0], alerts.s_m[:, 1])
    frame["v_now_m"] = np.abs(alerts.s_m[:, 2])
    return frame


def run_encounter(
    path_daa: str | Path, path_conf: str | Path, hysteresis: bool = True
) -> pd.DataFrame:
    """Run the well-clear detector over a DAIDALUS encounter, as ``DaidalusAlerting`` does.

    ``hysteresis=False`` turns the M-of-N, persistence and hysteresis filters
    off (early alerting still applies after an alert), like DaidalusAlerting's
    ``--nohysteresis``. Returns :func:`alerts_frame`'s table.
    """
    configuration = read_conf(path_conf)
    encounter = read_daa(path_daa)
    config = configuration.config if hysteresis else configuration.config.without_hysteresis()
    try:
        alerts = list(iterate_encounter(encounter, config))
    except EngineError as exc:
        raise DaidalusError(f"{encounter.source}: {exc}") from None
    return alerts_frame(alerts, configuration)


def format_number(value: float) -> str:
    """A number as DAIDALUS prints it: six decimals, trailing zeros dropped, ``infty``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "infty" if value > 0 else "-infty"
    if value < 0.0 and math.ceil(value * 1e7 - 0.5) == 0.0:
        value = 0.0
    text = f"{value + 0.0:.6f}"
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    return text


#: Columns DaidalusAlerting leaves blank rather than printing NaN.
_BLANK_WHEN_NAN: Final = ("Time to Volume of Alert(", "Projected TCOA", TAUMOD_COLUMN)


def write_alerts(frame: pd.DataFrame, path: str | Path) -> None:
    """Write :func:`run_encounter`'s table in DaidalusAlerting's CSV layout.

    Header row (with DaidalusAlerting's leading space), units row, then one
    row per (time, ownship, traffic aircraft), numbers with six decimals.
    """
    column_units: dict[str, str] = frame.attrs.get("units", {})
    columns = list(frame.columns)
    header = " " + ", ".join(columns)
    unit_cells = []
    for k, name in enumerate(columns):
        unit = column_units.get(name, "")
        if k == 0:
            unit_cells.append(f"[{unit}]")
        else:
            unit_cells.append(f" [{unit}]" if unit else "")
    lines = [header, ",".join(unit_cells)]
    has_taumod = TAUMOD_COLUMN in columns
    text_columns = {"Ownship", "Traffic"}
    int_columns = {"Alerter", "Alert Level"}
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for name, value in zip(columns, row, strict=True):
            if name in text_columns:
                cells.append(str(value))
            elif name in int_columns:
                cells.append(str(int(value)))
            elif name.startswith(_BLANK_WHEN_NAN) and math.isnan(float(value)):
                cells.append("")
            else:
                cells.append(format_number(float(value)))
        line = ", ".join(cells)
        if not has_taumod:
            line += ", "  # DaidalusAlerting always ends the row with a separator
        lines.append(line)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
