"""Replay recorded traffic: every loss of separation, and the warning it would have had.

Arrays in (:class:`Tracks`), typed results out (:class:`ReplayResult`); no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from skysep.agreement import Agreement
from skysep.engine._detect import minima_tables
from skysep.engine._geometry import (
    frame_facing,
    near_surface_geodetic,
    surface_state_ecef,
)
from skysep.engine._kernels import (
    MIN_RADIUS_OF_CURVATURE_M,
    arc_per_chord,
    normal_chord_bound_m,
)
from skysep.engine._types import LEVELS, STATE_RANGES
from skysep.replay import _kernels
from skysep.replay._select import UsedReports, select_reports, slices
from skysep.replay._types import (
    F64,
    AlertEpisodes,
    Incidents,
    Obj,
    ReplayError,
    ReplayOptions,
    ReplayResult,
    Tracks,
)

I64 = npt.NDArray[np.int64]

#: Width of the time bins the candidate search works in.
BIN_S: Final = 60.0


@dataclass(frozen=True)
class Reports:
    """Position reports in the kernels' layout, sorted by (aircraft, time), SI.

    ``rt`` time (s since the epoch), ``rp`` ECEF surface position and ``ru``
    geodetic up (n, 3), ``ralt`` altitude, ``rv`` reported ECEF velocity
    (NaN where not reported), ``rvs`` reported vertical rate (NaN likewise);
    ``linked[k]``: report k moves on to report k + 1; aircraft ``a`` owns
    reports ``first[a]:last[a]``.
    """

    rt: F64
    rp: F64
    ru: F64
    ralt: F64
    rv: F64
    rvs: F64
    linked: npt.NDArray[np.bool_]
    first: I64
    last: I64


@dataclass(frozen=True)
class _Prepared:
    ids: Obj
    party: Obj
    #: Aircraft index of each report.
    aircraft: I64
    reports: Reports
    code: I64
    hmat: F64
    vmat: F64
    duplicates: int
    spikes: int


def _validate(tracks: Tracks) -> None:
    n = len(tracks)
    for name, low, high in (*STATE_RANGES, ("time_s", -1e12, 1e12)):
        values = getattr(tracks, name)
        if values.shape != (n,):
            raise ReplayError(f"{name} must have one value per report ({n}), got {values.shape}")
        if name in ("gs_mps", "track_deg", "vs_mps"):
            bad = ~np.isnan(values) & ~((values >= low) & (values <= high))
        else:
            bad = ~((values >= low) & (values <= high))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ReplayError(
                f"report #{row} ({tracks.aircraft[row]!r}): {name} = {values[row]!r} is "
                f"missing or out of range [{low}, {high}]"
            )


def _prepare(tracks: Tracks, agreement: Agreement, options: ReplayOptions) -> _Prepared:
    max_gap_s = options.max_gap_s
    _validate(tracks)
    chosen = select_reports(tracks, max_gap_s, options.spike_vertical_rate_mps)
    ids, inv, keep = chosen.ids, chosen.inv, chosen.keep
    inv_k = inv[keep]
    party = _party_per_aircraft(tracks, ids, inv, chosen.order)
    lat, lon = tracks.lat_deg[keep], tracks.lon_deg[keep]
    # The velocity is NaN where the ground speed or the track is not reported.
    rp, ru, rv = surface_state_ecef(lat, lon, tracks.gs_mps[keep], tracks.track_deg[keep])
    rt = np.ascontiguousarray(tracks.time_s[keep])
    first, last = slices(inv_k, ids.shape[0])
    linked = np.zeros(rt.shape[0], dtype=bool)
    if rt.shape[0] > 1:
        gap = rt[1:] - rt[:-1]
        linked[:-1] = (inv_k[1:] == inv_k[:-1]) & (gap > 0) & (gap <= max_gap_s)
    code, hmat, vmat = minima_tables(party, agreement, np.arange(ids.shape[0], dtype=np.int64))
    return _Prepared(
        ids=ids.astype(object),
        party=party,
        aircraft=inv_k,
        reports=Reports(
            rt=rt,
            rp=rp,
            ru=ru,
            ralt=np.ascontiguousarray(tracks.alt_m[keep]),
            rv=rv,
            rvs=np.ascontiguousarray(tracks.vs_mps[keep]),
            linked=linked,
            first=first,
            last=last,
        ),
        code=code,
        hmat=hmat,
        vmat=vmat,
        duplicates=chosen.duplicates,
        spikes=chosen.spikes,
    )


def _party_per_aircraft(tracks: Tracks, ids: npt.NDArray[np.str_], inv: I64, order: I64) -> Obj:
    party: Obj = np.full(ids.shape[0], None, dtype=object)
    if tracks.party is None:
        return party
    for row in order.tolist():
        value = tracks.party[row]
        if not isinstance(value, str) or not value.strip():
            continue
        a = int(inv[row])
        if party[a] is None:
            party[a] = value
        elif party[a] != value:
            raise ReplayError(
                f"aircraft {str(ids[a])!r} is reported with two parties, {party[a]!r} and "
                f"{value!r} (report #{row})"
            )
    return party


def _boxes(box: F64, grow_h: F64 | float, grow_v: F64 | float) -> tuple[F64, F64]:
    """Low and high corners of the boxes, grown in (x, y, z) and in altitude."""
    lo = np.ascontiguousarray(box[:, :4].copy())
    hi = np.ascontiguousarray(box[:, 4:].copy())
    lo[:, :3] -= np.asarray(grow_h).reshape(-1, 1)
    hi[:, :3] += np.asarray(grow_h).reshape(-1, 1)
    lo[:, 3] -= grow_v
    hi[:, 3] += grow_v
    return lo, hi


@dataclass(frozen=True)
class Partition:
    """One time window of a replay's work, self-contained (it can be shipped to a worker).

    The reports of every aircraft within the window and an overlap on each
    side (the lookahead plus the maximum gap), in compact arrays; the window
    owns the time bins ``bin_lo <= bin < bin_hi`` and computes only those.
    Aircraft keep their global indices (``first``/``last`` are per aircraft).
    """

    reports: Reports
    code: I64
    hmat: F64
    vmat: F64
    frame: F64
    t0: float
    bin_lo: int
    bin_hi: int
    speed_max_mps: float
    lookahead_s: float
    step_s: float
    max_gap_s: float
    brute_force: bool


@dataclass(frozen=True)
class PartitionResult:
    piece_pair: I64
    piece: F64
    alert_pair: I64
    alert: F64
    los_candidates: int
    alert_candidates: int


def run_partition(part: Partition) -> PartitionResult:
    """The losses of separation and the detector's alerts in the bins a partition owns."""
    r = part.reports
    rpr = np.ascontiguousarray(r.rp @ part.frame.T)
    rvr = r.rv @ part.frame.T
    objects = _kernels.bin_boxes(
        r.rt, rpr, r.ralt, rvr, r.rvs, r.linked, r.first, r.last,
        part.t0, BIN_S,
    )  # fmt: skip
    obj_a, obj_bin, box, speed, vspeed = objects
    owned = (obj_bin >= part.bin_lo) & (obj_bin < part.bin_hi)
    by_bin = np.flatnonzero(owned)[np.argsort(obj_bin[owned], kind="stable")]
    obj_a, obj_bin, box = obj_a[by_bin], obj_bin[by_bin], box[by_bin]
    speed, vspeed = speed[by_bin], vspeed[by_bin]
    h_max_m = float(part.hmat.max())
    v_max_m = float(part.vmat.max())

    # Losses of separation: boxes of each aircraft's path in each bin.
    los_grow = 0.5 * h_max_m + _los_margin_m(h_max_m, part.speed_max_mps, part.max_gap_s)
    lo, hi = _boxes(box, los_grow, 0.5 * v_max_m + 1e-3)
    cand, cand_bin = _kernels.binned_pairs(obj_a, obj_bin, lo, hi, part.brute_force)
    win = np.stack([part.t0 + cand_bin * BIN_S, part.t0 + (cand_bin + 1) * BIN_S], axis=1)
    piece_pair, piece = _kernels.los_pieces(
        r.rt, r.rp, r.ru, r.ralt, r.linked, r.first, r.last,
        cand, win, part.code, part.hmat, part.vmat,
    )  # fmt: skip

    # Alerts: the same boxes grown by where each aircraft can get within the lookahead.
    d_max_m = h_max_m + 2.0 * part.speed_max_mps * part.lookahead_s
    tilt = arc_per_chord(d_max_m) * d_max_m / (2.0 * MIN_RADIUS_OF_CURVATURE_M)
    alert_grow = (
        los_grow + speed * part.lookahead_s * (1.0 + tilt) + 0.5 * normal_chord_bound_m(d_max_m)
    )
    lo, hi = _boxes(box, alert_grow, 0.5 * v_max_m + 1e-3 + vspeed * part.lookahead_s)
    acand, acand_bin = _kernels.binned_pairs(obj_a, obj_bin, lo, hi, part.brute_force)
    awin = np.stack([part.t0 + acand_bin * BIN_S, part.t0 + (acand_bin + 1) * BIN_S], axis=1)
    line_base, line_rate = _kernels.detector_lines(
        r.rt,
        r.rp,
        r.ru,
        r.ralt,
        r.rv,
        r.rvs,
        r.linked,
    )
    alert_pair, alert = _kernels.alert_samples(
        r.rt, line_base, line_rate, r.linked, r.first, r.last,
        acand, awin, part.code, part.hmat, part.vmat, part.lookahead_s, part.step_s,
    )  # fmt: skip
    return PartitionResult(
        piece_pair, piece, alert_pair, alert, int(cand.shape[0]), int(acand.shape[0])
    )


