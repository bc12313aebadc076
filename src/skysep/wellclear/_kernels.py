"""Compiled kernels of the well-clear detector (numba): one pass over every pair.

A port of the arithmetic of NASA's DAIDALUS (v2: ``WCV_TAUMOD``, ``WCV_TCOA``,
``CD3D``, ``TCAS3D``/``TCAS2D``, ``HysteresisData``/``MofN``,
``OrthographicProjection``, ``GreatCircle``), operation for operation, so
that times agree with DAIDALUS to rounding. No I/O, no globals beyond
constants; every angle here is in radians, everything else SI.

For a pair (ownship ``i``, traffic ``j``), both aircraft are projected
orthographically onto the plane tangent to a sphere of radius
:data:`EARTH_RADIUS_M` at the ownship, each velocity being the projected
10-second great-circle displacement of the aircraft's air velocity (ground
velocity minus the ownship's wind). ``s`` and ``v`` are the ownship's
position and velocity relative to the traffic aircraft (ownship minus
traffic).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from skysep import units

INF = np.inf
NAN = np.nan

#: DAIDALUS's spherical earth: one nautical mile is one minute of arc.
EARTH_RADIUS_M = units.M_PER_NM * 180.0 * 60.0 / math.pi
#: Time step of the great-circle displacement that gives a projected velocity.
VELOCITY_STEP_S = 10.0

#: DAIDALUS's default "almost equals": at most this many units in the last place apart.
_MAX_ULPS = 16348
_HIGH_BIT = np.int64(-9223372036854775808)
_TWO_PI = 2.0 * math.pi

#: Volume kinds (see ``_config.py``).
KIND_NONE = 0
KIND_TAUMOD = 1
KIND_CYLINDER = 2
KIND_TCAS = 3

#: Rows of a TCAS table (per sensitivity level): altitude upper bound, then the thresholds.
TCAS_LEVEL, TCAS_TAU, TCAS_TCOA, TCAS_DMOD, TCAS_ZTHR, TCAS_HMD = 0, 1, 2, 3, 4, 5
TCAS_ROWS = 6


# --- DAIDALUS's numeric helpers -------------------------------------------------------------


@nb.njit(cache=True)
def almost_equals(a: float, b: float) -> bool:
    """Within 16348 units in the last place (or both below 1e-13 when one is 0)."""
    if a == b:
        return True
    if (a == 0.0 or b == 0.0) and abs(a) < 1e-13 and abs(b) < 1e-13:
        return True
    if not (a < b or b < a):  # NaN
        return False
    if math.isinf(a) or math.isinf(b):
        return False
    ai = np.float64(a).view(np.int64)
    if ai < 0:
        ai = _HIGH_BIT - ai
    bi = np.float64(b).view(np.int64)
    if bi < 0:
        bi = _HIGH_BIT - bi
    diff = ai - bi
    if diff < 0:
        diff = -diff
    return bool(diff <= _MAX_ULPS)


@nb.njit(cache=True)
def almost_less(a: float, b: float) -> bool:
    return not almost_equals(a, b) and a < b


@nb.njit(cache=True)
def dmin(x: float, y: float) -> float:
    """Java's ``Math.min``: NaN in ``y`` propagates."""
    if math.isnan(y):
        return y
    return y if y < x else x


@nb.njit(cache=True)
def dmax(x: float, y: float) -> float:
    """Java's ``Math.max``: NaN in ``y`` propagates."""
    if math.isnan(y):
        return y
    return y if x < y else x


@nb.njit(cache=True)
def sign(x: float) -> float:
    """+1 for x >= 0, else -1 (DAIDALUS's ``Util::sign``)."""
    return 1.0 if x >= 0.0 else -1.0


@nb.njit(cache=True)
def root2b(a: float, b: float, c: float, eps: float) -> float:
    """The root of a t^2 + 2 b t + c = 0 picked by eps (-1 or 1), NaN if none."""
    if a == 0.0 and b == 0.0:
        return NAN
    if a == 0.0:
        return -c / (2.0 * b)
    sqb = b * b
    ac = a * c
    if almost_equals(sqb, ac) or sqb > ac:
        return (-b + eps * math.sqrt(max(sqb - ac, 0.0))) / a
    return NAN


@nb.njit(cache=True)
def theta_d(sx: float, sy: float, vx: float, vy: float, eps: float, d: float) -> float:
    """Time the relative track meets the circle of radius d (eps -1 entry, +1 exit)."""
    return root2b(vx * vx + vy * vy, sx * vx + sy * vy, (sx * sx + sy * sy) - d * d, eps)


