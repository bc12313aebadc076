"""Compiled kernels of the replay (numba): continuous loss of separation and alert sampling.

Reports are sorted by (aircraft, time); aircraft ``a`` owns reports
``first[a]:last[a]``. Report k is linked to k + 1 (``linked[k]``) when both
are of the same aircraft and at most ``max_gap_s`` apart; between linked
reports the aircraft moves linearly (surface position in ECEF, altitude), and
across an unlinked gap it is absent. A report linked to neither neighbour is
an aircraft seen at one instant.

Horizontal distance and loss of separation are those of the engine
(``skysep.engine._kernels``): in each window where both aircraft move
linearly, the relative position is a linear function of time and the same
quadratic is solved exactly, so a loss between two reports is found.

The entry points release the GIL (``nogil``): ``skysep replay`` loads
matplotlib in a thread while they run.
"""

from __future__ import annotations

import math
import sys

import numba as nb
import numpy as np

from skysep.engine._grid import overlapping_pairs
from skysep.engine._kernels import is_conflict, pair_interval, plane_quadratic

INF = np.inf

#: Imported by numba's CPU target only to learn whether np.correlate may call BLAS.
_BLAS_PROBE = "scipy.linalg.cython_blas"
#: Imported by numba's CPU target to type cffi functions (with its C parser, pycparser).
_CFFI = "cffi"


def init_target() -> None:
    """Set up numba's CPU target now, without importing scipy.linalg or cffi.

    Loading the first cached kernel sets up numba's target (typing and
    lowering registries). On the way, ``numba.np.arraymath`` imports
    ``scipy.linalg.cython_blas`` to decide whether ``np.correlate`` and
    ``np.convolve`` call BLAS; importing scipy.linalg takes 0.7 s, a third of
    ``skysep replay``'s run on a small file. No kernel of SkySep calls either
    function, so the probe is made to fail for the set-up (those two fall back
    to numba's own loop in this process) and scipy can be imported normally
    afterwards. Likewise ``numba.core.typing.cffi_utils`` imports cffi and its
    C parser (0.1-0.15 s) to let kernels call cffi functions, which SkySep's do
    not: in this process numba then treats cffi as not installed (cffi itself
    can still be imported). Does nothing once numba's target is set up or
    scipy.linalg is loaded; the command line calls it, a library import does not.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    blocked = [name for name in (_BLAS_PROBE, _CFFI) if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
    finally:
        for name in blocked:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]


@nb.njit(cache=True, inline="always")
def _presence(rt: np.ndarray, linked: np.ndarray, k: int, lo: int) -> tuple[float, float, bool]:
    """The presence interval that starts at report k: (start, end, valid).

    A linked report starts a segment to the next report; an unlinked report
    that is not the end of the previous segment is a single instant.
    """
    if linked[k]:
        return rt[k], rt[k + 1], True
    if k > lo and linked[k - 1]:
        return 0.0, 0.0, False  # the end of a segment, covered by it
    return rt[k], rt[k], True


@nb.njit(cache=True, inline="always")
def _state(
    rt: np.ndarray,
    rp: np.ndarray,
    ru: np.ndarray,
    ralt: np.ndarray,
    linked: np.ndarray,
    k: int,
    t: float,
) -> tuple[float, float, float, float, float, float, float, float, float, float, float]:
    """Position, up, altitude at t and the slopes (ECEF velocity, vertical rate) of presence k."""
    if linked[k]:
        dt = rt[k + 1] - rt[k]
        w = (t - rt[k]) / dt
        vx = (rp[k + 1, 0] - rp[k, 0]) / dt
        vy = (rp[k + 1, 1] - rp[k, 1]) / dt
        vz = (rp[k + 1, 2] - rp[k, 2]) / dt
        va = (ralt[k + 1] - ralt[k]) / dt
        return (
            rp[k, 0] + w * (rp[k + 1, 0] - rp[k, 0]),
            rp[k, 1] + w * (rp[k + 1, 1] - rp[k, 1]),
            rp[k, 2] + w * (rp[k + 1, 2] - rp[k, 2]),
            ru[k, 0] + w * (ru[k + 1, 0] - ru[k, 0]),
            ru[k, 1] + w * (ru[k + 1, 1] - ru[k, 1]),
            ru[k, 2] + w * (ru[k + 1, 2] - ru[k, 2]),
            ralt[k] + w * (ralt[k + 1] - ralt[k]),
            vx,
            vy,
            vz,
            va,
        )
    return (
        rp[k, 0],
        rp[k, 1],
        rp[k, 2],
        ru[k, 0],
        ru[k, 1],
        ru[k, 2],
        ralt[k],
        0.0,
        0.0,
        0.0,
        0.0,
    )


@nb.njit(cache=True, inline="always")
def _first_report(rt: np.ndarray, lo: int, hi: int, t: float) -> int:
    """The first report of lo:hi whose presence can reach t (binary search)."""
    k = lo + int(np.searchsorted(rt[lo:hi], t, side="left")) - 1
    return k if k > lo else lo


@nb.njit(cache=True, inline="always")
def _candidate(
    m: int,
    cand: np.ndarray,
    win: np.ndarray,
    code: np.ndarray,
    hmat: np.ndarray,
    vmat: np.ndarray,
    rt: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
) -> tuple[int, int, float, float, float, float, int, int]:
    """Candidate m: its aircraft, window, minima and each aircraft's first report in the window."""
    a = cand[m, 0]
    b = cand[m, 1]
    w0 = win[m, 0]
    return (
        a,
        b,
        w0,
        win[m, 1],
        hmat[code[a], code[b]],
        vmat[code[a], code[b]],
        _first_report(rt, first[a], last[a], w0),
        _first_report(rt, first[b], last[b], w0),
    )