def _partition(
    prep: _Prepared,
    options: ReplayOptions,
    agreement: Agreement,
    frame: F64,
    t0: float,
    speed_max_mps: float,
    bin_lo: int,
    bin_hi: int,
) -> Partition:
    overlap_s = float(agreement.lookahead_s) + options.max_gap_s
    t_lo = t0 + bin_lo * BIN_S - overlap_s
    t_hi = t0 + bin_hi * BIN_S + overlap_s
    # An aircraft's reports are sorted by time, so those in the window are contiguous.
    idx = np.flatnonzero((prep.reports.rt >= t_lo) & (prep.reports.rt <= t_hi))
    counts = np.bincount(prep.aircraft[idx], minlength=prep.reports.first.shape[0])
    last = np.cumsum(counts)
    first = last - counts
    linked = prep.reports.linked[idx].copy()
    ends = last[counts > 0] - 1
    linked[ends] = False  # the next report of the aircraft is outside the partition
    r = prep.reports
    return Partition(
        reports=Reports(
            rt=r.rt[idx],
            rp=r.rp[idx],
            ru=r.ru[idx],
            ralt=r.ralt[idx],
            rv=r.rv[idx],
            rvs=r.rvs[idx],
            linked=linked,
            first=first.astype(np.int64),
            last=last.astype(np.int64),
        ),
        code=prep.code,
        hmat=prep.hmat,
        vmat=prep.vmat,
        frame=frame,
        t0=t0,
        bin_lo=bin_lo,
        bin_hi=bin_hi,
        speed_max_mps=speed_max_mps,
        lookahead_s=float(agreement.lookahead_s),
        step_s=float(options.step_s),
        max_gap_s=float(options.max_gap_s),
        brute_force=options.method == "brute-force",
    )