@nb.njit(cache=True)
def delta(sx: float, sy: float, vx: float, vy: float, d: float) -> float:
    """Discriminant: >= 0 when the relative track meets the circle of radius d."""
    det = sx * vy - sy * vx
    return d * d * (vx * vx + vy * vy) - det * det


@nb.njit(cache=True)
def theta_h(sz: float, vz: float, eps: float, h: float) -> float:
    """Time the vertical separation crosses +-h (eps -1 entry, +1 exit)."""
    if vz == 0.0:
        return NAN
    return (eps * sign(vz) * h - sz) / vz


@nb.njit(cache=True)
def to_pi(rad: float) -> float:
    """Angle to (-pi, pi] the way DAIDALUS does it (through [0, 2 pi))."""
    n = math.floor(rad / _TWO_PI)
    r = rad - n * _TWO_PI
    if almost_equals(r, _TWO_PI):
        r = 0.0
    if r > math.pi:
        return r - _TWO_PI
    return r


# --- projection -------------------------------------------------------------------------------


@nb.njit(cache=True)
def project(ref_lat: float, ref_lon: float, lat: float, lon: float) -> tuple[float, float]:
    """Orthographic projection onto the plane tangent at (ref_lat, ref_lon), metres."""
    dlon = lon - ref_lon
    c = math.sin(ref_lat) * math.sin(lat) + math.cos(ref_lat) * math.cos(lat) * math.cos(dlon)
    if c < 0.0:  # the far hemisphere has no image
        return NAN, NAN
    x = EARTH_RADIUS_M * math.cos(lat) * math.sin(dlon)
    y = EARTH_RADIUS_M * (
        math.cos(ref_lat) * math.sin(lat) - math.sin(ref_lat) * math.cos(lat) * math.cos(dlon)
    )
    return x, y


@nb.njit(cache=True)
def great_circle_step(
    lat: float, lon: float, vx: float, vy: float, t: float
) -> tuple[float, float]:
    """Where a great circle leaving (lat, lon) along velocity (vx east, vy north) is after t."""
    track = 0.0 if (vx == 0.0 and vy == 0.0) else math.atan2(vx, vy)
    gs = math.sqrt(max(vx * vx + vy * vy, 0.0))
    d = (gs * t / units.M_PER_NM) * math.pi / (180.0 * 60.0)
    lat2 = math.asin(
        max(
            -1.0,
            min(
                math.sin(lat) * math.cos(d) + math.cos(lat) * math.sin(d) * math.cos(track),
                1.0,
            ),
        )
    )
    num = math.sin(track) * math.sin(d) * math.cos(lat)
    den = math.cos(d) - math.sin(lat) * math.sin(lat2)
    dlon = 0.0 if (num == 0.0 and den == 0.0) else math.atan2(num, den)
    return lat2, to_pi(lon + dlon)


@nb.njit(cache=True)
def project_state(
    geodetic: bool,
    ref_lat: float,
    ref_lon: float,
    a: float,
    b: float,
    alt: float,
    vx: float,
    vy: float,
    vz: float,
) -> tuple[float, float, float, float, float, float]:
    """Position and velocity of one aircraft in the ownship's frame.

    ``a, b`` are latitude and longitude (radians) when ``geodetic``, else
    local x, y (metres); ``vx, vy, vz`` its air velocity (east, north, up).
    """
    if not geodetic:
        return a, b, alt, vx, vy, vz
    x, y = project(ref_lat, ref_lon, a, b)
    lat2, lon2 = great_circle_step(a, b, vx, vy, VELOCITY_STEP_S)
    x2, y2 = project(ref_lat, ref_lon, lat2, lon2)
    alt2 = alt + vz * VELOCITY_STEP_S
    k = 1.0 / VELOCITY_STEP_S
    return x, y, alt, (x2 - x) * k, (y2 - y) * k, (alt2 - alt) * k


# --- detectors --------------------------------------------------------------------------------


@nb.njit(cache=True)
def _horizontal_tvar(sx: float, sy: float, vx: float, vy: float, dthr: float) -> float:
    sdotv = sx * vx + sy * vy
    if sdotv < 0.0:
        return (dthr * dthr - (sx * sx + sy * sy)) / sdotv
    return -1.0


