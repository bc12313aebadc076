"""Well-clear alerting over pairs of a snapshot: arrays in, :class:`WellClearAlerts` out."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from skysep.errors import EngineError
from skysep.wellclear import _kernels
from skysep.wellclear._config import CylinderVolume, TauModVolume, TcasVolume, WellClearConfig
from skysep.wellclear._filters import FilterState, apply_filters, early_levels
from skysep.wellclear._types import (
    I64,
    RAD_PER_DEG,
    AlertMemory,
    Bool,
    Traffic,
    WellClearAlerts,
)

Report = Literal["all", "conflicts"]
REPORTS: tuple[str, ...] = ("all", "conflicts")

_CODE_BITS = 32
#: Below this many pairs per thread, threads cost more than they save.
_MIN_PAIRS_PER_THREAD = 20_000


def validate_traffic(traffic: Traffic) -> None:
    """Raise :class:`EngineError` naming the first unusable element."""
    n = len(traffic.aircraft)
    if traffic.geodetic == (traffic.x_m is not None):
        raise EngineError("give positions as lat_deg/lon_deg or as x_m/y_m (exactly one pair)")
    if (traffic.lat_deg is None) != (traffic.lon_deg is None) or (traffic.x_m is None) != (
        traffic.y_m is None
    ):
        raise EngineError("lat_deg and lon_deg (or x_m and y_m) go together")
    if (traffic.air_ve_mps is None) != (traffic.air_vn_mps is None):
        raise EngineError("air_ve_mps and air_vn_mps go together")
    checks: list[tuple[str, Any, float, float]] = [
        ("alt_m", traffic.alt_m, -np.inf, np.inf),
        ("ve_mps", traffic.ve_mps, -np.inf, np.inf),
        ("vn_mps", traffic.vn_mps, -np.inf, np.inf),
        ("vz_mps", traffic.vz_mps, -np.inf, np.inf),
    ]
    if traffic.geodetic:
        checks += [("lat_deg", traffic.lat_deg, -90.0, 90.0)]
        checks += [("lon_deg", traffic.lon_deg, -180.0, 180.0)]
    else:
        checks += [("x_m", traffic.x_m, -np.inf, np.inf), ("y_m", traffic.y_m, -np.inf, np.inf)]
    for name, values, low, high in checks:
        if not isinstance(values, np.ndarray) or values.ndim != 1 or values.shape[0] != n:
            raise EngineError(
                f"{name} must be a 1-D float array of length {n} (one per aircraft), "
                f"got {getattr(values, 'shape', type(values).__name__)}"
            )
        bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise EngineError(
                f"aircraft #{row} ({traffic.aircraft[row]!r}): {name} = {values[row]!r} is "
                f"{'missing' if np.isnan(values[row]) else 'out of range'}"
            )
    if traffic.alerter is not None and traffic.alerter.shape != (n,):
        raise EngineError(f"alerter must have one element per aircraft ({n})")
    ids = np.asarray(traffic.aircraft).astype(str)
    if np.unique(ids).shape[0] != n:
        values_, counts = np.unique(ids, return_counts=True)
        raise EngineError(
            f"aircraft {values_[counts > 1][0]!r} appears more than once; "
            "a snapshot has one state per aircraft"
        )


def _tables(config: WellClearConfig) -> tuple[Any, ...]:
    n_alerters = len(config.alerters)
    n_levels = config.max_levels
    kind = np.zeros((n_alerters, n_levels), dtype=np.int64)
    params = np.zeros((n_alerters, n_levels, 4))
    alerting = np.zeros((n_alerters, n_levels))
    early = np.zeros((n_alerters, n_levels))
    counts = np.zeros(n_alerters, dtype=np.int64)
    n_sl = max(
        (
            len(level.volume.levels_m) + 1
            for alerter in config.alerters
            for level in alerter.levels
            if isinstance(level.volume, TcasVolume)
        ),
        default=1,
    )
    tables = np.zeros((n_alerters, n_levels, _kernels.TCAS_ROWS, n_sl))
    for a, alerter in enumerate(config.alerters):
        counts[a] = len(alerter.levels)
        for lev, level in enumerate(alerter.levels):
            volume = level.volume
            if isinstance(volume, TauModVolume):
                kind[a, lev] = _kernels.KIND_TAUMOD
                params[a, lev] = (volume.dthr_m, volume.zthr_m, volume.tthr_s, volume.tcoa_s)
            elif isinstance(volume, CylinderVolume):
                kind[a, lev] = _kernels.KIND_CYLINDER
                params[a, lev, :2] = (volume.d_m, volume.h_m)
            elif isinstance(volume, TcasVolume):
                kind[a, lev] = _kernels.KIND_TCAS
                count = len(volume.levels_m) + 1
                params[a, lev, :2] = (1.0 if volume.hmd_filter else 0.0, count)
                table = tables[a, lev]
                table[_kernels.TCAS_LEVEL, : count - 1] = volume.levels_m
                table[_kernels.TCAS_TAU, :count] = volume.tau_s
                table[_kernels.TCAS_TCOA, :count] = volume.tcoa_s
                table[_kernels.TCAS_DMOD, :count] = volume.dmod_m
                table[_kernels.TCAS_ZTHR, :count] = volume.zthr_m
                table[_kernels.TCAS_HMD, :count] = volume.hmd_m
            alerting[a, lev] = level.alerting_time_s
            early[a, lev] = level.early_alerting_time_s
    return kind, params, tables, alerting, early, counts


def _reach(config: WellClearConfig) -> tuple[float, float]:
    """(radius, time): no volume can be violated within the lookahead by a pair whose
    horizontal distance exceeds ``radius + time * (relative speed)``.

    A well-clear volume is violated at t only if the distance at t is at most
    DTHR + TTHR |v| (modified tau <= TTHR needs r^2 <= DTHR^2 + TTHR r |v|),
    TCAS's if it is at most DMOD + TAU |v| (the same with DMOD and TAU); a
    cylinder only if it is below D; and the distance changes by at most |v| t
    in t.
    """
    radius = 0.0
    tthr = 0.0
    for alerter in config.alerters:
        for level in alerter.levels:
            volume = level.volume
            if isinstance(volume, TauModVolume):
                radius = max(radius, volume.dthr_m)
                tthr = max(tthr, volume.tthr_s)
            elif isinstance(volume, CylinderVolume):
                radius = max(radius, volume.d_m)
            elif isinstance(volume, TcasVolume):
                radius = max(radius, *volume.dmod_m)
                tthr = max(tthr, *volume.tau_s)
    return radius, tthr + config.lookahead_s


def _codes(memory: AlertMemory, ids: list[str]) -> tuple[dict[str, int], I64]:
    codes = memory.codes
    missing = [name for name in ids if name not in codes]
    if missing:
        codes = dict(codes)
        for name in missing:
            codes[name] = len(codes)
        if len(codes) >= 1 << _CODE_BITS:
            raise EngineError("more than 2**32 distinct aircraft in one alert memory")
    return codes, np.array([codes[name] for name in ids], dtype=np.int64)


def _lookup(memory: AlertMemory, keys: I64, n_queue: int) -> tuple[FilterState, Bool, I64]:
    n = keys.shape[0]
    if len(memory) == 0 or memory.queue.shape[1] != n_queue:
        return FilterState.fresh(n, n_queue), np.zeros(n, dtype=bool), np.full(n, -1, np.int64)
    if len(memory) == n and np.array_equal(memory.keys, keys):  # the same pairs as last time
        state = FilterState(
            queue=memory.queue,
            peak=memory.peak,
            init_time_s=memory.init_time_s,
            last_time_s=memory.last_time_s,
            last_level=memory.last_level,
        )
        return state, np.ones(n, dtype=bool), np.arange(n, dtype=np.int64)
    pos = np.searchsorted(memory.keys, keys)
    pos_c = np.minimum(pos, len(memory) - 1)
    known = memory.keys[pos_c] == keys
    fresh = FilterState.fresh(n, n_queue)
    state = FilterState(
        queue=np.where(known[:, None], memory.queue[pos_c], fresh.queue),
        peak=np.where(known, memory.peak[pos_c], fresh.peak),
        init_time_s=np.where(known, memory.init_time_s[pos_c], fresh.init_time_s),
        last_time_s=np.where(known, memory.last_time_s[pos_c], fresh.last_time_s),
        last_level=np.where(known, memory.last_level[pos_c], fresh.last_level),
    )
    return state, known, np.where(known, pos_c, -1)


def _merge(
    memory: AlertMemory, codes: dict[str, int], keys: I64, where: I64, state: FilterState
) -> AlertMemory:
    """The memory with the records of ``keys`` replaced (or added) by ``state``."""
    sorted_keys = keys.shape[0] < 2 or bool((keys[1:] > keys[:-1]).all())
    replaces_all = len(memory) == keys.shape[0] and bool((where >= 0).all())
    if sorted_keys and (len(memory) == 0 or replaces_all):
        return AlertMemory(
            codes=codes,
            keys=keys,
            queue=state.queue,
            peak=state.peak,
            init_time_s=state.init_time_s,
            last_time_s=state.last_time_s,
            last_level=state.last_level,
        )
    if len(memory) and memory.queue.shape[1] == state.queue.shape[1]:
        keep = np.ones(len(memory), dtype=bool)
        keep[where[where >= 0]] = False
        old = FilterState(
            queue=memory.queue[keep],
            peak=memory.peak[keep],
            init_time_s=memory.init_time_s[keep],
            last_time_s=memory.last_time_s[keep],
            last_level=memory.last_level[keep],
        )
        old_keys = memory.keys[keep]
    else:  # nothing kept (or the M-of-N queue length changed: start afresh)
        old = FilterState.fresh(0, state.queue.shape[1])
        old_keys = np.empty(0, dtype=np.int64)
    all_keys = np.concatenate([old_keys, keys])
    order = np.argsort(all_keys, kind="stable")
    return AlertMemory(
        codes=codes,
        keys=all_keys[order],
        queue=np.concatenate([old.queue, state.queue])[order],
        peak=np.concatenate([old.peak, state.peak])[order],
        init_time_s=np.concatenate([old.init_time_s, state.init_time_s])[order],
        last_time_s=np.concatenate([old.last_time_s, state.last_time_s])[order],
        last_level=np.concatenate([old.last_level, state.last_level])[order],
    )


def alert_pairs(
    traffic: Traffic,
    own_index: Any,
    traffic_index: Any,
    config: WellClearConfig,
    *,
    memory: AlertMemory | None = None,
    time_s: float = 0.0,
    threads: int | None = None,
    prune: bool = False,
) -> tuple[WellClearAlerts, AlertMemory]:
    """Alert levels and times to violation of the given (ownship, traffic) pairs.

    Parameters
    ----------
    traffic
        The snapshot.
    own_index, traffic_index
        Indices into ``traffic``, one element per pair (ordered: the first is
        the ownship, whose tangent plane, wind and, with ownship-centric
        alerting, alerter are used).
    config
        Alerters, lookahead and filters.
    memory
        The filters' memory returned by the previous snapshot (``None``: a
        first snapshot).
    time_s
        Time of the snapshot (seconds, any origin, increasing between calls).
    threads
        Threads sharing the pairs (default: one per CPU; small inputs use one).
    prune
        Skip the geometry of pairs too far apart to violate any volume within
        the lookahead (a conservative bound): their alerts and times are what
        the full test gives (no violation), but their ``s_m``/``v_mps`` are NaN.

    Returns
    -------
    The alerts of the pairs whose alerter exists (pairs whose alerter index is
    0 or beyond the configured alerters are skipped, as in DAIDALUS), and the
    memory to pass with the next snapshot.
    """
    validate_traffic(traffic)
    memory = memory if memory is not None else AlertMemory.empty()
    n = len(traffic)
    own = np.ascontiguousarray(own_index, dtype=np.int64)
    intr = np.ascontiguousarray(traffic_index, dtype=np.int64)
    if own.shape != intr.shape or own.ndim != 1:
        raise EngineError("own_index and traffic_index must be 1-D arrays of the same length")
    if own.shape[0] and (
        own.min() < 0 or intr.min() < 0 or own.max() >= n or intr.max() >= n or (own == intr).any()
    ):
        raise EngineError(f"pair indices must be in [0, {n}) and differ within a pair")
    alerter_of = (
        traffic.alerter if traffic.alerter is not None else np.ones(n, dtype=np.int64)
    ).astype(np.int64)
    pair_alerter = alerter_of[own] if config.ownship_centric else alerter_of[intr]
    valid = (pair_alerter >= 1) & (pair_alerter <= len(config.alerters))
    if not valid.all():
        own, intr, pair_alerter = own[valid], intr[valid], pair_alerter[valid]

    ids = [str(x) for x in traffic.aircraft]
    codes, code = _codes(memory, ids)
    keys = (code[own] << _CODE_BITS) | code[intr]
    if keys.shape[0] > 1 and not bool((keys[1:] > keys[:-1]).all()):
        unique = np.unique(keys)
        if unique.shape[0] != keys.shape[0]:
            raise EngineError("a pair (ownship, traffic) appears more than once")
    n_queue = config.alerting_n
    state, known, where = _lookup(memory, keys, n_queue)
    early = early_levels(state, known, time_s)

    geodetic = traffic.geodetic
    if geodetic:
        assert traffic.lat_deg is not None
        assert traffic.lon_deg is not None
        a = traffic.lat_deg * RAD_PER_DEG
        b = traffic.lon_deg * RAD_PER_DEG
    else:
        assert traffic.x_m is not None
        assert traffic.y_m is not None
        a, b = traffic.x_m, traffic.y_m
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    alt = np.ascontiguousarray(traffic.alt_m, dtype=np.float64)
    gvel = np.ascontiguousarray(np.stack([traffic.ve_mps, traffic.vn_mps, traffic.vz_mps], axis=1))
    wind = np.zeros((n, 3))
    if traffic.air_ve_mps is not None and traffic.air_vn_mps is not None:
        has_air = np.isfinite(traffic.air_ve_mps) & np.isfinite(traffic.air_vn_mps)
        wind[has_air, 0] = traffic.ve_mps[has_air] - traffic.air_ve_mps[has_air]
        wind[has_air, 1] = traffic.vn_mps[has_air] - traffic.air_vn_mps[has_air]
    windless = not wind.any()
    max_wind = float(np.sqrt((wind[:, :2] ** 2).sum(axis=1)).max()) if n else 0.0
    prep = np.full((n, _kernels.N_PREPARED), np.nan)
    prepare: Any = _kernels.prepare_aircraft  # numba's stubs do not know its signature
    prepare(geodetic, a, b, alt, gvel, wind, windless, max_wind, prep)
    kind, params, tables, alerting, early_s, counts = _tables(config)
    prune_radius, prune_time = _reach(config) if prune else (-1.0, 0.0)
    n_pairs = own.shape[0]
    n_levels = config.max_levels
    s_out = np.empty((n_pairs, 3))
    v_out = np.empty((n_pairs, 3))
    tin = np.empty((n_pairs, n_levels))
    tout = np.empty((n_pairs, n_levels))
    raw = np.empty(n_pairs, dtype=np.int64)
    kernel: Any = _kernels.evaluate_pairs  # numba's stubs do not know its signature
    args = (
        geodetic,
        windless,
        a,
        b,
        alt,
        gvel,
        wind,
        prep,
        own,
        intr,
        pair_alerter - 1,
        early,
        kind,
        params,
        tables,
        alerting,
        early_s,
        counts,
        float(config.lookahead_s),
        prune_radius,
        prune_time,
        s_out,
        v_out,
        tin,
        tout,
        raw,
    )
    n_threads = max(1, threads if threads is not None else (os.cpu_count() or 1))
    n_threads = min(n_threads, max(1, n_pairs // _MIN_PAIRS_PER_THREAD))
    if n_threads == 1:
        kernel(*args, 0, n_pairs)
    else:
        bounds = np.linspace(0, n_pairs, n_threads + 1).astype(np.int64)

        def run(k: int) -> None:
            kernel(*args, int(bounds[k]), int(bounds[k + 1]))

        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            list(pool.map(run, range(n_threads)))
    level, new_state = apply_filters(raw, state, known, time_s, config)
    new_memory = _merge(memory, codes, keys, where, new_state)
    names = np.asarray(traffic.aircraft, dtype=object)
    alerts = WellClearAlerts(
        time_s=float(time_s),
        own_index=own,
        traffic_index=intr,
        ownship=names[own],
        traffic=names[intr],
        alerter=pair_alerter,
        alert_level=level,
        raw_alert_level=raw,
        time_in_s=tin,
        time_out_s=tout,
        s_m=s_out,
        v_mps=v_out,
    )
    return alerts, new_memory


def alert_fleet(
    traffic: Traffic,
    config: WellClearConfig,
    *,
    memory: AlertMemory | None = None,
    time_s: float = 0.0,
    report: Report = "conflicts",
    threads: int | None = None,
) -> tuple[WellClearAlerts, AlertMemory]:
    """Well-clear alerts of every ordered pair of a fleet (each aircraft as ownship in turn).

    ``report="conflicts"`` (default) keeps the pairs with an alert or with
    a volume of alert violated within the lookahead; ``"all"`` keeps every
    pair. The memory always covers every pair.
    """
    if report not in REPORTS:
        raise EngineError(
            f"report {report!r} is not a valid option, must be one of {', '.join(REPORTS)}"
        )
    n = len(traffic)
    own = np.repeat(np.arange(n, dtype=np.int64), n)
    intr = np.tile(np.arange(n, dtype=np.int64), n)
    off_diagonal = own != intr
    alerts, new_memory = alert_pairs(
        traffic,
        own[off_diagonal],
        intr[off_diagonal],
        config,
        memory=memory,
        time_s=time_s,
        threads=threads,
        prune=report == "conflicts",
    )
    if report == "all":
        return alerts, new_memory
    keep = (alerts.alert_level > 0) | np.isfinite(alerts.time_in_s).any(axis=1)
    return select(alerts, keep), new_memory


def select(alerts: WellClearAlerts, keep: Bool | I64) -> WellClearAlerts:
    """The alerts of the selected pairs (a boolean mask or indices)."""
    fields: dict[str, Any] = {"time_s": alerts.time_s}
    for name in WellClearAlerts.__dataclass_fields__:
        if name != "time_s":
            fields[name] = getattr(alerts, name)[keep]
    return WellClearAlerts(**fields)
