"""Recorded traffic and what a replay finds in it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from skysep.engine._types import METHODS, Method
from skysep.errors import SkySepError

F64 = npt.NDArray[np.float64]
Obj = npt.NDArray[np.object_]
I64 = npt.NDArray[np.int64]

__all__ = [
    "F64",
    "METHODS",
    "AlertEpisodes",
    "Incidents",
    "Method",
    "Obj",
    "ReplayError",
    "ReplayOptions",
    "ReplayResult",
    "TrackRead",
    "Tracks",
]


class ReplayError(SkySepError, ValueError):
    """Tracks or options a replay cannot use."""


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay (see ``skysep replay --help``)."""

    max_gap_s: float = 60.0
    step_s: float = 1.0
    merge_gap_s: float = 0.0
    method: Method = "grid"
    #: A report whose altitude jumps away from both neighbours (within the
    #: maximum gap) faster than this, and back, is a spike and is dropped.
    #: ``None`` keeps every report. Default: 40,000 ft/min (203.2 m/s), beyond
    #: what even fighters sustain, far below the rates junk altitudes imply.
    spike_vertical_rate_mps: float | None = 203.2

    def validate(self) -> None:
        for name in ("max_gap_s", "step_s"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ReplayError(f"{name} must be a positive finite number, got {value!r}")
        if not (self.merge_gap_s >= 0 and math.isfinite(self.merge_gap_s)):
            raise ReplayError(
                f"merge_gap_s must be a non-negative finite number, got {self.merge_gap_s!r}"
            )
        if self.method not in METHODS:
            raise ReplayError(
                f"{self.method!r} is not a valid method, must be one of {', '.join(METHODS)}"
            )
        rate = self.spike_vertical_rate_mps
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ReplayError(
                f"spike_vertical_rate_mps must be a positive finite number or None, got {rate!r}"
            )


@dataclass(frozen=True)
class Tracks:
    """Position reports of many aircraft, one element per report, SI units.

    ``time_s`` is seconds since 1970-01-01T00:00:00Z (UTC). Ground speed,
    track and vertical rate are ``NaN`` where a report does not give them
    (they are then derived from the positions). ``party`` is ``None`` where
    unknown (or the whole array is ``None``). Reports need not be sorted.
    """

    aircraft: Obj
    time_s: F64
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    gs_mps: F64
    track_deg: F64
    vs_mps: F64
    party: Obj | None = None

    def __len__(self) -> int:
        return int(self.time_s.shape[0])


@dataclass(frozen=True)
class TrackRead:
    """Tracks read from files, with what was read and what was rejected."""

    tracks: Tracks
    #: Data rows (reports) read from the files, rejected ones included.
    rows_read: int
    #: Rows rejected (only with ``skip_bad_rows``), with the first reasons.
    rows_rejected: int = 0
    rejected_examples: tuple[str, ...] = field(default=())
    files: tuple[str, ...] = field(default=())
    #: Rows that are not position reports, dropped by design (not errors):
    #: traffic/OpenSky rows without latitude, longitude or altitude; snapshot
    #: aircraft without a position (or on the ground); SBS messages other
    #: than airborne positions.
    rows_without_position: int = 0
    #: Snapshot entries listing again a position already read (same aircraft,
    #: latitude, longitude, time within 0.3 s).
    rows_repeated: int = 0


# --- what a replay finds (here, not beside the replay: they load without numba) ---


@dataclass(frozen=True)
class Incidents:
    """Losses of separation, one element per incident, sorted by start.

    Times are seconds since the epoch (UTC); ``first_alert_s`` and
    ``lead_time_s`` are NaN and ``level_at_start`` None where no alert led to
    the incident.
    """

    aircraft_a: Obj
    aircraft_b: Obj
    party_a: Obj
    party_b: Obj
    start_s: F64
    end_s: F64
    min_h_m: F64
    min_v_m: F64
    time_of_min_s: F64
    lat_deg: F64
    lon_deg: F64
    alt_m: F64
    first_alert_s: F64
    lead_time_s: F64
    level_at_start: Obj
    horizontal_m: F64
    vertical_m: F64

    def __len__(self) -> int:
        return int(self.start_s.shape[0])

    @property
    def duration_s(self) -> F64:
        duration: F64 = self.end_s - self.start_s
        return duration


@dataclass(frozen=True)
class AlertEpisodes:
    """Alert episodes, one element per episode, sorted by first time.

    An episode is a run of detector steps in which the pair was in conflict,
    no step missing. ``incident`` is the index in :class:`Incidents` of the
    incident it led to, or -1 (a nuisance alert).
    """

    aircraft_a: Obj
    aircraft_b: Obj
    party_a: Obj
    party_b: Obj
    level: Obj
    first_s: F64
    last_s: F64
    steps: I64
    min_t_in_s: F64
    incident: I64

    def __len__(self) -> int:
        return int(self.first_s.shape[0])


@dataclass(frozen=True)
class ReplayResult:
    incidents: Incidents
    alerts: AlertEpisodes
    n_reports: int
    n_aircraft: int
    duplicate_reports: int
    #: Reports dropped as altitude spikes (see ReplayOptions).
    altitude_spikes: int
    start_s: float
    end_s: float
    options: ReplayOptions
    #: Candidate (pair, bin) windows evaluated for losses and for alerts.
    los_candidates: int = 0
    alert_candidates: int = 0
    alert_steps: int = field(default=0)