@nb.njit(cache=True)
def _horizontal_wcv(sx: float, sy: float, vx: float, vy: float, dthr: float, tthr: float) -> bool:
    if math.sqrt(sx * sx + sy * sy) <= dthr:
        return True
    sqv = vx * vx + vy * vy
    if vx == 0.0 and vy == 0.0:
        return False  # no closest point of approach: the miss distance is NaN
    tcpa = -(sx * vx + sy * vy) / sqv
    cx = vx * tcpa + sx
    cy = vy * tcpa + sy
    if math.sqrt(cx * cx + cy * cy) <= dthr:
        tvar = _horizontal_tvar(sx, sy, vx, vy, dthr)
        return tvar >= 0.0 and tvar <= tthr
    return False


@nb.njit(cache=True)
def _horizontal_wcv_interval(
    t: float, sx: float, sy: float, vx: float, vy: float, dthr: float, tthr: float
) -> tuple[float, float]:
    time_in = t
    time_out = 0.0
    sqs = sx * sx + sy * sy
    sdotv = sx * vx + sy * vy
    sqd = dthr * dthr
    sqv = vx * vx + vy * vy
    a = sqv
    b = 2.0 * sdotv + tthr * sqv
    c = sqs + tthr * sdotv - sqd
    if almost_equals(a, 0.0) and sqs <= sqd:
        return 0.0, t
    if sqs <= sqd:
        return 0.0, dmin(t, theta_d(sx, sy, vx, vy, 1.0, dthr))
    discr = b * b - 4.0 * a * c
    if sdotv >= 0.0 or discr < 0.0:
        return time_in, time_out
    tt = (-b - math.sqrt(discr)) / (2.0 * a)
    if delta(sx, sy, vx, vy, dthr) >= 0.0 and tt <= t:
        time_in = dmax(0.0, tt)
        time_out = dmin(t, theta_d(sx, sy, vx, vy, 1.0, dthr))
    return time_in, time_out


@nb.njit(cache=True)
def taumod_interval(
    sx: float,
    sy: float,
    sz: float,
    vx: float,
    vy: float,
    vz: float,
    dthr: float,
    zthr: float,
    tthr: float,
    tcoa: float,
    b: float,
    t: float,
) -> tuple[float, float]:
    """(time_in, time_out) of the WCV_TAUMOD volume within [b, t] (empty: in >= out)."""
    # vertical: WCV_TCOA
    if almost_equals(vz, 0.0) and abs(sz) <= zthr:
        low, up = b, t
    elif almost_equals(vz, 0.0):
        low, up = t, b
    else:
        act_h = dmax(zthr, abs(vz) * tcoa)
        tentry = theta_h(sz, vz, -1.0, act_h)
        texit = theta_h(sz, vz, 1.0, zthr)
        if t < tentry or texit < b:
            low, up = t, b
        else:
            low, up = dmax(b, tentry), dmin(t, texit)
    if low > up:
        return t, b
    stepx = vx * low + sx
    stepy = vy * low + sy
    if almost_equals(low, up):
        if _horizontal_wcv(stepx, stepy, vx, vy, dthr, tthr):
            return low, up
        return t, b
    hin, hout = _horizontal_wcv_interval(up - low, stepx, stepy, vx, vy, dthr, tthr)
    return hin + low, hout + low


@nb.njit(cache=True)
def cylinder_interval(
    sx: float,
    sy: float,
    sz: float,
    vox: float,
    voy: float,
    voz: float,
    vix: float,
    viy: float,
    viz: float,
    d: float,
    h: float,
    b: float,
    t: float,
) -> tuple[float, float]:
    """(time_in, time_out) of the cylinder within [b, t] (DAIDALUS ``CD3D.detection``)."""
    t_in = t + 1.0
    t_out = b
    if not (b >= 0.0 and b < t):
        return t_in, t_out
    vz = voz - viz
    sqs = sx * sx + sy * sy
    horizontal_los = not almost_equals(sqs, d * d) and sqs < d * d
    abs_sz = abs(sz)
    vertical_los = not almost_equals(abs_sz, h) and abs_sz < h
    same_vz = almost_equals(voz, viz)
    if almost_equals(vox, vix) and almost_equals(voy, viy) and horizontal_los:
        if not same_vz:
            t_in = dmin(dmax(theta_h(sz, vz, -1.0, h), b), t)
            t_out = dmax(dmin(theta_h(sz, vz, 1.0, h), t), b)
        elif vertical_los:
            t_in = b
            t_out = t
        return t_in, t_out
    vx = vox - vix
    vy = voy - viy
    if delta(sx, sy, vx, vy, d) > 0.0:
        td1 = theta_d(sx, sy, vx, vy, -1.0, d)
        td2 = theta_d(sx, sy, vx, vy, 1.0, d)
        if not same_vz:
            tin = dmax(td1, theta_h(sz, vz, -1.0, h))
            tout = dmin(td2, theta_h(sz, vz, 1.0, h))
            t_in = dmin(dmax(tin, b), t)
            t_out = dmax(dmin(tout, t), b)
        elif vertical_los:
            t_in = dmin(dmax(td1, b), t)
            t_out = dmax(dmin(td2, t), b)
    return t_in, t_out