def _speed_max(prep: _Prepared) -> float:
    """The highest speed any aircraft is seen or reported at (m/s)."""
    top = 0.0
    if prep.reports.linked.any():
        k = np.flatnonzero(prep.reports.linked)
        step = np.linalg.norm(prep.reports.rp[k + 1] - prep.reports.rp[k], axis=1) / (
            prep.reports.rt[k + 1] - prep.reports.rt[k]
        )
        top = float(step.max())
    reported = np.linalg.norm(prep.reports.rv, axis=1)
    if (~np.isnan(reported)).any():
        top = max(top, float(np.nanmax(reported)))
    return top


#: A partition callback: runs the partitions (in order or not) and yields their results.
Runner = Callable[[list[Partition]], Iterable[PartitionResult]]


def replay(
    tracks: Tracks,
    agreement: Agreement,
    options: ReplayOptions | None = None,
    *,
    partitions: int | None = None,
    runner: Runner | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_reports: Callable[[UsedReports], None] | None = None,
) -> ReplayResult:
    """Every loss of separation in recorded tracks, and the alerts the detector would have given.

    The time span is cut into ``partitions`` windows (default: one per 20
    minutes, at most 16: smaller ones fit the CPU's caches better, and each
    recomputes the lookahead and the largest gap at its ends) computed
    independently and merged; ``runner``
    runs them (default: one after the other in this process; see
    :func:`skysep.replay.distributed.dask_runner`). ``progress(done, total)``
    is called as partitions finish. The result does not depend on either.
    ``on_reports`` is given the reports the replay uses as soon as they are
    known, before the replay runs (what report.html's figures draw: see
    :func:`skysep.replay._select.used_reports`). See ``docs/replay.md`` for
    the definitions.
    """
    options = options or ReplayOptions()
    options.validate()
    prep = _prepare(tracks, agreement, options)
    if on_reports is not None:
        r = prep.reports
        on_reports(
            UsedReports(
                ids=prep.ids.astype(str),
                first=r.first,
                last=r.last,
                time_s=r.rt,
                position_m=r.rp,
                up=r.ru,
                alt_m=r.ralt,
                max_gap_s=options.max_gap_s,
            )
        )
    n_aircraft = prep.ids.shape[0]
    if prep.reports.rt.shape[0] == 0:
        return _result(prep, options, *_empty_pieces(), *_empty_alerts(), agreement, 0, 0, 0)
    t_first, t_last = float(prep.reports.rt.min()), float(prep.reports.rt.max())
    t0 = math.floor(t_first / BIN_S) * BIN_S
    n_bins = math.floor((t_last - t0) / BIN_S) + 1
    n_parts = partitions if partitions is not None else min(16, max(1, n_bins // 20))
    n_parts = max(1, min(n_parts, n_bins))
    bounds = np.linspace(0, n_bins, n_parts + 1).round().astype(np.int64)
    frame = frame_facing(prep.reports.ru)
    speed_max_mps = _speed_max(prep)
    parts = [
        _partition(
            prep, options, agreement, frame, t0, speed_max_mps, int(bounds[k]), int(bounds[k + 1])
        )
        for k in range(n_parts)
        if bounds[k + 1] > bounds[k]
    ]
    results: list[PartitionResult] = []
    for done, part_result in enumerate((runner or _serial)(parts), start=1):
        results.append(part_result)
        if progress is not None:
            progress(done, len(parts))
    return _result(
        prep,
        options,
        np.concatenate([r.piece_pair for r in results]),
        np.concatenate([r.piece for r in results]),
        np.concatenate([r.alert_pair for r in results]),
        np.concatenate([r.alert for r in results]),
        agreement,
        sum(r.los_candidates for r in results),
        sum(r.alert_candidates for r in results),
        sum(int(r.alert.shape[0]) for r in results),
        t_first,
        t_last,
        n_aircraft,
    )


def _serial(parts: list[Partition]) -> Iterator[PartitionResult]:
    for part in parts:
        yield run_partition(part)


def threaded(threads: int) -> Runner:
    """A runner computing the partitions in ``threads`` threads of this process, in order.

    The kernels release the GIL, so the threads run on as many cores; the
    result is the same as one after the other.
    """

    def run(parts: list[Partition]) -> Iterator[PartitionResult]:
        if threads <= 1 or len(parts) <= 1:
            yield from _serial(parts)
            return
        with ThreadPoolExecutor(max_workers=threads) as pool:
            yield from pool.map(run_partition, parts)

    return run


def _los_margin_m(h_max_m: float, speed_max_mps: float, max_gap_s: float) -> float:
    """How far a coordinate of the 3-D difference may exceed the horizontal distance.

    Interpolated positions lie on chords up to (speed * gap)^2 / (8 R) below
    the surface; the normal used within a window is tilted from the local one
    by at most the distance flown in a bin over R. See docs/replay.md.
    """
    seg_m = speed_max_mps * max_gap_s
    dip = seg_m * seg_m / (8.0 * MIN_RADIUS_OF_CURVATURE_M)
    tilt = min(1.0, (2.0 * speed_max_mps * BIN_S + 2.0 * h_max_m) / MIN_RADIUS_OF_CURVATURE_M)
    return 2.0 * dip + tilt * 2.0 * h_max_m + normal_chord_bound_m(2.0 * h_max_m) + 1.0


def _empty_pieces() -> tuple[I64, F64]:
    return np.empty((0, 2), dtype=np.int64), np.empty((0, 9))


def _empty_alerts() -> tuple[I64, F64]:
    return np.empty((0, 2), dtype=np.int64), np.empty((0, 2))


def _merge_pieces(piece_pair: I64, piece: F64, merge_gap_s: float) -> tuple[I64, F64]:
    """Incidents: pieces of one pair merged where they touch or are < merge_gap_s apart."""
    if piece.shape[0] == 0:
        return piece_pair, piece
    order = np.lexsort((piece[:, 0], piece_pair[:, 1], piece_pair[:, 0]))
    pp, pc = piece_pair[order], piece[order]
    out_pair: list[tuple[int, int]] = []
    rows: list[F64] = []
    cur = pc[0].copy()
    cur_pair = (int(pp[0, 0]), int(pp[0, 1]))
    for k in range(1, pc.shape[0]):
        pair = (int(pp[k, 0]), int(pp[k, 1]))
        gap = pc[k, 0] - cur[1]
        if pair == cur_pair and (gap <= 0.0 or gap < merge_gap_s):
            cur[1] = max(cur[1], pc[k, 1])
            if pc[k, 2] < cur[2]:
                cur[2:] = pc[k, 2:]
            continue
        out_pair.append(cur_pair)
        rows.append(cur)
        cur = pc[k].copy()
        cur_pair = pair
    out_pair.append(cur_pair)
    rows.append(cur)
    return np.array(out_pair, dtype=np.int64), np.array(rows)


def _result(
    prep: _Prepared,
    options: ReplayOptions,
    piece_pair: I64,
    piece: F64,
    alert_pair: I64,
    alert: F64,
    agreement: Agreement,
    los_candidates: int,
    alert_candidates: int,
    alert_steps: int,
    t_first: float = math.nan,
    t_last: float = math.nan,
    n_aircraft: int = 0,
) -> ReplayResult:
    inc_pair, inc = _merge_pieces(piece_pair, piece, options.merge_gap_s)
    if inc.shape[0]:
        order = np.lexsort((inc_pair[:, 1], inc_pair[:, 0], inc[:, 0]))
        inc_pair, inc = inc_pair[order], inc[order]
    episodes = _episodes(alert_pair, alert, agreement, options.step_s)
    first_alert, level_at_start, ep_incident = _link(inc_pair, inc, episodes, options.step_s)
    lat_deg, lon_deg = near_surface_geodetic(inc[:, 5:8])
    ids, party = prep.ids, prep.party
    a, b = inc_pair[:, 0], inc_pair[:, 1]
    incidents = Incidents(
        aircraft_a=ids[a],
        aircraft_b=ids[b],
        party_a=party[a],
        party_b=party[b],
        start_s=np.ascontiguousarray(inc[:, 0]),
        end_s=np.ascontiguousarray(inc[:, 1]),
        min_h_m=np.ascontiguousarray(inc[:, 2]),
        min_v_m=np.ascontiguousarray(inc[:, 4]),
        time_of_min_s=np.ascontiguousarray(inc[:, 3]),
        lat_deg=lat_deg,
        lon_deg=lon_deg,
        alt_m=np.ascontiguousarray(inc[:, 8]),
        first_alert_s=first_alert,
        lead_time_s=inc[:, 0] - first_alert,
        level_at_start=level_at_start,
        horizontal_m=prep.hmat[prep.code[a], prep.code[b]],
        vertical_m=prep.vmat[prep.code[a], prep.code[b]],
    )
    bt = episodes.by_time
    ep_start, ep_end = episodes.start[bt], episodes.end[bt]
    ep_pair = episodes.pair[bt]
    ea, eb = ep_pair[:, 0], ep_pair[:, 1]
    alerts = AlertEpisodes(
        aircraft_a=ids[ea],
        aircraft_b=ids[eb],
        party_a=party[ea],
        party_b=party[eb],
        level=np.array(LEVELS, dtype=object)[
            _reduce_min(episodes.step_level.astype(np.float64), ep_start, ep_end).astype(np.int64)
        ],
        first_s=episodes.step_t[ep_start],
        last_s=episodes.step_t[ep_end - 1],
        steps=(ep_end - ep_start).astype(np.int64),
        min_t_in_s=_reduce_min(episodes.step_t_in, ep_start, ep_end),
        incident=ep_incident[bt],
    )
    return ReplayResult(
        incidents=incidents,
        alerts=alerts,
        n_reports=int(prep.reports.rt.shape[0] + prep.duplicates + prep.spikes),
        n_aircraft=n_aircraft,
        duplicate_reports=prep.duplicates,
        altitude_spikes=prep.spikes,
        start_s=t_first,
        end_s=t_last,
        options=options,
        los_candidates=los_candidates,
        alert_candidates=alert_candidates,
        alert_steps=alert_steps,
    )


@dataclass(frozen=True)
class _Episodes:
    """Alert steps grouped into episodes (runs of consecutive steps of one pair).

    Steps are sorted by (pair, time); episode e covers steps
    ``start[e]:end[e]``. ``by_time`` orders the episodes by first time.
    """

    step_pair: I64
    step_t: F64
    step_t_in: F64
    step_level: npt.NDArray[np.int8]
    start: I64
    end: I64
    by_time: I64

    @property
    def pair(self) -> I64:
        pair: I64 = self.step_pair[self.start]
        return pair


def _episodes(alert_pair: I64, alert: F64, agreement: Agreement, step_s: float) -> _Episodes:
    """Runs of consecutive steps in conflict, per pair."""
    order = np.lexsort((alert[:, 0], alert_pair[:, 1], alert_pair[:, 0]))
    pp, al = alert_pair[order], alert[order]
    t, t_in = np.ascontiguousarray(al[:, 0]), np.ascontiguousarray(al[:, 1])
    level = np.where(
        t_in <= agreement.warning_s, 0, np.where(t_in <= agreement.caution_s, 1, 2)
    ).astype(np.int8)
    new = np.ones(t.shape[0], dtype=bool)
    new[1:] = (
        (pp[1:, 0] != pp[:-1, 0]) | (pp[1:, 1] != pp[:-1, 1]) | (t[1:] - t[:-1] > 1.5 * step_s)
    )
    start = np.flatnonzero(new).astype(np.int64)
    end = np.append(start[1:], t.shape[0]).astype(np.int64)
    by_time = np.lexsort((pp[start, 1], pp[start, 0], t[start])).astype(np.int64)
    return _Episodes(pp, t, t_in, level, start, end, by_time)


def _reduce_min(values: F64, start: I64, end: I64) -> F64:
    out = np.array([values[s:e].min() for s, e in zip(start.tolist(), end.tolist(), strict=True)])
    return out.astype(np.float64) if out.shape[0] else np.empty(0)


def _link(inc_pair: I64, inc: F64, episodes: _Episodes, step_s: float) -> tuple[F64, Obj, I64]:
    """For each incident, the first alert that led to it and the level at its start;
    for each episode (pair order), the incident it led to or -1.

    An episode leads to an incident of its pair when it is under way at the
    incident's start or within one step before it, or begins during it.
    """
    first_alert = np.full(inc.shape[0], np.nan)
    level_at_start: Obj = np.full(inc.shape[0], None, dtype=object)
    ep_incident = np.full(episodes.start.shape[0], -1, dtype=np.int64)
    by_pair: dict[tuple[int, int], list[int]] = {}
    ep_pair = episodes.pair
    for e in range(ep_pair.shape[0]):
        by_pair.setdefault((int(ep_pair[e, 0]), int(ep_pair[e, 1])), []).append(e)
    for k in range(inc.shape[0]):
        start_s, end_s = float(inc[k, 0]), float(inc[k, 1])
        for e in by_pair.get((int(inc_pair[k, 0]), int(inc_pair[k, 1])), []):
            lo, hi = int(episodes.start[e]), int(episodes.end[e])
            first_s, last_s = float(episodes.step_t[lo]), float(episodes.step_t[hi - 1])
            if first_s <= end_s and last_s >= start_s - step_s * (1.0 + 1e-9):
                first_alert[k] = first_s
                at = lo + int(np.searchsorted(episodes.step_t[lo:hi], start_s, side="right")) - 1
                if at >= lo:
                    level_at_start[k] = LEVELS[int(episodes.step_level[at])]
                if ep_incident[e] < 0:
                    ep_incident[e] = k
                break
    return first_alert, level_at_start, ep_incident