@nb.njit(cache=True, nogil=True)
def los_pieces(
    rt: np.ndarray,
    rp: np.ndarray,
    ru: np.ndarray,
    ralt: np.ndarray,
    linked: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    cand: np.ndarray,
    win: np.ndarray,
    code: np.ndarray,
    hmat: np.ndarray,
    vmat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of continuous loss of separation of each candidate pair within its window.

    ``cand[m] = (a, b)`` with a < b, ``win[m] = (t0, t1)``. Returns the pairs
    (one row per piece) and per piece: start, end, minimum horizontal
    separation, the time of that minimum, the vertical separation then, and
    the midpoint of the two aircraft then (ECEF x, y, z of the surface point,
    altitude).
    """
    out_pair = np.empty((64, 2), dtype=np.int64)
    out = np.empty((64, 9))
    count = 0
    for m in range(cand.shape[0]):
        a, b, w0, w1, h_m, v_m, ka, kb = _candidate(m, cand, win, code, hmat, vmat, rt, first, last)
        while ka < last[a] and kb < last[b]:
            sa, ea, va = _presence(rt, linked, ka, first[a])
            sb, eb, vb = _presence(rt, linked, kb, first[b])
            if not va or ea < w0:
                ka += 1
                continue
            if not vb or eb < w0:
                kb += 1
                continue
            if sa > w1 or sb > w1:
                break
            s = max(sa, sb, w0)
            e = min(ea, eb, w1)
            if s <= e:
                pa = _state(rt, rp, ru, ralt, linked, ka, s)
                pb = _state(rt, rp, ru, ralt, linked, kb, s)
                qa, qb, c0 = plane_quadratic(
                    pb[0] - pa[0],
                    pb[1] - pa[1],
                    pb[2] - pa[2],
                    pb[7] - pa[7],
                    pb[8] - pa[8],
                    pb[9] - pa[9],
                    pa[3] + pb[3],
                    pa[4] + pb[4],
                    pa[5] + pb[5],
                )
                dz = pb[6] - pa[6]
                dvz = pb[10] - pa[10]
                lo, hi = pair_interval(qa, qb, c0, dz, dvz, h_m, v_m)
                start = max(lo, 0.0)
                end = min(hi, e - s)
                if start < end or (lo < 0.0 < hi and e == s):
                    tm = start
                    if qa > 0.0:
                        tm = min(max(-qb / qa, start), end)
                    if count == out.shape[0]:
                        grown_pair = np.empty((2 * count, 2), dtype=np.int64)
                        grown_pair[:count] = out_pair[:count]
                        out_pair = grown_pair
                        grown = np.empty((2 * count, 9))
                        grown[:count] = out[:count]
                        out = grown
                    out_pair[count, 0] = a
                    out_pair[count, 1] = b
                    out[count, 0] = s + start
                    out[count, 1] = s + end
                    out[count, 2] = math.sqrt(max(c0 + tm * (2.0 * qb + qa * tm), 0.0))
                    out[count, 3] = s + tm
                    out[count, 4] = abs(dz + dvz * tm)
                    for d in range(3):
                        out[count, 5 + d] = 0.5 * (pa[d] + pb[d] + (pa[7 + d] + pb[7 + d]) * tm)
                    out[count, 8] = 0.5 * (pa[6] + pb[6] + (pa[10] + pb[10]) * tm)
                    count += 1
            # advance whichever presence ends first (both when they end together)
            if ea <= eb:
                ka += 1
            if eb <= ea:
                kb += 1
    return out_pair[:count], out[:count]


@nb.njit(cache=True, inline="always")
def _detector_line(
    rt: np.ndarray,
    rp: np.ndarray,
    ru: np.ndarray,
    ralt: np.ndarray,
    rv: np.ndarray,
    rvs: np.ndarray,
    linked: np.ndarray,
    k: int,
    s: float,
    base: np.ndarray,
    rate: np.ndarray,
) -> None:
    """What the tactical detector sees of presence k, as value at s and rate of change.

    Fills the two length-11 arrays: position (3), up (3), altitude, velocity
    (3), vertical rate. Position, up and altitude are interpolated between the
    reports; the velocity is the reported one interpolated between the
    reports where both give it, the one report's where one does, else the
    segment's own (derived from the positions); likewise the vertical rate.
    """
    base[:] = 0.0
    rate[:] = 0.0
    if linked[k]:
        dt = rt[k + 1] - rt[k]
        w = (s - rt[k]) / dt
        for d in range(3):
            step_p = rp[k + 1, d] - rp[k, d]
            base[d] = rp[k, d] + w * step_p
            rate[d] = step_p / dt
            step_u = ru[k + 1, d] - ru[k, d]
            base[3 + d] = ru[k, d] + w * step_u
            rate[3 + d] = step_u / dt
            base[7 + d] = rate[d]  # derived velocity, replaced below if reported
        base[6] = ralt[k] + w * (ralt[k + 1] - ralt[k])
        rate[6] = (ralt[k + 1] - ralt[k]) / dt
        base[10] = rate[6]
        a_ok = not math.isnan(rv[k, 0])
        b_ok = not math.isnan(rv[k + 1, 0])
        for d in range(3):
            if a_ok and b_ok:
                base[7 + d] = rv[k, d] + w * (rv[k + 1, d] - rv[k, d])
                rate[7 + d] = (rv[k + 1, d] - rv[k, d]) / dt
            elif a_ok:
                base[7 + d] = rv[k, d]
            elif b_ok:
                base[7 + d] = rv[k + 1, d]
        a_ok = not math.isnan(rvs[k])
        b_ok = not math.isnan(rvs[k + 1])
        if a_ok and b_ok:
            base[10] = rvs[k] + w * (rvs[k + 1] - rvs[k])
            rate[10] = (rvs[k + 1] - rvs[k]) / dt
        elif a_ok:
            base[10] = rvs[k]
        elif b_ok:
            base[10] = rvs[k + 1]
        return
    for d in range(3):
        base[d] = rp[k, d]
        base[3 + d] = ru[k, d]
        if not math.isnan(rv[k, 0]):
            base[7 + d] = rv[k, d]
    base[6] = ralt[k]
    if not math.isnan(rvs[k]):
        base[10] = rvs[k]


@nb.njit(cache=True, nogil=True)
def detector_lines(
    rt: np.ndarray,
    rp: np.ndarray,
    ru: np.ndarray,
    ralt: np.ndarray,
    rv: np.ndarray,
    rvs: np.ndarray,
    linked: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per report k: what the detector sees of the presence starting at k, at rt[k] and its rate."""
    n = rt.shape[0]
    base = np.empty((n, 11))
    rate = np.empty((n, 11))
    for k in range(n):
        _detector_line(rt, rp, ru, ralt, rv, rvs, linked, k, rt[k], base[k], rate[k])
    return base, rate


@nb.njit(cache=True, nogil=True)
def alert_samples(
    rt: np.ndarray,
    line_base: np.ndarray,
    line_rate: np.ndarray,
    linked: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    cand: np.ndarray,
    win: np.ndarray,
    code: np.ndarray,
    hmat: np.ndarray,
    vmat: np.ndarray,
    lookahead_s: float,
    step_s: float,
    vertical_early_out: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the tactical detector on each candidate pair at every step of its window.

    Steps are the multiples of ``step_s`` (seconds since the epoch) in
    ``[t0, t1)`` at which both aircraft are present. ``line_base`` and
    ``line_rate`` come from :func:`detector_lines`. Returns the pairs and,
    per step in conflict, (time, t_in).

    ``vertical_early_out``: skip the horizontal solution at a step where the
    pair is vertically apart over the whole lookahead (the result is the same;
    a test runs both ways).
    """
    out_pair = np.empty((64, 2), dtype=np.int64)
    out = np.empty((64, 2))
    count = 0
    for m in range(cand.shape[0]):
        a, b, w0, w1, h_m, v_m, ka, kb = _candidate(m, cand, win, code, hmat, vmat, rt, first, last)
        next_step = math.ceil(w0 / step_s)
        while ka < last[a] and kb < last[b]:
            sa, ea, va = _presence(rt, linked, ka, first[a])
            sb, eb, vb = _presence(rt, linked, kb, first[b])
            if not va or ea < w0:
                ka += 1
                continue
            if not vb or eb < w0:
                kb += 1
                continue
            if sa >= w1 or sb >= w1:
                break
            s = max(sa, sb, w0)
            e = min(ea, eb)
            if s <= e:
                step = max(next_step, math.ceil(s / step_s))
                while True:
                    t = step * step_s
                    if t > e or t >= w1:
                        break
                    step += 1
                    next_step = step
                    xa = t - rt[ka]
                    xb = t - rt[kb]
                    ba = line_base[ka]
                    ra = line_rate[ka]
                    bb = line_base[kb]
                    rb = line_rate[kb]
                    dz = bb[6] + xb * rb[6] - ba[6] - xa * ra[6]
                    dvz = bb[10] + xb * rb[10] - ba[10] - xa * ra[10]
                    # Vertically apart now and at the end of the lookahead, on the same
                    # side (the predicted difference is linear in between): no conflict,
                    # and the horizontal quadratic need not be solved. Tested against v_m,
                    # a little more than pair_interval's own limit, so that rounding never
                    # skips a sample it would find in conflict.
                    dz_end = dz + dvz * lookahead_s
                    if vertical_early_out and (
                        (dz >= v_m and dz_end >= v_m) or (dz <= -v_m and dz_end <= -v_m)
                    ):
                        continue
                    qa, qb, c0 = plane_quadratic(
                        bb[0] + xb * rb[0] - ba[0] - xa * ra[0],
                        bb[1] + xb * rb[1] - ba[1] - xa * ra[1],
                        bb[2] + xb * rb[2] - ba[2] - xa * ra[2],
                        bb[7] + xb * rb[7] - ba[7] - xa * ra[7],
                        bb[8] + xb * rb[8] - ba[8] - xa * ra[8],
                        bb[9] + xb * rb[9] - ba[9] - xa * ra[9],
                        ba[3] + xa * ra[3] + bb[3] + xb * rb[3],
                        ba[4] + xa * ra[4] + bb[4] + xb * rb[4],
                        ba[5] + xa * ra[5] + bb[5] + xb * rb[5],
                    )
                    lo, hi = pair_interval(qa, qb, c0, dz, dvz, h_m, v_m)
                    if is_conflict(lo, hi, lookahead_s):
                        if count == out.shape[0]:
                            grown_pair = np.empty((2 * count, 2), dtype=np.int64)
                            grown_pair[:count] = out_pair[:count]
                            out_pair = grown_pair
                            grown = np.empty((2 * count, 2))
                            grown[:count] = out[:count]
                            out = grown
                        out_pair[count, 0] = a
                        out_pair[count, 1] = b
                        out[count, 0] = t
                        out[count, 1] = max(lo, 0.0)
                        count += 1
            if ea <= eb:
                ka += 1
            if eb <= ea:
                kb += 1
    return out_pair[:count], out[:count]


@nb.njit(cache=True, nogil=True)
def bin_boxes(
    rt: np.ndarray,
    rpr: np.ndarray,
    ralt: np.ndarray,
    rv: np.ndarray,
    rvs: np.ndarray,
    linked: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    t0: float,
    bin_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per (aircraft, time bin) of presence: the box of its positions and its top speeds.

    ``rpr`` are the report positions in the grid's rotated frame. Returns
    ``(aircraft, bin, box (n, 4: x, y, z, altitude, low then high in
    ``box[:, 4:]``), speed_mps, vertical_speed_mps)``; the speeds bound both the
    segment's own and the reported velocities.
    """
    n_rep = rt.shape[0]
    cap = max(16, 2 * n_rep)
    obj_a = np.empty(cap, dtype=np.int64)
    obj_bin = np.empty(cap, dtype=np.int64)
    box = np.empty((cap, 8))
    speed = np.empty(cap)
    vspeed = np.empty(cap)
    count = 0
    for a in range(first.shape[0]):
        for k in range(first[a], last[a]):
            s, e, valid = _presence(rt, linked, k, first[a])
            if not valid:
                continue
            seg_speed = 0.0
            seg_vspeed = 0.0
            if e > s:
                dt = e - s
                seg_speed = (
                    math.sqrt(
                        (rpr[k + 1, 0] - rpr[k, 0]) ** 2
                        + (rpr[k + 1, 1] - rpr[k, 1]) ** 2
                        + (rpr[k + 1, 2] - rpr[k, 2]) ** 2
                    )
                    / dt
                )
                seg_vspeed = abs(ralt[k + 1] - ralt[k]) / dt
            for kk in (k, k + 1) if e > s else (k, k):
                if not math.isnan(rv[kk, 0]):
                    seg_speed = max(
                        seg_speed, math.sqrt(rv[kk, 0] ** 2 + rv[kk, 1] ** 2 + rv[kk, 2] ** 2)
                    )
                if not math.isnan(rvs[kk]):
                    seg_vspeed = max(seg_vspeed, abs(rvs[kk]))
            b_first = math.floor((s - t0) / bin_s)
            b_last = math.floor((e - t0) / bin_s)
            for bn in range(b_first, b_last + 1):
                # the part of the segment inside the bin, by its two ends
                c0 = max(s, t0 + bn * bin_s)
                c1 = min(e, t0 + (bn + 1) * bin_s)
                if count == 0 or obj_a[count - 1] != a or obj_bin[count - 1] != bn:
                    if count == cap:
                        cap *= 2
                        obj_a2 = np.empty(cap, dtype=np.int64)
                        obj_a2[:count] = obj_a[:count]
                        obj_a = obj_a2
                        obj_bin2 = np.empty(cap, dtype=np.int64)
                        obj_bin2[:count] = obj_bin[:count]
                        obj_bin = obj_bin2
                        box2 = np.empty((cap, 8))
                        box2[:count] = box[:count]
                        box = box2
                        speed2 = np.empty(cap)
                        speed2[:count] = speed[:count]
                        speed = speed2
                        vspeed2 = np.empty(cap)
                        vspeed2[:count] = vspeed[:count]
                        vspeed = vspeed2
                    obj_a[count] = a
                    obj_bin[count] = bn
                    for d in range(4):
                        box[count, d] = INF
                        box[count, 4 + d] = -INF
                    speed[count] = 0.0
                    vspeed[count] = 0.0
                    count += 1
                o = count - 1
                for tt in (c0, c1):
                    w = (tt - s) / (e - s) if e > s else 0.0
                    k1 = k + 1 if e > s else k
                    for d in range(3):
                        x = rpr[k, d] + w * (rpr[k1, d] - rpr[k, d])
                        box[o, d] = min(box[o, d], x)
                        box[o, 4 + d] = max(box[o, 4 + d], x)
                    z = ralt[k] + w * (ralt[k1] - ralt[k])
                    box[o, 3] = min(box[o, 3], z)
                    box[o, 7] = max(box[o, 7], z)
                speed[o] = max(speed[o], seg_speed)
                vspeed[o] = max(vspeed[o], seg_vspeed)
    return obj_a[:count], obj_bin[:count], box[:count], speed[:count], vspeed[:count]


@nb.njit(cache=True, nogil=True)
def binned_pairs(
    obj_a: np.ndarray, obj_bin: np.ndarray, lo: np.ndarray, hi: np.ndarray, brute_force: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate aircraft pairs (a < b) per time bin: overlapping boxes, or all pairs.

    Objects must be sorted by bin. Returns the pairs and their bins.
    """
    n = obj_a.shape[0]
    out = np.empty((max(16, 2 * n), 2), dtype=np.int64)
    out_bin = np.empty(max(16, 2 * n), dtype=np.int64)
    count = 0
    s = 0
    while s < n:
        e = s
        while e < n and obj_bin[e] == obj_bin[s]:
            e += 1
        if brute_force:
            m = e - s
            local = np.empty((m * (m - 1) // 2, 2), dtype=np.int64)
            c = 0
            for i in range(m):
                for j in range(i + 1, m):
                    local[c, 0] = i
                    local[c, 1] = j
                    c += 1
        else:
            local = overlapping_pairs(lo[s:e], hi[s:e])
        need = count + local.shape[0]
        if need > out.shape[0]:
            size = max(need, 2 * out.shape[0])
            grown = np.empty((size, 2), dtype=np.int64)
            grown[:count] = out[:count]
            out = grown
            grown_bin = np.empty(size, dtype=np.int64)
            grown_bin[:count] = out_bin[:count]
            out_bin = grown_bin
        for p in range(local.shape[0]):
            a = obj_a[s + local[p, 0]]
            b = obj_a[s + local[p, 1]]
            out[count, 0] = min(a, b)
            out[count, 1] = max(a, b)
            out_bin[count] = obj_bin[s]
            count += 1
        s = e
    return out[:count], out_bin[:count]