@nb.njit(cache=True)
def _root(a: float, b: float, c: float, eps: float) -> float:
    """The root of a t^2 + b t + c = 0 picked by eps (-1 or 1), NaN if none."""
    if a == 0.0 and b == 0.0:
        return NAN
    if a == 0.0:
        return -c / b
    sqb = b * b
    ac = 4.0 * a * c
    if almost_equals(sqb, ac) or sqb > ac:
        return (-b + eps * math.sqrt(max(sqb - ac, 0.0))) / (2.0 * a)
    return NAN


@nb.njit(cache=True)
def _ra2d_interval(
    dmod: float,
    tau: float,
    b: float,
    t: float,
    sx: float,
    sy: float,
    vox: float,
    voy: float,
    vix: float,
    viy: float,
) -> tuple[float, float]:
    """TCAS's horizontal RA interval (DAIDALUS ``TCAS2D.RA2D_interval``), before clipping."""
    t_in = b
    t_out = t
    vx = vox - vix
    vy = voy - viy
    sqs = sx * sx + sy * sy
    sdotv = sx * vx + sy * vy
    sqd = dmod * dmod
    if almost_equals(vox, vix) and almost_equals(voy, viy) and sqs <= sqd:
        return t_in, t_out
    sqv = vx * vx + vy * vy
    if sqs <= sqd:
        return t_in, root2b(sqv, sdotv, sqs - sqd, 1.0)
    bb = 2.0 * sdotv + tau * sqv
    cc = sqs + tau * sdotv - sqd
    if sdotv >= 0.0 or bb * bb - 4.0 * sqv * cc < 0.0:
        return t + 1.0, 0.0
    t_in = _root(sqv, bb, cc, -1.0)
    if delta(sx, sy, vx, vy, dmod) >= 0.0:
        t_out = theta_d(sx, sy, vx, vy, 1.0, dmod)
    else:
        t_out = _root(sqv, bb, cc, 1.0)
    return t_in, t_out


@nb.njit(cache=True)
def _cd2d_tcas_after(
    hmd: float, sx: float, sy: float, vox: float, voy: float, vix: float, viy: float, t: float
) -> bool:
    vx = vox - vix
    vy = voy - viy
    if almost_equals(vox, vix) and almost_equals(voy, viy) and sx * sx + sy * sy <= hmd * hmd:
        return True
    return (
        vx * vx + vy * vy > 0.0
        and delta(sx, sy, vx, vy, hmd) >= 0.0
        and theta_d(sx, sy, vx, vy, 1.0, hmd) >= t
    )


