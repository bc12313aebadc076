"""Recorded traffic and what a replay finds in it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Obj = npt.NDArray[np.object_]


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
