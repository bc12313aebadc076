"""Which reports a replay uses, and in what order: the replay and its figures agree.

No numba here: report.html's figure process imports this without the
replay's kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skysep.engine._geometry import surface_ecef
from skysep.replay._types import F64, Obj, Tracks

I64 = npt.NDArray[np.int64]

__all__ = [
    "Selected",
    "UsedReports",
    "aircraft_codes",
    "altitude_spikes",
    "select_reports",
    "slices",
    "used_reports",
]


@dataclass(frozen=True)
class Selected:
    """The reports a replay uses (see :func:`select_reports`)."""

    #: The distinct aircraft ids, sorted.
    ids: npt.NDArray[np.str_]
    #: Each row's aircraft (an index into ``ids``), every row.
    inv: I64
    #: Every row, sorted by aircraft then time (rows of one time in their order).
    order: I64
    #: The rows used, sorted by aircraft then time.
    keep: I64
    #: Rows dropped as a second report of one aircraft at one time.
    duplicates: int
    #: Rows dropped as altitude spikes.
    spikes: int


def select_reports(tracks: Tracks, max_gap_s: float, spike_rate_mps: float | None) -> Selected:
    """The reports used: of two reports of one aircraft at one time the later row, and no
    altitude spike (:func:`altitude_spikes`)."""
    ids, inv = aircraft_codes(tracks.aircraft)
    order = np.lexsort((tracks.time_s, inv))
    inv_s = inv[order]
    t_s = tracks.time_s[order]
    # Two reports of one aircraft at one time: the later row wins.
    dup = np.zeros(order.shape[0], dtype=bool)
    if order.shape[0] > 1:
        dup[:-1] = (inv_s[1:] == inv_s[:-1]) & (t_s[1:] == t_s[:-1])
    keep = order[~dup]
    spikes = altitude_spikes(
        inv[keep], tracks.time_s[keep], tracks.alt_m[keep], max_gap_s, spike_rate_mps
    )
    return Selected(
        ids=ids,
        inv=inv,
        order=order,
        keep=keep[~spikes],
        duplicates=int(dup.sum()),
        spikes=int(spikes.sum()),
    )


@dataclass(frozen=True)
class UsedReports:
    """The reports a replay uses, sorted by aircraft then time, where report.html's
    figures find them: aircraft ``a``'s are ``first[a]:last[a]``."""

    #: The distinct aircraft ids, sorted.
    ids: npt.NDArray[np.str_]
    first: I64
    last: I64
    time_s: F64
    #: Points on the WGS84 surface (ECEF, m) and their geodetic normals, (n, 3) each.
    position_m: F64
    up: F64
    alt_m: F64
    #: The longest gap between two reports of an aircraft that is interpolated across.
    max_gap_s: float


def used_reports(tracks: Tracks, max_gap_s: float, spike_rate_mps: float | None) -> UsedReports:
    """The reports a replay of ``tracks`` with this maximum gap and altitude spike rate uses
    (the replay hands over the same, computed on its way: see its ``on_reports``)."""
    chosen = select_reports(tracks, max_gap_s, spike_rate_mps)
    keep = chosen.keep
    position_m, up = surface_ecef(tracks.lat_deg[keep], tracks.lon_deg[keep])
    first, last = slices(chosen.inv[keep], chosen.ids.shape[0])
    return UsedReports(
        ids=chosen.ids,
        first=first,
        last=last,
        time_s=np.ascontiguousarray(tracks.time_s[keep], dtype=np.float64),
        position_m=position_m,
        up=up,
        alt_m=np.ascontiguousarray(tracks.alt_m[keep], dtype=np.float64),
        max_gap_s=max_gap_s,
    )


def slices(aircraft: I64, n_aircraft: int) -> tuple[I64, I64]:
    """Where each aircraft's reports start and end, the reports sorted by ``aircraft``."""
    codes = np.arange(n_aircraft)
    first = np.searchsorted(aircraft, codes, side="left").astype(np.int64)
    last = np.searchsorted(aircraft, codes, side="right").astype(np.int64)
    return first, last


def aircraft_codes(aircraft: Obj) -> tuple[npt.NDArray[np.str_], I64]:
    """The distinct aircraft ids (as ``str``, sorted) and each report's index into them.

    What ``np.unique(aircraft.astype(str), return_inverse=True)`` gives, in a
    third of its time: each report is hashed, not sorted among the others
    (a day of traffic has hundreds of thousands of reports of a few hundred
    aircraft); only the distinct ids are turned into text and sorted.
    """
    values = np.asarray(aircraft, dtype=object).tolist()
    n = len(values)
    seen: dict[object, int] = {}
    # For each report, the first report of the same id (the dict keeps the first).
    first = np.fromiter(map(seen.setdefault, values, range(n)), dtype=np.int64, count=n)
    rows = np.fromiter(seen.values(), dtype=np.int64, count=len(seen))  # increasing
    names = np.array([str(values[row]) for row in rows.tolist()], dtype=str)
    # Objects that differ but read the same (1 and "1") are one id, as with astype(str).
    ids, of_row = np.unique(names, return_inverse=True)
    codes: I64 = of_row.astype(np.int64)[np.searchsorted(rows, first)]
    return ids, codes


def altitude_spikes(
    inv: I64, time_s: F64, alt_m: F64, max_gap_s: float, rate_mps: float | None
) -> npt.NDArray[np.bool_]:
    """Reports (sorted by aircraft and time) whose altitude is an isolated spike.

    A spike jumps away from the previous report and back to the next one, both
    within ``max_gap_s``, each faster than ``rate_mps`` and in opposite
    directions. Recorded ADS-B altitudes have such junk values (tens of
    thousands of feet for one report).
    """
    spike = np.zeros(time_s.shape[0], dtype=bool)
    if rate_mps is None or time_s.shape[0] < 3:
        return spike
    dt = np.diff(time_s)
    dz = np.diff(alt_m)
    same = (inv[1:] == inv[:-1]) & (dt > 0) & (dt <= max_gap_s)
    rate = np.where(same, dz / np.where(dt > 0, dt, 1.0), 0.0)
    before, after = rate[:-1], rate[1:]
    spike[1:-1] = (
        same[:-1]
        & same[1:]
        & (np.abs(before) > rate_mps)
        & (np.abs(after) > rate_mps)
        & (np.sign(before) != np.sign(after))
    )
    return spike