@nb.njit(cache=True)
def _ra3d_interval(
    table: np.ndarray,
    sl: int,
    hmd_filter: bool,
    sx: float,
    sy: float,
    sz: float,
    vox: float,
    voy: float,
    voz: float,
    vix: float,
    viy: float,
    viz: float,
    b: float,
    t: float,
) -> tuple[float, float]:
    """TCAS RA interval within [b, t] at sensitivity level ``sl`` (``TCAS3D.RA3D_interval``)."""
    k = sl - 1
    tau = table[TCAS_TAU, k]
    tcoa = table[TCAS_TCOA, k]
    dmod = table[TCAS_DMOD, k]
    hmd = table[TCAS_HMD, k]
    zthr = table[TCAS_ZTHR, k]
    vz = voz - viz
    vx = vox - vix
    vy = voy - viy
    if hmd_filter and not _cd2d_tcas_after(hmd, sx, sy, vox, voy, vix, viy, b):
        return t, b
    same_vz = almost_equals(voz, viz)
    if same_vz and abs(sz) > zthr:
        return t, b
    tentry = b
    texit = t
    if not same_vz:
        act_h = dmax(zthr, abs(vz) * tcoa)
        tentry = theta_h(sz, vz, -1.0, act_h)
        texit = theta_h(sz, vz, 1.0, zthr)
    ex = vx * tentry + sx
    ey = vy * tentry + sy
    exit_at_centry = ex * vx + ey * vy >= 0.0
    los_at_centry = ex * ex + ey * ey <= hmd * hmd
    if texit < b or t < tentry:
        return t, b
    tin = dmax(b, tentry)
    tout = dmin(t, texit)
    ra_in, ra_out = _ra2d_interval(dmod, tau, tin, tout, sx, sy, vox, voy, vix, viy)
    ra_in_la = dmax(tin, dmin(tout, ra_in))
    ra_out_la = dmax(tin, dmin(tout, ra_out))
    if (
        ra_in > ra_out
        or ra_out < tin
        or ra_in > tout
        or (hmd_filter and hmd < dmod and exit_at_centry and not los_at_centry)
    ):
        return t, b
    if hmd_filter and hmd < dmod:
        exit_theta = t
        if vx * vx + vy * vy > 0.0:
            exit_theta = dmax(b, dmin(theta_d(sx, sy, vx, vy, 1.0, hmd), t))
        return ra_in_la, dmin(ra_out_la, exit_theta)
    return ra_in_la, ra_out_la


@nb.njit(cache=True)
def _sensitivity_level(table: np.ndarray, n_levels: int, alt: float) -> int:
    """1-based sensitivity level of an ownship altitude: the first level whose bound is >= alt."""
    for k in range(n_levels - 1):
        if alt <= table[TCAS_LEVEL, k]:
            return k + 1
    return n_levels


@nb.njit(cache=True)
def tcas_interval(
    table: np.ndarray,
    n_levels: int,
    hmd_filter: bool,
    soz: float,
    sx: float,
    sy: float,
    sz: float,
    vox: float,
    voy: float,
    voz: float,
    vix: float,
    viy: float,
    viz: float,
    b: float,
    t: float,
) -> tuple[float, float]:
    """(time_in, time_out) of the TCAS II volume within [b, t] (DAIDALUS ``TCAS3D.RA3D``).

    The thresholds depend on the ownship's altitude ``soz`` through the
    sensitivity levels; a climbing or descending ownship crosses levels.
    """
    sl_first = _sensitivity_level(table, n_levels, soz + b * voz)
    sl_last = _sensitivity_level(table, n_levels, soz + t * voz)
    if sl_first == sl_last or almost_equals(voz, 0.0):
        return _ra3d_interval(
            table, sl_first, hmd_filter, sx, sy, sz, vox, voy, voz, vix, viy, viz, b, t
        )
    tin = INF
    tout = -INF
    sl = sl_first
    t_b = b
    for _ in range(2 * n_levels + 2):  # DAIDALUS walks the levels crossed until T
        if t_b >= t:
            break
        if 1 <= sl <= n_levels:
            if sl_first < sl_last:
                level = table[TCAS_LEVEL, sl - 1] if sl < n_levels else INF
            else:
                lower = sl - 1
                while lower > 0 and table[TCAS_LEVEL, lower - 1] == 0.0:
                    lower -= 1
                level = table[TCAS_LEVEL, lower - 1] if lower > 0 else 0.0
            t_level = INF if not math.isfinite(level) else (level - soz) / voz
            r_in, r_out = _ra3d_interval(
                table,
                sl,
                hmd_filter,
                sx,
                sy,
                sz,
                vox,
                voy,
                voz,
                vix,
                viy,
                viz,
                t_b,
                dmin(t_level, t),
            )
            if almost_less(r_in, r_out):
                tin = dmin(tin, r_in)
                tout = dmax(tout, r_out)
            t_b = t_level
            if sl == sl_last:
                break
        sl = sl + 1 if sl_first < sl_last else sl - 1
    return tin, tout


# --- the pass over pairs ----------------------------------------------------------------------

#: Per-aircraft table columns computed by :func:`prepare_aircraft`.
_SLAT, _CLAT, _SLAT2, _CLAT2, _LAT2, _LON2 = 0, 1, 2, 3, 4, 5
_OSX, _OSY, _OSZ, _OVX, _OVY, _OVZ = 6, 7, 8, 9, 10, 11
_UX, _UY, _UZ, _SPEED = 12, 13, 14, 15
N_PREPARED = 16

#: Added to the reach of a pair before pruning it (metres): rounding headroom.
PRUNE_MARGIN_M = 500.0


