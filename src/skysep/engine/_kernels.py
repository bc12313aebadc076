"""Compiled kernels of the conflict engine (numba).

Inputs are arrays already in the engine's frame (see ``_detect.py``); no I/O,
no globals beyond constants. Every pair, whether reached through the grid or
by brute force, is decided by the same function, :func:`pair_interval`.

Definitions (see ``docs/definition.md``)::

    n      = normalise(up_i + up_j)                  mean geodetic up of the pair
    r      = P(pos_j - pos_i)    u = P(vel_j - vel_i)    P: projection onto n's plane
    h(t)^2 = a t^2 + 2 b t + c0  with a = u.u, b = r.u, c0 = r.r
    dz(t)  = dz + dvz t
    LoS(t) = h(t) < H  and  |dz(t)| < V
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from skysep.engine._grid import N_SCANS, boxes_overlap, scan_range, sort_boxes

INF = np.inf

#: Minima are reduced by this much (metres) before the strict comparisons, so
#: that a separation exactly at a minimum, given in feet or NM and converted to
#: metres, is not counted as a loss of separation through rounding.
AT_MINIMUM_TOLERANCE_M = 1e-6

#: Smallest radius of curvature of the WGS84 ellipsoid, a (1 - e^2), metres.
MIN_RADIUS_OF_CURVATURE_M = 6378137.0 * (1.0 - 0.0066943799901413165)

#: WGS84 first eccentricity squared.
WGS84_E2 = 0.0066943799901413165


@nb.njit(cache=True)
def normal_chord_bound_m(d_m: float) -> float:
    """Bound on |n.D| for a surface chord D of length d and the pair's mean normal n.

    Zero on a sphere; on WGS84 it follows e^2 d^3 / (8 R_min^2) to within 1 %
    from 10 km to 8,000 km (``tests/test_geometry.py`` measures it): this is
    twice that, plus a micrometre.
    """
    return 2.0 * WGS84_E2 * d_m**3 / (8.0 * MIN_RADIUS_OF_CURVATURE_M**2) + 1e-6


@nb.njit(cache=True)
def arc_per_chord(d_m: float) -> float:
    """Upper bound of arc length / chord length for chords up to ``d_m`` (sphere of R_min)."""
    x = d_m / (2.0 * MIN_RADIUS_OF_CURVATURE_M)
    if x >= 1.0:
        return math.pi / 2.0
    if x < 1e-8:
        return 1.0
    return math.asin(x) / x


@nb.njit(cache=True, inline="always")
def plane_quadratic(
    dx: float,
    dy: float,
    dz: float,
    wx: float,
    wy: float,
    wz: float,
    nx: float,
    ny: float,
    nz: float,
) -> tuple[float, float, float]:
    """(a, b, c0) of h(t)^2 = a t^2 + 2 b t + c0 for the relative position D and velocity W.

    Both are projected on the plane orthogonal to n = (nx, ny, nz), the sum of
    the pair's two geodetic normals (normalised here).
    """
    nn = math.sqrt(nx * nx + ny * ny + nz * nz)
    if nn < 1e-9:  # antipodal: any plane will do, the distance is huge anyway
        nx, ny, nz, nn = 0.0, 0.0, 1.0, 1.0
    nx /= nn
    ny /= nn
    nz /= nn
    dn = dx * nx + dy * ny + dz * nz
    wn = wx * nx + wy * ny + wz * nz
    rx = dx - dn * nx
    ry = dy - dn * ny
    rz = dz - dn * nz
    ux = wx - wn * nx
    uy = wy - wn * ny
    uz = wz - wn * nz
    return ux * ux + uy * uy + uz * uz, rx * ux + ry * uy + rz * uz, rx * rx + ry * ry + rz * rz


@nb.njit(cache=True, inline="always")
def pair_relative(
    pos: np.ndarray,
    vel: np.ndarray,
    up: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    i: int,
    j: int,
) -> tuple[float, float, float, float, float]:
    """(a, b, c0, dz, dvz) of aircraft j relative to aircraft i."""
    a, b, c0 = plane_quadratic(
        pos[j, 0] - pos[i, 0],
        pos[j, 1] - pos[i, 1],
        pos[j, 2] - pos[i, 2],
        vel[j, 0] - vel[i, 0],
        vel[j, 1] - vel[i, 1],
        vel[j, 2] - vel[i, 2],
        up[i, 0] + up[j, 0],
        up[i, 1] + up[j, 1],
        up[i, 2] + up[j, 2],
    )
    return a, b, c0, alt[j] - alt[i], vs[j] - vs[i]


@nb.njit(cache=True, inline="always")
def pair_interval(
    a: float, b: float, c0: float, dz: float, dvz: float, h_m: float, v_m: float
) -> tuple[float, float]:
    """The open interval (lo, hi) of loss of separation; empty when lo >= hi."""
    h = h_m - AT_MINIMUM_TOLERANCE_M
    v = v_m - AT_MINIMUM_TOLERANCE_M
    if h <= 0.0 or v <= 0.0:
        return INF, -INF
    c = c0 - h * h
    if a == 0.0:
        if c < 0.0:
            hlo, hhi = -INF, INF
        else:
            return INF, -INF
    else:
        disc = b * b - a * c
        if disc <= 0.0:
            return INF, -INF
        q = -(b + math.copysign(math.sqrt(disc), b))
        t1 = q / a
        t2 = c / q
        hlo, hhi = min(t1, t2), max(t1, t2)
    if dvz == 0.0:
        if abs(dz) < v:
            vlo, vhi = -INF, INF
        else:
            return INF, -INF
    else:
        t1 = (-v - dz) / dvz
        t2 = (v - dz) / dvz
        vlo, vhi = min(t1, t2), max(t1, t2)
    return max(hlo, vlo), min(hhi, vhi)


@nb.njit(cache=True, inline="always")
def is_conflict(lo: float, hi: float, lookahead_s: float) -> bool:
    """Whether the LoS interval (lo, hi) meets [0, lookahead]."""
    return lo < hi and hi > 0.0 and lo < lookahead_s


@nb.njit(cache=True, inline="always")
def _pair_is_conflict(
    pos: np.ndarray,
    vel: np.ndarray,
    up: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    code: np.ndarray,
    hmat: np.ndarray,
    vmat: np.ndarray,
    lookahead_s: float,
    i: int,
    j: int,
) -> bool:
    a, b, c0, dz, dvz = pair_relative(pos, vel, up, alt, vs, i, j)
    lo, hi = pair_interval(a, b, c0, dz, dvz, hmat[code[i], code[j]], vmat[code[i], code[j]])
    return is_conflict(lo, hi, lookahead_s)


@nb.njit(cache=True)
def _append(out: np.ndarray, count: int, i: int, j: int) -> np.ndarray:
    if count == out.shape[0]:
        grown = np.empty((out.shape[0] * 2, 2), dtype=np.int64)
        grown[:count] = out[:count]
        out = grown
    out[count, 0] = i
    out[count, 1] = j
    return out


@nb.njit(cache=True)
def brute_force_pairs(
    pos: np.ndarray,
    vel: np.ndarray,
    up: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    code: np.ndarray,
    hmat: np.ndarray,
    vmat: np.ndarray,
    lookahead_s: float,
) -> np.ndarray:
    """All conflicting pairs (i < j) by testing every pair: the reference."""
    n = alt.shape[0]
    out = np.empty((max(16, n), 2), dtype=np.int64)
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if _pair_is_conflict(pos, vel, up, alt, vs, code, hmat, vmat, lookahead_s, i, j):
                out = _append(out, count, i, j)
                count += 1
    return out[:count]


@nb.njit(cache=True)
def _slice_boxes(
    posr: np.ndarray,
    velr: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    t0: float,
    t1: float,
    h_max: float,
    v_max: float,
    speed_max: float,
    lo: np.ndarray,
    hi: np.ndarray,
) -> None:
    """Bounding boxes (x, y, z, altitude) of each straight path over [t0, t1].

    Two aircraft in loss of separation at t are less than H apart in the
    pair's tangent plane, but their 3-D difference E(t) also has a component
    along the pair's normal n, which each coordinate of E may carry:
    ``|E_c| <= h(t) + |n.E(t)|``. The boxes are therefore grown by H/2 plus
    a bound on half of ``|n.E(t)|`` for t <= t1 (``docs/definition.md``):

    - ``|n.D| <= normal_chord_bound_m(d)`` for the surface chord D of length
      d (zero on a sphere; ellipsoid flattening only);
    - ``|n.v_i| <= |v_i| * arc(d) / (2 * R_min)``: v_i is tangent at aircraft
      i, whose normal is at most half the pair's angular distance from n (the
      normals turn by at most arc / R_min);
    - with d <= H + (|v_i| + |v_j|) t for a pair that meets within t.

    Each aircraft takes ``t1 * |v_i| * K + normal_chord_bound_m(d_max) / 2``
    with K = arc(d_max) / (2 R_min), d_max = H + 2 * speed_max * t1: the two
    halves add up to the pair's bound.
    """
    n = alt.shape[0]
    d_max = h_max + 2.0 * speed_max * t1
    k_tilt = arc_per_chord(d_max) * d_max / (2.0 * MIN_RADIUS_OF_CURVATURE_M)
    chord_half = 0.5 * normal_chord_bound_m(d_max)
    half_v = 0.5 * v_max * (1.0 + 1e-9) + 1e-3
    for i in range(n):
        speed = math.sqrt(velr[i, 0] ** 2 + velr[i, 1] ** 2 + velr[i, 2] ** 2)
        # Grown by a millimetre and a relative 1e-9 against rounding as well.
        half_h = (0.5 * h_max + t1 * speed * k_tilt + chord_half) * (1.0 + 1e-9) + 1e-3
        for d in range(3):
            p0 = posr[i, d] + velr[i, d] * t0
            p1 = posr[i, d] + velr[i, d] * t1
            lo[i, d] = min(p0, p1) - half_h
            hi[i, d] = max(p0, p1) + half_h
        a0 = alt[i] + vs[i] * t0
        a1 = alt[i] + vs[i] * t1
        lo[i, 3] = min(a0, a1) - half_v
        hi[i, 3] = max(a0, a1) + half_v


@nb.njit(cache=True, nogil=True)
def grid_slice_pairs(
    posr: np.ndarray,
    velr: np.ndarray,
    pos: np.ndarray,
    vel: np.ndarray,
    up: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    code: np.ndarray,
    hmat: np.ndarray,
    vmat: np.ndarray,
    lookahead_s: float,
    n_slices: int,
    h_max: float,
    v_max: float,
    speed_max: float,
    k: int,
    part: int,
    n_parts: int,
) -> tuple[np.ndarray, int]:
    """Conflicting pairs (i < j) first found in time slice ``k`` of a space-time grid.

    The lookahead is cut into ``n_slices`` time slices. In each slice every
    aircraft's straight path is boxed in (x, y, z, altitude), the box grown by
    half the largest minima; two aircraft can lose separation in the slice
    only if their boxes overlap (the horizontal distance of the model never
    exceeds the 3-D chord, see ``docs/definition.md``). Aircraft are sorted
    into a dense (x, y, altitude) grid by the low corner of their box, with
    cells at least as large as the largest box, so overlapping boxes sit in
    the same or adjacent cells, and the three altitude cells of a column are
    contiguous in the sorted order. A pair is evaluated exactly in the first
    slice of each run of slices where its boxes overlap (boxes grow with t,
    so a pair may have two runs; the caller removes repeats).

    The aircraft of the slice are split into ``n_parts`` parts and only part
    ``part`` is scanned, so that parts can run on several threads (the
    kernel releases the GIL). ``posr``/``velr`` are ``pos``/``vel`` rotated
    so that the traffic lies nearly flat in x and y. Returns the pairs and the
    number of candidate pairs evaluated.
    """
    n = alt.shape[0]
    out = np.empty((max(16, n // max(1, n_slices * n_parts)), 2), dtype=np.int64)
    count = 0
    candidates = 0
    if n < 2:
        return out[:0], 0
    dt = lookahead_s / n_slices
    t0 = k * dt
    t1 = lookahead_s if k == n_slices - 1 else (k + 1) * dt
    lo = np.empty((n, 4))
    hi = np.empty((n, 4))
    _slice_boxes(posr, velr, alt, vs, t0, t1, h_max, v_max, speed_max, lo, hi)
    prev_lo = np.empty((n if k > 0 else 0, 4))
    prev_hi = np.empty((n if k > 0 else 0, 4))
    if k > 0:
        _slice_boxes(
            posr, velr, alt, vs, (k - 1) * dt, t0, h_max, v_max, speed_max, prev_lo, prev_hi
        )
    order, cell, cstart, slo, shi, nx, ny, na = sort_boxes(lo, hi)
    for e_i in range(part * n // n_parts, (part + 1) * n // n_parts):
        i = order[e_i]
        for f in range(N_SCANS):
            first, last = scan_range(cell[i], e_i, f, cstart, nx, ny, na)
            for e in range(first, last):
                if not boxes_overlap(slo, shi, e_i, e):
                    continue
                j = order[e]
                if k > 0 and boxes_overlap(prev_lo, prev_hi, i, j):
                    continue  # evaluated in an earlier slice
                candidates += 1
                p, q = (i, j) if i < j else (j, i)
                if _pair_is_conflict(pos, vel, up, alt, vs, code, hmat, vmat, lookahead_s, p, q):
                    out = _append(out, count, p, q)
                    count += 1
    return out[:count], candidates


@nb.njit(cache=True, nogil=True)
def sort_unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    """Pairs (i < j) sorted by (i, j) with repeats removed, in O(n + m)."""
    m = pairs.shape[0]
    start = np.zeros(n + 1, dtype=np.int64)
    for p in range(m):
        start[pairs[p, 0] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = start[:-1].copy()
    second = np.empty(m, dtype=np.int64)
    for p in range(m):
        i = pairs[p, 0]
        second[fill[i]] = pairs[p, 1]
        fill[i] += 1
    out = np.empty((m, 2), dtype=np.int64)
    count = 0
    for i in range(n):
        lo, hi = start[i], start[i + 1]
        if hi - lo > 32:
            second[lo:hi] = np.sort(second[lo:hi])
        else:  # insertion sort: rows are short
            for r in range(lo + 1, hi):
                value = second[r]
                s = r - 1
                while s >= lo and second[s] > value:
                    second[s + 1] = second[s]
                    s -= 1
                second[s + 1] = value
        for r in range(lo, hi):
            if r > lo and second[r] == second[r - 1]:
                continue
            out[count, 0] = i
            out[count, 1] = second[r]
            count += 1
    return out[:count]


@nb.njit(cache=True)
def pair_fields(
    pos: np.ndarray,
    vel: np.ndarray,
    up: np.ndarray,
    alt: np.ndarray,
    vs: np.ndarray,
    code: np.ndarray,
    hmat: np.ndarray,
    vmat: np.ndarray,
    lookahead_s: float,
    pairs: np.ndarray,
) -> np.ndarray:
    """Per pair: t_in, t_out, t_cpa, h_cpa, v_cpa, h_now, v_now, H, V (rows of 9)."""
    m = pairs.shape[0]
    out = np.empty((m, 9))
    for p in range(m):
        i = pairs[p, 0]
        j = pairs[p, 1]
        h_m = hmat[code[i], code[j]]
        v_m = vmat[code[i], code[j]]
        a, b, c0, dz, dvz = pair_relative(pos, vel, up, alt, vs, i, j)
        lo, hi = pair_interval(a, b, c0, dz, dvz, h_m, v_m)
        t_cpa = 0.0
        if a > 0.0:
            t_cpa = min(max(-b / a, 0.0), lookahead_s)
        out[p, 0] = max(lo, 0.0)
        out[p, 1] = hi
        out[p, 2] = t_cpa
        out[p, 3] = math.sqrt(max(c0 + t_cpa * (2.0 * b + a * t_cpa), 0.0))
        out[p, 4] = abs(dz + dvz * t_cpa)
        out[p, 5] = math.sqrt(c0)
        out[p, 6] = abs(dz)
        out[p, 7] = h_m
        out[p, 8] = v_m
    return out
