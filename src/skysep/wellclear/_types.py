"""Typed inputs and results of the well-clear detector (SI units, angles in degrees)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from skysep.engine import States
from skysep.errors import EngineError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
Bool = npt.NDArray[np.bool_]
Obj = npt.NDArray[np.object_]

#: Degrees to radians, as DAIDALUS converts them (``M_PI / 180``).
RAD_PER_DEG: Final = math.pi / 180.0


def track_components(speed_mps: F64, track_deg: F64) -> tuple[F64, F64]:
    """East and north components of a speed along a true track, as DAIDALUS computes them."""
    track_rad = track_deg * RAD_PER_DEG
    east: F64 = speed_mps * np.sin(track_rad)
    north: F64 = speed_mps * np.cos(track_rad)
    return east, north


def _column(name: str, values: object, n: int) -> F64:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1 or array.shape[0] != n:
        raise EngineError(
            f"{name} must be a 1-D float array of length {n} (one per aircraft), "
            f"got shape {array.shape}"
        )
    return array


@dataclass(frozen=True)
class Traffic:
    """A snapshot of aircraft for the well-clear detector, one element per aircraft.

    Positions are geodetic (``lat_deg``, ``lon_deg``) or, for local test
    encounters, Euclidean (``x_m`` east, ``y_m`` north); give exactly one of
    the two pairs. Velocities are ground velocities split into east, north and
    up components. ``air_ve_mps``/``air_vn_mps`` optionally give an aircraft's
    horizontal air velocity: when that aircraft is the ownship of a pair, the
    wind (ground minus air velocity) is removed from both aircraft of the pair,
    as DAIDALUS does (NaN: no wind). ``alerter`` is each aircraft's 1-based
    alerter index (see :class:`~skysep.wellclear.WellClearConfig`).
    """

    aircraft: Obj
    alt_m: F64
    ve_mps: F64
    vn_mps: F64
    vz_mps: F64
    lat_deg: F64 | None = None
    lon_deg: F64 | None = None
    x_m: F64 | None = None
    y_m: F64 | None = None
    air_ve_mps: F64 | None = None
    air_vn_mps: F64 | None = None
    alerter: I64 | None = None

    def __len__(self) -> int:
        return int(self.alt_m.shape[0])

    @property
    def geodetic(self) -> bool:
        """True for latitude/longitude positions, False for local x/y."""
        return self.lat_deg is not None

    @staticmethod
    def from_states(states: States, alerter: object = None) -> Traffic:
        """The snapshot of the conflict engine's :class:`~skysep.engine.States` (no wind)."""
        return Traffic.from_track(
            states.aircraft,
            states.alt_m,
            states.gs_mps,
            states.track_deg,
            states.vs_mps,
            lat_deg=states.lat_deg,
            lon_deg=states.lon_deg,
            alerter=alerter,
        )

    @staticmethod
    def from_track(
        aircraft: object,
        alt_m: object,
        gs_mps: object,
        track_deg: object,
        vs_mps: object,
        *,
        lat_deg: object = None,
        lon_deg: object = None,
        x_m: object = None,
        y_m: object = None,
        heading_deg: object = None,
        airspeed_mps: object = None,
        alerter: object = None,
    ) -> Traffic:
        """Build from ground speed and true track (and optional heading and airspeed).

        Components are ``gs sin(track), gs cos(track)`` as DAIDALUS computes them.
        """
        ids = np.asarray(aircraft, dtype=object)
        n = ids.shape[0]
        ve, vn = track_components(_column("gs_mps", gs_mps, n), _column("track_deg", track_deg, n))
        air_ve = air_vn = None
        if heading_deg is not None or airspeed_mps is not None:
            if heading_deg is None or airspeed_mps is None:
                raise EngineError("give both heading_deg and airspeed_mps, or neither")
            air_ve, air_vn = track_components(
                _column("airspeed_mps", airspeed_mps, n), _column("heading_deg", heading_deg, n)
            )
        return Traffic(
            aircraft=ids,
            alt_m=_column("alt_m", alt_m, n),
            ve_mps=ve,
            vn_mps=vn,
            vz_mps=_column("vs_mps", vs_mps, n),
            lat_deg=None if lat_deg is None else _column("lat_deg", lat_deg, n),
            lon_deg=None if lon_deg is None else _column("lon_deg", lon_deg, n),
            x_m=None if x_m is None else _column("x_m", x_m, n),
            y_m=None if y_m is None else _column("y_m", y_m, n),
            air_ve_mps=air_ve,
            air_vn_mps=air_vn,
            alerter=None if alerter is None else np.asarray(alerter, dtype=np.int64),
        )


@dataclass(frozen=True)
class WellClearAlerts:
    """Alerts of one snapshot, one element per (ownship, traffic) pair evaluated.

    ``own_index``/``traffic_index`` point into the :class:`Traffic`;
    ``alerter`` is the 1-based alerter used for the pair; ``alert_level`` the
    alert level after the M-of-N, persistence and hysteresis filters
    (``raw_alert_level`` before them). ``time_in_s[k, l]`` is the time to
    violation of the volume of alert level ``l + 1`` within the lookahead
    (``inf``: none; NaN: the alerter has no such level), ``time_out_s`` when
    the violation ends. ``s_m`` and ``v_mps`` are the ownship's position and
    velocity relative to the traffic aircraft (ownship minus traffic) in the
    ownship's east-north-up tangent frame.
    """

    time_s: float
    own_index: I64
    traffic_index: I64
    ownship: Obj
    traffic: Obj
    alerter: I64
    alert_level: I64
    raw_alert_level: I64
    time_in_s: F64
    time_out_s: F64
    s_m: F64
    v_mps: F64

    def __len__(self) -> int:
        return int(self.own_index.shape[0])


@dataclass(frozen=True)
class AlertMemory:
    """What the alert filters remember of every pair between snapshots.

    One record per (ownship, traffic) pair ever evaluated, sorted by ``keys``
    (``ownship code << 32 | traffic code``, codes from ``codes``): the last
    ``alerting_n`` raw levels (``queue``, oldest first, -1 for none yet), the
    highest level seen since the last reset (``peak``), when the current
    alert began (``init_time_s``, NaN if none), when the record was last
    updated (``last_time_s``) and the alert level then (``last_level``).
    Start with :meth:`empty`; every call to the detector returns the next one.
    """

    codes: dict[str, int] = field(default_factory=dict)
    keys: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    queue: I8 = field(default_factory=lambda: np.empty((0, 0), dtype=np.int8))
    peak: I8 = field(default_factory=lambda: np.empty(0, dtype=np.int8))
    init_time_s: F64 = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    last_time_s: F64 = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    last_level: I8 = field(default_factory=lambda: np.empty(0, dtype=np.int8))

    @staticmethod
    def empty() -> AlertMemory:
        """A memory with no pair in it."""
        return AlertMemory()

    def __len__(self) -> int:
        return int(self.keys.shape[0])