@nb.njit(cache=True)
def _project_trig(
    slat_r: float, clat_r: float, lon_r: float, slat: float, clat: float, lon: float
) -> tuple[float, float]:
    """:func:`project` with the sines and cosines of the latitudes given."""
    dlon = lon - lon_r
    cdlon = math.cos(dlon)
    c = slat_r * slat + clat_r * clat * cdlon
    if c < 0.0:
        return NAN, NAN
    x = EARTH_RADIUS_M * clat * math.sin(dlon)
    y = EARTH_RADIUS_M * (clat_r * slat - slat_r * clat * cdlon)
    return x, y


@nb.njit(cache=True, nogil=True)
def prepare_aircraft(
    geodetic: bool,
    a: np.ndarray,
    b: np.ndarray,
    alt: np.ndarray,
    gvel: np.ndarray,
    wind: np.ndarray,
    windless: bool,
    max_wind_mps: float,
    out: np.ndarray,
) -> None:
    """What each pair kernel would otherwise recompute, once per aircraft.

    Columns of ``out`` (n, :data:`N_PREPARED`): sine and cosine of the
    latitude; where the aircraft is 10 s later along its great circle (only
    when ``windless``: the displacement then does not depend on the ownship);
    its own position and velocity in its own tangent frame (as an ownship);
    its unit position vector and a bound on its projected speed (pruning).
    """
    for k in range(a.shape[0]):
        vx = gvel[k, 0] - wind[k, 0]
        vy = gvel[k, 1] - wind[k, 1]
        vz = gvel[k, 2] - wind[k, 2]
        sx, sy, sz, wx, wy, wz = project_state(geodetic, a[k], b[k], a[k], b[k], alt[k], vx, vy, vz)
        out[k, _OSX], out[k, _OSY], out[k, _OSZ] = sx, sy, sz
        out[k, _OVX], out[k, _OVY], out[k, _OVZ] = wx, wy, wz
        out[k, _SPEED] = math.sqrt(gvel[k, 0] ** 2 + gvel[k, 1] ** 2) + 2.0 * max_wind_mps
        if geodetic:
            slat = math.sin(a[k])
            clat = math.cos(a[k])
            out[k, _SLAT], out[k, _CLAT] = slat, clat
            out[k, _UX] = clat * math.cos(b[k])
            out[k, _UY] = clat * math.sin(b[k])
            out[k, _UZ] = slat
            if windless:
                lat2, lon2 = great_circle_step(a[k], b[k], gvel[k, 0], gvel[k, 1], VELOCITY_STEP_S)
                out[k, _LAT2], out[k, _LON2] = lat2, lon2
                out[k, _SLAT2], out[k, _CLAT2] = math.sin(lat2), math.cos(lat2)


@nb.njit(cache=True)
def _traffic_state(
    geodetic: bool,
    windless: bool,
    prep: np.ndarray,
    i: int,
    j: int,
    a: np.ndarray,
    b: np.ndarray,
    alt: np.ndarray,
    vx: float,
    vy: float,
    vz: float,
) -> tuple[float, float, float, float, float, float]:
    """Position and velocity of traffic aircraft j in ownship i's frame (see project_state)."""
    if not geodetic:
        return a[j], b[j], alt[j], vx, vy, vz
    x, y = _project_trig(prep[i, _SLAT], prep[i, _CLAT], b[i], prep[j, _SLAT], prep[j, _CLAT], b[j])
    if windless:
        lat2, lon2 = prep[j, _LAT2], prep[j, _LON2]
        slat2, clat2 = prep[j, _SLAT2], prep[j, _CLAT2]
    else:
        lat2, lon2 = great_circle_step(a[j], b[j], vx, vy, VELOCITY_STEP_S)
        slat2, clat2 = math.sin(lat2), math.cos(lat2)
    x2, y2 = _project_trig(prep[i, _SLAT], prep[i, _CLAT], b[i], slat2, clat2, lon2)
    alt2 = alt[j] + vz * VELOCITY_STEP_S
    k = 1.0 / VELOCITY_STEP_S
    return x, y, alt[j], (x2 - x) * k, (y2 - y) * k, (alt2 - alt[j]) * k


@nb.njit(cache=True)
def _far_apart(
    geodetic: bool, prep: np.ndarray, a: np.ndarray, b: np.ndarray, i: int, j: int, reach: float
) -> bool:
    """True when the horizontal distance in i's tangent plane exceeds ``reach`` (or is NaN)."""
    if geodetic:
        cx = prep[i, _UY] * prep[j, _UZ] - prep[i, _UZ] * prep[j, _UY]
        cy = prep[i, _UZ] * prep[j, _UX] - prep[i, _UX] * prep[j, _UZ]
        cz = prep[i, _UX] * prep[j, _UY] - prep[i, _UY] * prep[j, _UX]
        cos_angle = prep[i, _UX] * prep[j, _UX] + prep[i, _UY] * prep[j, _UY]
        cos_angle += prep[i, _UZ] * prep[j, _UZ]
        if cos_angle < 0.0:
            return True
        return EARTH_RADIUS_M * math.sqrt(cx * cx + cy * cy + cz * cz) > reach
    dx = a[i] - a[j]
    dy = b[i] - b[j]
    return math.sqrt(dx * dx + dy * dy) > reach


@nb.njit(cache=True, nogil=True)
def evaluate_pairs(
    geodetic: bool,
    windless: bool,
    a: np.ndarray,
    b: np.ndarray,
    alt: np.ndarray,
    gvel: np.ndarray,
    wind: np.ndarray,
    prep: np.ndarray,
    own: np.ndarray,
    intr: np.ndarray,
    alerter: np.ndarray,
    early_level: np.ndarray,
    kind: np.ndarray,
    params: np.ndarray,
    tables: np.ndarray,
    alerting_s: np.ndarray,
    early_s: np.ndarray,
    n_levels: np.ndarray,
    lookahead_s: float,
    prune_radius_m: float,
    prune_time_s: float,
    s_out: np.ndarray,
    v_out: np.ndarray,
    tin_out: np.ndarray,
    tout_out: np.ndarray,
    raw_out: np.ndarray,
    start: int,
    stop: int,
) -> None:
    """Relative state, violation interval per level and raw alert level of pairs start..stop-1.

    ``a, b`` (n,): latitude, longitude in radians (``geodetic``) or x, y in
    metres; ``gvel`` (n, 3) ground velocities; ``wind`` (n, 3) each aircraft's
    wind when it is the ownship (all zero when ``windless``); ``prep`` from
    :func:`prepare_aircraft`. ``own``, ``intr``, ``alerter`` (0-based) and
    ``early_level`` (the level whose early alerting time applies, 0: none)
    have one element per pair. Tables by (alerter, level): ``kind``,
    ``params`` (4 per level: DTHR, ZTHR, TTHR, TCOA; D, H; or for TCAS the
    HMD filter flag and the number of sensitivity levels), ``tables`` (the
    TCAS thresholds by sensitivity level, rows ``TCAS_*``), ``alerting_s``,
    ``early_s``; ``n_levels`` by alerter. With ``prune_radius_m >= 0``, a pair farther apart than
    ``prune_radius_m + prune_time_s * (speed_i + speed_j)`` (a bound on where a
    violation within the lookahead can start) is not evaluated: its state is
    NaN, it has no violation and raw level 0, as the full test would give.
    Outputs: ``s_out``, ``v_out`` (p, 3); ``tin_out``/``tout_out`` (p,
    levels): time in/out of the violation (``inf``/``-inf`` when none, NaN for
    levels the alerter does not have); ``raw_out`` (p,): the highest level
    violated within its alerting time, 0 if none. The kernel releases the
    GIL: threads may share the pairs.
    """
    max_levels = tin_out.shape[1]
    for p in range(start, stop):
        i = own[p]
        j = intr[p]
        al = alerter[p]
        for lev in range(max_levels):
            tin_out[p, lev] = NAN
            tout_out[p, lev] = NAN
        if prune_radius_m >= 0.0:
            reach = prune_radius_m + prune_time_s * (prep[i, _SPEED] + prep[j, _SPEED])
            if _far_apart(geodetic, prep, a, b, i, j, reach + PRUNE_MARGIN_M):
                for q in range(3):
                    s_out[p, q] = NAN
                    v_out[p, q] = NAN
                for lev in range(n_levels[al]):
                    tin_out[p, lev] = INF
                    tout_out[p, lev] = -INF
                raw_out[p] = 0
                continue
        sox, soy, soz = prep[i, _OSX], prep[i, _OSY], prep[i, _OSZ]
        vox, voy, voz = prep[i, _OVX], prep[i, _OVY], prep[i, _OVZ]
        iax = gvel[j, 0] - wind[i, 0]
        iay = gvel[j, 1] - wind[i, 1]
        iaz = gvel[j, 2] - wind[i, 2]
        six, siy, siz, vix, viy, viz = _traffic_state(
            geodetic, windless, prep, i, j, a, b, alt, iax, iay, iaz
        )
        sx, sy, sz = sox - six, soy - siy, soz - siz
        vx, vy, vz = vox - vix, voy - viy, voz - viz
        s_out[p, 0], s_out[p, 1], s_out[p, 2] = sx, sy, sz
        v_out[p, 0], v_out[p, 1], v_out[p, 2] = vx, vy, vz
        raw = 0
        for lev in range(n_levels[al] - 1, -1, -1):
            k = kind[al, lev]
            if k == KIND_TAUMOD:
                t_in, t_out = taumod_interval(
                    sx,
                    sy,
                    sz,
                    vx,
                    vy,
                    vz,
                    params[al, lev, 0],
                    params[al, lev, 1],
                    params[al, lev, 2],
                    params[al, lev, 3],
                    0.0,
                    lookahead_s,
                )
            elif k == KIND_CYLINDER:
                t_in, t_out = cylinder_interval(
                    sx,
                    sy,
                    sz,
                    vox,
                    voy,
                    voz,
                    vix,
                    viy,
                    viz,
                    params[al, lev, 0],
                    params[al, lev, 1],
                    0.0,
                    lookahead_s,
                )
            elif k == KIND_TCAS:
                t_in, t_out = tcas_interval(
                    tables[al, lev],
                    int(params[al, lev, 1]),
                    params[al, lev, 0] != 0.0,
                    soz,
                    sx,
                    sy,
                    sz,
                    vox,
                    voy,
                    voz,
                    vix,
                    viy,
                    viz,
                    0.0,
                    lookahead_s,
                )
            else:
                continue
            conflict = almost_less(t_in, t_out)
            tin_out[p, lev] = t_in if conflict else INF
            tout_out[p, lev] = t_out if conflict else -INF
            if raw == 0 and conflict:
                limit = early_s[al, lev] if early_level[p] == lev + 1 else alerting_s[al, lev]
                if t_in == 0.0 or almost_less(t_in, limit):
                    raw = lev + 1
        raw_out[p] = raw


@nb.njit(cache=True, nogil=True)
def filter_pairs(
    raw: np.ndarray,
    known: np.ndarray,
    queue: np.ndarray,
    peak: np.ndarray,
    init_time: np.ndarray,
    last_time: np.ndarray,
    last_level: np.ndarray,
    time_s: float,
    m: int,
    hysteresis_time_s: float,
    persistence_time_s: float,
    level_out: np.ndarray,
) -> None:
    """DAIDALUS's M-of-N, persistence and hysteresis filters, in place on each pair's record.

    See ``_filters.py`` for the rules. ``queue`` (p, n) holds the last n raw
    levels (oldest first); the M-of-N filter is on when ``0 < m <= n``.
    """
    n = queue.shape[1]
    mofn = n > 0 and 0 < m <= n
    for p in range(raw.shape[0]):
        r = raw[p]
        lt = last_time[p]
        if (not known[p]) or math.isnan(lt) or time_s <= lt or time_s - lt > hysteresis_time_s:
            for q in range(n):
                queue[p, q] = r if q < m else -1
            peak[p] = r
            init_time[p] = NAN
            last_level[p] = -1
        if mofn:
            if r > peak[p]:
                peak[p] = r
            for q in range(n - 1):
                queue[p, q] = queue[p, q + 1]
            queue[p, n - 1] = r
            if peak[p] < 0:
                value = np.int64(peak[p])
            else:
                value = np.int64(-1)
                for level in range(peak[p], -1, -1):
                    count = 0
                    for q in range(n):
                        if queue[p, q] >= level:
                            count += 1
                    if count >= m:
                        value = np.int64(level)
                        break
        else:
            value = np.int64(r)
        last = np.int64(last_level[p])
        it = init_time[p]
        if value < 0:
            last_level[p] = r
            init_time[p] = NAN
        elif (
            not math.isnan(it)
            and last > 0
            and value < last
            and time_s >= it
            and time_s - it < persistence_time_s
        ):
            pass  # persistence: keep the current alert
        else:
            if value > 0 and value > last:
                init_time[p] = time_s
            last_level[p] = max(value, 0)
        last_time[p] = time_s
        level_out[p] = last_level[p]
